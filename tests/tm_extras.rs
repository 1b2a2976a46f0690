//! tm beyond t_relay, end to end with sipp on loopback: `local_route` on requests osips makes
//! (`t_new_request`, MI `t_uac_dlg`: headers, `$du`, `t_on_reply`, `drop()`, `$avp(uac_ctx)`),
//! `t_cancel_branch` in an onreply route, `t_add_hdrs`, `t_replicate`, `t_reply_by_callid`,
//! MI `t_uac_cancel` and `t_hash`.

mod common;

use serde_json::{Value, json};

use common::osips::Osips;
use common::scenario::{self, Check, FROM, RURI, TO_SERVICE, ack_final, invite};
use common::sipp::{Run, Sipp, options_from};

const HEAD: &str = r#"
socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
modparam("tm", "fr_timeout", 3)
modparam("tm", "fr_inv_timeout", 5)
"#;

fn start(body: &str, vars: &[(&str, String)]) -> Osips {
    Osips::script(&format!("{HEAD}{body}")).vars(vars).start()
}

/// A sipp UAS on `port` running `xml`.
fn uas(what: &str, xml: &str, port: u16) -> Sipp {
    Run::new(what, xml).port(port).timeout(20).uas()
}

fn reply(code: &str, with_tag: bool, cseq: Option<&str>) -> String {
    scenario::reply(code, with_tag, false, cseq, false)
}

/// Callee: rings, then waits for the CANCEL; answers it and ends the INVITE with 487.
fn uas_ring_until_cancel() -> String {
    uas_ring_until(r#"<recv request="CANCEL"/>"#, &[])
}

/// Callee: rings, then takes the CANCEL with `recv_cancel` (its check variables `vars`),
/// answers it and ends the INVITE with 487.
fn uas_ring_until(recv_cancel: &str, vars: &[String]) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, None);
    s += recv_cancel;
    s += &reply("200 OK", true, None);
    s += &reply("487 Request Terminated", true, Some("1 INVITE"));
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += "<pause milliseconds=\"300\"/>";
    scenario::wrap("tm", &s, vars)
}

/// A sipp caller running `xml` to `user` at osips; finished and successful.
fn call(o: &Osips, what: &str, xml: &str, user: &str) -> Sipp {
    Run::new(what, xml)
        .towards_port(o.port)
        .service(user)
        .timeout(20)
        .done(o)
}

