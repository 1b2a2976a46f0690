//! dialplan end to end: rules in a database (SQLite, PostgreSQL, MariaDB), `osips -F -E -f`
//! translating the Request-URI user with `dp_translate`, a sipp UAS checking the relayed
//! Request-URI and the rule's attributes; MI `dp_reload` / `dp_translate` over HTTP.

mod common;

use std::time::Duration;

use common::db::{TestDb, test_db};
use common::osips::Osips;
use common::scenario::{self, Check};
use common::sipp::{Run, Sipp};
use osips::db::{Db, DbUrl, Engine};
use serde_json::json;

fn script(url: &str, far_port: u16) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
loadmodule "dialplan.so"
modparam("dialplan", "db_url", "{url}")
modparam("dialplan", "partition", "pstn:
    table_name = dialplan_pstn")

route {{
    $var(part) = "default";
    if ($rU =~ "^07") {{
        $var(part) = "pstn";
    }}
    if (!dp_translate(1, "$rU", $rU, $var(attrs), "$var(part)")) {{
        sl_send_reply(404, "No Translation For $rU");
        exit;
    }}
    append_hf("X-DP-Attrs: $var(attrs)\r\n");
    $rp = {far_port};
    forward();
}}
"#
    )
}

struct Rule<'a> {
    pr: i64,
    op: i64,
    exp: &'a str,
    flags: i64,
    subst: Option<&'a str>,
    repl: &'a str,
    attrs: &'a str,
    disabled: i64,
}

fn add(db: &Db, dpid: i64, r: Rule<'_>) {
    db.execute(
        "INSERT INTO dialplan (dpid, pr, match_op, match_exp, match_flags, subst_exp, repl_exp, attrs, disabled) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        osips::params![dpid, r.pr, r.op, r.exp, r.flags, r.subst, r.repl, r.attrs, r.disabled],
    )
    .unwrap();
}

fn provision(db: &Db) {
    let rule = |pr, op, exp, repl, attrs| Rule {
        pr,
        op,
        exp,
        flags: 0,
        subst: None,
        repl,
        attrs,
        disabled: 0,
    };
    // National numbers to E.164: the regex with back-references wins over the catch-all below.
    add(
        db,
        1,
        Rule {
            subst: Some("^0([1-9][0-9]+)$"),
            ..rule(1, 1, "^0[1-9][0-9]{5,}$", "+40\\1", "national")
        },
    );
    add(db, 1, rule(5, 1, "^0", "lower-priority", "catch-all"));
    add(db, 1, rule(0, 0, "911", "112", "emergency"));
    add(
        db,
        1,
        Rule {
            flags: 1,
            ..rule(0, 0, "Alice", "alice.smith", "by-name")
        },
    );
    add(
        db,
        1,
        Rule {
            disabled: 1,
            ..rule(0, 0, "0212345678", "disabled-rule", "off")
        },
    );
    add(db, 2, rule(0, 0, "5555", "other-dialplan", "dp2"));
    // repl_exp may name variables of the message.
    add(db, 1, rule(0, 0, "800", "$fU-800", "from-var"));
}

/// A sipp UAS on `port` answering one MESSAGE after checking the Request-URI and the attrs.
fn uas(port: u16, ruri_user: &str, attrs: &str) -> Sipp {
    let line = format!("^MESSAGE sip:{ruri_user}@127\\.0\\.0\\.1:{port} SIP/2\\.0");
    let attrs = format!("^ *{attrs}$");
    let checks = [
        Check::msg(&line),
        Check {
            re: &attrs,
            search_in: "hdr",
            header: Some("X-DP-Attrs:"),
            inverse: false,
        },
    ];
    Run::new(
        "dialplan UAS",
        &scenario::uas_200_checked("uas", "MESSAGE", &checks),
    )
    .port(port)
    .limit(Duration::from_secs(30))
    .uas()
}

/// A MESSAGE to `user`@osips and the reply it must get.
fn send(o: &Osips, user: &str, code: u16, status: &str) {
    let xml = scenario::message_expect("dialplan uac", user, code, status);
    Run::new(&format!("MESSAGE to {user}"), &xml)
        .towards_port(o.port)
        .timeout(15)
        .limit(Duration::from_secs(30))
        .done(o);
}

fn relayed(o: &Osips, far_port: u16, user: &str, translated: &str, attrs: &str) {
    let far = uas(far_port, translated, attrs);
    send(o, user, 200, "^SIP/2.0 200 OK");
    far.success(o);
}

