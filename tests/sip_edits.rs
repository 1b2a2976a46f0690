//! Message edits (lumps) applied once at serialisation, and replies built per RFC 3261 §8.2.6.

use bytes::Bytes;
use osips::sip::sdp::{Sdp, SdpEditor};
use osips::sip::{HdrId, Msg, ReplyOptions, build_reply};

const INVITE: &[u8] = include_bytes!("fixtures/sip/invite_895.sip");

fn invite() -> Msg {
    Msg::parse(Bytes::from_static(INVITE)).unwrap()
}

fn reparse(out: Vec<u8>) -> Msg {
    Msg::parse(Bytes::from(out)).expect("edited message parses")
}

#[test]
fn no_edits_is_byte_identical_and_zero_copy() {
    let m = invite();
    assert!(!m.has_edits());
    assert_eq!(m.serialise(), INVITE);
    assert_eq!(m.to_bytes().as_ptr(), m.buffer().as_ptr());
}

#[test]
fn via_record_route_and_ruri_edits() {
    let mut m = invite();
    m.add_via(b"SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKosips1")
        .unwrap();
    m.add_record_route(b"<sip:127.0.0.9;lr>").unwrap();
    m.set_ruri(b"sip:bob@127.0.0.20:5070").unwrap();
    let out = reparse(m.serialise());
    assert_eq!(out.ruri(), b"sip:bob@127.0.0.20:5070");
    let vias: Vec<_> = out.vias().map(|v| v.unwrap().host.to_vec()).collect();
    assert_eq!(
        vias,
        vec![
            b"127.0.0.9".to_vec(),
            b"127.0.0.4".to_vec(),
            b"127.0.0.2".to_vec()
        ]
    );
    let rr: Vec<_> = out
        .record_routes()
        .map(|r| r.unwrap().uri.host.to_vec())
        .collect();
    assert_eq!(rr, vec![b"127.0.0.9".to_vec(), b"127.0.0.4".to_vec()]);
    assert_eq!(out.body(), invite().body());
    assert_eq!(out.content_length(), Some(invite().body().len() as u32));
}

#[test]
fn header_add_remove_replace() {
    let mut m = invite();
    let ua = m
        .headers()
        .find(|h| h.id == HdrId::UserAgent)
        .unwrap()
        .index;
    m.remove_header(ua).unwrap();
    assert_eq!(m.remove_headers(HdrId::Supported).unwrap(), 1);
    let mf = m
        .headers()
        .find(|h| h.id == HdrId::MaxForwards)
        .unwrap()
        .index;
    m.replace_header_value(mf, b"68").unwrap();
    m.add_header("X-Tenant", b"acme").unwrap();
    m.add_header_first("X-First", b"1").unwrap();
    let out = reparse(m.serialise());
    assert_eq!(out.user_agent(), None);
    assert_eq!(out.header(HdrId::Supported), None);
    assert_eq!(out.max_forwards(), Some(68));
    assert_eq!(out.header_by_name("x-tenant"), Some(&b"acme"[..]));
    assert_eq!(out.header_at(0).unwrap().name, b"X-First");
    // Added headers go after the existing ones, before the blank line.
    assert_eq!(out.headers().last().unwrap().name, b"X-Tenant");
}

#[test]
fn overlapping_edits_are_refused() {
    let mut m = invite();
    let ua = m
        .headers()
        .find(|h| h.id == HdrId::UserAgent)
        .unwrap()
        .index;
    m.remove_header(ua).unwrap();
    assert!(m.replace_header_value(ua, b"x").is_err());
    assert!(m.remove_header(ua).is_err());
    assert!(m.set_ruri(b"sip:a@127.0.0.1").is_ok());
    assert!(m.set_ruri(b"sip:b@127.0.0.1").is_err());
    m.clear_edits();
    assert_eq!(m.serialise(), INVITE);
}

#[test]
fn body_replacement_fixes_content_length() {
    let mut m = invite();
    let sdp = Sdp::parse(m.body()).unwrap();
    let mut e = SdpEditor::new(&sdp);
    e.set_connection(None, "127.0.0.50");
    e.set_media_port(0, 30000);
    e.set_rtcp(0, 30001, None);
    let body = e.finish();
    m.set_body(&body, None).unwrap();
    let out = reparse(m.serialise());
    assert_eq!(out.body(), &body[..]);
    assert_eq!(out.content_length(), Some(body.len() as u32));
    let sdp = Sdp::parse(out.body()).unwrap();
    assert_eq!(sdp.session().connection().unwrap().addr, b"127.0.0.50");
    assert_eq!(sdp.media(0).unwrap().media().unwrap().port, 30000);
    assert_eq!(sdp.media(0).unwrap().rtcp(), Some((30001, None)));

    let mut m = invite();
    m.set_body(b"", None).unwrap();
    m.remove_headers(HdrId::ContentType).unwrap();
    let out = reparse(m.serialise());
    assert_eq!(out.content_length(), Some(0));
    assert_eq!(out.body(), b"");
}

