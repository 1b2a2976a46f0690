//! usrloc's working modes against real databases: after `kill -9` and a restart in write-through
//! or write-back mode every contact is back (1,000 registered by sipp from an injection file);
//! in SQL-only mode two osips nodes share one table; the timer expires contacts in the table too.
//! PostgreSQL and MariaDB come from scripts/test.sh (these tests fail without them when CI is set).

mod registrar_support;

use std::time::{Duration, Instant};

use osips::db::Engine;
use registrar_support::{
    HEAD, Osips, Reg, common, location_rows, register, register_many, request, test_db, uas,
    uas_done,
};
use serde_json::json;

fn script(url: &str, mode: u8) -> String {
    format!(
        "{HEAD}modparam(\"usrloc\", \"use_domain\", 1)\n\
         modparam(\"usrloc\", \"db_url\", \"{url}\")\n\
         modparam(\"usrloc\", \"db_mode\", {mode})\n\
         modparam(\"usrloc\", \"timer_interval\", 1)\n\
         modparam(\"registrar\", \"min_expires\", 1)\n\
         route {{\n\
           if (is_method(\"REGISTER\")) {{ save(\"location\"); exit; }}\n\
           if (!lookup(\"location\")) {{ sl_send_reply(404, \"Not Found\"); exit; }}\n\
           forward();\n\
         }}\n"
    )
}

fn wait_rows(url: &str, n: i64, o: &Osips) {
    let start = Instant::now();
    loop {
        let rows = location_rows(url);
        if rows == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{rows} rows in location, want {n}\n{}",
            o.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Registers 1,000 users, kills osips with SIGKILL, starts it again on the same database: every
/// contact is listed by ul_dump and lookup still finds one.
fn restart_keeps_contacts(engine: Engine, mode: u8) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut o = Osips::start(dir.path(), &script(&db.url, mode));
    let contact_port = common::free_udp_port();
    let n = 1000;
    register_many(&o, n, contact_port);
    assert_eq!(o.dumped_aors(), n);
    if mode == 1 {
        assert_eq!(location_rows(&db.url), n as i64, "written through");
    }
    wait_rows(&db.url, n as i64, &o);
    o.kill9();
    o.restart();
    assert!(o.log().contains("1000 contacts loaded"), "{}", o.log());
    assert_eq!(o.dumped_aors(), n);
    let v = o
        .mi(
            "ul_show_contact",
            json!(["location", "user0500@example.com"]),
        )
        .unwrap();
    assert_eq!(
        v["Contacts"][0]["Contact"],
        format!("sip:user0500@127.0.0.2:{contact_port}")
    );
    let (u, d) = uas(
        "127.0.0.2",
        contact_port,
        "INVITE",
        &[format!(
            r"^INVITE sip:user0500@127\.0\.0\.2:{contact_port} SIP/2\.0"
        )],
    );
    request(&o, "INVITE", "user0500", 200);
    uas_done(u, &d, &o);
}

#[test]
fn sqlite_write_through_restart_keeps_1000_contacts() {
    restart_keeps_contacts(Engine::Sqlite, 1);
}

#[test]
fn postgres_write_back_restart_keeps_1000_contacts() {
    restart_keeps_contacts(Engine::Postgres, 2);
}

#[test]
fn mariadb_write_through_restart_keeps_1000_contacts() {
    restart_keeps_contacts(Engine::Mysql, 1);
}

/// Two nodes on one table in SQL-only mode: what one saves, the other finds and removes.
fn sql_only_nodes_share_the_table(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine) else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = Osips::start(dir.path(), &script(&db.url, 3));
    let b = Osips::start(dir.path(), &script(&db.url, 3));
    let port = common::free_udp_port();
    register(
        &a,
        &Reg {
            contact: format!("<sip:alice@127.0.0.2:{port}>"),
            ..Reg::default()
        },
    );
    assert_eq!(location_rows(&db.url), 1);
    let (u, d) = uas(
        "127.0.0.2",
        port,
        "INVITE",
        &[format!(r"^INVITE sip:alice@127\.0\.0\.2:{port} SIP/2\.0")],
    );
    request(&b, "INVITE", "alice", 200);
    uas_done(u, &d, &b);
    assert_eq!(b.dumped_aors(), 1);
    register(
        &b,
        &Reg {
            contact: "*".into(),
            expires: Some(0),
            ..Reg::default()
        },
    );
    assert_eq!(location_rows(&db.url), 0);
    let e = a
        .mi("ul_show_contact", json!(["location", "alice@example.com"]))
        .unwrap_err();
    assert!(e.contains("AOR not found"), "{e}");
    request(&a, "INVITE", "alice", 404);
}

