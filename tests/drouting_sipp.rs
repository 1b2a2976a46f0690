//! drouting end to end: the dr_* tables in a real database (SQLite, PostgreSQL, MariaDB), a
//! sipp caller through `osips -F -E`, sipp "gateways" on 127.0.0.2 / 127.0.0.3 chosen by the
//! prefix of the dialled number, failover with `use_next_gw` when a gateway answers 503,
//! `is_from_gw`, a rule's `routeid` script route, and the MI `dr_gw_status` / `dr_reload`.

mod common;

use std::time::Duration;

use common::osips::Osips;
use common::scenario::Check;
use common::sipp::{self, Sipp, call, options_from};
use osips::db::{Db, DbUrl, Engine};
use serde_json::json;

const TABLES: &[&str] = &["dr_gateways", "dr_rules", "dr_carriers", "dr_groups"];

const SCRIPT: &str = r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "signaling.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
loadmodule "drouting.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
modparam("tm", "fr_inv_timeout", 5)
modparam("drouting", "db_url", "@DB@")
@DRPARAMS@

route {
    if (is_method("OPTIONS")) {
        if (is_from_gw(-1, "", $var(attrs)))
            sl_send_reply(200, "From GW $var(attrs)");
        else
            sl_send_reply(403, "Not a GW");
        exit;
    }
    if ($rU =~ "^8") {
        # The group from dr_groups (the caller), with rule fallback.
        if (!do_routing("", "F")) {
            send_reply(404, "No Route found");
            exit;
        }
    } else if (!do_routing(1, "", "", $var(rattrs), $var(gattrs))) {
        send_reply(404, "No Route found");
        exit;
    }
    xlog("L_NOTICE", "routed $ci to $ru rule=$var(rattrs) gw=$var(gattrs)\n");
    if (goes_to_gw())
        xlog("L_NOTICE", "$ci goes to a gateway\n");
    t_on_failure("GW_FAILOVER");
    if (!t_relay())
        send_reply(500, "Internal Error");
    exit;
}

route[dr_check] {
    xlog("L_NOTICE", "dr_check ran for $ci\n");
    if ($rU =~ "^3666")
        drop;
    if ($rU =~ "^3")
        append_hf("X-DR-Check: $rU\r\n");
}

failure_route[GW_FAILOVER] {
    if (t_was_cancelled())
        exit;
    if (t_check_status("(408)|([56][0-9][0-9])")) {
        if (use_next_gw()) {
            xlog("L_NOTICE", "failover of $ci to $ru\n");
            t_on_failure("GW_FAILOVER");
            t_relay();
            exit;
        }
        send_reply(500, "All GW are down");
    }
}
"#;

struct Tables {
    db: common::db::TestDb,
}

impl Tables {
    fn new(engine: Engine) -> Option<Tables> {
        Some(Tables {
            db: common::db::test_db(engine, TABLES, "osdr")?,
        })
    }

