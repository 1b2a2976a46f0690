//! Stateful calls through `osips -f SCRIPT` with tm: real sipp callers and callees (Debian
//! `sip-tester`) on loopback, over UDP, TCP and UDP↔TCP — basic call with re-INVITE and BYE,
//! CANCEL before answer, busy and silent callees with failover from failure_route, parallel
//! forking, absorbed retransmissions and an unresponsive next hop next to a working call.

mod common;

use std::time::{Duration, Instant};

use common::osips::Osips;
use common::scenario::{self, RURI, TO_SERVICE, ack_final, in_dialog, invite};
use common::sipp::{Run, Sipp, Transport as Tp};

/// Writes `script` with `@PORT@` (osips) and the `vars` replaced, and runs it.
fn start(script: &str, vars: &[(&str, String)]) -> Osips {
    Osips::script(script).vars(vars).start()
}

/// `$du` / URI parameter for osips to reach a callee on this transport.
fn uri_param(tp: Tp) -> &'static str {
    match tp {
        Tp::Udp => "",
        Tp::Tcp => ";transport=tcp",
    }
}

fn run(what: &str, scenario: &str, tp: Tp) -> Run {
    Run::new(what, scenario).transport(tp).timeout(25)
}

/// A callee listening on `port`.
fn uas(what: &str, scenario: &str, port: u16, tp: Tp) -> Sipp {
    run(what, scenario, tp).port(port).uas()
}

/// A caller placing one call to `user` through osips.
fn uac(what: &str, scenario: &str, osips: &Osips, user: &str, tp: Tp) -> Sipp {
    run(what, scenario, tp)
        .towards_port(osips.port)
        .service(user)
        .start()
}

fn wrap(body: &str) -> String {
    scenario::wrap("tm", body, &[])
}

fn reply(code: &str, with_tag: bool, sdp: bool, cseq: Option<&str>) -> String {
    scenario::reply(code, with_tag, sdp, cseq, false)
}

/// Caller: INVITE, 200, ACK, optionally a re-INVITE, then BYE.
fn uac_call(reinvite: bool) -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1, false);
    s += "<pause milliseconds=\"200\"/>";
    if reinvite {
        s += &invite("[next_url]", "[last_To:]", 2, true);
        s += r#"<recv response="100" optional="true"/>
<recv response="200"/>"#;
        s += &in_dialog("ACK", 2, false);
        s += "<pause milliseconds=\"200\"/>";
    }
    s += &in_dialog("BYE", 3, false);
    s += r#"<recv response="200"/>"#;
    wrap(&s)
}

/// Caller: INVITE answered with `code` (after optional provisionals), ACKed hop by hop.
fn uac_expect(code: u16) -> String {
    scenario::uac_expect("tm", code)
}

/// Caller: INVITE, 180, CANCEL; expects 200 for the CANCEL and 487 for the INVITE.
fn uac_cancel() -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += "<recv response=\"100\" optional=\"true\"/>\n<recv response=\"180\"/>\n";
    s += &scenario::cancel("");
    s += "<recv response=\"200\"/>\n<recv response=\"487\"/>\n";
    s += &ack_final();
    wrap(&s)
}

/// Callee: answers after `ring_ms` of ringing; optionally a re-INVITE; then BYE.
fn uas_answer(ring_ms: u32, reinvite: bool) -> String {
    if !reinvite {
        return scenario::uas_answer("tm", ring_ms, false);
    }
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false, None);
    s += &format!("<pause milliseconds=\"{ring_ms}\"/>");
    s += &reply("200 OK", true, true, None);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="INVITE" crlf="true"/>"#;
    s += &reply("200 OK", false, true, None);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false, None);
    s += "<pause milliseconds=\"500\"/>";
    wrap(&s)
}

/// Callee: answers with a 100 at once and the rest `delay_ms` later (for retransmission tests).
fn uas_slow_answer(delay_ms: u32) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("100 Trying", false, false, None);
    s += &format!("<pause milliseconds=\"{delay_ms}\"/>");
    s += &reply("180 Ringing", true, false, None);
    s += &reply("200 OK", true, true, None);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false, None);
    s += "<pause milliseconds=\"500\"/>";
    wrap(&s)
}

