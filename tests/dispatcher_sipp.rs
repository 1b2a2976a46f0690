//! dispatcher on real traffic: sets in a database (SQLite, PostgreSQL, MariaDB), sipp UACs
//! through `osips -F -E -f script`, sipp UASes on 127.0.0.2 / 127.0.0.3 as destinations,
//! OPTIONS probing seen through MI `ds_list` and E_DISPATCHER_STATUS datagrams.

mod registrar_support;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::scenario;
use common::sipp::Run;
use osips::db::{Db, DbUrl, Engine, admin};
use registrar_support::{Osips, common, uas_done};
use serde_json::{Value, json};

const HEAD: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"textops.so\"\n\
loadmodule \"httpd.so\"\nloadmodule \"mi_http.so\"\n\
modparam(\"httpd\", \"ip\", \"127.0.0.1\")\nmodparam(\"httpd\", \"port\", @HTTP@)\n\
loadmodule \"dispatcher.so\"\n";

/// A database with the `dispatcher` table; server databases are dropped with the guard.
struct DsDb {
    url: String,
    admin: Option<(Db, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for DsDb {
    fn drop(&mut self) {
        if let Some((a, name)) = &self.admin {
            let _ = admin::drop_database(a, name);
        }
    }
}

impl DsDb {
    fn new(engine: Engine) -> Option<DsDb> {
        let (url, admin, dir) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("osips.sqlite");
                Db::open_sqlite(&path, true).unwrap().close();
                (format!("sqlite://{}", path.display()), None, Some(dir))
            }
            _ => {
                let admin_url = if engine == Engine::Postgres {
                    common::pgsql_admin_url()?
                } else {
                    common::mysql_admin_url()?
                };
                let a = Db::connect(&DbUrl::parse(&admin_url).unwrap()).unwrap();
                let name = common::unique_name("osds");
                admin::create_database(&a, &name).unwrap();
                let url = format!("{}/{name}", admin_url.trim_end_matches('/'));
                (url, Some((a, name)), None)
            }
        };
        let d = DsDb {
            url,
            admin,
            _dir: dir,
        };
        let db = d.db();
        let t = osips::db::schema::current().table("dispatcher").unwrap();
        for stmt in t.create_sql(engine) {
            db.execute(&stmt, &[]).unwrap();
        }
        db.close();
        Some(d)
    }

    fn db(&self) -> Db {
        Db::connect(&DbUrl::parse(&self.url).unwrap()).unwrap()
    }

    fn add(&self, set: i64, dst: &str, weight: &str, priority: i64, attrs: &str) {
        let db = self.db();
        db.execute(
            "INSERT INTO dispatcher (setid, destination, state, probe_mode, weight, priority, attrs, description) \
             VALUES (?, ?, 0, 0, ?, ?, ?, ?)",
            osips::params![set, dst, weight, priority, attrs, "test"],
        )
        .unwrap();
        db.close();
    }
}

fn start(db: &DsDb, dir: &Path, extra: &str, routes: &str) -> Osips {
    let script = format!(
        "{HEAD}modparam(\"dispatcher\", \"db_url\", \"{}\")\n{extra}\n{routes}",
        db.url
    );
    Osips::start(dir, &script)
}

/// A sipp UAS on `ip:port` answering `calls` requests `method` with 200 (0 = until killed).
fn uas(ip: &str, port: u16, method: &str, calls: u32) -> (Child, tempfile::TempDir) {
    let (child, dir) = Run::new("UAS", &scenario::uas_200(method, &[]))
        .ip(ip)
        .port(port)
        .calls(calls as usize)
        .timeout(30)
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    (child, dir)
}

