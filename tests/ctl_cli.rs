//! osipsctl's command line: completions, man page, usage errors (exit 2), an unreachable or
//! missing database (exit 3), JSON errors, and options before or after the subcommand.

mod ctl_support;

use assert_cmd::Command;
use ctl_support::closed_url;

fn bare() -> Command {
    let mut c = Command::cargo_bin("osipsctl").unwrap();
    for v in [
        "OSIPSCTLRC",
        "osipsctlrc",
        "SIP_DOMAIN",
        "DBENGINE",
        "DBURL",
        "DB_PATH",
    ] {
        c.env_remove(v);
    }
    c.timeout(std::time::Duration::from_secs(60));
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.write_stdin("").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completions_for_three_shells() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef osipsctl"),
        ("fish", "complete -c osipsctl"),
    ] {
        let (code, out, err) = run(bare().args(["completions", shell]));
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(300)]
        );
        for sub in ["tenant", "alias_db", "dispatcher", "speeddial"] {
            assert!(out.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let (code, _, _) = run(bare().args(["completions", "powershell"]));
    assert_eq!(code, 2);
}

#[test]
fn manpage_from_the_clap_model() {
    let (code, out, _) = run(bare().arg("manpage"));
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH osipsctl"),
        "{}",
        &out[..200]
    );
    assert!(
        out.contains("Exit codes"),
        "the man page carries the exit codes"
    );
    assert!(out.contains("tenant"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["nosuch"],
        vec!["tenant"],
        vec!["add"],
        vec!["tenant", "add", "x"],
        vec!["acl", "grant", "u"],
    ] {
        let (code, _, err) = run(bare().args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (code, out, _) = run(bare().arg("--help"));
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit codes") && out.contains("tenant=NAME;key=value"),
        "{out}"
    );
}

#[test]
fn unreachable_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc");
    let port = closed_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mi")
        .to_string();
    for (engine, extra) in [
        ("PGSQL", format!("DBHOST=127.0.0.1\nDBPORT={port}")),
        ("MYSQL", format!("DBHOST=127.0.0.1\nDBPORT={port}")),
    ] {
        std::fs::write(
            &rc,
            format!("DBENGINE={engine}\n{extra}\nSIP_DOMAIN=example.com\n"),
        )
        .unwrap();
        let (code, _, err) = run(bare().args(["--rc", rc.to_str().unwrap(), "show"]));
        assert_eq!(code, 3, "{engine}: {err}");
        assert!(
            err.starts_with("osipsctl: error: cannot reach the database server"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // A SQLite file that does not exist: exit 3 with the command that creates it.
    std::fs::write(
        &rc,
        format!(
            "DBENGINE=SQLITE\nDB_PATH={}/none.sqlite\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (code, out, _) = run(bare().args(["show", "--json", "--rc", rc.to_str().unwrap()]));
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit"], 3);
    assert_eq!(v["command"], "show");
    assert!(
        v["hint"].as_str().unwrap().contains("osipsdbctl create"),
        "{v}"
    );
    // A bad rc value is a usage error.
    std::fs::write(&rc, "DBENGINE=ORACLE\n").unwrap();
    let (code, _, err) = run(bare().args(["--rc", rc.to_str().unwrap(), "show"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn bad_table_override_is_refused() {
    let Some(ctl) = ctl_support::Ctl::new(osips::db::Engine::Sqlite) else {
        return;
    };
    ctl.set_rc("SUB_TABLE='subscriber; DROP TABLE version'");
    ctl.expect(&["show"], 2);
    ctl.set_rc("USERCOL='username = username OR 1=1 --'");
    ctl.expect(&["add", "x", "pw"], 2);
    ctl.set_rc("");
    assert!(ctl.count("version") > 0);
}