/// Callee: busy.
fn uas_busy() -> String {
    scenario::uas_busy("tm", false)
}

/// Callee: rings, then waits for the CANCEL; answers it and ends the INVITE with 487.
fn uas_ring_until_cancel() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false, None);
    s += r#"<recv request="CANCEL"/>"#;
    s += &reply("200 OK", true, false, None);
    s += &reply("487 Request Terminated", true, false, Some("1 INVITE"));
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += "<pause milliseconds=\"300\"/>";
    wrap(&s)
}

const SCRIPT: &str = r#"
socket = udp:127.0.0.1:@PORT@
socket = tcp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
modparam("tm", "fr_timeout", 2)
modparam("tm", "fr_inv_timeout", 2)
modparam("tm", "auto_100trying", @AUTO100@)

route {
    if (has_totag()) {
        t_relay();
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans())
            t_relay();
        exit;
    }
    t_check_trans();
    if ($rU == "fork") {
        $ru = "sip:fork@127.0.0.1:@A@";
        append_branch("sip:fork@127.0.0.1:@B@");
    } else if ($rU == "dead") {
        $du = "sip:127.0.0.1:@DEAD@";
    } else {
        $du = "sip:127.0.0.1:@A@@ATP@";
    }
    $avp(next) = "sip:127.0.0.1:@B@@BTP@";
    t_on_failure("next");
    t_on_reply("seen");
    t_on_branch("mark");
    if (!t_relay())
        sl_send_reply(500, "Relay failed");
}

branch_route[mark] {
    append_hf("X-Branch: $T_branch_idx\r\n");
}

onreply_route[seen] {
    xlog("tm reply $T_reply_code on branch $T_branch_idx\n");
}

failure_route[next] {
    xlog("tm failure $T_reply_code\n");
    if (t_was_cancelled())
        exit;
    if ($rU != "dead" && t_check_status("486|408")) {
        $du = $avp(next);
        t_relay();
    }
}
"#;

struct Net {
    a: u16,
    b: u16,
    atp: Tp,
    btp: Tp,
    auto100: bool,
}

impl Net {
    fn new(atp: Tp, btp: Tp) -> Net {
        Net {
            a: common::free_port(),
            b: common::free_port(),
            atp,
            btp,
            auto100: true,
        }
    }

    fn osips(&self) -> Osips {
        let dead = common::free_udp_port();
        start(
            SCRIPT,
            &[
                ("@A@", self.a.to_string()),
                ("@B@", self.b.to_string()),
                ("@ATP@", uri_param(self.atp).to_string()),
                ("@BTP@", uri_param(self.btp).to_string()),
                ("@DEAD@", dead.to_string()),
                ("@AUTO100@", (self.auto100 as u8).to_string()),
            ],
        )
    }
}

fn basic_call(caller: Tp, callee: Tp) {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(callee, Tp::Udp);
    let osips = net.osips();
    let uas = uas("callee", &uas_answer(100, true), net.a, callee);
    let uac = uac("caller", &uac_call(true), &osips, "bob", caller).success(&osips);
    let uas = uas.success(&osips);
    assert_eq!(uas.received("INVITE sip:"), 2, "INVITE and re-INVITE");
    assert_eq!(uas.received("BYE sip:"), 1);
    assert!(uas.messages().contains("X-Branch: 0"), "branch_route ran");
    assert_eq!(
        uac.received("SIP/2.0 200"),
        3,
        "INVITE, re-INVITE and BYE answered"
    );
    assert!(
        osips.log().contains("tm reply 180 on branch 0"),
        "{}",
        osips.log()
    );
}

#[test]
fn basic_call_with_reinvite_over_udp() {
    basic_call(Tp::Udp, Tp::Udp);
}

#[test]
fn basic_call_with_reinvite_over_tcp() {
    basic_call(Tp::Tcp, Tp::Tcp);
}

#[test]
fn basic_call_from_udp_to_tcp() {
    basic_call(Tp::Udp, Tp::Tcp);
}

#[test]
fn basic_call_from_tcp_to_udp() {
    basic_call(Tp::Tcp, Tp::Udp);
}

