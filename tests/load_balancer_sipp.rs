//! load_balancer end to end: the `load_balancer` table in a real database (SQLite, PostgreSQL,
//! MariaDB), a sipp caller through `osips -F -E`, sipp destinations on 127.0.0.2 / 127.0.0.3:
//! calls go to the destination with the most free capacity, fail over with `lb_next` when one
//! answers 503, and are refused when the resources are used up; `lb_is_destination`, the MI
//! `lb_list` / `lb_status` / `lb_resize` / `lb_reload` in OpenSIPS 3.x's shapes, and
//! `probing_verbose`.

mod common;

use std::time::Duration;

use common::osips::Osips;
use common::scenario::{self, Check};
use common::sipp::{self, Run, Sipp, call, options_from};
use osips::db::{Db, DbUrl, Engine};
use serde_json::{Value, json};

/// The R-URI user names the resource the call needs.
const SCRIPT: &str = r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "signaling.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "rr.so"
loadmodule "dialog.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
loadmodule "load_balancer.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
modparam("tm", "fr_inv_timeout", 5)
modparam("load_balancer", "db_url", "@DB@")
@LBPARAMS@

route {
    if (is_method("OPTIONS")) {
        if (lb_is_destination("$si", 0, -1, 1))
            sl_send_reply(200, "LB destination");
        else
            sl_send_reply(403, "Not a destination");
        exit;
    }
    if (has_totag()) {
        if (loose_route())
            t_relay();
        else
            send_reply(404, "Not here");
        exit;
    }
    if (lb_is_started())
        xlog("L_ERR", "a new call has a session already\n");
    record_route();
    lb_start(1, "$rU", "", $var(attrs));
    $var(rc) = $rc;
    if ($var(rc) < 0) {
        send_reply(503, "No capacity $var(rc)");
        exit;
    }
    xlog("L_NOTICE", "lb $ci to $du attrs=$var(attrs)\n");
    t_on_failure("LB_FAILOVER");
    if (!t_relay())
        send_reply(500, "Internal Error");
    exit;
}

failure_route[LB_FAILOVER] {
    if (t_was_cancelled())
        exit;
    if (t_check_status("(408)|([56][0-9][0-9])")) {
        if (lb_next()) {
            xlog("L_NOTICE", "lb failover of $ci to $du\n");
            t_on_failure("LB_FAILOVER");
            t_relay();
            exit;
        }
        send_reply(500, "All GW are down");
    }
}
"#;

struct Table {
    db: common::db::TestDb,
}

impl Table {
    fn new(engine: Engine) -> Option<Table> {
        Some(Table {
            db: common::db::test_db(engine, &["load_balancer"], "oslb")?,
        })
    }

