//! rtpengine end to end with the real daemon: sipp caller → osips (stateless `forward()`,
//! `record_route()`, rtpengine offer / answer / delete) → sipp callee.
//!
//! The callee must receive an SDP pointing at rtpengine (127.0.0.1, a port of its range), the
//! caller the rewritten answer; RTP sent from the caller's advertised media address to the port
//! in its answer arrives at the callee's media address (and back) through the relay, and so does
//! RTP that sipp itself plays (`play_pcap_audio` of sipp's g711a.pcap); after the
//! BYE rtpengine no longer knows the call (ng `query`). Failover: a dead first instance is
//! skipped and the call goes through the second.

mod common;
mod rr_support;
mod rtpengine_support;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use common::scenario;
use rr_support::{Osips, Sipp};
use rtpengine_support::{Rtpengine, rtp_flows, wait_file};

/// The caller's media on 127.0.0.2 and the callee's on 127.0.0.3, so a c= of 127.0.0.1 can
/// only come from rtpengine.
fn media_socket(ip: &str) -> UdpSocket {
    UdpSocket::bind((ip, 0)).unwrap()
}

/// Caller: INVITE with SDP (media at 127.0.0.2:`media_port`), checks the 200's SDP points at
/// 127.0.0.1, writes its Call-ID to `dir/call_id` and the answer's port to `dir/caller_port`,
/// ACKs, runs `after_ack` (scenario XML), and answers the callee's BYE.
fn caller(media_port: u16, dir: &Path, after_ack: &str) -> String {
    let offer = scenario::sdp("alice", "127.0.0.2", media_port, "a=sendrecv\n");
    let mut s = scenario::invite_to(
        "sip:bob@127.0.0.1:[remote_port]",
        "sipp <sip:alice@[local_ip]:[local_port]>;tag=caller1",
        "<sip:bob@127.0.0.1>",
        "<sip:alice@[local_ip]:[local_port]>",
        Some(&offer),
    );
    s += &scenario::recv_with(
        "response=\"200\" rrs=\"true\"",
        &format!(
            r#"      <ereg regexp="c=IN IP4 127\.0\.0\.1" search_in="msg" check_it="true" assign_to="a0"/>
      <ereg regexp="c=IN IP4 127\.0\.0\.3" search_in="msg" check_it_inverse="true" assign_to="a1"/>
      <ereg regexp="m=audio ([0-9]+) RTP/AVP" search_in="msg" check_it="true" assign_to="a2,aport"/>
      <exec command="echo [call_id] > {dir}/call_id"/>
      <exec command="echo [$aport] > {dir}/caller_port"/>
"#,
            dir = dir.display()
        ),
    );
    s += &scenario::routed(
        "ACK",
        "From: sipp <sip:alice@[local_ip]:[local_port]>;tag=caller1",
        "[last_To:]",
        1,
        false,
    );
    s += after_ack;
    s += "  <recv request=\"BYE\"/>\n";
    s += &scenario::ok_to_last();
    scenario::wrap("rtpengine caller", &s, &["a0,a1,a2".to_string()])
}

/// Callee: checks the offer points at 127.0.0.1 (and `checks`), writes its port to
/// `dir/callee_port`, answers with media at 127.0.0.3:`media_port`, then waits for the test's
/// OPTIONS ("go") before hanging up along the route set.
fn callee(media_port: u16, dir: &Path, checks: &[&str]) -> String {
    let (extra, vars) = rr_support::eregs(checks);
    let vars = if vars.is_empty() {
        String::new()
    } else {
        format!(",{vars}")
    };
    let mut s = scenario::recv_with(
        "request=\"INVITE\" rrs=\"true\"",
        &format!(
            r#"      <ereg regexp="c=IN IP4 127\.0\.0\.1" search_in="msg" check_it="true" assign_to="b0"/>
      <ereg regexp="c=IN IP4 127\.0\.0\.2" search_in="msg" check_it_inverse="true" assign_to="b1"/>
      <ereg regexp="m=audio ([0-9]+) RTP/AVP" search_in="msg" check_it="true" assign_to="b2,bport"/>
{extra}      <exec command="echo [$bport] > {dir}/callee_port"/>
"#,
            dir = dir.display()
        ),
    );
    let answer = scenario::sdp("bob", "127.0.0.3", media_port, "a=sendrecv\n");
    s += &scenario::answer(
        "callee1",
        "<sip:bob@[local_ip]:[local_port]>",
        Some(&answer),
    );
    s += "  <recv request=\"ACK\"/>\n  <recv request=\"OPTIONS\"/>\n";
    s += &scenario::routed(
        "BYE",
        "From: <sip:bob@127.0.0.1>;tag=callee1",
        "To: sipp <sip:alice@127.0.0.1>;tag=caller1",
        2,
        true,
    );
    s += "  <recv response=\"200\"/>\n";
    scenario::wrap("rtpengine callee", &s, &[format!("b0,b1,b2{vars}")])
}