#[test]
fn cancel_before_answer_reaches_the_callee_and_487_comes_back() {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(Tp::Udp, Tp::Udp);
    let osips = net.osips();
    let uas = uas("ringing callee", &uas_ring_until_cancel(), net.a, Tp::Udp);
    let uac = uac("cancelling caller", &uac_cancel(), &osips, "bob", Tp::Udp).success(&osips);
    let uas = uas.success(&osips);
    assert_eq!(uas.received("CANCEL sip:"), 1);
    assert_eq!(uas.received("ACK sip:"), 1, "osips ACKs the 487 hop by hop");
    assert_eq!(uac.received("SIP/2.0 487"), 1);
    assert!(osips.log().contains("tm failure 487"), "{}", osips.log());
}

#[test]
fn busy_callee_fails_over_to_the_second_callee() {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(Tp::Udp, Tp::Udp);
    let osips = net.osips();
    let busy = uas("busy callee", &uas_busy(), net.a, Tp::Udp);
    let second = uas("second callee", &uas_answer(100, false), net.b, Tp::Udp);
    let uac = uac("caller", &uac_call(false), &osips, "bob", Tp::Udp).success(&osips);
    let busy = busy.success(&osips);
    second.success(&osips);
    assert_eq!(busy.received("ACK sip:"), 1, "the 486 is ACKed by osips");
    assert_eq!(
        uac.received("SIP/2.0 486"),
        0,
        "the caller never sees the 486"
    );
    assert!(osips.log().contains("tm failure 486"), "{}", osips.log());
}

#[test]
fn silent_callee_times_out_with_408_and_fails_over() {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(Tp::Udp, Tp::Udp);
    let osips = net.osips();
    // Rings and never answers: fr_inv_timeout (2 s) ends the branch, osips CANCELs it.
    let silent = uas("silent callee", &uas_ring_until_cancel(), net.a, Tp::Udp);
    let second = uas("second callee", &uas_answer(100, false), net.b, Tp::Udp);
    let started = Instant::now();
    uac("caller", &uac_call(false), &osips, "bob", Tp::Udp).success(&osips);
    assert!(started.elapsed() >= Duration::from_secs(2));
    silent.success(&osips);
    second.success(&osips);
    assert!(osips.log().contains("tm failure 408"), "{}", osips.log());
}

#[test]
fn parallel_fork_answer_cancels_the_other_branch() {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(Tp::Udp, Tp::Udp);
    let osips = net.osips();
    let answers = uas("answering callee", &uas_answer(500, false), net.a, Tp::Udp);
    let rings = uas("ringing callee", &uas_ring_until_cancel(), net.b, Tp::Udp);
    let uac = uac("caller", &uac_call(false), &osips, "fork", Tp::Udp).success(&osips);
    answers.success(&osips);
    let rings = rings.success(&osips);
    assert_eq!(rings.received("CANCEL sip:"), 1);
    assert!(
        rings.messages().contains("X-Branch: 1"),
        "branch_route per branch"
    );
    assert_eq!(uac.received("SIP/2.0 487"), 0);
    assert!(
        osips.log().contains("tm reply 180 on branch 1"),
        "{}",
        osips.log()
    );
}

#[test]
fn caller_retransmissions_are_absorbed() {
    if common::sipp().is_none() {
        return;
    }
    let mut net = Net::new(Tp::Udp, Tp::Udp);
    // No 100 Trying from osips: the caller retransmits its INVITE until the 180.
    net.auto100 = false;
    let osips = net.osips();
    let uas = uas("slow callee", &uas_slow_answer(1800), net.a, Tp::Udp);
    let uac = uac("caller", &uac_call(false), &osips, "bob", Tp::Udp).success(&osips);
    let uas = uas.success(&osips);
    assert!(
        uac.sent("INVITE sip:") >= 2,
        "the caller retransmitted:\n{}",
        uac.messages()
    );
    assert_eq!(
        uas.received("INVITE sip:"),
        1,
        "the callee saw one INVITE:\n{}",
        uas.messages()
    );
}

