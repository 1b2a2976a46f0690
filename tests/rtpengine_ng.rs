//! The ng dictionaries osips builds (`modules::rtpengine::flags::build`) sent to the real
//! rtpengine daemon: it must understand every key the script flags map to (the returned SDP
//! shows it), and `Engines` must fail over from a dead instance and select by Call-ID.

mod common;
mod rtpengine_support;

use std::time::Duration;

use osips::modules::rtpengine::flags::{MsgIds, Op, build};
use osips::modules::rtpengine::{Bencode, Engines, ng};
use osips::script::module::{ModParams, ParamValue};
use rtpengine_support::{Rtpengine, dict};

const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=candidate:1 1 UDP 2130706431 127.0.0.2 4000 typ host\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n";
const ANSWER: &str = "v=0\r\no=bob 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn ids(call_id: &str, to_tag: Option<&str>, request: bool) -> MsgIds {
    MsgIds {
        is_request: request,
        call_id: call_id.into(),
        from_tag: "ft".into(),
        to_tag: to_tag.map(str::to_string),
        via1_branch: Some("z9hG4bK1".into()),
        via2_branch: Some("z9hG4bK2".into()),
        src_ip: Some("127.0.0.2".parse().unwrap()),
    }
}

fn send(r: &Rtpengine, d: &Bencode) -> Bencode {
    let reply = ng::request(r.ng, d, 3, Duration::from_secs(1)).expect("rtpengine answers");
    assert_eq!(
        reply.get_str("result").as_deref(),
        Some("ok"),
        "{:?}\n{}",
        reply.get_str("error-reason"),
        r.log()
    );
    reply
}

fn sdp_of(reply: &Bencode) -> String {
    reply.get_str("sdp").expect("an SDP")
}

#[test]
fn offer_answer_delete_with_script_flags() {
    let Some(r) = Rtpengine::start() else { return };
    let cid = format!("ng-flags-{}@127.0.0.2", std::process::id());
    let (_, d) = build(
        Op::Offer,
        "trust-address replace-origin replace-session-connection ICE=remove RTP/SAVP",
        &ids(&cid, None, true),
        Some(OFFER.as_bytes()),
    )
    .unwrap();
    let offer = sdp_of(&send(&r, &d));
    assert!(
        offer.contains("o=alice 1 1 IN IP4 127.0.0.1"),
        "replace-origin\n{offer}"
    );
    assert!(offer.contains("c=IN IP4 127.0.0.1"), "{offer}");
    assert!(!offer.contains("a=candidate"), "ICE=remove\n{offer}");
    assert!(offer.contains("RTP/SAVP"), "transport-protocol\n{offer}");
    assert!(
        offer.contains("a=crypto:"),
        "SRTP towards the callee needs SDES keys\n{offer}"
    );

    let (_, d) = build(
        Op::Answer,
        "trust-address replace-origin replace-session-connection",
        &ids(&cid, Some("tt"), false),
        Some(ANSWER.as_bytes()),
    )
    .unwrap();
    let answer = sdp_of(&send(&r, &d));
    assert!(answer.contains("c=IN IP4 127.0.0.1"), "{answer}");
    assert!(
        answer.contains("m=audio ") && !answer.contains("m=audio 5000"),
        "{answer}"
    );
    assert_eq!(r.query(&cid), "ok");

    let (_, d) = build(Op::Delete, "", &ids(&cid, Some("tt"), true), None).unwrap();
    send(&r, &d);
    assert_ne!(r.query(&cid), "ok");
}

#[test]
fn ice_force_adds_rtpengine_candidates() {
    let Some(r) = Rtpengine::start() else { return };
    let cid = format!("ng-ice-{}@127.0.0.2", std::process::id());
    let plain = ANSWER.replace("bob", "alice");
    let (_, d) = build(
        Op::Offer,
        "ICE=force",
        &ids(&cid, None, true),
        Some(plain.as_bytes()),
    )
    .unwrap();
    let offer = sdp_of(&send(&r, &d));
    assert!(offer.contains("a=ice-ufrag:"), "{offer}");
    assert!(
        offer
            .lines()
            .any(|l| l.starts_with("a=candidate:") && l.contains(" 127.0.0.1 ")),
        "{offer}"
    );
    send(
        &r,
        &dict(&[("command", "delete"), ("call-id", &cid), ("from-tag", "ft")]),
    );
}

fn params(socks: &[String]) -> ModParams {
    let mut p = ModParams::default();
    p.0.insert(
        "rtpengine_sock".into(),
        socks.iter().map(|s| ParamValue::Str(s.clone())).collect(),
    );
    p.0.insert("rtpengine_tout_ms".into(), vec![ParamValue::Int(200)]);
    p.0.insert("rtpengine_retr".into(), vec![ParamValue::Int(2)]);
    p
}

#[test]
fn engines_fail_over_and_disable_the_dead_instance() {
    let Some(r) = Rtpengine::start() else { return };
    let dead = common::free_udp_port();
    let e = Engines::from_params(&params(&[format!(
        "udp:127.0.0.1:{dead}=1000 udp:127.0.0.1:{}",
        r.ng.port()
    )]))
    .unwrap();
    let ping = dict(&[("command", "ping")]);
    let (url, reply) = e.send(0, b"any-call", &ping).unwrap();
    assert_eq!(url, format!("udp:127.0.0.1:{}", r.ng.port()));
    assert_eq!(reply.get_str("result").as_deref(), Some("pong"));
    let set = e.set(0).unwrap();
    assert!(set.nodes[0].disabled(), "the dead instance is disabled");
    assert!(!set.nodes[1].disabled());
    // While disabled, the dead one is not tried again: the live one answers at once.
    let (url, _) = e.send(0, b"other-call", &ping).unwrap();
    assert_eq!(url, format!("udp:127.0.0.1:{}", r.ng.port()));

    let all_dead = Engines::from_params(&params(&[format!("udp:127.0.0.1:{dead}")])).unwrap();
    let err = all_dead.send(0, b"c", &ping).unwrap_err();
    assert!(err.contains("no available rtpengine"), "{err}");
}

#[test]
fn bad_rtpengine_sock_is_refused_with_the_parameter_name() {
    let e = Engines::from_params(&params(&["udp:127.0.0.1:x".into()]))
        .err()
        .expect("refused");
    assert!(e.contains("rtpengine_sock"), "{e}");
}
