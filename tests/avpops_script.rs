//! avpops from a running script: `is_avp_set`, `avp_copy`, `avp_insert`, `avp_delete`,
//! `avp_shuffle`, `avp_check`, `avp_op`, `avp_subst`, `avp_pushto` change or test `$avp`s and the
//! request the way OpenSIPS documents; `avp_db_load/store/delete` and `avp_db_query` work on
//! `usr_preferences` in SQLite, PostgreSQL and MariaDB. The route reports what it saw in the
//! reply's reason phrase; database changes are read back from the database.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::db::test_db;
use common::osips::Osips;
use common::scenario::{self, Check};
use common::sipp::Run;
use osips::db::{Db, DbUrl, Engine};

/// Sends an OPTIONS for `ruri` and gives the reply's status line.
fn ask(osips: &Osips, ruri: &str, call_id: &str) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = sock.local_addr().unwrap();
    let req = format!(
        "OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(req.as_bytes(), ("127.0.0.1", osips.port))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no reply: {e}\n{}", osips.log()));
    let reply = String::from_utf8_lossy(&buf[..n]);
    reply.lines().next().unwrap().to_string()
}

const SCRIPT: &str = r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "avpops.so"
route {
    if (is_avp_set("$avp(none)")) { sl_send_reply(500, "none is set"); exit; }
    $avp(a) = "one";
    $avp(a) = "two";
    $avp(a) = "three";
    if (!is_avp_set("$avp(a)")) { sl_send_reply(500, "a is not set"); exit; }
    avp_copy("$avp(a)", "$avp(top)");
    avp_copy("$avp(a)", "$avp(all)/g");
    avp_insert("$avp(all)", "x", 1);
    avp_delete("$avp(a)");
    $var(after_one) = $avp(a);
    avp_copy("$avp(a)", "$avp(moved)/gd");
    avp_shuffle("$avp(all)");
    avp_print();
    sl_send_reply(200, "$avp(top) $var(after_one) $(avp(moved)[0])$(avp(moved)[1]) a=$avp(a) c3=$(avp(all)[3]) c4=$(avp(all)[4])");
    exit;
}
"#;

#[test]
fn avp_functions_change_the_avps_as_opensips_documents() {
    let osips = Osips::script(SCRIPT).start();
    let status = ask(&osips, "sip:127.0.0.1", "avpops-1");
    assert!(
        status.starts_with("SIP/2.0 200 three two twoone a=<null> c3="),
        "{status}\n{}",
        osips.log()
    );
    // `all` holds the three copies and the inserted "x", shuffled: a fourth value and no fifth.
    assert!(status.ends_with(" c4=<null>"), "{status}");
    assert!(!status.contains("c3=<null>"), "{status}");
}

/// Each `avp_check` / `is_avp_set` adds 1 (true) or 0 (false) to `$var(c)`.
const CHECK_OP_SUBST: &str = r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "avpops.so"
route[bit] {
    if ($param(1) > 0) { $var(c) = $var(c) + "1"; } else { $var(c) = $var(c) + "0"; }
}
route {
    $var(c) = "";
    $avp(n) = 5;
    $avp(n) = 12;
    avp_check("$avp(n)", "gt/i:10"); route(bit, $rc);
    avp_check("$avp(n)", "lt/i:10"); route(bit, $rc);
    avp_check("$avp(n)", "lt/i:10/g"); route(bit, $rc);
    avp_check("$avp(n)", "eq/5/g"); route(bit, $rc);
    avp_check("$avp(n)", "eq/s:12"); route(bit, $rc);
    $avp(u) = "sip:Alice@Bar.net";
    avp_check("$avp(u)", "re/^sip:alice@bar\.net$"); route(bit, $rc);
    avp_check("$avp(u)", "fm/sip:alice@*"); route(bit, $rc);
    avp_check("$avp(u)", "fm/sip:alice@*/i"); route(bit, $rc);
    avp_check("$avp(u)", "eq/SIP:ALICE@BAR.NET/i"); route(bit, $rc);
    avp_check("$fU", "eq/a"); route(bit, $rc);
    $avp(want) = "a";
    $avp(want) = "zz";
    avp_check("$fU", "eq/$avp(want)"); route(bit, $rc);
    $avp(mask) = 6;
    avp_check("$avp(mask)", "and/i:1"); route(bit, $rc);
    avp_check("$avp(mask)", "and/i:0x2"); route(bit, $rc);
    avp_check("$avp(none)", "eq/1"); route(bit, $rc);
    is_avp_set("$avp(n)/n"); route(bit, $rc);
    is_avp_set("$avp(u)/n"); route(bit, $rc);
    $avp(x1) = 1;
    $avp(7) = 2;
    avp_delete("i");
    is_avp_set("$avp(7)"); route(bit, $rc);
    is_avp_set("$avp(x1)"); route(bit, $rc);
    $avp(num) = "42";
    avp_copy("$avp(num)", "$avp(numi)/n");
    avp_op("$avp(numi)", "add/i:1");

    avp_op("$avp(n)", "add/i:1/gd");
    avp_op("$avp(n)/$avp(m)", "mul/$avp(n)");
    avp_op("$avp(k)", "not/i:0");
    avp_op("$avp(n)/$avp(q)", "div/i:0");
    avp_op("$avp(n)/$avp(h)", "or/i:0x100");
    $var(seven) = 7;
    avp_op("$avp(n)/$avp(r)", "mod/$var(seven)");
    $avp(s1) = "text";
    if (avp_op("$avp(s1)", "add/i:1")) { sl_send_reply(500, "avp_op on a string"); exit; }

    $avp(e) = "alice@old.net";
    avp_subst("$avp(e)", "/(.*)@(.*)/\1@$rd/");
    $avp(w) = "a-b-c";
    $avp(w) = "x-y";
    avp_subst("$avp(w)/$avp(w2)/g", "/-/+/g");
    avp_subst("$avp(w)/$avp(w3)/d", "/A/Z/i");
    if (avp_subst("$avp(w)", "/nomatch/z/")) { sl_send_reply(500, "subst without a match"); exit; }

    sl_send_reply(200, "c=$var(c) numi=$avp(numi) n=$(avp(n)[0]),$(avp(n)[1]) m=$(avp(m)[0]),$(avp(m)[1]) k=$avp(k) q=$avp(q) h=$avp(h) r=$avp(r) e=$avp(e) w=$(avp(w)[*]) w2=$(avp(w2)[0]),$(avp(w2)[1]) w3=$avp(w3)");
    exit;
}
"#;

