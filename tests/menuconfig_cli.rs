//! `osipsconfig list | show | generate` as a user runs them.

use assert_cmd::Command;
use osips::menuconfig::checker::{CheckOutcome, ScriptChecker};
use osips::menuconfig::structural::StructuralChecker;

fn cmd() -> Command {
    let mut c = Command::cargo_bin("osipsconfig").unwrap();
    // rc files of this machine ignored
    c.arg("--no-rc");
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_and_show() {
    let o = cmd().arg("list").output().unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success());
    for n in ["residential", "trunking", "loadbalancer", "platform"] {
        assert!(out.contains(n), "{out}");
    }
    let o = cmd().args(["show", "trunking"]).output().unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("DO_CALL_LIMITATION") && out.contains("needs: USE_DIALOG"),
        "{out}"
    );
    assert!(out.contains("OpenSIPS will limit the number of parallel calls per trunk"));
    let o = cmd().args(["show", "nosuch"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown template `nosuch`"));
}

#[test]
fn generate_writes_script_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("opensips.cfg");
    let o = cmd()
        .args([
            "generate",
            "--template",
            "residential",
            "--set",
            "USE_AUTH=yes",
            "--set",
        ])
        .arg("DB_URL=postgres://opensips:pw@127.0.0.1/opensips")
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // every module of the residential script (acc included) is in osips now: osips -C passes
    let e = stderr(&o);
    assert!(e.contains("osips -C: OK"), "{e}");
    let script = std::fs::read_to_string(&out).unwrap();
    assert!(script.contains("www_authorize(\"\", \"subscriber\")"));
    assert!(script.contains("loadmodule \"db_postgres.so\""));
    assert_eq!(StructuralChecker.check(&script), CheckOutcome::Passed);
    let opts = dir.path().join("opensips.cfg.options.toml");
    let saved = std::fs::read_to_string(&opts).unwrap();
    assert!(saved.contains("template = \"residential\"") && saved.contains("USE_AUTH = true"));

    // the saved set regenerates the same script
    let again = dir.path().join("again.cfg");
    let o = cmd()
        .arg("generate")
        .arg("--options")
        .arg(&opts)
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), script);

    // to standard output
    let o = cmd()
        .args(["generate", "-t", "platform", "-o", "-"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("socket=udp:127.0.0.1:5060 as 127.0.0.2:5060")
    );
}

#[test]
fn bad_input_names_the_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.cfg");
    let run = |args: &[&str]| {
        let o = cmd()
            .args(["generate", "-t", "residential"])
            .args(args)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!out.exists());
        stderr(&o)
    };
    assert!(run(&["--set", "USE_AUTHX=yes"]).contains("unknown option `USE_AUTHX`"));
    assert!(run(&["--set", "SIP_PORT=0"]).contains("bad value for SIP_PORT"));
    assert!(run(&["--set", "USE_AUTH"]).contains("expected KEY=VALUE"));
    let e = run(&["--set", "USE_DR_PSTN=yes"]);
    assert!(
        e.contains("USE_DR_PSTN needs HAVE_INBOUND_PSTN or HAVE_OUTBOUND_PSTN"),
        "{e}"
    );
    // order of --set does not matter
    let o = cmd()
        .args([
            "generate",
            "-t",
            "residential",
            "--set",
            "USE_DR_PSTN=yes",
            "--set",
            "HAVE_INBOUND_PSTN=yes",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn failing_check_exits_nonzero_with_the_errors() {
    // A template directory whose script is broken: the check must stop it.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    std::fs::write(
        t.join("broken.toml"),
        "name = \"broken\"\ntitle = \"Broken\"\ndescription = \"d\"\n",
    )
    .unwrap();
    std::fs::write(
        t.join("broken.cfg.j2"),
        "loadmodule \"sl.so\"\nroute {\n\tt_relay();\n\t$var(x) = ;\n}\n",
    )
    .unwrap();
    let out = t.join("b.cfg");
    let o = cmd()
        .arg("--templates")
        .arg(t)
        .args(["generate", "-t", "broken", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    // the script checker's error with its line and column, then the structural check's
    assert!(
        e.contains("b.cfg:4:12: error: unexpected `;` in expression"),
        "{e}"
    );
    assert!(
        e.contains("b.cfg:3: error: t_relay() needs module tm, which is not loaded"),
        "{e}"
    );
    assert!(!out.exists());
}