    fn exec(&self, sql: &str, params: &[osips::db::Value]) {
        let db = Db::connect(&DbUrl::parse(&self.db.url).unwrap()).unwrap();
        db.execute(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close();
    }

    fn gateway(&self, id: &str, address: &str, strip: i64, prefix: &str, attrs: &str) {
        self.exec(
            "INSERT INTO dr_gateways (gwid, type, address, strip, pri_prefix, attrs, probe_mode, state) \
             VALUES (?, 0, ?, ?, ?, ?, 0, 0)",
            osips::params![id, address, strip, prefix, attrs],
        );
    }

    fn probed_gateway(&self, id: &str, address: &str, probe_mode: i64) {
        self.exec(
            "INSERT INTO dr_gateways (gwid, type, address, strip, pri_prefix, attrs, probe_mode, state) \
             VALUES (?, 0, ?, 0, '', '', ?, 0)",
            osips::params![id, address, probe_mode],
        );
    }

    fn rule(&self, group: &str, prefix: &str, priority: i64, gwlist: &str, attrs: &str) {
        self.timed_rule(group, prefix, priority, gwlist, attrs, "");
    }

    fn timed_rule(
        &self,
        group: &str,
        prefix: &str,
        priority: i64,
        gwlist: &str,
        attrs: &str,
        timerec: &str,
    ) {
        self.exec(
            "INSERT INTO dr_rules (groupid, prefix, timerec, priority, gwlist, sort_alg, attrs) \
             VALUES (?, ?, ?, ?, ?, 'N', ?)",
            osips::params![group, prefix, timerec, priority, gwlist, attrs],
        );
    }

    /// A rule whose `routeid` names a script route.
    fn routed_rule(&self, group: &str, prefix: &str, gwlist: &str, routeid: &str) {
        self.exec(
            "INSERT INTO dr_rules (groupid, prefix, priority, routeid, gwlist, sort_alg) \
             VALUES (?, ?, 0, ?, ?, 'N')",
            osips::params![group, prefix, routeid, gwlist],
        );
    }

    fn carrier(&self, id: &str, gwlist: &str) {
        self.exec(
            "INSERT INTO dr_carriers (carrierid, gwlist, flags, sort_alg, state) VALUES (?, ?, 0, 'N', 0)",
            osips::params![id, gwlist],
        );
    }

    fn group(&self, user: &str, group: i64) {
        self.exec(
            "INSERT INTO dr_groups (username, domain, groupid) VALUES (?, '', ?)",
            osips::params![user, group],
        );
    }

    fn start(&self) -> Osips {
        self.start_with("")
    }

    fn start_with(&self, dr_params: &str) -> Osips {
        Osips::script(SCRIPT)
            .var("@DB@", &self.db.url)
            .var("@DRPARAMS@", dr_params)
            .start()
    }
}

/// A gateway on `ip:port` answering one INVITE with 200 after checking its Request-URI.
fn gateway_200(ip: &str, port: u16, ruri_re: &str) -> Sipp {
    sipp::invite_200("gateway", ip, port, &[Check::msg(ruri_re)])
}

fn gateway_503(ip: &str, port: u16) -> Sipp {
    sipp::invite_refused("gateway", ip, port, "503 Service Unavailable")
}

/// Two gateways, a general rule to the first and a longer prefix to the second (which strips
/// two digits and adds `+`): each call lands on the gateway its prefix names, with the
/// rewritten number; the second gateway refusing with 503 sends the call on to the first.
fn routing(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(t) = Tables::new(engine) else {
        return;
    };
    let port = common::free_udp_port();
    t.gateway("gw1", &format!("127.0.0.2:{port}"), 0, "", "first");
    t.gateway("gw2", &format!("127.0.0.3:{port}"), 2, "+", "second");
    t.rule("1", "40", 0, "gw1", "general");
    t.rule("1,2", "4021", 0, "gw2,gw1", "special");
    // Time recurrences: one not begun yet (despite its priority), one covering every day.
    t.timed_rule("1", "6", 10, "gw2", "future", "20990101T000000||P1D");
    t.rule("1", "6", 0, "gw1", "plain");
    t.timed_rule("1", "7", 0, "gw2", "daily", "20200101T000000||P1D|daily");
    let o = t.start();

    let gw1 = gateway_200(
        "127.0.0.2",
        port,
        &format!("^INVITE sip:4099555@127.0.0.2:{port} "),
    );
    call(&o, "4099555", "dr-general", 200, "^SIP/2.0 200 OK");
    gw1.success(&o);
    assert!(
        o.log().contains("dr-general goes to a gateway"),
        "{}",
        o.log()
    );

    let gw2 = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:\\+215550@127.0.0.3:{port} "),
    );
    call(&o, "40215550", "dr-special", 200, "^SIP/2.0 200 OK");
    gw2.success(&o);
    assert!(
        o.log().contains("rule=special gw=second"),
        "the attributes of the rule and gateway reach the script:\n{}",
        o.log()
    );

    let gw1 = gateway_200(
        "127.0.0.2",
        port,
        &format!("^INVITE sip:6001@127.0.0.2:{port} "),
    );
    call(&o, "6001", "dr-future", 200, "^SIP/2.0 200 OK");
    gw1.success(&o);
    let gw2 = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:\\+01@127.0.0.3:{port} "),
    );
    call(&o, "7001", "dr-daily", 200, "^SIP/2.0 200 OK");
    gw2.success(&o);
    assert!(o.log().contains("rule=daily gw=second"), "{}", o.log());

    // No rule for 5...: 404 from the script.
    call(&o, "5123", "dr-none", 404, "^SIP/2.0 404 No Route found");

    // gw2 refuses: the call fails over to gw1 with the number as dialled.
    let refusing = gateway_503("127.0.0.3", port);
    let gw1 = gateway_200(
        "127.0.0.2",
        port,
        &format!("^INVITE sip:40217777@127.0.0.2:{port} "),
    );
    call(&o, "40217777", "dr-failover", 200, "^SIP/2.0 200 OK");
    refusing.success(&o);
    gw1.success(&o);
    assert!(
        o.log().contains(&format!(
            "failover of dr-failover to sip:40217777@127.0.0.2:{port}"
        )),
        "{}",
        o.log()
    );

    // Both refuse: the failure route gives up.
    let r2 = gateway_503("127.0.0.3", port);
    let r1 = gateway_503("127.0.0.2", port);
    call(
        &o,
        "40218888",
        "dr-alldown",
        500,
        "^SIP/2.0 500 All GW are down",
    );
    r2.success(&o);
    r1.success(&o);
}