/// A MESSAGE from a sipp caller to osips expecting one 200; a second final reply arriving
/// within `linger_ms` fails the caller.
fn message_caller(o: &Osips, linger_ms: u32) -> Sipp {
    let hdrs = vec![
        "From: <sip:alice@127.0.0.1>;tag=[pid]T[call_number]".to_string(),
        "To: <sip:bob@127.0.0.1>".to_string(),
        "CSeq: 1 MESSAGE".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    let xml = scenario::uac_request("message", "MESSAGE sip:bob@127.0.0.1", &hdrs, 200, &[])
        .replace(
            "</scenario>",
            &format!("<pause milliseconds=\"{linger_ms}\"/>\n</scenario>"),
        );
    Run::new("MESSAGE caller", &xml)
        .towards_port(o.port)
        .timeout(20)
        .done(o)
}

const LOCAL_ROUTE: &str = r#"
route {
    if (is_method("OPTIONS")) {
        if (!t_new_request("MESSAGE", "sip:bob@127.0.0.1:@DEAD@", "Alice sip:alice@127.0.0.1",
                "sip:bob@127.0.0.1", "text/plain hello world", "ctx-42"))
            xlog("t_new_request failed\n");
        sl_send_reply(200, "OK");
        exit;
    }
}

local_route {
    xlog("local_route $rm $ru\n");
    if (is_method("NOTIFY")) {
        drop();
    }
    append_hf("X-Ctx: $avp(uac_ctx)\r\n");
    append_hf("X-Local: yes\r\n");
    $du = "sip:127.0.0.1:@UAS@";
    t_on_reply("local");
}

onreply_route[local] {
    xlog("local reply $rs\n");
}
"#;

/// osips running [`LOCAL_ROUTE`]; the callee's port and a port where nothing listens.
fn start_local_route() -> (Osips, u16, u16) {
    let uas_port = common::free_udp_port();
    let dead = common::free_udp_port();
    let o = start(
        LOCAL_ROUTE,
        &[
            ("@UAS@", uas_port.to_string()),
            ("@DEAD@", dead.to_string()),
        ],
    );
    (o, uas_port, dead)
}

#[test]
fn local_route_edits_and_redirects_t_new_request() {
    if common::sipp().is_none() {
        return;
    }
    let (o, uas_port, dead) = start_local_route();
    let ruri = format!("^MESSAGE sip:bob@127.0.0.1:{dead} SIP/2.0");
    let checks = [
        Check::msg(&ruri),
        Check::msg("X-Ctx: ctx-42"),
        Check::msg("X-Local: yes"),
        Check::msg("From: Alice <sip:alice@127.0.0.1>;tag="),
        Check::msg("To: <sip:bob@127.0.0.1>"),
        Check::msg("Content-Type: text/plain"),
        Check::msg("hello world"),
    ];
    let callee = uas(
        "MESSAGE callee",
        &scenario::uas_200_checked("uas", "MESSAGE", &checks),
        uas_port,
    );
    options_from(&o, "127.0.0.1", "alice", 200, "SIP/2.0 200");
    callee.success(&o);
    o.wait_log("the local request's 200 in its onreply_route", |l| {
        l.contains("local reply 200")
    });
}

#[test]
fn local_route_runs_for_mi_t_uac_dlg_and_drop_stops_the_request() {
    if common::sipp().is_none() {
        return;
    }
    let (o, uas_port, dead) = start_local_route();
    let dropped = o.mi(
        "t_uac_dlg",
        json!(["NOTIFY", format!("sip:bob@127.0.0.1:{uas_port}"), "."]),
    );
    let err = dropped.expect_err("a request dropped in local_route is not sent");
    assert!(err.contains("dropped by local_route"), "{err}");
    let checks = [
        Check::msg("X-Local: yes"),
        Check::msg("!X-Ctx: ctx"),
        Check::msg("From: <sip:me@127.0.0.1>;tag=1"),
    ];
    let callee = uas(
        "OPTIONS callee",
        &scenario::uas_200_checked("uas", "OPTIONS", &checks),
        uas_port,
    );
    // The Request-URI names a dead port: only local_route's $du reaches the callee.
    let res = o
        .mi(
            "t_uac_dlg",
            json!([
                "OPTIONS",
                format!("sip:bob@127.0.0.1:{dead}"),
                "From: <sip:me@127.0.0.1>;tag=1\r\n"
            ]),
        )
        .expect("t_uac_dlg");
    assert_eq!(res["Status"], Value::from("200 OK"), "{res}");
    let callee = callee.success(&o);
    assert_eq!(callee.received("NOTIFY"), 0);
    assert!(o.log().contains("local_route NOTIFY"), "{}", o.log());
}

#[test]
fn t_cancel_branch_in_onreply_route_cancels_the_ringing_branch() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let o = start(
        r#"
route {
    if (is_method("ACK")) { t_check_trans(); exit; }
    $du = "sip:127.0.0.1:@UAS@";
    t_on_reply("ring");
    t_relay();
}

onreply_route[ring] {
    if ($rs == 180) {
        t_cancel_branch();
        xlog("cancelled branch $T_branch_idx\n");
    }
}
"#,
        &[("@UAS@", uas_port.to_string())],
    );
    let callee = uas("ringing callee", &uas_ring_until_cancel(), uas_port);
    let caller = call(&o, "caller", &scenario::uac_expect("tm", 487), "bob");
    let callee = callee.success(&o);
    assert_eq!(callee.received("CANCEL sip:"), 1);
    assert_eq!(caller.received("SIP/2.0 487"), 1);
    assert!(o.log().contains("cancelled branch 0"), "{}", o.log());
}

#[test]
fn t_add_hdrs_reach_the_branch_and_t_replicate_replies_stay_here() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let copy_port = common::free_udp_port();
    let o = start(
        r#"
route {
    t_newtran();
    if (!t_add_hdrs("X-Added: yes\r\n")) xlog("t_add_hdrs failed\n");
    if (!t_replicate("sip:127.0.0.1:@COPY@")) xlog("t_replicate failed\n");
    $du = "sip:127.0.0.1:@UAS@";
    t_relay();
}
"#,
        &[
            ("@UAS@", uas_port.to_string()),
            ("@COPY@", copy_port.to_string()),
        ],
    );
    let callee = uas(
        "MESSAGE callee",
        &scenario::uas_200_checked("uas", "MESSAGE", &[Check::msg("X-Added: yes")]),
        uas_port,
    );
    let copy = uas(
        "MESSAGE copy",
        &scenario::uas_200_checked("copy", "MESSAGE", &[Check::msg("^MESSAGE sip:bob@")]),
        copy_port,
    );
    let caller = message_caller(&o, 700);
    callee.success(&o);
    copy.success(&o);
    assert_eq!(
        caller.received("SIP/2.0 200"),
        1,
        "only the real branch answers upstream"
    );
}

