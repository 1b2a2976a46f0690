//! osipsctl end to end against a real `osips` with auth_db + usrloc + registrar, on SQLite,
//! PostgreSQL and MariaDB: a subscriber provisioned by `osipsctl add` registers with digest auth
//! through sipp (a wrong password gets 401 again), `osipsctl ul show` / `online` list the
//! binding over the MI, `ul rm` removes it and `ul add` puts one back. And the other way round:
//! a user that the real `opensips-cli user add` wrote into a PostgreSQL database made by
//! `osipsdbctl` is listed by `osipsctl show` and registers through osips.

// The three support modules each include tests/common (by path).
#![allow(clippy::duplicate_mod)]

mod ctl_support;
mod opensips_cli_support;
mod registrar_support;

use std::path::{Path, PathBuf};

use ctl_support::Ctl;
use osips::db::{DbUrl, Engine};
use registrar_support::{Osips, common};
use serde_json::json;

/// The URL osips's modules use for the test database (the server's admin account).
fn db_url(ctl: &Ctl) -> String {
    match ctl.env.engine {
        Engine::Sqlite => DbUrl::sqlite(PathBuf::from(&ctl.env.db)).to_url_string(),
        engine => {
            let admin = if engine == Engine::Postgres {
                common::pgsql_admin_url()
            } else {
                common::mysql_admin_url()
            }
            .expect("the server the database was made on");
            DbUrl::parse(&admin)
                .unwrap()
                .with_database(Some(&ctl.env.db))
                .to_url_string()
        }
    }
}

/// A registrar that challenges every REGISTER and saves the authenticated ones (usrloc writes
/// through to the same database).
fn script(url: &str) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "db_url", "{url}")
modparam("usrloc", "db_mode", 1)
modparam("auth", "nonce_expire", 30)
modparam("auth_db", "db_url", "{url}")
modparam("auth_db", "use_domain", 1)
modparam("auth_db", "calculate_ha1", 0)

route {{
    if (!is_method("REGISTER")) {{
        sl_send_reply(405, "Method Not Allowed");
        exit;
    }}
    if (!www_authorize("", "subscriber")) {{
        www_challenge("", "auth");
        exit;
    }}
    consume_credentials();
    save("location");
}}
"#
    )
}

/// REGISTER as `user@127.0.0.1` with sipp's digest credentials: 401, then `final_code` for the
/// authenticated retry.
fn sipp_register(o: &Osips, user: &str, password: &str, final_code: u16) {
    let aor = format!("sip:{user}@127.0.0.1");
    let contact = format!("<sip:{user}@[local_ip]:[local_port]>");
    let xml =
        common::scenario::register_with_auth("sip:127.0.0.1", &aor, &contact, 300, final_code);
    common::sipp::Run::new(&format!("REGISTER {user} → {final_code}"), &xml)
        .towards_port(o.port)
        .args(&["-au", user, "-ap", password])
        .done(&**o);
}

fn start_osips(ctl: &Ctl, dir: &Path) -> Osips {
    Osips::start(dir, &script(&db_url(ctl)))
}

/// Points the rc at the running osips's MI and makes bare names take 127.0.0.1.
fn aim_at(ctl: &mut Ctl, o: &Osips) {
    ctl.set_mi_url(&format!("http://{}/mi", o.http));
    ctl.set_rc("SIP_DOMAIN=127.0.0.1\n");
}