#[test]
fn postgres_sql_only_nodes_share_the_table() {
    sql_only_nodes_share_the_table(Engine::Postgres);
}

#[test]
fn mariadb_sql_only_nodes_share_the_table() {
    sql_only_nodes_share_the_table(Engine::Mysql);
}

#[test]
fn sqlite_sql_only_nodes_share_the_table() {
    sql_only_nodes_share_the_table(Engine::Sqlite);
}

/// The timer removes an expired contact from memory and from the table.
#[test]
fn expired_contacts_leave_memory_and_table() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &script(&db.url, 1));
    let events = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let sock = format!("udp:{}", events.local_addr().unwrap());
    o.mi("event_subscribe", json!(["E_UL_CONTACT_DELETE", sock]))
        .unwrap();
    o.mi("event_subscribe", json!(["E_UL_AOR_DELETE", sock]))
        .unwrap();
    register(
        &o,
        &Reg {
            expires: Some(2),
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            user: "stays",
            contact: "<sip:stays@127.0.0.2:5070>".into(),
            ..Reg::default()
        },
    );
    assert_eq!(location_rows(&db.url), 2);
    wait_rows(&db.url, 1, &o);
    assert!(
        o.mi("ul_show_contact", json!(["location", "alice@example.com"]))
            .is_err()
    );
    assert_eq!(o.dumped_aors(), 1);
    let mut buf = [0u8; 65536];
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let n = events.recv(&mut buf).expect("an expiry event");
        let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(v["params"]["aor"], "alice@example.com", "{v}");
        seen.push(v["method"].as_str().unwrap().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["E_UL_AOR_DELETE", "E_UL_CONTACT_DELETE"]);
    let stats = o
        .mi("get_statistics", json!([["usrloc:location-expires"]]))
        .unwrap()
        .to_string();
    assert!(stats.contains("\"usrloc:location-expires\":1"), "{stats}");
}

/// ul_sync rewrites the table from memory (write-back, before the timer would).
#[test]
fn ul_sync_rewrites_the_table() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    let o = Osips::start(
        dir.path(),
        &script(&url, 2).replace("\"timer_interval\", 1", "\"timer_interval\", 3600"),
    );
    register(&o, &Reg::default());
    assert_eq!(location_rows(&url), 0, "write-back waits for the timer");
    o.mi("ul_sync", json!(["location"])).unwrap();
    assert_eq!(location_rows(&url), 1);
    o.mi("ul_sync", json!(["location", "alice@example.com"]))
        .unwrap();
    assert_eq!(location_rows(&url), 1);
    let e = o
        .mi("ul_sync", json!(["location", "nobody@example.com"]))
        .unwrap_err();
    assert!(e.contains("AOR not found"), "{e}");
}

/// A database that fails during a write-through save gets 503, and memory keeps nothing.
#[test]
fn a_database_failure_answers_503() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &script(&db.url, 1));
    let conn = osips::db::Db::connect(&osips::db::DbUrl::parse(&db.url).unwrap()).unwrap();
    conn.execute("DROP TABLE location", &[]).unwrap();
    register(
        &o,
        &Reg {
            code: 503,
            expect: vec!["P-Registrar-Error: usrloc database failure".into()],
            ..Reg::default()
        },
    );
    assert_eq!(o.dumped_aors(), 0);
}

/// Write-back: a clean stop (SIGTERM) writes what the timer had not written yet.
#[test]
fn write_back_flushes_on_a_clean_stop() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut o = Osips::start(
        dir.path(),
        &script(&db.url, 2).replace("\"timer_interval\", 1", "\"timer_interval\", 3600"),
    );
    register(&o, &Reg::default());
    assert_eq!(location_rows(&db.url), 0);
    o.terminate();
    assert_eq!(location_rows(&db.url), 1);
    o.restart();
    assert_eq!(o.dumped_aors(), 1);
}

/// A database without the location table stops osips at start with an error naming it.
#[test]
fn a_missing_location_table_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.sqlite");
    osips::db::Db::open_sqlite(&file, true).unwrap();
    let url = format!("sqlite://{}", file.display());
    let cfg = dir.path().join("osips.cfg");
    let text = registrar_support::expand(
        &script(&url, 1),
        common::free_udp_port(),
        common::free_tcp_port(),
        dir.path(),
    );
    std::fs::write(&cfg, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-f", cfg.to_str().unwrap(), "-E", "-F"])
        .env("HOME", dir.path())
        .env_remove("OSIPSCTLRC")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usrloc") && err.contains("location"), "{err}");
}