#[test]
fn routing_by_prefix_and_failover_on_sqlite() {
    routing(Engine::Sqlite);
}

#[test]
fn routing_by_prefix_and_failover_on_postgresql() {
    routing(Engine::Postgres);
}

#[test]
fn routing_by_prefix_and_failover_on_mariadb() {
    routing(Engine::Mysql);
}

/// `is_from_gw` by source address; the MI disables a gateway (calls skip it) and `dr_reload`
/// picks up a new rule.
#[test]
fn is_from_gw_and_mi() {
    if common::sipp().is_none() {
        return;
    }
    let t = Tables::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.gateway("gw1", "127.0.0.2", 0, "", "attr-one");
    t.gateway("gw2", &format!("127.0.0.3:{port}"), 0, "", "");
    t.rule("1", "", 0, "gw1,gw2", "");
    let o = t.start();

    options_from(&o, "127.0.0.2", "gw", 200, "^SIP/2.0 200 From GW attr-one");
    options_from(&o, "127.0.0.4", "gw", 403, "^SIP/2.0 403 Not a GW");

    let v = o.mi("dr_gw_status", json!({})).unwrap();
    assert_eq!(v["Gateways"][0]["ID"], "gw1");
    assert_eq!(v["Gateways"][0]["State"], "Active");
    o.mi("dr_gw_status", json!({"gw_id": "gw1", "status": 0}))
        .unwrap();
    let v = o.mi("dr_gw_status", json!({"gw_id": "gw1"})).unwrap();
    assert_eq!(v["State"], "Inactive");
    assert!(o.mi("dr_gw_status", json!({"gw_id": "nope"})).is_err());

    // gw1 is off: the call goes straight to gw2.
    let gw2 = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:777@127.0.0.3:{port} "),
    );
    call(&o, "777", "dr-mi", 200, "^SIP/2.0 200 OK");
    gw2.success(&o);

    // A more specific rule added in the table is used after dr_reload; gw1 stays disabled.
    t.gateway("gw3", &format!("127.0.0.5:{port}"), 0, "", "");
    t.rule("1", "9", 0, "gw3", "");
    o.mi("dr_reload", json!({})).unwrap();
    let v = o.mi("dr_gw_status", json!({"gw_id": "gw1"})).unwrap();
    assert_eq!(v["State"], "Inactive");
    let gw3 = gateway_200(
        "127.0.0.5",
        port,
        &format!("^INVITE sip:9123@127.0.0.5:{port} "),
    );
    call(&o, "9123", "dr-reload", 200, "^SIP/2.0 200 OK");
    gw3.success(&o);

    // A bad row: the reload fails and the rules in use stay.
    t.rule("1", "8", 0, "no-such-gw", "");
    let e = o.mi("dr_reload", json!({})).unwrap_err();
    assert!(e.contains("no-such-gw"), "{e}");
    let gw3 = gateway_200(
        "127.0.0.5",
        port,
        &format!("^INVITE sip:9124@127.0.0.5:{port} "),
    );
    call(&o, "9124", "dr-kept", 200, "^SIP/2.0 200 OK");
    gw3.success(&o);
}

fn gw_state(o: &Osips, id: &str) -> String {
    let v = o.mi("dr_gw_status", json!({"gw_id": id})).unwrap();
    v["State"].as_str().unwrap_or("").to_string()
}

fn wait_state(o: &Osips, id: &str, want: &str) {
    common::wait_until(
        &format!("gateway {id} never became {want}"),
        Duration::from_secs(15),
        || o.log(),
        || gw_state(o, id) == want,
    );
}

/// probe_mode 2: a silent gateway goes to the probing state (calls skip it) and back to active
/// once it answers OPTIONS; probe_mode 0 is never probed.
#[test]
fn probing_takes_a_silent_gateway_out_and_back() {
    if common::sipp().is_none() {
        return;
    }
    let t = Tables::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.probed_gateway("gw1", &format!("127.0.0.2:{port}"), 2);
    t.probed_gateway("gw2", &format!("127.0.0.3:{port}"), 0);
    t.rule("1", "", 0, "gw1,gw2", "");
    let o = t.start_with("modparam(\"drouting\", \"probing_interval\", 1)");
    wait_state(&o, "gw1", "Probing");
    assert_eq!(gw_state(&o, "gw2"), "Active");

    let gw2 = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:123@127.0.0.3:{port} "),
    );
    call(&o, "123", "dr-probing", 200, "^SIP/2.0 200 OK");
    gw2.success(&o);

    let (mut uas, _dir) = sipp::options_answerer("127.0.0.2", port);
    wait_state(&o, "gw1", "Active");
    let _ = uas.kill();
    let _ = uas.wait();
}