/// The proxy: record-routes, relays INVITE / 200 SDP through rtpengine with `offer` / `answer`
/// (or `rtpengine_manage` everywhere when `manage`), deletes on BYE, and tells the callee which
/// rtpengine served the offer in X-RTPE.
fn script(socks: &[String], callee_port: u16, manage: bool) -> String {
    let mut s = String::from(
        "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"textops.so\"\n\
loadmodule \"rtpengine.so\"\n\
modparam(\"rtpengine\", \"rtpengine_tout\", 1)\nmodparam(\"rtpengine\", \"rtpengine_retr\", 2)\n",
    );
    for sock in socks {
        s.push_str(&format!(
            "modparam(\"rtpengine\", \"rtpengine_sock\", \"{sock}\")\n"
        ));
    }
    let (offer, answer, delete) = if manage {
        (
            "rtpengine_manage(\"trust-address replace-origin replace-session-connection ICE=remove RTP/AVP\", $var(rtpe))",
            "rtpengine_manage(\"trust-address replace-origin replace-session-connection\")",
            "rtpengine_manage()",
        )
    } else {
        (
            "rtpengine_offer(\"trust-address replace-origin replace-session-connection ICE=remove RTP/AVP\", $var(rtpe))",
            "rtpengine_answer(\"trust-address replace-origin replace-session-connection\")",
            "rtpengine_delete()",
        )
    };
    s.push_str(&format!(
        "route {{\n\
  if (has_totag()) {{\n\
    if (loose_route()) {{\n\
      if (is_method(\"BYE\")) {{ if (!{delete}) {{ sl_send_reply(500, \"No relay\"); exit; }} }}\n\
      forward();\n\
      exit;\n\
    }}\n\
    sl_send_reply(404, \"Not here\");\n\
    exit;\n\
  }}\n\
  record_route();\n\
  if (is_method(\"INVITE\")) {{\n\
    if (!{offer}) {{ sl_send_reply(503, \"No relay\"); exit; }}\n\
    append_hf(\"X-RTPE: $var(rtpe)\\r\\n\");\n\
  }}\n\
  $ru = \"sip:bob@127.0.0.1:{callee_port}\";\n\
  forward();\n\
}}\n\
onreply_route {{\n\
  if (has_body(\"application/sdp\")) {{ {answer}; }}\n\
}}\n"
    ));
    s
}

struct Call {
    call_id: String,
    dir: tempfile::TempDir,
    callee_port: u16,
    a_media: UdpSocket,
    b_media: UdpSocket,
    caller: Sipp,
    callee: Sipp,
    osips: Osips,
}

fn start_call(socks: &[String], manage: bool, callee_checks: &[&str]) -> Call {
    start_call_with(socks, manage, callee_checks, "")
}

fn start_call_with(
    socks: &[String],
    manage: bool,
    callee_checks: &[&str],
    after_ack: &str,
) -> Call {
    let dir = tempfile::tempdir().unwrap();
    let a_media = media_socket("127.0.0.2");
    let b_media = media_socket("127.0.0.3");
    let callee_port = common::free_udp_port();
    let port = common::free_port();
    let osips = Osips::start(&script(socks, callee_port, manage), port, &[]);
    let callee = Sipp::uas(
        "callee",
        &callee(
            b_media.local_addr().unwrap().port(),
            dir.path(),
            callee_checks,
        ),
        callee_port,
        false,
    );
    let caller = Sipp::run(
        "caller",
        &caller(a_media.local_addr().unwrap().port(), dir.path(), after_ack),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{port}")),
    );
    Call {
        call_id: String::new(),
        callee_port,
        dir,
        a_media,
        b_media,
        caller,
        callee,
        osips,
    }
}

impl Call {
    /// The ports the caller and the callee were told to send to.
    /// Reads the Call-ID too.
    fn relay_ports(mut self, r: &Rtpengine) -> (Call, u16, u16) {
        let read =
            |f: &str| wait_file(&self.dir.path().join(f), 15).and_then(|t| t.parse::<u16>().ok());
        let (Some(a), Some(b)) = (read("caller_port"), read("callee_port")) else {
            // sipp's own errors say why.
            self.finish();
            panic!("sipp wrote no relay port");
        };
        self.call_id = wait_file(&self.dir.path().join("call_id"), 5).unwrap();
        assert!(r.owns(a), "caller was told port {a}, not rtpengine's");
        assert!(r.owns(b), "callee was told port {b}, not rtpengine's");
        (self, a, b)
    }

