//! examples/ice_relay.cfg with the real rtpengine daemon: the ICE pass-through / relay decision.
//!
//! The caller and the callee are UDP sockets of the test, so the bodies can be compared byte
//! for byte: when both offer ICE and no relay is needed, the callee receives the caller's SDP
//! and the caller the callee's, unchanged; a conference call or a caller without ICE engages
//! rtpengine (the callee's SDP points at 127.0.0.1 and a port of rtpengine's range, with
//! rtpengine's ICE candidates for ICE=force, none for ICE=remove), the answer is relayed too,
//! and the BYE deletes the call on rtpengine.

mod common;
mod rr_support;
mod rtpengine_support;

use std::net::UdpSocket;
use std::time::Duration;

use rr_support::Osips;
use rtpengine_support::{Rtpengine, with_body};

const EXAMPLE: &str = include_str!("../examples/ice_relay.cfg");

fn swap(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "examples/ice_relay.cfg no longer contains `{from}`"
    );
    text.replace(from, to)
}

fn script(r: &Rtpengine) -> String {
    let s = swap(
        EXAMPLE.to_string(),
        "socket = udp:127.0.0.1:5060",
        "socket = udp:127.0.0.1:@PORT@",
    );
    let s = swap(s, "log_level = 2", "log_level = 3");
    swap(
        s,
        "udp:127.0.0.1:2223",
        &format!("udp:127.0.0.1:{}", r.ng.port()),
    )
}

/// An SDP with media at `ip`:`port`, with ICE candidates when `ice`.
fn sdp(user: &str, ip: &str, port: u16, ice: bool) -> String {
    let mut s = format!(
        "v=0\r\no={user} 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    if ice {
        s.push_str(&format!(
            "a=ice-ufrag:{user}Uf\r\na=ice-pwd:{user}pwd0123456789abcdefghij\r\n\
a=candidate:1 1 UDP 2130706431 {ip} {port} typ host\r\n\
a=candidate:2 1 UDP 1694498815 127.0.0.9 {} typ srflx raddr {ip} rport {port}\r\n",
            port + 10
        ));
    }
    s
}

struct Msg {
    head: String,
    body: String,
}

fn recv(s: &UdpSocket, what: &str, o: &Osips) -> Msg {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no {what} arrived: {e}\n{}", o.log()));
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a SIP message");
    Msg {
        head: head.to_string(),
        body: body.to_string(),
    }
}