fn add_register_and_control(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(mut ctl) = Ctl::new(engine) else {
        return;
    };
    ctl.ok(&["add", "alice@127.0.0.1", "s3cret pw"]);
    let dir = tempfile::tempdir().unwrap();
    let o = start_osips(&ctl, dir.path());
    aim_at(&mut ctl, &o);

    sipp_register(&o, "alice", "wrong", 401);
    assert!(
        ctl.ok(&["online"])
            .trim()
            .lines()
            .all(|l| !l.contains("alice"))
    );
    sipp_register(&o, "alice", "s3cret pw", 200);

    let shown = ctl.ok(&["ul", "show"]);
    assert!(
        shown.contains("alice@127.0.0.1") && shown.contains("sip:alice@127.0.0.1:"),
        "{shown}"
    );
    let v = ctl.json(&["ul", "show", "alice"], 0);
    assert_eq!(v["result"]["AOR"], "alice@127.0.0.1", "{v}");
    assert_eq!(v["result"]["Contacts"].as_array().unwrap().len(), 1, "{v}");
    let online = ctl.json(&["online"], 0);
    assert_eq!(online["count"], 1, "{online}");
    assert_eq!(ctl.count("location"), 1);
    assert!(ctl.ok(&["online"]).contains("alice@127.0.0.1"));

    ctl.ok(&["ul", "rm", "alice"]);
    assert_eq!(ctl.json(&["online"], 0)["count"], 0);
    assert_eq!(ctl.count("location"), 0, "ul rm leaves the row");
    let e = o
        .mi("ul_show_contact", json!(["location", "alice@127.0.0.1"]))
        .unwrap_err();
    assert!(e.contains("AOR not found"), "{e}");
    // removing an AOR that is not there succeeds, as OpenSIPS's ul_rm does
    ctl.ok(&["ul", "rm", "alice"]);

    // ul add puts a permanent binding back; osips's table shows it
    ctl.ok(&["ul", "add", "alice", "sip:alice@127.0.0.5:5099"]);
    assert_eq!(ctl.count("location"), 1, "ul add writes through");
    let v = o
        .mi("ul_show_contact", json!(["location", "alice@127.0.0.1"]))
        .unwrap();
    assert_eq!(
        v["Contacts"][0]["Contact"], "sip:alice@127.0.0.5:5099",
        "{v}"
    );
    assert!(ctl.ok(&["ul", "show"]).contains("sip:alice@127.0.0.5:5099"));
    let brief = ctl.ok(&["ul", "show", "--brief"]);
    assert!(brief.contains("alice@127.0.0.1"), "{brief}");

    // the password changed with osipsctl is the one osips checks next
    ctl.ok(&["passwd", "alice@127.0.0.1", "n3w"]);
    sipp_register(&o, "alice", "s3cret pw", 401);
    sipp_register(&o, "alice", "n3w", 200);
    // a removed user cannot register any more
    ctl.ok(&["rm", "alice@127.0.0.1"]);
    sipp_register(&o, "alice", "n3w", 401);
}

#[test]
fn sqlite_add_register_and_control() {
    add_register_and_control(Engine::Sqlite);
}

#[test]
fn postgres_add_register_and_control() {
    add_register_and_control(Engine::Postgres);
}

#[test]
fn mariadb_add_register_and_control() {
    add_register_and_control(Engine::Mysql);
}