/// `do_routing` without a group takes the caller's from dr_groups; a carrier's gateway refusing
/// with 503 hands the call, with the `F` flag, to the next (shorter prefix) rule's gateway.
#[test]
fn caller_group_carrier_and_rule_fallback() {
    if common::sipp().is_none() {
        return;
    }
    let t = Tables::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.gateway("gwA", &format!("127.0.0.2:{port}"), 0, "", "");
    t.gateway("gwB", &format!("127.0.0.3:{port}"), 0, "", "");
    t.carrier("crX", "gwA");
    t.group("caller", 5);
    t.rule("5", "8", 0, "#crX", "");
    t.rule("5", "", 0, "gwB", "");
    let o = t.start();
    let v = o.mi("dr_carrier_status", json!({})).unwrap();
    assert_eq!(v["Carriers"][0]["ID"], "crX");

    let refusing = gateway_503("127.0.0.2", port);
    let gw_b = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:8123@127.0.0.3:{port} "),
    );
    call(&o, "8123", "dr-group", 200, "^SIP/2.0 200 OK");
    refusing.success(&o);
    gw_b.success(&o);
    assert!(
        o.log().contains(&format!(
            "failover of dr-group to sip:8123@127.0.0.3:{port}"
        )),
        "{}",
        o.log()
    );

    // The carrier disabled: straight to the fallback rule's gateway.
    o.mi(
        "dr_carrier_status",
        json!({"carrier_id": "crX", "status": 0}),
    )
    .unwrap();
    let gw_b = gateway_200(
        "127.0.0.3",
        port,
        &format!("^INVITE sip:8124@127.0.0.3:{port} "),
    );
    call(&o, "8124", "dr-nocarrier", 200, "^SIP/2.0 200 OK");
    gw_b.success(&o);
}

/// A rule's `routeid` names a script route run when the rule is taken: it works on the request
/// (a header the gateway gets), a `drop` in it fails `do_routing`, a name the script lacks is
/// not run; with the `F` flag a fallback rule's route runs when `use_next_gw` reaches it.
#[test]
fn rule_routes_run_when_the_rule_is_taken() {
    if common::sipp().is_none() {
        return;
    }
    let t = Tables::new(Engine::Sqlite).unwrap();
    let port = common::free_udp_port();
    t.gateway("gw1", &format!("127.0.0.2:{port}"), 0, "", "");
    t.gateway("gw2", &format!("127.0.0.3:{port}"), 0, "", "");
    t.routed_rule("1", "3", "gw1", "dr_check");
    t.routed_rule("1", "2", "gw1", "no_such_route");
    t.group("caller", 6);
    t.routed_rule("6", "82", "gw2", "");
    t.routed_rule("6", "8", "gw1", "dr_check");
    let o = t.start();
    o.wait_log("no warning for the unknown route", |l| {
        l.contains("routeid `no_such_route`: no such route")
    });

    let gw1 = sipp::invite_200(
        "gateway",
        "127.0.0.2",
        port,
        &[
            Check::msg(&format!("^INVITE sip:3123@127.0.0.2:{port} ")),
            Check::msg("X-DR-Check: 3123"),
        ],
    );
    call(&o, "3123", "dr-rr", 200, "^SIP/2.0 200 OK");
    gw1.success(&o);
    assert!(o.log().contains("dr_check ran for dr-rr\n"), "{}", o.log());

    call(&o, "3666", "dr-rr-drop", 404, "^SIP/2.0 404 No Route found");
    assert!(o.log().contains("dr_check ran for dr-rr-drop\n"));

    let gw1 = gateway_200(
        "127.0.0.2",
        port,
        &format!("^INVITE sip:2123@127.0.0.2:{port} "),
    );
    call(&o, "2123", "dr-rr-none", 200, "^SIP/2.0 200 OK");
    gw1.success(&o);
    assert!(!o.log().contains("dr_check ran for dr-rr-none"));

    // The first rule (no route) fails on gw2; the fallback rule's route runs on the way to gw1.
    let refusing = gateway_503("127.0.0.3", port);
    let gw1 = gateway_200(
        "127.0.0.2",
        port,
        &format!("^INVITE sip:8299@127.0.0.2:{port} "),
    );
    call(&o, "8299", "dr-rr-fallback", 200, "^SIP/2.0 200 OK");
    refusing.success(&o);
    gw1.success(&o);
    let log = o.log();
    let ran = log.find("dr_check ran for dr-rr-fallback").expect(&log);
    let routed = log.find("routed dr-rr-fallback").expect(&log);
    assert!(
        ran > routed,
        "the fallback rule's route ran before use_next_gw:\n{log}"
    );
}