#[test]
fn avp_check_op_and_subst_follow_opensips() {
    let osips = Osips::script(CHECK_OP_SUBST).start();
    let status = ask(&osips, "sip:b@127.0.0.9", "avpops-2");
    assert_eq!(
        status,
        "SIP/2.0 200 c=101101011110101001 numi=43 n=13,6 m=169,78 k=-1 q=0 h=269 r=6 \
         e=alice@127.0.0.9 w=x-y w2=x+y,a+b+c w3=Z-b-c",
        "{}",
        osips.log()
    );
}

const PUSHTO: &str = r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "avpops.so"
route {
    $avp(dst) = "sip:127.0.0.2:5099";
    avp_pushto("$du", "$avp(dst)");
    $avp(user) = "carol";
    avp_pushto("$ru/username", "$avp(user)");
    $avp(doms) = "127.0.0.4";
    $avp(doms) = "127.0.0.3";
    avp_pushto("$ru/domain", "$avp(doms)/g");
    $avp(b) = "sip:dave@127.0.0.5";
    avp_pushto("$br", "$avp(b)");
    $avp(i) = 5;
    if (avp_pushto("$du", "$avp(i)")) { sl_send_reply(500, "an integer as $$du"); exit; }
    sl_send_reply(200, "ru=$ru du=$du b0=$(branch(uri)[0]) b1=$(branch(uri)[1])");
    exit;
}
"#;

#[test]
fn avp_pushto_writes_the_request_uri_destination_and_branches() {
    let osips = Osips::script(PUSHTO).start();
    let status = ask(&osips, "sip:bob@127.0.0.1", "avpops-3");
    assert_eq!(
        status,
        "SIP/2.0 200 ru=sip:carol@127.0.0.4 du=sip:127.0.0.2:5099 \
         b0=sip:carol@127.0.0.3 b1=sip:dave@127.0.0.5",
        "{}",
        osips.log()
    );
}