fn translates_and_relays(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(tdb) = test_db(engine, &["dialplan"], "osdp") else {
        return;
    };
    let TestDb { url, .. } = &tdb;
    let db = Db::connect(&DbUrl::parse(url).unwrap()).unwrap();
    provision(&db);
    // A second partition: its own table, where 07... numbers go out differently.
    db.execute(
        "CREATE TABLE dialplan_pstn AS SELECT * FROM dialplan WHERE 1 = 0",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO dialplan_pstn (id, dpid, pr, match_op, match_exp, match_flags, repl_exp, attrs, disabled) \
         VALUES (1, 1, 0, 0, '0799999999', 0, 'pstn-out', 'pstn', 0)",
        &[],
    )
    .unwrap();
    let far_port = common::free_udp_port();
    let o = Osips::script(&script(url, far_port)).start();

    relayed(&o, far_port, "0212345678", "\\+40212345678", "national");
    relayed(&o, far_port, "911", "112", "emergency");
    relayed(&o, far_port, "ALICE", "alice\\.smith", "by-name");
    relayed(&o, far_port, "0123", "lower-priority", "catch-all");
    relayed(&o, far_port, "0799999999", "pstn-out", "pstn");
    relayed(&o, far_port, "800", "caller-800", "from-var");
    // Rules of another dialplan id do not apply; nothing matches → -1.
    send(&o, "5555", 404, "^SIP/2.0 404 No Translation For 5555");

    // A new rule is used after MI dp_reload, not before.
    add(
        &db,
        1,
        Rule {
            pr: 0,
            op: 0,
            exp: "5555",
            flags: 0,
            subst: None,
            repl: "+15555",
            attrs: "reloaded",
            disabled: 0,
        },
    );
    assert!(
        o.mi("dp_translate", json!({"dpid": 1, "input": "5555"}))
            .is_err()
    );
    o.mi("dp_reload", json!({})).unwrap();
    let t = o
        .mi("dp_translate", json!({"dpid": 1, "input": "5555"}))
        .unwrap();
    assert_eq!(t, json!({"Output": "+15555", "ATTRIBUTES": "reloaded"}));
    let t = o
        .mi("dp_translate", json!({"dpid": 2, "input": "5555"}))
        .unwrap();
    assert_eq!(t["Output"], "other-dialplan");
    let t = o
        .mi(
            "dp_translate",
            json!({"dpid": 1, "input": "0799999999", "partition": "pstn"}),
        )
        .unwrap();
    assert_eq!(t["Output"], "pstn-out");
    let t = o
        .mi("dp_translate", json!({"dpid": 1, "input": "0799999999"}))
        .unwrap();
    assert_eq!(t["Output"], "+40799999999", "the default partition");
    o.mi("dp_reload", json!({"partition": "pstn"})).unwrap();
    let parts = o.mi("dp_show_partition", json!({})).unwrap();
    let names: Vec<&str> = parts["Partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "pstn"]);
    assert!(
        o.mi("dp_reload", json!({"partition": "nope"})).is_err(),
        "unknown partition"
    );
    relayed(&o, far_port, "5555", "\\+15555", "reloaded");
    db.close();
}

#[test]
fn dialplan_sqlite() {
    translates_and_relays(Engine::Sqlite);
}

#[test]
fn dialplan_postgres() {
    translates_and_relays(Engine::Postgres);
}

#[test]
fn dialplan_mysql() {
    translates_and_relays(Engine::Mysql);
}

/// `partition "default: pstn"`: the default partition is another table; `dialplan` is not read.
#[test]
fn default_partition_names_another() {
    let Some(tdb) = test_db(Engine::Sqlite, &["dialplan"], "osdp") else {
        return;
    };
    let db = Db::connect(&DbUrl::parse(&tdb.url).unwrap()).unwrap();
    provision(&db);
    db.execute(
        "CREATE TABLE dialplan_pstn AS SELECT * FROM dialplan WHERE 1 = 0",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO dialplan_pstn (id, dpid, pr, match_op, match_exp, match_flags, repl_exp, attrs, disabled) \
         VALUES (1, 1, 0, 1, '^0', 0, 'via-pstn', 'pstn', 0)",
        &[],
    )
    .unwrap();
    let script = format!(
        r#"socket = udp:127.0.0.1:@PORT@
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
loadmodule "dialplan.so"
modparam("dialplan", "db_url", "{}")
modparam("dialplan", "partition", "pstn: table_name = dialplan_pstn")
modparam("dialplan", "partition", "default: pstn")
route {{ exit; }}
"#,
        tdb.url
    );
    let o = Osips::script(&script).start();
    let t = o
        .mi("dp_translate", json!({"dpid": 1, "input": "0212345678"}))
        .unwrap();
    assert_eq!(t, json!({"Output": "via-pstn", "ATTRIBUTES": "pstn"}));
    db.close();
}