    /// Lets the callee hang up and waits for both sipp to pass.
    fn finish(self) {
        let go = format!(
            "OPTIONS sip:bob@127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgo\r\n\
             From: <sip:test@127.0.0.1>;tag=go\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {c}\r\n\
             CSeq: 9 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            p = self.callee_port,
            c = self.call_id
        );
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(go.as_bytes(), ("127.0.0.1", self.callee_port))
            .unwrap();
        self.caller.done(&self.osips);
        self.callee.done(&self.osips);
    }
}

#[test]
fn media_flows_through_rtpengine_and_the_call_is_deleted_on_bye() {
    if common::sipp().is_none() {
        return;
    }
    let Some(r) = Rtpengine::start() else {
        return;
    };
    let sock = format!("udp:127.0.0.1:{}", r.ng.port());
    let c = start_call(
        std::slice::from_ref(&sock),
        false,
        &[&format!("X-RTPE: {}", sock.replace('.', "\\."))],
    );
    let (c, to_a, to_b) = c.relay_ports(&r);
    let call_id = c.call_id.clone();
    assert_eq!(r.query(&call_id), "ok", "rtpengine knows the call");

    let relay_a = format!("127.0.0.1:{to_a}").parse().unwrap();
    let (pkt, from) = rtp_flows(&c.a_media, relay_a, &c.b_media, 0x0a11ce)
        .unwrap_or_else(|| panic!("caller's RTP did not reach the callee\n{}", r.log()));
    assert_eq!(pkt.len(), 172);
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    assert!(r.owns(from.port()), "relayed from rtpengine's port {from}");
    let relay_b = format!("127.0.0.1:{to_b}").parse().unwrap();
    rtp_flows(&c.b_media, relay_b, &c.a_media, 0x0b0b)
        .unwrap_or_else(|| panic!("callee's RTP did not reach the caller\n{}", r.log()));

    c.finish();
    assert_ne!(
        r.query(&call_id),
        "ok",
        "rtpengine still knows the call after BYE"
    );
}

/// The first instance is a dead port (weight 1000, so the Call-ID hash, 0..255, picks it): it does not
/// answer, is disabled, and the offer, answer and delete go to the second. rtpengine_manage
/// does all three.
#[test]
fn dead_rtpengine_fails_over_to_the_next_and_manage_does_offer_answer_delete() {
    if common::sipp().is_none() {
        return;
    }
    let Some(r) = Rtpengine::start() else {
        return;
    };
    let dead = common::free_udp_port();
    let live = format!("udp:127.0.0.1:{}", r.ng.port());
    let c = start_call(
        &[format!("udp:127.0.0.1:{dead}=1000"), live.clone()],
        true,
        &[&format!("X-RTPE: {}", live.replace('.', "\\."))],
    );
    let (c, _, _) = c.relay_ports(&r);
    let call_id = c.call_id.clone();
    assert_eq!(r.query(&call_id), "ok");
    let log = c.osips.log();
    assert!(
        log.contains(&format!("udp:127.0.0.1:{dead}> does not respond")),
        "the dead instance was not tried first:\n{log}"
    );
    c.finish();
    assert_ne!(
        r.query(&call_id),
        "ok",
        "rtpengine_manage did not delete on BYE"
    );
}

/// sipp itself sends the RTP: the caller plays sipp's G.711 A-law capture to the address of
/// the (rewritten) answer, and the packets reach the callee's media address from rtpengine.
#[test]
fn rtp_played_by_sipp_reaches_the_callee_through_rtpengine() {
    if common::sipp().is_none() {
        return;
    }
    let pcap = "/usr/share/sip-tester/g711a.pcap";
    assert!(
        std::path::Path::new(pcap).exists(),
        "{pcap} (Debian sip-tester) is missing"
    );
    let Some(r) = Rtpengine::start() else {
        return;
    };
    let sock = format!("udp:127.0.0.1:{}", r.ng.port());
    let play = format!(
        "  <nop>\n    <action>\n      <exec play_pcap_audio=\"{pcap}\"/>\n    </action>\n  </nop>\n"
    );
    let c = start_call_with(std::slice::from_ref(&sock), false, &[], &play);
    let (c, _, _) = c.relay_ports(&r);
    c.b_media
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = c
        .b_media
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no RTP from sipp arrived: {e}\n{}", r.log()));
    assert!(n > 12, "{n} bytes");
    assert_eq!(buf[0] >> 6, 2, "RTP version 2");
    assert_eq!(buf[1] & 0x7f, 8, "PCMA payload from g711a.pcap");
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    assert!(r.owns(from.port()), "sent by rtpengine's port, not {from}");
    c.finish();
}