#[test]
fn t_reply_by_callid_answers_the_pending_invite() {
    if common::sipp().is_none() {
        return;
    }
    let o = start(
        r#"
route {
    if (is_method("ACK")) { t_check_trans(); exit; }
    if (is_method("INVITE")) { t_newtran(); exit; }
    if (!t_reply_by_callid(486, "Busy Here", "$ci", "1")) xlog("no transaction\n");
    t_reply(200, "OK");
}
"#,
        &[],
    );
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100"/>"#;
    s += &format!(
        r#"<send><![CDATA[
OPTIONS {RURI} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
{FROM}
{TO_SERVICE}
Call-ID: [call_id]
CSeq: 2 OPTIONS
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="486"/>
"#
    );
    s += &ack_final();
    s += r#"<recv response="200"/>"#;
    let caller = call(&o, "caller", &scenario::wrap("tm", &s, &[]), "bob");
    assert_eq!(caller.received("SIP/2.0 486"), 1);
    assert!(!o.log().contains("no transaction"), "{}", o.log());
}

#[test]
fn mi_t_uac_cancel_cancels_a_local_invite_and_t_hash_counts_it() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let o = start(
        r#"
route {
    if (is_method("OPTIONS")) {
        t_new_request("INVITE", "sip:bob@127.0.0.1:@UAS@", "sip:alice@127.0.0.1",
            "sip:bob@127.0.0.1");
        sl_send_reply(200, "OK");
    }
}

local_route {
    xlog("LOCALCALL $ci END\n");
    t_on_reply("local");
}

onreply_route[local] {
    xlog("local reply $rs\n");
}
"#,
        &[("@UAS@", uas_port.to_string())],
    );
    let callee = uas("ringing callee", &uas_ring_until_cancel(), uas_port);
    options_from(&o, "127.0.0.1", "alice", 200, "SIP/2.0 200");
    o.wait_log("the local INVITE rings", |l| l.contains("local reply 180"));
    let log = o.log();
    let callid = log
        .split("LOCALCALL ")
        .nth(1)
        .and_then(|r| r.split(" END").next())
        .expect("the Call-ID in the log")
        .to_string();
    let wrong = o.mi("t_uac_cancel", json!(["no-such-call", "1"]));
    assert!(wrong.is_err(), "{wrong:?}");
    o.mi("t_uac_cancel", json!([callid, "1"]))
        .expect("t_uac_cancel");
    let callee = callee.success(&o);
    assert_eq!(callee.received("CANCEL sip:"), 1);
    assert_eq!(callee.received("ACK sip:"), 1, "the 487 is ACKed");
    o.wait_log("the 487 in the onreply route", |l| {
        l.contains("local reply 487")
    });
    let hash = o.mi("t_hash", json!([])).expect("t_hash");
    let rows = hash.as_array().expect("an array");
    assert_eq!(rows.len(), 64);
    let total: u64 = rows.iter().map(|r| r["Total"].as_u64().unwrap()).sum();
    assert!(total >= 1, "{hash}");
    assert!(
        rows.iter()
            .all(|r| r.get("index").is_some() && r.get("Current").is_some())
    );
}

/// Caller: INVITE, 180, CANCEL with a Reason; expects 200 for the CANCEL and 487.
fn uac_cancel_with_reason() -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += "<recv response=\"100\" optional=\"true\"/>\n<recv response=\"180\"/>\n";
    s += &scenario::cancel("Reason: SIP;cause=200;text=\"From the caller\"\n");
    s += "<recv response=\"200\"/>\n<recv response=\"487\"/>\n";
    s += &ack_final();
    scenario::wrap("tm", &s, &[])
}

/// Callee: rings; the CANCEL must match `reason_re`.
fn uas_cancel_checked(reason_re: &str) -> String {
    let (recv, vars) = scenario::recv_checked(
        "request=\"CANCEL\"",
        &[Check::msg(reason_re), Check::msg("X-Added: on-cancel")],
        "c",
    );
    uas_ring_until(&recv, &vars)
}

const CANCEL_REASON: &str = r#"
route {
    if (is_method("ACK")) { t_check_trans(); exit; }
    if (is_method("CANCEL")) {
        if ($rU == "script") {
            t_add_cancel_reason("Reason: SIP;cause=600;text=\"Set by script\"\r\n");
            t_relay("pass-reason-hdr");
        } else {
            t_relay("pass-reason-hdr");
        }
        exit;
    }
    t_newtran();
    t_add_hdrs("X-Added: on-cancel\r\n");
    t_on_failure("f");
    $du = "sip:127.0.0.1:@UAS@";
    t_relay();
    setflag(5);
    t_flush_flags();
}

failure_route[f] {
    if (isflagset(5)) xlog("flag 5 flushed for $rU\n");
}
"#;

fn cancel_reason_case(user: &str, reason_re: &str) {
    let uas_port = common::free_udp_port();
    let o = start(CANCEL_REASON, &[("@UAS@", uas_port.to_string())]);
    let callee = uas("ringing callee", &uas_cancel_checked(reason_re), uas_port);
    let caller = call(&o, "cancelling caller", &uac_cancel_with_reason(), user);
    callee.success(&o);
    assert_eq!(caller.received("SIP/2.0 487"), 1);
    o.wait_log("the flag set after t_relay in the failure route", |l| {
        l.contains(&format!("flag 5 flushed for {user}"))
    });
}