impl Msg {
    fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.lines().skip(1).filter_map(move |l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
    fn header(&self, name: &str) -> String {
        self.headers(name).next().unwrap_or_default().to_string()
    }
}

/// The callee's 200 OK to `invite` (all Vias, the Record-Route, a To tag).
fn ok_200(invite: &Msg, contact: &str, body: &str) -> String {
    let mut h = String::from("SIP/2.0 200 OK\r\n");
    for v in invite.headers("Via") {
        h.push_str(&format!("Via: {v}\r\n"));
    }
    for rr in invite.headers("Record-Route") {
        h.push_str(&format!("Record-Route: {rr}\r\n"));
    }
    h.push_str(&format!(
        "From: {}\r\nTo: {};tag=callee1\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <{contact}>\r\n",
        invite.header("From"),
        invite.header("To"),
        invite.header("Call-ID"),
        invite.header("CSeq")
    ));
    with_body(h, body)
}

/// Port of the first m= line and the address of the first c= line.
fn media(body: &str) -> (String, u16) {
    let c = body
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .unwrap_or_default()
        .to_string();
    let port = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    (c, port)
}

struct Outcome {
    callee_got: Msg,
    caller_got: Msg,
}

/// One call: INVITE from the caller to `user`, 200 from the callee, ACK and BYE along the route
/// set. `a_sdp` / `b_sdp` are the two SDPs.
fn call(o: &Osips, user: &str, call_id: &str, a_sdp: &str, b_sdp: &str) -> Outcome {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (ap, bp) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let proxy = ("127.0.0.1", o.port);
    let invite = with_body(
        format!(
            "INVITE sip:{user}@127.0.0.1:{bp} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{ap};rport;branch=z9hG4bK-{call_id}-1\r\n\
From: <sip:alice@127.0.0.1>;tag=caller1\r\nTo: <sip:{user}@127.0.0.1>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:{ap}>\r\nMax-Forwards: 70\r\n"
        ),
        a_sdp,
    );
    a.send_to(invite.as_bytes(), proxy).unwrap();
    let callee_got = recv(&b, "INVITE at the callee", o);
    b.send_to(
        ok_200(&callee_got, &format!("sip:{user}@127.0.0.1:{bp}"), b_sdp).as_bytes(),
        proxy,
    )
    .unwrap();
    let caller_got = recv(&a, "200 at the caller", o);
    assert!(
        caller_got.head.starts_with("SIP/2.0 200"),
        "{}",
        caller_got.head
    );
    let route: Vec<&str> = caller_got.headers("Record-Route").collect();
    let to = caller_got.header("To");
    let in_dialog = |method: &str, cseq: u32| {
        let mut h = format!(
            "{method} sip:{user}@127.0.0.1:{bp} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{ap};rport;branch=z9hG4bK-{call_id}-{cseq}\r\n"
        );
        for r in &route {
            h.push_str(&format!("Route: {r}\r\n"));
        }
        h.push_str(&format!(
            "From: <sip:alice@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
        ));
        with_body(h, "")
    };
    a.send_to(in_dialog("ACK", 1).as_bytes(), proxy).unwrap();
    let ack = recv(&b, "ACK at the callee", o);
    assert!(ack.head.starts_with("ACK "), "{}", ack.head);
    a.send_to(in_dialog("BYE", 2).as_bytes(), proxy).unwrap();
    let bye = recv(&b, "BYE at the callee", o);
    assert!(bye.head.starts_with("BYE "), "{}", bye.head);
    Outcome {
        callee_got,
        caller_got,
    }
}

fn setup() -> Option<(Rtpengine, Osips)> {
    let r = Rtpengine::start()?;
    let port = common::free_port();
    let o = Osips::start(&script(&r), port, &[]);
    Some((r, o))
}

#[test]
fn ice_on_both_sides_passes_the_sdp_untouched() {
    let Some((r, o)) = setup() else { return };
    let call_id = format!("ice-p2p-{}@127.0.0.2", std::process::id());
    let a_sdp = sdp("alice", "127.0.0.2", 4000, true);
    let b_sdp = sdp("bob", "127.0.0.3", 5000, true);
    let out = call(&o, "bob", &call_id, &a_sdp, &b_sdp);
    assert_eq!(out.callee_got.body, a_sdp, "offer changed\n{}", o.log());
    assert_eq!(out.caller_got.body, b_sdp, "answer changed\n{}", o.log());
    assert!(!out.callee_got.header("Record-Route").contains("relay"));
    assert_ne!(r.query(&call_id), "ok", "rtpengine was engaged");
}

#[test]
fn a_caller_without_ice_is_relayed_with_rtpengine_candidates() {
    let Some((r, o)) = setup() else { return };
    let call_id = format!("ice-noice-{}@127.0.0.2", std::process::id());
    let a_sdp = sdp("alice", "127.0.0.2", 4000, false);
    let b_sdp = sdp("bob", "127.0.0.3", 5000, true);
    let out = call(&o, "bob", &call_id, &a_sdp, &b_sdp);
    let offer = &out.callee_got.body;
    let (ip, port) = media(offer);
    assert_eq!(ip, "127.0.0.1", "{offer}");
    assert!(
        r.owns(port),
        "offer port {port} is not rtpengine's\n{offer}"
    );
    assert!(
        offer
            .lines()
            .any(|l| l.starts_with("a=candidate:") && l.contains(" 127.0.0.1 ")),
        "ICE=force: rtpengine's own candidates expected\n{offer}"
    );
    assert!(out.callee_got.header("Record-Route").contains(";relay=yes"));
    let answer = &out.caller_got.body;
    let (ip, port) = media(answer);
    assert_eq!(ip, "127.0.0.1", "{answer}");
    assert!(
        r.owns(port),
        "answer port {port} is not rtpengine's\n{answer}"
    );
    assert!(!answer.contains("127.0.0.3"), "{answer}");
    // The BYE deleted the call (the callee saw it after osips relayed it).
    std::thread::sleep(Duration::from_millis(100));
    assert_ne!(r.query(&call_id), "ok", "BYE did not delete the call");
}

#[test]
fn a_conference_call_is_relayed_without_ice_towards_the_media_server() {
    let Some((r, o)) = setup() else { return };
    let call_id = format!("ice-conf-{}@127.0.0.2", std::process::id());
    let a_sdp = sdp("alice", "127.0.0.2", 4000, true);
    let b_sdp = sdp("conf", "127.0.0.3", 5000, false);
    let out = call(&o, "conf-100", &call_id, &a_sdp, &b_sdp);
    let offer = &out.callee_got.body;
    let (ip, port) = media(offer);
    assert_eq!(ip, "127.0.0.1", "{offer}");
    assert!(r.owns(port), "{offer}");
    assert!(
        !offer.contains("a=candidate"),
        "ICE=remove: no candidates\n{offer}"
    );
    assert!(!offer.contains("a=ice-ufrag"), "{offer}");
    let (ip, port) = media(&out.caller_got.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(r.owns(port));
}
