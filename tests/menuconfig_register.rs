//! Generated scripts run by the real proxy: `osips -f` on the residential and platform scripts,
//! and a sipp user registers through each (the platform one with digest authentication in its
//! tenant's realm, from an SQLite database).
//!
//! Both scenarios relay with tm (`t_relay`) and load acc, proto_udp (and the platform db_sqlite),
//! registrar, usrloc, auth, auth_db and domain, all in osips now.

mod common;

use common::osips::Osips;
use common::scenario;
use common::sipp::Run;
use osips::menuconfig::{Library, OptionSet};
use std::path::Path;
use std::process::Command;

fn render(name: &str, values: &[(&str, String)]) -> String {
    let lib = Library::embedded();
    let mut set = OptionSet::defaults(lib.catalogue(name).unwrap());
    for (k, v) in values {
        set.set_unchecked(k, v).unwrap();
    }
    set.validate().unwrap();
    lib.render(&set).unwrap()
}

/// Writes `script` into `dir` and runs it until osips listens.
fn start(dir: &Path, script: &str) -> Osips {
    let file = dir.join("opensips.cfg");
    std::fs::write(&file, script).unwrap();
    Osips::file(&file).start()
}

/// Registers alice@domain through the proxy on 127.0.0.1:port (with digest auth when given).
fn register(osips: &Osips, port: u16, domain: &str, auth: Option<(&str, &str)>) {
    if common::sipp().is_none() {
        return;
    }
    let registrar = format!("sip:{domain}");
    let aor = format!("sip:alice@{domain}");
    let contact = "<sip:alice@[local_ip]:[local_port]>";
    let run = match auth {
        Some((user, password)) => Run::new(
            "REGISTER with auth",
            &scenario::register_with_auth(&registrar, &aor, contact, 60, 200),
        )
        .args(&["-au", user, "-ap", password]),
        None => Run::new(
            "REGISTER",
            &scenario::register(&registrar, &aor, contact, 60, 200),
        ),
    };
    run.towards_port(port).done(osips);
}

#[test]
fn residential_script_registers_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let fifo = dir.path().join("fifo").display().to_string();
    let script = render(
        "residential",
        &[("SIP_PORT", port.to_string()), ("MI_FIFO", fifo)],
    );
    let proxy = start(dir.path(), &script);
    register(&proxy, port, "127.0.0.1", None);
}

#[test]
fn platform_script_registers_a_tenant_user_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opensips.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE version (table_name CHAR(32) NOT NULL UNIQUE, table_version INTEGER DEFAULT 0 NOT NULL);
         INSERT INTO version VALUES ('domain', 4), ('subscriber', 8);
         CREATE TABLE domain (id INTEGER PRIMARY KEY AUTOINCREMENT, domain CHAR(64) DEFAULT '' NOT NULL UNIQUE,
             attrs CHAR(255) DEFAULT NULL, accept_subdomain INTEGER DEFAULT 0 NOT NULL,
             last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL);
         CREATE TABLE subscriber (id INTEGER PRIMARY KEY AUTOINCREMENT, username CHAR(64) DEFAULT '' NOT NULL,
             domain CHAR(64) DEFAULT '' NOT NULL, password CHAR(25) DEFAULT '' NOT NULL,
             ha1 CHAR(64) DEFAULT '' NOT NULL, ha1_sha256 CHAR(64) DEFAULT '' NOT NULL,
             ha1_sha512t256 CHAR(64) DEFAULT '' NOT NULL);
         INSERT INTO domain (domain) VALUES ('tenant1.example');
         ",
    )
    .unwrap();
    // The template reads the HA1 (what osipsctl stores), not a clear password.
    let ha1 = osips::ctl::digest::Ha1::compute("alice", "tenant1.example", "secret");
    conn.execute(
        "INSERT INTO subscriber (username, domain, ha1) VALUES ('alice', 'tenant1.example', ?1)",
        [ha1.md5],
    )
    .unwrap();
    drop(conn);
    let port = common::free_port();
    let mi_port = common::free_tcp_port();
    let script = render(
        "platform",
        &[
            ("PRIVATE_IP", "127.0.0.1".into()),
            ("PUBLIC_IP", "127.0.0.1".into()),
            ("SIP_PORT", port.to_string()),
            ("DB_URL", format!("sqlite://{}", db.display())),
            ("MI_FIFO", dir.path().join("fifo").display().to_string()),
            ("MI_HTTP_PORT", mi_port.to_string()),
            ("ICE_PASSTHROUGH", "no".into()),
            ("USE_NAT", "no".into()),
            ("USE_CONFERENCE", "no".into()),
        ],
    );
    let proxy = start(dir.path(), &script);
    register(&proxy, port, "tenant1.example", Some(("alice", "secret")));
}

/// What stops the scenario scripts today is only modules osips does not have yet: every error of
/// `osips -C` is a missing module, so the registrar / auth / domain parts already check.
#[test]
fn scenario_scripts_only_lack_modules() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo").display().to_string();
    let scripts = [
        (
            "residential",
            render(
                "residential",
                &[("SIP_PORT", "5060".into()), ("MI_FIFO", fifo.clone())],
            ),
        ),
        (
            "platform",
            render(
                "platform",
                &[
                    ("PRIVATE_IP", "127.0.0.1".into()),
                    ("PUBLIC_IP", "127.0.0.1".into()),
                    ("SIP_PORT", "5060".into()),
                    (
                        "DB_URL",
                        format!("sqlite://{}", dir.path().join("x.sqlite").display()),
                    ),
                    ("MI_FIFO", fifo),
                    ("ICE_PASSTHROUGH", "no".into()),
                    ("USE_NAT", "no".into()),
                    ("USE_CONFERENCE", "no".into()),
                ],
            ),
        ),
    ];
    for (name, script) in scripts {
        let file = dir.path().join(format!("{name}.cfg"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_osips"))
            .arg("-C")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
        for e in &errors {
            assert!(
                e.starts_with("error: module `") && e.ends_with("is not implemented in osips yet"),
                "{name}: {e}\n{text}"
            );
        }
        // registrar and auth are no longer among the missing ones
        for m in [
            "registrar",
            "usrloc",
            "auth",
            "auth_db",
            "domain",
            "sl",
            "rr",
        ] {
            assert!(
                !errors.iter().any(|e| e.contains(&format!("`{m}`"))),
                "{name}: {text}"
            );
        }
        assert_eq!(out.status.success(), errors.is_empty(), "{name}: {text}");
    }
}
