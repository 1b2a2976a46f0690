//! `rtpengine_manage()` on a running osips with the real rtpengine: the INVITE's SDP is offered,
//! a 183 with SDP is answered, and the call is deleted by a negative final reply or a CANCEL;
//! `$rtpquery` reads rtpengine's view of the call.
//! Caller and callee are UDP sockets of the test.

mod common;
mod rr_support;
mod rtpengine_support;

use std::net::UdpSocket;
use std::time::Duration;

use rr_support::Osips;
use rtpengine_support::{Rtpengine, with_body};

fn script(r: &Rtpengine) -> String {
    format!(
        "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"rtpengine.so\"\n\
modparam(\"rtpengine\", \"rtpengine_sock\", \"udp:127.0.0.1:{}\")\n\
route {{\n\
  if (has_totag()) {{\n\
    if (loose_route()) {{ rtpengine_manage(); forward(); exit; }}\n\
    sl_send_reply(404, \"Not here\");\n\
    exit;\n\
  }}\n\
  if (is_method(\"INVITE\")) {{ record_route(); }}\n\
  if ($rtpquery =~ \"result...ok\") {{ append_hf(\"X-Rtp-Query: known\\r\\n\"); }}\n\
  rtpengine_manage(\"replace-origin replace-session-connection\");\n\
  forward();\n\
}}\n\
onreply_route {{\n\
  rtpengine_manage(\"replace-origin replace-session-connection\");\n\
}}\n",
        r.ng.port()
    )
}

const OFFER: &str = "v=0\r\no=a 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=b 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn recv(s: &UdpSocket, o: &Osips, what: &str) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no {what}: {e}\n{}", o.log()));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("")
}

/// The callee's `code` reply to `req`.
fn reply(req: &str, code: &str, sdp: &str) -> String {
    let mut h = format!("SIP/2.0 {code}\r\n");
    for v in header(req, "Via") {
        h.push_str(&format!("Via: {v}\r\n"));
    }
    for r in header(req, "Record-Route") {
        h.push_str(&format!("Record-Route: {r}\r\n"));
    }
    h.push_str(&format!(
        "From: {}\r\nTo: {};tag=callee1\r\nCall-ID: {}\r\nCSeq: {}\r\n",
        header(req, "From")[0],
        header(req, "To")[0],
        header(req, "Call-ID")[0],
        header(req, "CSeq")[0]
    ));
    with_body(h, sdp)
}

fn media_port(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// INVITE → (callee) 183 with SDP → (caller); returns the sockets, the INVITE text sent and
/// the INVITE the callee got.
fn early_media(o: &Osips, r: &Rtpengine, call_id: &str) -> (UdpSocket, UdpSocket, String) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (ap, bp) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let invite = with_body(
        format!(
            "INVITE sip:bob@127.0.0.1:{bp} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{ap};rport;branch=z9hG4bK{call_id}\r\n\
From: <sip:a@127.0.0.1>;tag=caller1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:a@127.0.0.1:{ap}>\r\nMax-Forwards: 70\r\n"
        ),
        OFFER,
    );
    a.send_to(invite.as_bytes(), ("127.0.0.1", o.port)).unwrap();
    let got = recv(&b, o, "INVITE at the callee");
    assert!(body(&got).contains("c=IN IP4 127.0.0.1"), "{got}");
    assert!(
        !got.contains("X-Rtp-Query"),
        "$rtpquery found the call before the offer\n{got}"
    );
    assert!(r.owns(media_port(body(&got))), "{got}");
    b.send_to(
        reply(&got, "183 Session Progress", ANSWER).as_bytes(),
        ("127.0.0.1", o.port),
    )
    .unwrap();
    let ringing = recv(&a, o, "183 at the caller");
    assert!(ringing.starts_with("SIP/2.0 183"), "{ringing}");
    assert!(body(&ringing).contains("c=IN IP4 127.0.0.1"), "{ringing}");
    assert!(r.owns(media_port(body(&ringing))), "{ringing}");
    assert_eq!(r.query(call_id), "ok");
    (a, b, got)
}

#[test]
fn negative_final_reply_deletes_the_call() {
    let Some(r) = Rtpengine::start() else { return };
    let o = Osips::start(&script(&r), common::free_port(), &[]);
    let call_id = format!("manage-486-{}@127.0.0.2", std::process::id());
    let (a, b, invite) = early_media(&o, &r, &call_id);
    b.send_to(
        reply(&invite, "486 Busy Here", "").as_bytes(),
        ("127.0.0.1", o.port),
    )
    .unwrap();
    let busy = recv(&a, &o, "486 at the caller");
    assert!(busy.starts_with("SIP/2.0 486"), "{busy}");
    assert_ne!(r.query(&call_id), "ok", "486 did not delete the call");
}

#[test]
fn cancel_deletes_the_call() {
    let Some(r) = Rtpengine::start() else { return };
    let o = Osips::start(&script(&r), common::free_port(), &[]);
    let call_id = format!("manage-cancel-{}@127.0.0.2", std::process::id());
    let (a, b, invite) = early_media(&o, &r, &call_id);
    let ap = a.local_addr().unwrap().port();
    let bp = b.local_addr().unwrap().port();
    let cancel = with_body(
        format!(
            "CANCEL sip:bob@127.0.0.1:{bp} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{ap};rport;branch=z9hG4bK{call_id}\r\n\
From: <sip:a@127.0.0.1>;tag=caller1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 CANCEL\r\n\
Max-Forwards: 70\r\n"
        ),
        "",
    );
    a.send_to(cancel.as_bytes(), ("127.0.0.1", o.port)).unwrap();
    let got = recv(&b, &o, "CANCEL at the callee");
    assert!(got.starts_with("CANCEL "), "{got}");
    assert!(
        got.contains("X-Rtp-Query: known"),
        "$rtpquery did not find the call\n{got}"
    );
    assert!(!invite.is_empty());
    assert_ne!(r.query(&call_id), "ok", "CANCEL did not delete the call");
}