/// Sends one `method` through osips (Call-ID `call_id`, extra headers) and checks the reply
/// matches `expect` (a regex on the whole reply).
fn uac(o: &Osips, call_id: &str, headers: &[&str], code: u16, expect: &str) {
    let mut hdrs = vec![
        "From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]".to_string(),
        "To: <sip:conf@example.com>".to_string(),
        "CSeq: 1 INVITE".to_string(),
        "Contact: <sip:caller@[local_ip]:[local_port]>".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    hdrs.extend(headers.iter().map(|h| h.to_string()));
    let check = scenario::Check {
        re: expect,
        search_in: "msg",
        header: None,
        inverse: false,
    };
    let xml = scenario::uac_request_after(
        "uac",
        "INVITE sip:conf@example.com",
        &hdrs,
        &[100],
        code,
        &[check],
    );
    Run::new(&format!("INVITE {call_id} → {code} /{expect}/"), &xml)
        .towards_port(o.port)
        .args(&["-cid_str", call_id])
        .timeout(15)
        .limit(Duration::from_secs(30))
        .done(&**o);
}

/// The state `ds_list` shows for `uri`.
fn state_of(o: &Osips, uri: &str) -> Option<String> {
    let v = o.mi("ds_list", json!([])).unwrap();
    v["PARTITIONS"][0]["SETS"]
        .as_array()?
        .iter()
        .flat_map(|s| s["Destinations"].as_array().cloned().unwrap_or_default())
        .find(|d| d["URI"] == uri)
        .map(|d| d["state"].as_str().unwrap_or("").to_string())
}

fn wait_state(o: &Osips, uri: &str, want: &str, limit: Duration) {
    common::wait_until(
        &format!("{uri} never became {want}"),
        limit,
        || o.log(),
        || state_of(o, uri).as_deref() == Some(want),
    );
}

const FORWARD: &str = r#"
route {
    if (!ds_select_dst(1, 4)) {
        sl_send_reply(503, "No destination");
        exit;
    }
    forward();
}
"#;

#[test]
fn round_robin_alternates_between_two_uas() {
    if common::sipp().is_none() {
        return;
    }
    let db = DsDb::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    db.add(1, &format!("sip:127.0.0.2:{port}"), "1", 0, "");
    db.add(1, &format!("sip:127.0.0.3:{port}"), "1", 0, "");
    let dir = tempfile::tempdir().unwrap();
    let o = start(
        &db,
        dir.path(),
        "modparam(\"dispatcher\", \"ds_ping_interval\", 0)",
        FORWARD,
    );
    let (a, da) = uas("127.0.0.2", port, "INVITE", 2);
    let (b, dbb) = uas("127.0.0.3", port, "INVITE", 2);
    // Each UAS takes exactly two calls: a third one would get no answer and fail the UAC.
    for i in 0..4 {
        uac(&o, &format!("rr-{i}"), &[], 200, "SIP/2.0 200 OK");
    }
    uas_done(a, &da, &o);
    uas_done(b, &dbb, &o);
    let v = o.mi("ds_list", json!([])).unwrap();
    let dests = &v["PARTITIONS"][0]["SETS"][0]["Destinations"];
    assert_eq!(dests[0]["first_hit_counter"], 2, "{v}");
    assert_eq!(dests[1]["first_hit_counter"], 2, "{v}");
}

/// Serial forking over the set with tm: the first destination never answers, the failure route
/// takes the next one with `ds_next_dst`.
#[test]
fn ds_next_dst_in_a_failure_route_reaches_the_next_destination() {
    if common::sipp().is_none() {
        return;
    }
    let db = DsDb::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    db.add(1, &format!("sip:127.0.0.2:{port}"), "1", 0, "");
    db.add(1, &format!("sip:127.0.0.3:{port}"), "1", 0, "");
    let dir = tempfile::tempdir().unwrap();
    let o = start(
        &db,
        dir.path(),
        "modparam(\"dispatcher\", \"ds_ping_interval\", 0)\nloadmodule \"tm.so\"\n\
         modparam(\"tm\", \"fr_timeout\", 1)\nmodparam(\"tm\", \"fr_inv_timeout\", 2)",
        r#"
route {
    if (!ds_select_dst(1, 8, "f")) {
        sl_send_reply(503, "No destination");
        exit;
    }
    t_on_failure("next");
    t_relay();
}

failure_route[next] {
    if (t_was_cancelled()) exit;
    if (t_check_status("408|5[0-9][0-9]") && ds_next_dst()) {
        xlog("L_NOTICE", "failing over to $du\n");
        t_on_failure("next");
        t_relay();
    }
}
"#,
    );
    // Only the second destination has a UAS.
    let (b, dbb) = uas("127.0.0.3", port, "INVITE", 1);
    uac(&o, "fo-1", &[], 200, "SIP/2.0 200 OK");
    uas_done(b, &dbb, &o);
    assert!(
        o.log()
            .contains(&format!("failing over to sip:127.0.0.3:{port}")),
        "{}",
        o.log()
    );
}

const SHOW: &str = r#"
modparam("dispatcher", "ds_ping_interval", 0)
modparam("dispatcher", "attrs_avp", "$avp(ds_attrs)")
modparam("dispatcher", "cnt_avp", "$avp(ds_cnt)")
modparam("dispatcher", "hash_pvar", "$hdr(X-Key)")
modparam("dispatcher", "setid_pvar", "$var(setid)")
route {
    if ($hdr(X-Domain) == "yes") {
        ds_select_domain(1, 8);
        sl_send_reply(200, "ru=$ru du=$du");
        exit;
    }
    $var(alg) = $(hdr(X-Alg){s.int});
    if ($hdr(X-Failover) == "yes") {
        if (!ds_select_dst(2, 8, "f")) {
            sl_send_reply(503, "none");
            exit;
        }
        ds_next_dst();
        sl_send_reply(200, "next=$du cnt=$avp(ds_cnt) attrs=$avp(ds_attrs)");
        exit;
    }
    if ($hdr(X-Mark) == "yes") {
        ds_select_dst(2, 8, "f");
        ds_mark_dst("i");
        ds_count(2, "a", $var(n));
        sl_send_reply(200, "active=$var(n)");
        exit;
    }
    if ($hdr(X-InList) != NULL) {
        if (ds_is_in_list($hdr(X-InList), 0)) {
            sl_send_reply(200, "in-list $var(setid)");
        } else {
            sl_send_reply(404, "not-in-list");
        }
        exit;
    }
    if (!ds_select_dst(1, $var(alg))) {
        sl_send_reply(503, "No destination");
        exit;
    }
    sl_send_reply(200, "du=$du");
}
"#;

fn two_sets(db: &DsDb) {
    db.add(1, "sip:127.0.0.2:5999", "1", 0, "a=1");
    db.add(1, "sip:127.0.0.3:5999", "1", 0, "a=2");
    db.add(2, "sip:127.0.0.4:5999", "1", 10, "first");
    db.add(2, "sip:127.0.0.5:5999", "1", 5, "second");
    db.add(2, "sip:127.0.0.6:5999", "1", 1, "third");
}

#[test]
fn hashing_is_stable_and_failover_walks_the_set() {
    if common::sipp().is_none() {
        return;
    }
    let db = DsDb::new(Engine::Sqlite).unwrap();
    two_sets(&db);
    let dir = tempfile::tempdir().unwrap();
    let o = start(&db, dir.path(), "", SHOW);
    // Hash over Call-ID: the same Call-ID always lands on the same destination, as CRC-32 says.
    for cid in ["alpha-1", "beta-2", "gamma-3"] {
        let idx = osips::modules::dispatcher::algo::hash(cid.as_bytes()) % 2;
        let want = format!(r"du=sip:127\.0\.0\.{}:5999", idx + 2);
        for _ in 0..3 {
            uac(&o, cid, &["X-Alg: 0"], 200, &want);
        }
    }
    // Hash over hash_pvar (algorithm 7) and over the From URI (1).
    for key in ["k1", "k2", "k3", "k4"] {
        let idx = osips::modules::dispatcher::algo::hash(key.as_bytes()) % 2;
        let want = format!(r"du=sip:127\.0\.0\.{}:5999", idx + 2);
        uac(
            &o,
            &format!("pv-{key}"),
            &["X-Alg: 7", &format!("X-Key: {key}")],
            200,
            &want,
        );
    }
    let idx = osips::modules::dispatcher::algo::hash(b"sip:caller@example.com") % 2;
    let want = format!(r"du=sip:127\.0\.0\.{}:5999", idx + 2);
    uac(&o, "from-1", &["X-Alg: 1"], 200, &want);
    uac(&o, "from-2", &["X-Alg: 1"], 200, &want);
    // ds_select_domain rewrites the Request-URI's host and port, not $du.
    uac(
        &o,
        "dom-1",
        &["X-Domain: yes"],
        200,
        r"ru=sip:conf@127\.0\.0\.2:5999 du=<null>",
    );
    // First available by priority, then the next one from the failover AVPs.
    uac(
        &o,
        "fo-1",
        &["X-Alg: 8", "X-Failover: yes"],
        200,
        r"next=sip:127\.0\.0\.5:5999 cnt=2 attrs=second",
    );
    uac(&o, "in-1", &["X-InList: 127.0.0.6"], 200, "in-list 2");
    uac(&o, "in-2", &["X-InList: 127.0.0.9"], 404, "not-in-list");
    // ds_mark_dst("i") takes the chosen one out.
    uac(&o, "mk-1", &["X-Mark: yes"], 200, "active=2");
    assert_eq!(
        state_of(&o, "sip:127.0.0.4:5999").as_deref(),
        Some("Inactive")
    );
    uac(
        &o,
        "fo-2",
        &["X-Alg: 8", "X-Failover: yes"],
        200,
        r"next=sip:127\.0\.0\.6:5999 cnt=1 attrs=third",
    );
}

/// ds_list, ds_set_state and ds_reload after a database change.
fn mi_and_reload(engine: Engine) {
    let Some(db) = DsDb::new(engine) else {
        return;
    };
    two_sets(&db);
    let dir = tempfile::tempdir().unwrap();
    let o = start(&db, dir.path(), "", SHOW);
    let v = o.mi("ds_list", json!({"full": 1})).unwrap();
    let set2 = &v["PARTITIONS"][0]["SETS"][1];
    assert_eq!(set2["id"], 2);
    assert_eq!(set2["Destinations"][0]["URI"], "sip:127.0.0.4:5999");
    assert_eq!(set2["Destinations"][0]["priority"], 10);
    assert_eq!(set2["Destinations"][0]["attr"], "first");
    assert_eq!(set2["Destinations"][0]["state"], "Active");
    o.mi(
        "ds_set_state",
        json!({"state": "i", "group": "2", "address": "sip:127.0.0.4:5999"}),
    )
    .unwrap();
    assert_eq!(
        state_of(&o, "sip:127.0.0.4:5999").as_deref(),
        Some("Inactive")
    );
    let e = o
        .mi(
            "ds_set_state",
            json!({"state": "i", "group": "2", "address": "sip:127.0.0.99"}),
        )
        .unwrap_err();
    assert!(e.contains("Destination not found"), "{e}");

    db.add(3, "sip:127.0.0.7:5999", "1", 0, "new");
    assert_eq!(state_of(&o, "sip:127.0.0.7:5999"), None);
    o.mi("ds_reload", json!([])).unwrap();
    assert_eq!(
        state_of(&o, "sip:127.0.0.7:5999").as_deref(),
        Some("Active")
    );
    // The state set over MI survives the reload (inherit_state defaults to yes).
    assert_eq!(
        state_of(&o, "sip:127.0.0.4:5999").as_deref(),
        Some("Inactive")
    );
    o.mi("ds_reload", json!({"inherit_state": "n"})).unwrap();
    assert_eq!(
        state_of(&o, "sip:127.0.0.4:5999").as_deref(),
        Some("Active")
    );
    // persistent_state (on by default): the states are written back when osips stops.
    o.mi(
        "ds_set_state",
        json!({"state": "p", "group": "2", "address": "sip:127.0.0.5:5999"}),
    )
    .unwrap();
    let mut o = o;
    o.terminate();
    let db = db.db();
    let rows = db
        .query(
            "SELECT destination, state FROM dispatcher WHERE setid = 2 ORDER BY destination",
            &[],
        )
        .unwrap();
    let states: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.get(0).to_text().unwrap(), r.get(1).as_i64().unwrap()))
        .collect();
    db.close();
    assert_eq!(
        states,
        vec![
            ("sip:127.0.0.4:5999".to_string(), 0),
            ("sip:127.0.0.5:5999".to_string(), 2),
            ("sip:127.0.0.6:5999".to_string(), 0),
        ]
    );
}