fn db_script(url: &str) -> String {
    format!(
        r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "avpops.so"
modparam("avpops", "db_url", "{url}")
modparam("avpops", "db_url", "2 {url}")
modparam("avpops", "avp_table", "usr_preferences")
route {{
    if (!avp_db_load("$ru", "$avp(fwd)")) {{
        sl_send_reply(404, "No Preferences For $rU");
        exit;
    }}
    avp_db_load("$ru/username", "*", 2, "p_");
    $avp(seen) = "yes-" + $si;
    avp_db_store("$ru", "$avp(seen)");
    avp_db_delete("$ru", "$avp(old)");
    avp_db_query("DELETE FROM usr_preferences WHERE username = '$rU' AND attribute = 'tmp'");
    avp_db_query("SELECT value, attribute FROM usr_preferences WHERE username = '$rU' ORDER BY attribute", "$avp(v);$avp(a)");
    avp_db_query("SELECT value FROM usr_preferences WHERE username = 'nobody'", "$avp(none)");
    $var(empty_rc) = $rc;
    $var(evil) = "x' OR '1'='1";
    avp_db_query("SELECT COUNT(*) FROM usr_preferences WHERE username = '$var(evil)'", "$avp(evil_n)");
    $var(t) = 1;
    avp_db_query("SELECT attribute FROM usr_preferences WHERE username = $rU AND type = $var(t)", "$avp(int_attr)", 2);
    avp_db_query("SELECT value FROM usr_preferences WHERE username LIKE '%$rU%'");
    $var(like_rc) = $rc;
    sl_send_reply(200, "fwd=$avp(fwd) tier=$avp(p_tier) q=$(avp(a)[0])=$(avp(v)[0]),$(avp(a)[1])=$(avp(v)[1]),$(avp(a)[2])=$(avp(v)[2]) empty=$var(empty_rc) evil=$avp(evil_n) int=$avp(int_attr) like=$var(like_rc)");
    exit;
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

fn preferences(engine: Engine) {
    let Some(tdb) = test_db(engine, &["usr_preferences"], "osav") else {
        return;
    };
    let db = Db::connect(&DbUrl::parse(&tdb.url).unwrap()).unwrap();
    pref(&db, "alice", "fwd", 0, "sip:vm@127.0.0.5");
    pref(&db, "alice", "tier", 1, "7");
    pref(&db, "alice", "old", 0, "x");
    pref(&db, "alice", "tmp", 0, "y");
    pref(&db, "bob", "fwd", 0, "sip:other@127.0.0.6");
    let osips = Osips::script(&db_script(&tdb.url)).start();

    assert_eq!(
        ask(&osips, "sip:carol@127.0.0.1", "avpops-db-1"),
        "SIP/2.0 404 No Preferences For carol",
        "{}",
        osips.log()
    );
    assert_eq!(
        ask(&osips, "sip:alice@127.0.0.1", "avpops-db-2"),
        "SIP/2.0 200 fwd=sip:vm@127.0.0.5 tier=7 \
         q=fwd=sip:vm@127.0.0.5,seen=yes-127.0.0.1,tier=7 empty=-2 evil=0 int=tier like=-1",
        "{}",
        osips.log()
    );

    let rows = db
        .query(
            "SELECT attribute, value, type FROM usr_preferences WHERE username = ? ORDER BY attribute",
            osips::params!["alice"],
        )
        .unwrap();
    let got: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.get(0).to_text().unwrap(),
                r.get(1).to_text().unwrap(),
                r.get(2).as_i64().unwrap(),
            )
        })
        .collect();
    let row = |a: &str, v: &str, t| (a.to_string(), v.to_string(), t);
    assert_eq!(
        got,
        vec![
            row("fwd", "sip:vm@127.0.0.5", 0),
            row("seen", "yes-127.0.0.1", 0),
            row("tier", "7", 1),
        ],
        "`old` deleted by avp_db_delete, `tmp` by avp_db_query, `seen` stored"
    );
    let bob = db
        .query(
            "SELECT COUNT(*) FROM usr_preferences WHERE username = ?",
            osips::params!["bob"],
        )
        .unwrap();
    assert_eq!(bob[0].get(0).as_i64(), Some(1), "other users untouched");
    db.close();
}

#[test]
fn avpops_db_sqlite() {
    preferences(Engine::Sqlite);
}

#[test]
fn avpops_db_postgres() {
    preferences(Engine::Postgres);
}

#[test]
fn avpops_db_mysql() {
    preferences(Engine::Mysql);
}

const PUSHTO_FORWARD: &str = r#"socket=udp:127.0.0.1:@PORT@
loadmodule "avpops.so"
route {
    $avp(hop) = "sip:127.0.0.1:@FAR@";
    avp_pushto("$du", "$avp(hop)");
    $avp(to) = "pushed";
    avp_pushto("$ru/username", "$avp(to)");
    $avp(dom) = "127.0.0.7";
    avp_pushto("$ru/domain", "$avp(dom)");
    forward();
}
"#;

/// The pushed destination URI is where the request goes; the pushed Request-URI is what the
/// next hop (a sipp UAS) receives.
#[test]
fn avp_pushto_routes_the_forwarded_request() {
    if common::sipp().is_none() {
        return;
    }
    let far_port = common::free_udp_port();
    let osips = Osips::script(PUSHTO_FORWARD).var("@FAR@", far_port).start();
    let checks = [Check::msg(r"^MESSAGE sip:pushed@127\.0\.0\.7[:;> ]")];
    let far = Run::new(
        "avp_pushto UAS",
        &scenario::uas_200_checked("uas", "MESSAGE", &checks),
    )
    .port(far_port)
    .limit(Duration::from_secs(30))
    .uas();
    Run::new(
        "MESSAGE to alice",
        &scenario::message_expect("avpops uac", "alice", 200, "^SIP/2.0 200 OK"),
    )
    .towards_port(osips.port)
    .timeout(15)
    .limit(Duration::from_secs(30))
    .done(&osips);
    far.success(&osips);
}
