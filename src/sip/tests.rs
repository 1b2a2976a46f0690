//! Unit tests of the parser and accessors on small hand-written messages.

use bytes::Bytes;

use super::*;

pub(crate) const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKx\r\n\
v: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK3;received=192.0.2.10\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
f: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Subject: folded\r\n  subject line\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn parse(s: &str) -> Result<Msg, ParseError> {
    Msg::parse(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn parses_request_line_and_core_headers() {
    let m = parse(INVITE).unwrap();
    assert!(m.is_request());
    assert_eq!(m.method(), Method::Invite);
    assert_eq!(m.method_bytes(), b"INVITE");
    assert_eq!(m.ruri(), b"sip:bob@biloxi.example.com");
    assert_eq!(m.ruri_parsed().unwrap().user, Some(&b"bob"[..]));
    assert_eq!(m.call_id(), b"a84b4c76e66710@pc33.atlanta.example.com");
    assert_eq!(m.cseq().num, 314159);
    assert_eq!(m.cseq().method, Method::Invite);
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.content_length(), Some(4));
    assert_eq!(m.body(), b"v=0\n");
    assert_eq!(m.from_tag(), Some(&b"1928301774"[..]));
    assert_eq!(m.to_tag(), None);
    assert_eq!(
        m.from().unwrap().display_unquoted().unwrap().as_ref(),
        b"Alice"
    );
    assert_eq!(
        m.header_by_name("subject"),
        Some(&b"folded\r\n  subject line"[..])
    );
    assert_eq!(m.header_by_name("From"), m.header(HdrId::From));
}

#[test]
fn iterates_vias_across_lines_and_commas() {
    let m = parse(INVITE).unwrap();
    let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some(&b"z9hG4bK776asdhds"[..]));
    assert_eq!(vias[1].transport, b"TCP");
    assert_eq!(vias[1].port, Some(5070));
    assert_eq!(vias[2].received(), Some(&b"192.0.2.10"[..]));
    assert_eq!(m.via2().unwrap().unwrap().host, b"10.0.0.1");
}

#[test]
fn parses_response() {
    let m = parse(
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
         To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\n\r\n",
    )
    .unwrap();
    assert!(m.is_response());
    assert_eq!(m.status(), Some(180));
    assert_eq!(m.reason(), b"Ringing");
    assert_eq!(m.method(), Method::Invite);
    assert_eq!(m.to_tag(), Some(&b"2"[..]));
    assert_eq!(m.content_length(), None);
    assert_eq!(m.body(), b"");
}

#[test]
fn rejects_with_reply_codes() {
    let base = INVITE.replace("Content-Length: 4", "Content-Length: 400");
    assert_eq!(parse(&base).unwrap_err().code, 400);
    let v = INVITE.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia");
    assert_eq!(parse(&v).unwrap_err().code, 505);
    let big = format!("{}{}", INVITE, "x".repeat(70_000));
    assert_eq!(parse(&big).unwrap_err().code, 513);
    let many = INVITE.replace("Subject", &format!("{}Subject", "X-A: 1\r\n".repeat(300)));
    let e = parse(&many).unwrap_err();
    assert_eq!((e.code, e.reason), (513, "Too many headers"));
    let long = INVITE.replace("Subject: folded", &format!("Subject: {}", "y".repeat(9000)));
    let e = parse(&long).unwrap_err();
    assert_eq!((e.code, e.reason), (513, "Header line too long"));
    let long_uri = INVITE.replace("sip:bob@", &format!("sip:{}@", "b".repeat(9000)));
    assert_eq!(parse(&long_uri).unwrap_err().code, 414);
    let lim = Limits {
        max_body: 2,
        ..Limits::DEFAULT
    };
    let e = Msg::parse_with(Bytes::from_static(INVITE.as_bytes()), &lim).unwrap_err();
    assert_eq!(e.code, 413);
    let e = parse(&INVITE.replace("Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", ""))
        .unwrap_err();
    assert_eq!(e.reason, "Missing Call-ID");
    let e = parse(&INVITE.replace("314159 INVITE", "314159 BYE")).unwrap_err();
    assert_eq!(e.reason, "CSeq method does not match the request");
}

#[test]
fn leading_crlf_and_bare_lf_are_accepted() {
    let m = parse(&format!("\r\n\r\n{}", INVITE.replace("\r\n", "\n"))).unwrap();
    assert_eq!(m.call_id(), b"a84b4c76e66710@pc33.atlanta.example.com");
    assert_eq!(m.body(), b"v=0\n");
    assert_eq!(m.as_bytes(), INVITE.replace("\r\n", "\n").as_bytes());
}

#[test]
fn spills_beyond_inline_header_capacity() {
    let extra: String = (0..100).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let m = parse(&INVITE.replace("Subject", &format!("{extra}Subject"))).unwrap();
    assert_eq!(m.header_by_name("x-h99"), Some(&b"99"[..]));
    assert_eq!(m.header(HdrId::ContentLength), Some(&b"4"[..]));
}

#[test]
fn single_values_left_open_are_still_rejected() {
    // `first_list_value` hands a comma-free value straight to its parser: that parser must
    // reject what the comma search would have called unbalanced.
    for (via, contact) in [
        (
            "SIP/2.0/UDP h;branch=z9hG4bK1;x=\"open",
            "<sip:a@h>;x=\"open",
        ),
        ("SIP/2.0/UDP h<;branch=z9hG4bK1", "Alice <sip:a@h"),
        ("SIP/2.0/UDP h;branch=z9hG4bK1;x=<y", "\"Alice <sip:a@h>"),
    ] {
        let s = INVITE
            .replacen(
                "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKx",
                &format!("Via: {via}"),
                1,
            )
            .replacen("<sip:alice@pc33.atlanta.example.com>", contact, 1);
        let m = parse(&s).unwrap();
        assert!(m.via1().is_err(), "{via}");
        assert!(matches!(m.contact(), Some(Err(_))), "{contact}");
    }
}

#[test]
fn first_list_value_rejects_what_the_full_split_rejects() {
    let with = |via: &str, contact: &str| {
        let raw = INVITE
            .replace(
                "Contact: <sip:alice@pc33.atlanta.example.com>",
                &format!("Contact: {contact}"),
            )
            .replacen(
                "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKx",
                &format!("Via: {via}"),
                1,
            );
        parse(&raw).unwrap()
    };
    for (contact, ok) in [
        ("<sip:a@b>;expires=5", true),
        ("<sip:a@b;x=1>;q=0.5", true),
        ("<sip:a@b", false),
        ("> <sip:a@b", false),
        ("<sip:a@b> <", false),
        ("<sip:a@b>, <sip:c@d", true),
        ("\"x, y\" <sip:a@b>", true),
    ] {
        let m = with("SIP/2.0/UDP h;branch=z9hG4bK1", contact);
        let split = m.first_list_value(HdrId::Contact);
        let full = scan::find_unquoted(m.header(HdrId::Contact).unwrap(), b',');
        assert_eq!(split.is_ok(), full.is_ok(), "{contact}");
        assert_eq!(m.contact().unwrap().is_ok(), ok, "{contact}");
    }
    assert!(with("SIP/2.0/UDP h;x=<", "<sip:a@b>").via1().is_err());
    let m = with("SIP/2.0/UDP h;branch=z9hG4bK9;rport", "<sip:a@b>");
    assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bK9"[..]));
    assert_eq!(m.cseq().method_raw, b"INVITE");
}