#[test]
fn content_length_is_added_when_missing() {
    let raw = b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK1\r\n\
From: <sip:b@127.0.0.2>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\nhello";
    let mut m = Msg::parse(Bytes::from_static(raw)).unwrap();
    m.add_header("X-A", b"1").unwrap();
    let s = m.serialise();
    let out = reparse(s.clone());
    assert_eq!(out.content_length(), Some(5));
    assert_eq!(out.body(), b"hello");
    assert!(
        String::from_utf8(s)
            .unwrap()
            .contains("X-A: 1\r\nContent-Length: 5\r\n\r\nhello")
    );
}

#[test]
fn top_via_received_rport_and_removal() {
    let mut m = invite();
    m.add_top_via_param(b"received=127.0.0.77").unwrap();
    let out = reparse(m.serialise());
    assert_eq!(out.via1().unwrap().received(), Some(&b"127.0.0.77"[..]));
    // Comma-separated Vias on one line: only the first value goes.
    let raw = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa, SIP/2.0/UDP 127.0.0.2;branch=z9hG4bKb\r\n\
From: <sip:b@127.0.0.2>;tag=1\r\nTo: <sip:a@127.0.0.1>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let mut r = Msg::parse(Bytes::from_static(raw)).unwrap();
    r.remove_top_via().unwrap();
    let out = reparse(r.serialise());
    assert_eq!(out.vias().count(), 1);
    assert_eq!(out.via1().unwrap().host, b"127.0.0.2");
    // A Via line with one value is removed whole.
    let mut r = out.clone();
    r.remove_top_via().unwrap();
    assert!(
        Msg::parse(Bytes::from(r.serialise())).is_err(),
        "no Via left: rejected"
    );
}

#[test]
fn reply_copies_headers_and_adds_to_tag() {
    let mut req = invite();
    req.clear_edits();
    let reply = build_reply(
        &req,
        486,
        "Busy Here",
        &ReplyOptions {
            to_tag: Some(b"osips-1"),
            received: Some(("127.0.0.4", 5062)),
            extra_headers: b"Server: osips\r\n",
            ..Default::default()
        },
    );
    let r = reparse(reply);
    assert_eq!((r.status(), r.reason()), (Some(486), &b"Busy Here"[..]));
    let vias: Vec<_> = r.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].received(), Some(&b"127.0.0.4"[..]));
    assert_eq!(vias[0].rport(), Some(Some(5062)));
    assert_eq!(vias[0].branch(), req.via1().unwrap().branch());
    assert_eq!(vias[1].raw, req.via2().unwrap().unwrap().raw);
    assert_eq!(r.from_tag(), req.from_tag());
    assert_eq!(r.to_tag(), Some(&b"osips-1"[..]));
    assert_eq!(r.call_id(), req.call_id());
    assert_eq!(r.cseq(), req.cseq());
    assert_eq!(r.content_length(), Some(0));
    assert_eq!(r.server(), Some(&b"osips"[..]));
    // 100 Trying never gets a To-tag; an existing To-tag is kept.
    let t = reparse(build_reply(
        &req,
        100,
        "Trying",
        &ReplyOptions {
            to_tag: Some(b"x"),
            ..Default::default()
        },
    ));
    assert_eq!(t.to_tag(), None);
    assert_eq!(t.via1().unwrap().rport(), Some(None));
}

#[test]
fn reply_with_body_and_record_route() {
    let req = invite();
    let r = reparse(build_reply(
        &req,
        200,
        "OK",
        &ReplyOptions {
            to_tag: Some(b"t"),
            copy_record_route: true,
            body: Some((b"application/sdp", b"v=0\r\n")),
            ..Default::default()
        },
    ));
    assert_eq!(r.body(), b"v=0\r\n");
    assert_eq!(r.content_type(), Some(&b"application/sdp"[..]));
    assert_eq!(r.record_routes().count(), 1);
}
