//! sqlops end to end: user preferences in `usr_preferences` (SQLite, PostgreSQL, MariaDB),
//! `osips -F -E -f` loading them with `sql_avp_load` / `sql_query` / `sql_query_one` into
//! headers a sipp UAS checks, and `sql_avp_store` / `sql_avp_delete` seen in the database.

mod common;

use std::time::Duration;

use common::db::test_db;
use common::osips::Osips;
use common::scenario::{self, Check};
use common::sipp::{Run, Sipp};
use osips::db::{Db, DbUrl, Engine, Value};

fn script(url: &str, far_port: u16) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "sqlops.so"
modparam("sqlops", "db_url", "{url}")
modparam("sqlops", "ps_id_max_buf_len", 2048)

route {{
    if (!sql_avp_load("$ru", "$avp(fwd)")) {{
        sl_send_reply(404, "No Preferences For $rU");
        exit;
    }}
    sql_avp_load("$ru/username", "*", , "p_");
    sql_query("SELECT value, attribute FROM usr_preferences WHERE username = '$rU' ORDER BY attribute", "$avp(v);$avp(a)");
    sql_query("SELECT value FROM usr_preferences WHERE username = 'nobody'", "$avp(none)");
    $var(empty_rc) = $rc;
    sql_query("SELECT attribute, NULL FROM usr_preferences WHERE username = '$rU' AND attribute = 'tier'");
    sql_query_one("SELECT COUNT(*) FROM usr_preferences WHERE username = '$rU'", "$var(n)");
    sql_insert("usr_preferences", '[{{"username": "$rU"}}, {{"attribute": "ins"}}, {{"type": 0}}, {{"value": "from-$si"}}]');
    sql_update('[{{"value": "upd"}}]', "usr_preferences", '[{{"username": "$rU"}}, {{"attribute": "ins"}}]');
    sql_select('["value"]', "usr_preferences", '[{{"username": "$rU"}}, {{"attribute": "ins"}}]', , "$avp(ins)");
    sql_select_one('["value", "type"]', "usr_preferences", '[{{"username": "$rU"}}, {{"attribute": {{"=": "fwd"}}}}, {{"domain": {{"!=": null}}}}]', "value", "$var(sv);$var(st)");
    sql_delete("usr_preferences", '[{{"username": "bob"}}, {{"attribute": "gone"}}]');
    $avp(seen) = "yes-" + $si;
    sql_avp_store("$ru", "$avp(seen)");
    sql_avp_delete("$ru", "$avp(old)");
    append_hf("X-Select: $avp(ins) $var(sv) $var(st)\r\n");
    append_hf("X-Fwd: $avp(fwd)\r\n");
    append_hf("X-Tier: $avp(p_tier)\r\n");
    append_hf("X-Query: $(avp(a)[0])=$(avp(v)[0]) $(avp(a)[2])=$(avp(v)[2])\r\n");
    append_hf("X-Count: $var(n) empty=$var(empty_rc)\r\n");
    append_hf("X-Default: $avp(1) $avp(2)\r\n");
    $rp = {far_port};
    forward();
}}
"#
    )
}

fn pref(db: &Db, user: &str, attr: &str, kind: i64, value: &str) {
    db.execute(
        "INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value) VALUES (?, ?, ?, ?, ?, ?)",
        osips::params!["", user, "", attr, kind, value],
    )
    .unwrap();
}

fn hdr<'a>(name: &'a str, re: &'a str) -> Check<'a> {
    Check {
        re,
        search_in: "hdr",
        header: Some(name),
        inverse: false,
    }
}

fn uas(port: u16) -> Sipp {
    let checks = [
        hdr("X-Fwd:", "^ *sip:vm@127\\.0\\.0\\.5$"),
        hdr("X-Tier:", "^ *7$"),
        hdr("X-Select:", "^ *upd sip:vm@127\\.0\\.0\\.5 0$"),
        hdr("X-Query:", "^ *fwd=sip:vm@127\\.0\\.0\\.5 tier=7$"),
        hdr("X-Count:", "^ *3 empty=-2$"),
        hdr("X-Default:", "^ *tier <null>$"),
    ];
    Run::new(
        "sqlops UAS",
        &scenario::uas_200_checked("uas", "MESSAGE", &checks),
    )
    .port(port)
    .limit(Duration::from_secs(30))
    .uas()
}

fn send(o: &Osips, user: &str, code: u16, status: &str) {
    let xml = scenario::message_expect("sqlops uac", user, code, status);
    Run::new(&format!("MESSAGE to {user}"), &xml)
        .towards_port(o.port)
        .timeout(15)
        .limit(Duration::from_secs(30))
        .done(o);
}

fn preferences_into_headers(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(tdb) = test_db(engine, &["usr_preferences"], "ossq") else {
        return;
    };
    let db = Db::connect(&DbUrl::parse(&tdb.url).unwrap()).unwrap();
    pref(&db, "alice", "fwd", 0, "sip:vm@127.0.0.5");
    pref(&db, "alice", "tier", 1, "7");
    pref(&db, "alice", "old", 0, "x");
    pref(&db, "bob", "fwd", 0, "sip:other@127.0.0.6");
    pref(&db, "bob", "gone", 0, "deleted by sql_delete");
    let far_port = common::free_udp_port();
    let o = Osips::script(&script(&tdb.url, far_port)).start();

    send(&o, "carol", 404, "^SIP/2.0 404 No Preferences For carol");
    let far = uas(far_port);
    send(&o, "alice", 200, "^SIP/2.0 200 OK");
    far.success(&o);

    let rows = db
        .query(
            "SELECT attribute, value, type, domain FROM usr_preferences WHERE username = ? ORDER BY attribute",
            osips::params!["alice"],
        )
        .unwrap();
    let got: Vec<(String, String, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get(0).to_text().unwrap(),
                r.get(1).to_text().unwrap(),
                r.get(2).as_i64().unwrap(),
                r.get(3).to_text().unwrap_or_default(),
            )
        })
        .collect();
    let row = |a: &str, v: &str, t| (a.to_string(), v.to_string(), t, String::new());
    assert_eq!(
        got,
        vec![
            row("fwd", "sip:vm@127.0.0.5", 0),
            row("ins", "upd", 0),
            row("seen", "yes-127.0.0.1", 0),
            row("tier", "7", 1),
        ],
        "`old` deleted, `seen` stored, `ins` inserted and updated"
    );
    let bob = db
        .query(
            "SELECT value FROM usr_preferences WHERE username = ?",
            osips::params!["bob"],
        )
        .unwrap();
    assert_eq!(bob.len(), 1, "other users untouched");
    assert_eq!(bob[0].get(0), &Value::Text("sip:other@127.0.0.6".into()));
    db.close();
}

#[test]
fn sqlops_sqlite() {
    preferences_into_headers(Engine::Sqlite);
}

#[test]
fn sqlops_postgres() {
    preferences_into_headers(Engine::Postgres);
}

#[test]
fn sqlops_mysql() {
    preferences_into_headers(Engine::Mysql);
}