#[test]
fn mi_and_reload_on_sqlite() {
    if common::sipp().is_none() {
        return;
    }
    mi_and_reload(Engine::Sqlite);
}

#[test]
fn mi_and_reload_on_postgresql() {
    mi_and_reload(Engine::Postgres);
}

#[test]
fn mi_and_reload_on_mariadb() {
    mi_and_reload(Engine::Mysql);
}

fn recv_event(l: &UdpSocket) -> Value {
    let mut buf = [0u8; 65536];
    let n = l.recv(&mut buf).expect("E_DISPATCHER_STATUS datagram");
    serde_json::from_slice(&buf[..n]).unwrap()
}

#[test]
fn probing_marks_a_silent_destination_and_brings_it_back() {
    if common::sipp().is_none() {
        return;
    }
    let db = DsDb::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    let up = format!("sip:127.0.0.2:{port}");
    let dead = format!("sip:127.0.0.3:{port}");
    db.add(1, &up, "1", 0, "");
    db.add(1, &dead, "1", 0, "");
    let dir = tempfile::tempdir().unwrap();
    let (u, _ud) = uas("127.0.0.2", port, "OPTIONS", 0);
    let mut u = Some(u);
    let o = start(
        &db,
        dir.path(),
        "modparam(\"dispatcher\", \"ds_ping_interval\", 1)\n\
         modparam(\"dispatcher\", \"ds_probing_threshold\", 2)\n\
         modparam(\"dispatcher\", \"ds_probing_mode\", 1)\n\
         modparam(\"dispatcher\", \"ds_ping_from\", \"sip:prober@127.0.0.1\")",
        FORWARD,
    );
    let l = UdpSocket::bind("127.0.0.1:0").unwrap();
    l.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    o.mi(
        "event_subscribe",
        json!([
            "E_DISPATCHER_STATUS",
            format!("udp:{}", l.local_addr().unwrap())
        ]),
    )
    .unwrap();
    // Nobody answers on 127.0.0.3: probing after two unanswered pings.
    wait_state(&o, &dead, "Probing", Duration::from_secs(10));
    let ev = recv_event(&l);
    assert_eq!(ev["method"], "E_DISPATCHER_STATUS");
    assert_eq!(ev["params"]["address"], dead.as_str());
    assert_eq!(ev["params"]["status"], "probing");
    assert_eq!(ev["params"]["group"], 1);
    // The answering one stays active over several rounds.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state_of(&o, &up).as_deref(), Some("Active"));

    // It stops answering: probing; it answers again: active.
    let mut c = u.take().unwrap();
    let _ = c.kill();
    let _ = c.wait();
    wait_state(&o, &up, "Probing", Duration::from_secs(10));
    let ev = recv_event(&l);
    assert_eq!(ev["params"]["address"], up.as_str());
    assert_eq!(ev["params"]["status"], "probing");
    let (mut again, _ad) = uas("127.0.0.2", port, "OPTIONS", 0);
    wait_state(&o, &up, "Active", Duration::from_secs(10));
    let ev = recv_event(&l);
    assert_eq!(ev["params"]["address"], up.as_str());
    assert_eq!(ev["params"]["status"], "active");
    // Calls go only to the active one meanwhile: the silent one stays out.
    assert_eq!(state_of(&o, &dead).as_deref(), Some("Probing"));
    let _ = again.kill();
    let _ = again.wait();
}
