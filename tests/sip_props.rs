//! Property tests on real messages: mutated input never panics the parser or any accessor, and a
//! message without edits serialises byte for byte.

use bytes::Bytes;
use osips::sip::sdp::{Sdp, SdpEditor};
use osips::sip::{HdrId, Msg, ReplyOptions, build_reply};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for set in ["rfc4475", "rfc5118"] {
        let dir = format!("{}/tests/fixtures/sip/{set}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(f).unwrap());
        }
    }
    out.push(
        std::fs::read(format!(
            "{}/tests/fixtures/sip/invite_895.sip",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    );
    out
}

/// Calls every accessor so that lazily parsed values are exercised too.
fn touch_everything(m: &mut Msg) {
    let _ = m.check();
    let _ = (
        m.ruri_parsed(),
        m.status(),
        m.reason(),
        m.method_bytes(),
        m.start_line(),
    );
    for h in m.headers() {
        let _ = (h.name, h.value, h.is_named("via"));
    }
    for v in m.vias().flatten() {
        let _ = (
            v.branch(),
            v.received(),
            v.rport(),
            v.maddr(),
            v.ttl(),
            v.alias(),
        );
    }
    let _ = (
        m.from_tag(),
        m.to_tag(),
        m.cseq(),
        m.call_id(),
        m.expires(),
        m.event(),
    );
    for c in m.contacts().flatten() {
        let _ = (c.expires(), c.q(), c.instance(), c.reg_id());
        if let Some(a) = c.addr() {
            let _ = (
                a.display_unquoted(),
                a.uri.user_unescaped(),
                a.uri.host_unbracketed(),
            );
        }
    }
    let _ = m.routes().count() + m.record_routes().count() + m.paths().count();
    for id in [
        HdrId::Authorization,
        HdrId::ProxyAuthorization,
        HdrId::WwwAuthenticate,
        HdrId::ProxyAuthenticate,
    ] {
        for a in m.auth_headers(id).flatten() {
            let _ = (a.username(), a.realm(), a.nonce(), a.response());
            for p in a.iter().flatten() {
                let _ = p.unescaped();
            }
        }
    }
    for id in [
        HdrId::Supported,
        HdrId::Require,
        HdrId::Allow,
        HdrId::Accept,
    ] {
        let _ = m.tokens(id).count();
    }
    if let Ok(sdp) = Sdp::parse(m.body()) {
        let _ = sdp.origin();
        for s in sdp.media_sections() {
            let _ = (
                s.media(),
                s.effective_connection(),
                s.rtcp(),
                s.ice_ufrag(),
                s.ice_pwd(),
            );
            let _ = s.candidates().count();
        }
        let mut e = SdpEditor::new(&sdp);
        e.set_connection(None, "127.0.0.1");
        e.set_media_port(0, 4000);
        e.set_rtcp(0, 4001, Some("127.0.0.1"));
        let _ = Sdp::parse(&e.finish());
    }
    let _ = build_reply(
        m,
        180,
        "Ringing",
        &ReplyOptions {
            to_tag: Some(b"x"),
            received: Some(("127.0.0.1", 5060)),
            ..Default::default()
        },
    );
    let _ = m.add_top_via_param(b"received=127.0.0.1");
    let _ = m.add_record_route(b"<sip:127.0.0.1;lr>");
    let _ = m.set_ruri(b"sip:127.0.0.1");
    let _ = m.remove_top_via();
    let _ = m.serialise();
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"\r\n ".to_vec(),
        b";".to_vec(),
        b",".to_vec(),
        b"\"".to_vec(),
        b"<".to_vec(),
        b">".to_vec(),
        b":".to_vec(),
        b"%".to_vec(),
        b"[".to_vec(),
        b"\0".to_vec(),
        b"\r\n\r\n".to_vec(),
        b"Via: SIP/2.0/UDP [::1".to_vec(),
        b"Content-Length: 99999\r\n".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![interesting, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, v) => {
                let i = i % b.len();
                b[i] = *v;
            }
            Mutation::Truncate(i) => b.truncate(i % b.len()),
            Mutation::Insert(i, v) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, v.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = i % b.len();
                let e = (i + n).min(b.len());
                b.drain(i..e);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_messages_never_panic(idx in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..6)) {
        let corpus = corpus();
        let input = apply(corpus[idx.index(corpus.len())].clone(), &muts);
        if let Ok(mut m) = Msg::parse(Bytes::from(input)) {
            touch_everything(&mut m);
        }
    }

    #[test]
    fn unedited_messages_serialise_byte_identically(idx in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 0..4)) {
        let corpus = corpus();
        let raw = apply(corpus[idx.index(corpus.len())].clone(), &muts);
        if let Ok(m) = Msg::parse(Bytes::from(raw.clone())) {
            prop_assert_eq!(m.serialise(), m.as_bytes().to_vec());
            let shared = m.to_bytes();
            prop_assert_eq!(shared.as_ref(), m.as_bytes());
            // The message is the received bytes minus leading CRLFs and trailing octets.
            let start = raw.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
            prop_assert!(raw[start..].starts_with(m.as_bytes()));
        }
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(mut m) = Msg::parse(Bytes::from(data)) {
            touch_everything(&mut m);
        }
    }
}