/// `ping` sends OPTIONS through tm's MI `t_uac_dlg`.
#[test]
fn ping_gets_an_answer() {
    if common::sipp().is_none() {
        return;
    }
    let Some(mut ctl) = Ctl::new(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(
        dir.path(),
        &script(&db_url(&ctl)).replace(
            "loadmodule \"sl.so\"",
            "loadmodule \"sl.so\"\nloadmodule \"tm.so\"",
        ),
    );
    aim_at(&mut ctl, &o);
    let port = common::free_udp_port();
    let (uas, uas_dir) = registrar_support::uas("127.0.0.1", port, "OPTIONS", &[]);
    let out = ctl.ok(&["ping", &format!("sip:uas@127.0.0.1:{port}")]);
    assert!(out.contains("200"), "{out}");
    registrar_support::uas_done(uas, &uas_dir, &o);
}

/// Without tm loaded, `ping` says clearly that osips cannot do it (MI method not found).
#[test]
fn ping_without_tm_is_a_clear_failure() {
    let Some(mut ctl) = Ctl::new(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = start_osips(&ctl, dir.path());
    aim_at(&mut ctl, &o);
    let (code, _, err) = ctl.run(&["ping", "sip:127.0.0.1:5999"]);
    assert_ne!(code, 0);
    assert!(err.contains("t_uac_dlg"), "{err}");
}

/// opensips-cli's configuration for the PostgreSQL database `name`.
fn cli_cfg(admin: &str, name: &str) -> String {
    let url = admin.replacen("postgres://", "postgresql://", 1);
    format!(
        "[default]\nlog_level: WARNING\nprompt_name: opensips-cli\n\
         database_url: {url}\ndatabase_name: {name}\nplain_text_passwords: false\n"
    )
}

#[test]
fn opensips_cli_user_registers_through_osips() {
    if common::sipp().is_none() {
        return;
    }
    let Some(cli) = opensips_cli_support::opensips_cli() else {
        return;
    };
    if !opensips_cli_support::python_module(&cli, "psycopg", "psycopg[binary]") {
        return;
    }
    let Some(mut ctl) = Ctl::new(Engine::Postgres) else {
        return;
    };
    let admin = common::pgsql_admin_url().unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("opensips-cli.cfg");
    std::fs::write(&cfg, cli_cfg(&admin, &ctl.env.db)).unwrap();
    let out = std::process::Command::new(&cli)
        .env("HOME", home.path())
        .arg("-f")
        .arg(&cfg)
        .args(["-x", "user", "add", "bob@127.0.0.1", "b0b pw"])
        .output()
        .unwrap();
    // `user add` returns Python's True on success, which `sys.exit` turns into status 1: its
    // errors are what tell a failure.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !said.contains("ERROR"),
        "opensips-cli user add: {:?} {said}",
        out.status
    );
    let shown = ctl.json(&["show", "bob@127.0.0.1"], 0);
    assert!(shown.to_string().contains("bob"), "{shown}");
    assert!(ctl.ok(&["show"]).contains("bob"));

    let dir = tempfile::tempdir().unwrap();
    let o = start_osips(&ctl, dir.path());
    aim_at(&mut ctl, &o);
    sipp_register(&o, "bob", "wrong", 401);
    sipp_register(&o, "bob", "b0b pw", 200);
    assert!(ctl.ok(&["online"]).contains("bob@127.0.0.1"));
}

/// The same control commands over the FIFO and the datagram MI of the running osips.
#[test]
fn control_over_fifo_and_datagram() {
    if common::sipp().is_none() {
        return;
    }
    let Some(ctl) = Ctl::new(Engine::Sqlite) else {
        return;
    };
    ctl.ok(&["add", "carol@127.0.0.1", "c4rol"]);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("osips_fifo");
    let replies = dir.path().join("replies");
    std::fs::create_dir(&replies).unwrap();
    let dgram = common::free_udp_port();
    let mi = format!(
        "loadmodule \"mi_fifo.so\"\nmodparam(\"mi_fifo\", \"fifo_name\", \"{}\")\n\
         modparam(\"mi_fifo\", \"reply_dir\", \"{}/\")\n\
         loadmodule \"mi_datagram.so\"\nmodparam(\"mi_datagram\", \"socket_name\", \"udp:127.0.0.1:{dgram}\")\n",
        fifo.display(),
        replies.display()
    );
    let text = script(&db_url(&ctl)).replace(
        "loadmodule \"usrloc.so\"",
        &format!("{mi}loadmodule \"usrloc.so\""),
    );
    let o = Osips::start(dir.path(), &text);
    sipp_register(&o, "carol", "c4rol", 200);
    for engine in [
        format!(
            "CTLENGINE=FIFO\nOSIPS_FIFO={}\nOSIPS_FIFO_REPLY_DIR={}\n",
            fifo.display(),
            replies.display()
        ),
        format!("CTLENGINE=DATAGRAM\nOSIPS_DATAGRAM=udp:127.0.0.1:{dgram}\n"),
    ] {
        ctl.set_rc(&format!("SIP_DOMAIN=127.0.0.1\n{engine}"));
        let online = ctl.json(&["online"], 0);
        assert_eq!(online["count"], 1, "{engine}: {online}");
        assert!(
            ctl.ok(&["ul", "show", "carol"])
                .contains("sip:carol@127.0.0.1:")
        );
        assert!(
            ctl.ok(&["uptime"]).to_lowercase().contains("up"),
            "{engine}"
        );
        assert!(ctl.ok(&["version"]).contains("osips"), "{engine}");
    }
    ctl.ok(&["ul", "rm", "carol"]);
    assert_eq!(ctl.json(&["online"], 0)["count"], 0);
    // the HTTP MI still agrees
    let e = o
        .mi("ul_show_contact", json!(["location", "carol@127.0.0.1"]))
        .unwrap_err();
    assert!(e.contains("AOR not found"), "{e}");
}
