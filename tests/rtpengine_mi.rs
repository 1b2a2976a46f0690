//! MI of the media relay modules on a running `osips`: `rtpengine_show` lists the sets and
//! nodes, `rtpengine_enable` disables / enables a node (a disabled node is skipped: the offer
//! fails when it was the only one), `rtpengine_use_set` picks another set, `rtpproxy_show` /
//! `rtpproxy_enable` likewise; the
//! rtpengine statistics count the commands.

mod common;
mod rr_support;
mod rtpengine_support;

use std::net::UdpSocket;
use std::time::Duration;

use osips::mi::client::{MiTarget, call};
use rr_support::Osips;
use rtpengine_support::Rtpengine;
use serde_json::{Value, json};

fn mi(t: &MiTarget, method: &str, params: Value) -> Value {
    call(t, method, params, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Sends an INVITE with SDP straight to the proxy; the script answers 200 when the offer
/// worked, 503 otherwise. Returns the reply code.
fn offer(port: u16, call_id: &str) -> u16 {
    offer_to(port, "bob", call_id)
}

fn offer_to(port: u16, user: &str, call_id: &str) -> u16 {
    status_line(port, user, call_id)[8..11].parse().unwrap()
}

/// The status line of the reply to the INVITE.
fn status_line(port: u16, user: &str, call_id: &str) -> String {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let lp = s.local_addr().unwrap().port();
    let sdp = "v=0\r\no=a 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let inv = format!(
        "INVITE sip:{user}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lp};rport;branch=z9hG4bK{call_id}\r\n\
From: <sip:a@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    s.send_to(inv.as_bytes(), ("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).expect("a reply");
    let text = String::from_utf8_lossy(&buf[..n]);
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn show_enable_and_stats() {
    let Some(r) = Rtpengine::start() else { return };
    let mi_port = common::free_udp_port();
    let live = format!("udp:127.0.0.1:{}", r.ng.port());
    let rtpp = common::free_udp_port();
    let script = format!(
        "socket = udp:127.0.0.1:@PORT@\nudp_workers = 1\n\
loadmodule \"sl.so\"\nloadmodule \"mi_datagram.so\"\nloadmodule \"rtpengine.so\"\nloadmodule \"rtpproxy.so\"\n\
modparam(\"mi_datagram\", \"socket_name\", \"udp:127.0.0.1:{mi_port}\")\n\
modparam(\"rtpengine\", \"rtpengine_sock\", \"{live}=2\")\n\
modparam(\"rtpengine\", \"rtpengine_sock\", \"3 == udp:127.0.0.1:9\")\n\
modparam(\"rtpproxy\", \"rtpproxy_sock\", \"udp:127.0.0.1:{rtpp}|127.0.0.9\")\n\
route {{\n\
  if ($rU == \"set3\") {{ rtpengine_use_set(3); }}\n\
  if ($rU == \"var\") {{\n\
    if (rtpengine_offer(\"replace-origin\", $var(sock), $var(sdp)) && $var(sdp) =~ \"c=IN IP4 127.0.0.1\") {{\n\
      sl_send_reply(200, \"SDP in var via $var(sock)\");\n\
    }} else {{ sl_send_reply(500, \"No SDP in var\"); }}\n\
    exit;\n\
  }}\n\
  if (rtpengine_offer(\"replace-origin\")) {{ sl_send_reply(200, \"Relayed\"); }}\n\
  else {{ sl_send_reply(503, \"No relay\"); }}\n\
  exit;\n\
}}\n"
    );
    let port = common::free_port();
    let o = Osips::start(&script, port, &[]);
    let t = MiTarget::Udp(format!("127.0.0.1:{mi_port}").parse().unwrap());

    let show = mi(&t, "rtpengine_show", json!({}));
    assert_eq!(
        show,
        json!({"Sets": [
            {"id": 0, "nodes": [{"node": live, "index": 0, "disabled": 0, "weight": 2, "recheck_ticks": 0}]},
            {"id": 3, "nodes": [{"node": "udp:127.0.0.1:9", "index": 0, "disabled": 0, "weight": 1, "recheck_ticks": 0}]}
        ]}),
        "{}",
        o.log()
    );
    assert_eq!(offer(port, "mi-1"), 200, "{}", o.log());

    mi(&t, "rtpengine_enable", json!({"url": live, "enable": 0}));
    let show = mi(&t, "rtpengine_show", json!({}));
    assert_eq!(show["Sets"][0]["nodes"][0]["disabled"], json!(1));
    assert_eq!(offer(port, "mi-2"), 503, "a disabled node must not be used");
    mi(&t, "rtpengine_enable", json!({"url": live, "enable": 1}));
    assert_eq!(offer(port, "mi-3"), 200, "{}", o.log());
    let e = call(
        &t,
        "rtpengine_enable",
        json!({"url": "udp:127.0.0.1:1", "enable": 0}),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");

    // sdp_var receives the new SDP; sock_var names the node.
    assert_eq!(
        status_line(port, "var", "mi-5"),
        format!("SIP/2.0 200 SDP in var via {live}")
    );

    // rtpengine_use_set(3): the offer goes to set 3, whose only node is dead.
    assert_eq!(offer_to(port, "set3", "mi-4"), 503);
    let show = mi(&t, "rtpengine_show", json!({}));
    assert_eq!(show["Sets"][1]["nodes"][0]["disabled"], json!(1), "{show}");
    assert_eq!(show["Sets"][0]["nodes"][0]["disabled"], json!(0), "{show}");

    let stats = mi(&t, "get_statistics", json!({"statistics": ["rtpengine:"]}));
    let text = stats.to_string();
    assert!(text.contains("\"rtpengine:offers\":3"), "{text}");
    assert!(text.contains("\"rtpengine:errors\":2"), "{text}");

    let show = mi(&t, "rtpproxy_show", json!({}));
    assert_eq!(
        show["Sets"][0]["nodes"][0]["node"],
        json!(format!("udp:127.0.0.1:{rtpp}"))
    );
    mi(
        &t,
        "rtpproxy_enable",
        json!({"url": format!("udp:127.0.0.1:{rtpp}"), "enable": 0}),
    );
    let show = mi(&t, "rtpproxy_show", json!({}));
    assert_eq!(show["Sets"][0]["nodes"][0]["disabled"], json!(1));
}