    fn exec(&self, sql: &str, params: &[osips::db::Value]) {
        let db = Db::connect(&DbUrl::parse(&self.db.url).unwrap()).unwrap();
        db.execute(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close();
    }

    fn add(&self, id: i64, uri: &str, resources: &str, attrs: &str) {
        self.add_probed(id, uri, resources, attrs, 0);
    }

    fn add_probed(&self, id: i64, uri: &str, resources: &str, attrs: &str, probe_mode: i64) {
        self.exec(
            "INSERT INTO load_balancer (id, group_id, dst_uri, resources, probe_mode, attrs) \
             VALUES (?, 1, ?, ?, ?, ?)",
            osips::params![id, uri, resources, probe_mode, attrs],
        );
    }

    fn start(&self, lb_params: &str) -> Osips {
        Osips::script(SCRIPT)
            .var("@DB@", &self.db.url)
            .var("@LBPARAMS@", lb_params)
            .start()
    }
}

/// A destination on `ip:port` answering one INVITE with 200 (the call stays up).
fn dest_200(ip: &str, port: u16) -> Sipp {
    sipp::invite_200("destination", ip, port, &[Check::msg("^INVITE sip:")])
}

fn dest_503(ip: &str, port: u16) -> Sipp {
    sipp::invite_refused("destination", ip, port, "503 Service Unavailable")
}

/// `(max, load)` of `resource` on destination `id` in `lb_list`.
fn usage(o: &Osips, id: u64, resource: &str) -> (u64, u64) {
    let v = o.mi("lb_list", json!({})).unwrap();
    let d = v["Destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("destination {id} in {v}"));
    let r = d["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == resource)
        .unwrap_or_else(|| panic!("resource {resource} in {d}"));
    (r["max"].as_u64().unwrap(), r["load"].as_u64().unwrap())
}

fn balancing(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(t) = Table::new(engine) else {
        return;
    };
    let port = common::free_udp_port();
    t.add(
        1,
        &format!("sip:127.0.0.2:{port}"),
        "pstn=1;transc=5",
        "first",
    );
    t.add(2, &format!("sip:127.0.0.3:{port}"), "pstn=1", "second");
    let o = t.start("");
    let list = o.mi("lb_list", json!({})).unwrap();
    assert_eq!(list["Destinations"][0]["enabled"], "yes", "{list}");
    assert_eq!(list["Destinations"][0]["auto-reenable"], "on", "{list}");
    assert_eq!(list["Destinations"][0]["attrs"], "first", "{list}");
    assert_eq!(
        o.mi("lb_status", json!({"destination_id": 2})).unwrap()["attrs"],
        "second"
    );
    assert_eq!(usage(&o, 1, "pstn"), (1, 0));

    // Equal capacity: the first destination; it refuses, lb_next moves the call (and its load)
    // to the second.
    let refusing = dest_503("127.0.0.2", port);
    let second = dest_200("127.0.0.3", port);
    call(&o, "pstn", "lb-1", 200, "^SIP/2.0 200 OK");
    refusing.success(&o);
    second.success(&o);
    let log = o.log();
    assert!(
        log.contains(&format!("lb lb-1 to sip:127.0.0.2:{port} attrs=first")),
        "{log}"
    );
    assert!(
        log.contains(&format!("lb failover of lb-1 to sip:127.0.0.3:{port}")),
        "{log}"
    );
    assert_eq!(usage(&o, 1, "pstn"), (1, 0));
    assert_eq!(usage(&o, 2, "pstn"), (1, 1));

    // The second is full: the next call goes to the first.
    let first = dest_200("127.0.0.2", port);
    call(&o, "pstn", "lb-2", 200, "^SIP/2.0 200 OK");
    first.success(&o);
    assert_eq!(usage(&o, 1, "pstn"), (1, 1));

    // Both full: refused without reaching anyone; an unknown resource is -4.
    call(&o, "pstn", "lb-3", 503, "^SIP/2.0 503 No capacity -2");
    call(&o, "bogus", "lb-4", 503, "^SIP/2.0 503 No capacity -4");
    // Refused calls leave no dialog behind; the two calls up are counted in their profiles.
    let dl = o.mi("dlg_list", json!({})).unwrap();
    let dialogs = dl["Dialogs"].as_array().unwrap();
    let ids: Vec<&str> = dialogs
        .iter()
        .filter_map(|d| d["callid"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{dl}");
    assert!(ids.contains(&"lb-1") && ids.contains(&"lb-2"), "{dl}");

    // transc (only on the first, which has room for it) until the first is disabled: -3.
    assert_eq!(
        o.mi("lb_status", json!({"destination_id": 1})).unwrap()["enable"],
        "yes"
    );
    o.mi("lb_status", json!({"destination_id": 1, "new_status": 0}))
        .unwrap();
    assert_eq!(
        o.mi("lb_status", json!({"destination_id": 1})).unwrap()["enable"],
        "no"
    );
    let list = o.mi("lb_list", json!({})).unwrap();
    assert_eq!(
        list["Destinations"][0]["auto-reenable"], "off",
        "disabled through the MI, probing leaves it off: {list}"
    );
    call(&o, "transc", "lb-5", 503, "^SIP/2.0 503 No capacity -3");
    assert!(o.mi("lb_status", json!({"destination_id": 9})).is_err());

    // lb_is_destination(..., active=1): the disabled first is not, the second is.
    options_from(&o, "127.0.0.3", "dst", 200, "^SIP/2.0 200");
    options_from(&o, "127.0.0.2", "dst", 403, "^SIP/2.0 403");
    options_from(&o, "127.0.0.4", "dst", 403, "^SIP/2.0 403");

    // More capacity in the table: after lb_reload the second takes another call; the first
    // stays disabled.
    t.exec(
        "UPDATE load_balancer SET resources = 'pstn=2' WHERE id = 2",
        &[],
    );
    o.mi("lb_reload", json!({})).unwrap();
    assert_eq!(usage(&o, 2, "pstn"), (2, 1));
    assert_eq!(
        o.mi("lb_status", json!({"destination_id": 1})).unwrap()["enable"],
        "no"
    );
    let second = dest_200("127.0.0.3", port);
    call(&o, "pstn", "lb-6", 200, "^SIP/2.0 200 OK");
    second.success(&o);
    assert_eq!(usage(&o, 2, "pstn"), (2, 2));

    // A bad row: the reload fails and the destinations in use stay.
    t.add(3, "sip:127.0.0.4", "pstn=many", "");
    let e = o.mi("lb_reload", json!({})).unwrap_err();
    assert!(e.contains("row 3"), "{e}");
    let v: Value = o.mi("lb_list", json!({})).unwrap();
    assert_eq!(v["Destinations"].as_array().unwrap().len(), 2);
    assert!(!o.log().contains("a new call has a session already"));

    // lb_resize: a new capacity for a resource of a destination, until the next reload.
    let resize = |id: u64, res: &str| {
        o.mi(
            "lb_resize",
            json!({"destination_id": id, "res_name": res, "new_capacity": 5}),
        )
    };
    resize(2, "pstn").unwrap();
    assert_eq!(usage(&o, 2, "pstn"), (5, 2));
    let e = resize(2, "transc").unwrap_err();
    assert!(e.contains("Destination has no such resource"), "{e}");
    let e = resize(9, "pstn").unwrap_err();
    assert!(e.contains("Destination ID not found"), "{e}");
}

#[test]
fn balancing_failover_and_exhaustion_on_sqlite() {
    balancing(Engine::Sqlite);
}

#[test]
fn balancing_failover_and_exhaustion_on_postgresql() {
    balancing(Engine::Postgres);
}

#[test]
fn balancing_failover_and_exhaustion_on_mariadb() {
    balancing(Engine::Mysql);
}

/// `enabled` of destination `id` in `lb_list`.
fn enabled(o: &Osips, id: u64) -> String {
    let v = o.mi("lb_list", json!({})).unwrap();
    v["Destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .map(|d| d["enabled"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn wait_enabled(o: &Osips, id: u64, want: &str) {
    common::wait_until(
        &format!("destination {id} never became enabled={want}"),
        Duration::from_secs(15),
        || o.log(),
        || enabled(o, id) == want,
    );
}

/// probe_mode 2: a silent destination is disabled, enabled again once it answers OPTIONS; one
/// disabled through the MI stays so; probe_mode 0 is never probed. `probing_verbose` says each
/// change at INFO, as OpenSIPS words it.
#[test]
fn probing_disables_a_silent_destination_and_brings_it_back() {
    if common::sipp().is_none() {
        return;
    }
    let t = Table::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.add_probed(1, &format!("sip:127.0.0.2:{port}"), "pstn=5", "", 2);
    t.add(2, &format!("sip:127.0.0.3:{port}"), "pstn=5", "");
    let o = t.start(
        "log_level = 3\nmodparam(\"load_balancer\", \"probing_interval\", 1)\n\
         modparam(\"load_balancer\", \"probing_verbose\", 1)",
    );
    let dst = format!("destination 1 <sip:127.0.0.2:{port}>");
    wait_enabled(&o, 1, "no");
    o.wait_log("no verbose line for the disabling", |l| {
        l.contains(&format!(
            "load_balancer: disable {dst} after 408 reply on probe"
        ))
    });
    assert_eq!(enabled(&o, 2), "yes");

    let (mut uas, _dir) = sipp::options_answerer("127.0.0.2", port);
    wait_enabled(&o, 1, "yes");
    o.wait_log("no verbose line for the enabling", |l| {
        l.contains(&format!(
            "load_balancer: re-enable {dst} after a positive reply on probe"
        ))
    });

    o.mi("lb_status", json!({"destination_id": 1, "new_status": 0}))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(enabled(&o, 1), "no", "probing must not undo the MI");
    o.mi("lb_status", json!({"destination_id": 1, "new_status": 1}))
        .unwrap();
    assert_eq!(enabled(&o, 1), "yes");
    let log = o.log();
    assert!(
        log.contains(&format!("load_balancer: manually disable {dst}\n"))
            && log.contains(&format!("load_balancer: manually enable {dst}\n")),
        "{log}"
    );
    assert!(
        !log.contains("destination 2 <"),
        "probe_mode 0 is never probed: {log}"
    );
    let _ = uas.kill();
    let _ = uas.wait();
}

/// A call through the balancer holds one slot while up; its BYE gives the slot back.
#[test]
fn the_load_is_released_when_the_call_ends() {
    if common::sipp().is_none() {
        return;
    }
    let t = Table::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.add(1, &format!("sip:127.0.0.2:{port}"), "pstn=1", "");
    let o = t.start("");
    let callee = Run::new("callee", &scenario::uas_answer("callee", 100, true))
        .ip("127.0.0.2")
        .port(port)
        .timeout(30)
        .uas();
    let mut s = scenario::invite(scenario::RURI, scenario::TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>
"#;
    s += &scenario::in_dialog("ACK", 1, true);
    s += r#"<pause milliseconds="2000"/>"#;
    s += &scenario::in_dialog("BYE", 2, true);
    s += r#"<recv response="200"/>"#;
    let caller = Run::new("caller", &scenario::wrap("caller", &s, &[]))
        .towards_port(o.port)
        .service("pstn")
        .timeout(30)
        .start();
    let start = std::time::Instant::now();
    while usage(&o, 1, "pstn") != (1, 1) {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", o.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Full while the call is up.
    call(&o, "pstn", "lb-busy", 503, "^SIP/2.0 503 No capacity -2");
    caller.success(&o);
    callee.success(&o);
    assert_eq!(usage(&o, 1, "pstn"), (1, 0));
}