#[test]
fn t_add_cancel_reason_replaces_the_callers_reason() {
    if common::sipp().is_none() {
        return;
    }
    cancel_reason_case("script", "Reason: SIP;cause=600;text=.Set by script.");
}

#[test]
fn pass_reason_hdr_relays_the_callers_reason() {
    if common::sipp().is_none() {
        return;
    }
    cancel_reason_case("pass", "Reason: SIP;cause=200;text=.From the caller.");
}

const INJECT: &str = r#"
route {
    if (has_totag()) { t_relay(); exit; }
    if (is_method("CANCEL")) { t_relay(); exit; }
    t_newtran();
    t_wait_for_new_branches();
    if ($rU == "inject") t_on_reply("inject");
    $du = "sip:127.0.0.1:@A@";
    t_relay();
}

onreply_route[inject] {
    if ($rs == 486) {
        append_branch("sip:bob@127.0.0.1:@B@");
        if (t_inject_branches("msg")) xlog("injected after $rs\n");
    }
    if ($rs == 200) t_wait_no_more_branches();
}
"#;

/// osips running [`INJECT`], its first branch to a busy callee (returned), and the port of
/// the branch it injects.
fn start_inject() -> (Osips, Sipp, u16) {
    let (a, b) = (common::free_udp_port(), common::free_udp_port());
    let o = start(INJECT, &[("@A@", a.to_string()), ("@B@", b.to_string())]);
    let busy = uas("busy callee", &scenario::uas_busy("tm", false), a);
    (o, busy, b)
}

#[test]
fn t_inject_branches_from_an_onreply_route_reaches_a_second_callee() {
    if common::sipp().is_none() {
        return;
    }
    let (o, busy, b) = start_inject();
    let answers = uas(
        "answering callee",
        &scenario::uas_answer("tm", 100, false),
        b,
    );
    let caller = call(&o, "caller", &scenario::uac_answered("tm"), "inject");
    busy.success(&o);
    answers.success(&o);
    assert_eq!(caller.received("SIP/2.0 486"), 0, "the 486 stays here");
    assert!(o.log().contains("injected after 486"), "{}", o.log());
}

#[test]
fn t_wait_for_new_branches_keeps_the_invite_open_after_its_branches_failed() {
    if common::sipp().is_none() {
        return;
    }
    let (o, busy, _) = start_inject();
    // A final reply during the pause would abort the caller's scenario.
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += "<recv response=\"100\"/>\n<pause milliseconds=\"1500\"/>\n";
    s += &scenario::cancel("");
    s += "<recv response=\"200\"/>\n<recv response=\"486\"/>\n";
    s += &ack_final();
    let caller = call(&o, "waiting caller", &scenario::wrap("tm", &s, &[]), "wait");
    busy.success(&o);
    assert_eq!(caller.received("SIP/2.0 486"), 1);
}

#[test]
fn failure_route_armed_in_local_route_reroutes_the_local_request() {
    if common::sipp().is_none() {
        return;
    }
    let (a, b) = (common::free_udp_port(), common::free_udp_port());
    let o = start(
        r#"
route {
    if (is_method("OPTIONS")) {
        t_new_request("MESSAGE", "sip:bob@127.0.0.1:@A@", "sip:alice@127.0.0.1",
            "sip:bob@127.0.0.1", "text/plain hi");
        sl_send_reply(200, "OK");
    }
}

local_route {
    t_on_failure("again");
}

failure_route[again] {
    xlog("local failure $T_reply_code\n");
    $du = "sip:127.0.0.1:@B@";
    t_relay();
}
"#,
        &[("@A@", a.to_string()), ("@B@", b.to_string())],
    );
    let mut busy = String::from(r#"<recv request="MESSAGE"/>"#);
    busy += &reply("486 Busy Here", true, None);
    let busy = uas("busy callee", &scenario::wrap("tm", &busy, &[]), a);
    // The second branch replaces the placeholder Via too: one Via, ours.
    let checks = [
        Check::msg("!0\\.0\\.0\\.0"),
        Check::msg("Via: SIP/2.0/UDP 127.0.0.1:[0-9]+;branch=z9hG4bKtm"),
    ];
    let second = uas(
        "second callee",
        &scenario::uas_200_checked("uas", "MESSAGE", &checks),
        b,
    );
    options_from(&o, "127.0.0.1", "alice", 200, "SIP/2.0 200");
    busy.success(&o);
    let second = second.success(&o);
    assert_eq!(second.received("MESSAGE"), 1);
    assert!(o.log().contains("local failure 486"), "{}", o.log());
}