#[test]
fn unresponsive_next_hop_does_not_stall_other_calls() {
    if common::sipp().is_none() {
        return;
    }
    let net = Net::new(Tp::Udp, Tp::Udp);
    let osips = net.osips();
    let dead = uac(
        "caller to a dead hop",
        &uac_expect(408),
        &osips,
        "dead",
        Tp::Udp,
    );
    let mut dead = dead;
    std::thread::sleep(Duration::from_millis(200));
    let uas = uas("callee", &uas_answer(100, false), net.a, Tp::Udp);
    uac("caller", &uac_call(false), &osips, "bob", Tp::Udp).success(&osips);
    uas.success(&osips);
    // The whole working call happened while the dead hop's transaction was still pending.
    assert!(
        !dead.finished(),
        "the call to the dead hop ended before the working call:\n{}",
        osips.log()
    );
    let dead = dead.success(&osips);
    assert_eq!(dead.received("SIP/2.0 408"), 1);
}

const MI_SCRIPT: &str = r#"
socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "mi_datagram.so"
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:@MIUDP@")

route {
    if (is_method("MESSAGE")) {
        t_newtran();
        xlog("tid=$T_id.\n");
        exit;
    }
    t_relay();
}
"#;

fn mi(osips: &Osips, port: u16, method: &str, params: serde_json::Value) -> serde_json::Value {
    let target = osips::mi::client::MiTarget::Udp(([127, 0, 0, 1], port).into());
    osips::mi::client::call(&target, method, params, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("MI {method}: {e}\n--- osips log ---\n{}", osips.log()))
}

#[test]
fn mi_t_uac_dlg_and_t_reply_and_statistics() {
    if common::sipp().is_none() {
        return;
    }
    let mi_port = common::free_udp_port();
    let callee = common::free_udp_port();
    let osips = start(MI_SCRIPT, &[("@MIUDP@", mi_port.to_string())]);

    // t_uac_dlg: an OPTIONS through tm to a sipp callee; the command returns its final reply.
    let uas = uas(
        "OPTIONS callee",
        &wrap(
            &(String::from(r#"<recv request="OPTIONS"/>"#) + &reply("200 OK", true, false, None)),
        ),
        callee,
        Tp::Udp,
    );
    let r = mi(
        &osips,
        mi_port,
        "t_uac_dlg",
        serde_json::json!(["OPTIONS", format!("sip:bob@127.0.0.1:{callee}"), "."]),
    );
    uas.success(&osips);
    assert_eq!(r["Status"], "200 OK", "{r}");
    assert!(
        r["Message"].as_str().unwrap().starts_with("SIP/2.0 200"),
        "{r}"
    );

    // t_reply: a MESSAGE waits in a transaction until MI answers it.
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = s.local_addr().unwrap();
    let req = format!(
        "MESSAGE sip:bob@127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-mi1\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: mi1\r\n\
         CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        p = osips.port
    );
    s.send_to(req.as_bytes(), ("127.0.0.1", osips.port))
        .unwrap();
    let start = Instant::now();
    let id = loop {
        let log = osips.log();
        if let Some(i) = log.find("tid=") {
            break log[i + 4..].split('.').next().unwrap().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{log}");
        std::thread::sleep(Duration::from_millis(30));
    };
    let r = mi(
        &osips,
        mi_port,
        "t_reply",
        serde_json::json!([404, "Not Here", id, "mitag"]),
    );
    assert_eq!(r, "OK");
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).expect("the MI reply reaches the caller");
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 404 Not Here\r\n"), "{text}");
    assert!(text.contains(";tag=mitag"), "{text}");
    // A retransmission gets the same reply from the transaction.
    s.send_to(req.as_bytes(), ("127.0.0.1", osips.port))
        .unwrap();
    let n = s.recv(&mut buf).expect("the reply again");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), text);

    let st = mi(
        &osips,
        mi_port,
        "get_statistics",
        serde_json::json!([["tm:"]]),
    );
    assert_eq!(st["tm:UAC_transactions"], 1, "{st}");
    assert_eq!(st["tm:UAS_transactions"], 1, "{st}");
    assert_eq!(st["tm:2xx_transactions"], 1, "{st}");
    assert_eq!(st["tm:4xx_transactions"], 1, "{st}");
    assert_eq!(st["tm:local_replies"], 1, "{st}");
    assert!(st["tm:received_replies"].as_u64().unwrap() >= 1, "{st}");
}
