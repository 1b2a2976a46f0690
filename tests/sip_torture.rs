//! RFC 4475 (SIP torture tests, §3) and RFC 5118 (IPv6 torture tests) against the parser.
//!
//! The messages are rebuilt from the RFC texts in tests/fixtures/sip/rfc4475 and rfc5118 (CRLF
//! line endings; see tests/fixtures/sip/README.md). "Accepted" means `Msg::parse` and
//! `Msg::check` both succeed; "rejected" means one of them fails, and the test pins the reply code
//! and reason. Where the RFC leaves the decision to the element (semantic errors a proxy passes
//! on, or answers from its routing logic), the message is accepted here and the comment says why.

use bytes::Bytes;
use osips::sip::sdp::Sdp;
use osips::sip::{Contact, HdrId, HostKind, Method, Msg, ParseError, Scheme};

fn load(set: &str, name: &str) -> Bytes {
    let path = format!(
        "{}/tests/fixtures/sip/{set}/{name}.sip",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn accept(set: &str, name: &str) -> Msg {
    let raw = load(set, name);
    let msg = Msg::parse(raw.clone()).unwrap_or_else(|e| panic!("{name} rejected: {e}"));
    msg.check()
        .unwrap_or_else(|e| panic!("{name} failed check: {e}"));
    // A message without edits serialises to exactly the bytes received (up to Content-Length).
    assert_eq!(msg.serialise(), msg.as_bytes(), "{name}");
    assert!(raw.starts_with(msg.as_bytes()));
    msg
}

fn reject(set: &str, name: &str) -> ParseError {
    match Msg::parse(load(set, name)) {
        Err(e) => e,
        Ok(m) => m.check().expect_err(&format!("{name} was accepted")),
    }
}

fn v4475(name: &str) -> Msg {
    accept("rfc4475", name)
}

fn x4475(name: &str) -> ParseError {
    reject("rfc4475", name)
}

// ---- §3.1.1 valid messages -------------------------------------------------------------------

#[test]
fn wsinv_short_tortuous_invite() {
    let m = v4475("wsinv");
    assert_eq!(m.method(), Method::Invite);
    let ruri = m.ruri_parsed().unwrap();
    assert_eq!(ruri.user, Some(&b"vivekg"[..]));
    assert_eq!(ruri.host, b"chair-dnrc.example.com");
    assert!(ruri.has_param(b"unknownparam"));
    let to = m.to().unwrap();
    assert_eq!(to.tag(), Some(&b"1918181833n"[..]));
    assert_eq!(to.uri.host, b"chair-dnrc.example.com");
    let from = m.from().unwrap();
    assert_eq!(from.display, Some(&br#""J Rosenberg \\\"""#[..]));
    assert_eq!(
        from.display_unquoted().unwrap().as_ref(),
        br#"J Rosenberg \""#
    );
    assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.call_id(), b"wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.content_length(), Some(150));
    assert_eq!((m.cseq().num, m.cseq().method), (9, Method::Invite));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport, vias[0].host),
        (&b"UDP"[..], &b"192.0.2.2"[..])
    );
    assert_eq!(vias[0].branch(), Some(&b"390skdjuw"[..]));
    assert_eq!(
        (vias[1].transport, vias[1].host),
        (&b"TCP"[..], &b"spindle.example.com"[..])
    );
    assert_eq!(vias[1].branch(), Some(&b"z9hG4bK9ikj8"[..]));
    assert_eq!(vias[2].host, b"192.168.255.111");
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(m.header(HdrId::Subject), Some(&b""[..]));
    assert_eq!(
        m.header_by_name("newfangledheader"),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    assert_eq!(
        m.header_by_name("UnknownHeaderWithUnusualValue"),
        Some(&b";;,,;;,;"[..])
    );
    let route = m.routes().next().unwrap().unwrap();
    assert!(route.uri.lr());
    assert_eq!(route.uri.param(b"unknownwith"), Some(&b"value"[..]));
    let contacts: Vec<_> = m.contacts().map(Result::unwrap).collect();
    assert_eq!(contacts.len(), 1);
    let c = contacts[0].addr().unwrap();
    assert_eq!(
        c.display_unquoted().unwrap().as_ref(),
        br#"Quoted string """#
    );
    assert_eq!(c.param(b"newparam"), Some(&b"newvalue"[..]));
    assert_eq!(c.params.get(b"secondparam"), Some(None));
    assert_eq!(contacts[0].q(), Some(330));
    assert_eq!(Sdp::parse(m.body()).unwrap().media_count(), 2);
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let m = v4475("intmeth");
    assert_eq!(m.method(), Method::Other);
    assert_eq!(
        m.method_bytes(),
        b"!interesting-Method0123456789_*+`.%indeed'~"
    );
    let ruri = m.ruri_parsed().unwrap();
    assert_eq!(
        ruri.user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    assert_eq!(
        ruri.password,
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    assert_eq!(ruri.host, b"example.com");
    assert_eq!(
        m.via1().unwrap().branch(),
        Some(&b"z9hG4bK-.!%66*_+`'~"[..])
    );
    let to = m.to().unwrap();
    assert_eq!(
        to.display_unquoted().unwrap().as_ref(),
        b"BEL:\x07 NUL:\x00 DEL:\x7f"
    );
    assert_eq!(to.uri.user, ruri.user);
    let from = m.from().unwrap();
    assert_eq!(from.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));
    assert_eq!(from.tag(), Some(&b"_token~1'+`*%!-."[..]));
    assert_eq!(
        from.param(b"fromParam''~+*_!.-%"),
        Some("работающий".as_bytes())
    );
    assert_eq!(
        m.call_id(),
        br#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#
    );
    assert_eq!(m.cseq().num, 139122385);
    assert_eq!(m.cseq().method_raw, m.method_bytes());
    assert_eq!(m.max_forwards(), Some(255));
    assert_eq!(
        m.header_by_name("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電".as_bytes())
    );
}

#[test]
fn esc01_valid_use_of_escapes() {
    let m = v4475("esc01");
    let ruri = m.ruri_parsed().unwrap();
    assert_eq!(
        ruri.user_unescaped().unwrap().as_ref(),
        b"sips:user@example.com"
    );
    assert_eq!(ruri.host, b"example.net");
    assert_eq!(
        m.to().unwrap().uri.user_unescaped().unwrap().as_ref(),
        b"user"
    );
    assert_eq!(
        m.from().unwrap().uri.user_unescaped().unwrap().as_ref(),
        b"I have spaces"
    );
    let c = m.contact().unwrap().unwrap();
    let uri = c.addr().unwrap().uri;
    assert_eq!(uri.user_unescaped().unwrap().as_ref(), b"caller");
    assert!(uri.has_param(b"%6C%72"));
    // Unescaping is never recursive: %25%34%31 is "%41", not "A".
    let value = uri.param(b"n%61me").unwrap();
    assert_eq!(osips::sip::unescape(value).as_ref(), b"value%41");
    assert_eq!(m.content_type(), Some(&b"application/sdp"[..]));
}

#[test]
fn escnull_escaped_nulls_in_uris() {
    let m = v4475("escnull");
    assert_eq!(
        m.to().unwrap().uri.user_unescaped().unwrap().as_ref(),
        b"null-\0-null"
    );
    let users: Vec<Vec<u8>> = m
        .contacts()
        .map(|c| {
            c.unwrap()
                .addr()
                .unwrap()
                .uri
                .user_unescaped()
                .unwrap()
                .into_owned()
        })
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
    assert_eq!(m.content_length(), Some(0));
}

#[test]
fn esc02_percent_is_not_always_an_escape() {
    let m = v4475("esc02");
    assert_eq!(m.method(), Method::Other);
    assert_eq!(m.method_bytes(), b"RE%47IST%45R");
    assert_eq!(m.to().unwrap().display, Some(&br#""%Z%45""#[..]));
    assert_eq!(
        m.via1().unwrap().branch(),
        Some(&b"z9hG4bK209%fzsnel234"[..])
    );
    // Two Contact values; C%6Fntact is another (unknown) header.
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(
        m.header_by_name("C%6Fntact"),
        Some(&b"<sip:alias2@host2.example.com>"[..])
    );
}

#[test]
fn lwsdisp_no_lws_between_display_name_and_bracket() {
    let m = v4475("lwsdisp");
    let from = m.from().unwrap();
    assert_eq!(from.display, Some(&b"caller"[..]));
    assert_eq!(from.tag(), Some(&b"323"[..]));
}

#[test]
fn longreq_long_values_and_many_vias() {
    let m = v4475("longreq");
    let to = m.to().unwrap();
    assert_eq!(to.uri.port, Some(6000));
    assert_eq!(to.uri.params.iter().count(), 3);
    assert_eq!(
        to.display_unquoted().unwrap().as_ref(),
        b"I have a user name of extremeextremeextremeextremeextremeextremeextremeextremeextremeextreme proportion"
    );
    let from = m.from().unwrap();
    let tag = format!("1{}2424", "298".repeat(50));
    assert_eq!(from.tag(), Some(tag.as_bytes()));
    assert_eq!(from.params.iter().count(), 3);
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 34);
    for (i, v) in vias.iter().take(33).enumerate() {
        assert_eq!(v.host, format!("sip{}.example.com", 33 - i).as_bytes());
    }
    assert_eq!(vias[33].received(), Some(&b"192.0.2.5"[..]));
    assert!(!vias[33].branch_is_rfc3261());
    assert!(
        m.header_count() > 40,
        "exercises the header-table spill path"
    );
    assert_eq!(m.content_length(), Some(150));
}

#[test]
fn dblreq_extra_octets_after_the_body_are_ignored() {
    let m = v4475("dblreq");
    assert_eq!(m.method(), Method::Register);
    assert_eq!(m.call_id(), b"dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    assert_eq!(m.body(), b"");
    assert!(m.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));
    // Forwarded, the INVITE octets do not appear.
    assert!(!m.serialise().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn semiuri_semicolon_in_the_user_part() {
    let m = v4475("semiuri");
    let ruri = m.ruri_parsed().unwrap();
    assert_eq!(
        ruri.user_unescaped().unwrap().as_ref(),
        b"user;par=u@example.net"
    );
    assert_eq!(ruri.host, b"example.com");
    assert!(ruri.params.is_empty());
    assert_eq!(m.tokens(HdrId::Accept).count(), 6);
}

#[test]
fn transports_known_and_unknown_via_transports() {
    let m = v4475("transports");
    let t: Vec<Vec<u8>> = m.vias().map(|v| v.unwrap().transport.to_vec()).collect();
    assert_eq!(
        t,
        vec![
            b"UDP".to_vec(),
            b"SCTP".to_vec(),
            b"TLS".to_vec(),
            b"UNKNOWN".to_vec(),
            b"TCP".to_vec()
        ]
    );
}

#[test]
fn mpart01_multipart_body_with_binary_part() {
    let m = v4475("mpart01");
    assert_eq!(m.method(), Method::Message);
    assert_eq!(m.content_length(), Some(553));
    assert_eq!(m.body().len(), 553);
    assert!(m.body().contains(&0));
    let v = m.via1().unwrap();
    assert_eq!(
        (v.host, v.port, v.rport()),
        (&b"127.0.0.1"[..], Some(5070), Some(None))
    );
    assert_eq!(m.routes().next().unwrap().unwrap().uri.port, Some(5080));
    assert_eq!(m.user_agent(), Some(&b"SIPimp.org/0.2.5 (curses)"[..]));
    assert!(m.header(HdrId::Identity).is_some());
}

#[test]
fn unreason_and_noreason_status_lines() {
    let m = v4475("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().starts_with(b"= 2**3 * 5**2 "));
    assert!(
        std::str::from_utf8(m.reason())
            .unwrap()
            .ends_with("простое")
    );
    let n = v4475("noreason");
    assert_eq!(n.status(), Some(100));
    assert_eq!(n.reason(), b"");
    assert_eq!(n.to_tag(), Some(&b"902jndnke3"[..]));
}

// ---- §3.1.2 invalid messages -----------------------------------------------------------------

fn assert_rejected(name: &str, code: u16, reason: &str) {
    let e = x4475(name);
    assert_eq!((e.code, e.reason), (code, reason), "{name}: {e}");
}

#[test]
fn invalid_messages_are_rejected_with_a_reason() {
    assert_rejected("badinv01", 400, "bad Via parameter");
    assert_rejected("clerr", 400, "Content-Length larger than the message");
    assert_rejected("ncl", 400, "Bad Content-Length");
    assert_rejected("scalar02", 400, "Bad CSeq number");
    // A response: the parser rejects it, the transport drops it.
    assert_rejected("scalarlg", 400, "Bad CSeq number");
    assert_rejected("quotbal", 400, "unterminated quoted display name");
    assert_rejected("ltgtruri", 400, "Request-URI enclosed in <>");
    assert_rejected("lwsruri", 400, "Whitespace in the Request-URI");
    assert_rejected("lwsstart", 400, "Whitespace in the Request-URI");
    assert_rejected("trws", 400, "Whitespace in the Request-URI");
    assert_rejected("escruri", 400, "Request-URI with headers");
    assert_rejected("regbadct", 400, "URI with headers or commas must be in <>");
    assert_rejected("badaspec", 400, "whitespace inside <URI>");
    assert_rejected("baddn", 400, "display name has non-token characters");
    assert_rejected("badvers", 505, "Version Not Supported");
    assert_rejected("mismatch01", 400, "CSeq method does not match the request");
    // §3.1.2.18: 501 has better future-proof characteristics than 400 for an unknown method.
    assert_rejected("mismatch02", 501, "Not Implemented");
    assert_rejected("bigcode", 400, "Bad status code");
    // The header named in the error for the lazily checked ones.
    assert_eq!(x4475("quotbal").header, Some(HdrId::To));
    assert_eq!(x4475("regbadct").header, Some(HdrId::Contact));
    assert_eq!(x4475("badinv01").header, Some(HdrId::Via));
}

#[test]
fn baddate_is_passed_on_by_a_proxy() {
    // §3.1.2.12: rejecting is allowed, but "an element shouldn't do that unless the contents of
    // the Date header field were actually important to its processing". A proxy does not use
    // Date, so osips accepts the message and forwards the header untouched.
    let m = v4475("baddate");
    assert_eq!(
        m.header(HdrId::Date),
        Some(&b"Fri, 01 Jan 2010 16:00:00 EST"[..])
    );
}

// ---- §3.2 / §3.3 / §3.4: transaction- and application-layer semantics ------------------------

#[test]
fn badbranch_falls_back_to_rfc2543_matching() {
    // §3.2.1: syntactically valid; the bare magic cookie is not an RFC 3261 branch.
    let m = v4475("badbranch");
    let v = m.via1().unwrap();
    assert_eq!(v.branch(), Some(&b"z9hG4bK"[..]));
    assert!(!v.branch_is_rfc3261());
}

#[test]
fn insuf_missing_required_headers() {
    // §3.3.1: 400 Bad Request (no Call-ID, From, To).
    let e = x4475("insuf");
    assert_eq!((e.code, e.reason), (400, "Missing From"));
}

#[test]
fn unknown_and_novel_request_uri_schemes_reach_the_routing_logic() {
    // §3.3.2 / §3.3.3: the message is well formed; a proxy that cannot route the scheme answers
    // 416 from its routing logic, so the parser accepts it and reports the scheme.
    let m = v4475("unkscm");
    assert_eq!(m.ruri_parsed().unwrap().scheme, Scheme::Other);
    assert_eq!(
        m.ruri_parsed().unwrap().scheme_raw,
        b"nobodyKnowsThisScheme"
    );
    let n = v4475("novelsc");
    assert_eq!(n.ruri_parsed().unwrap().scheme_raw, b"soap.beep");
}

#[test]
fn unksm2_unknown_schemes_in_headers_are_well_formed() {
    // §3.3.4.
    let m = v4475("unksm2");
    assert_eq!(m.to().unwrap().uri.scheme_raw, b"isbn");
    assert_eq!(m.from().unwrap().uri.scheme_raw, b"http");
    let c = m.contact().unwrap().unwrap();
    assert_eq!(c.addr().unwrap().uri.raw, b"name:John_Smith");
}

#[test]
fn bext01_require_and_proxy_require_are_listed() {
    // §3.3.5: a proxy answers 420 listing Proxy-Require tokens it does not support.
    let m = v4475("bext01");
    let pr: Vec<_> = m.tokens(HdrId::ProxyRequire).collect();
    assert_eq!(
        pr,
        vec![&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"]
    );
    assert!(m.has_token(HdrId::Require, b"nothingsupportsthiseither"));
    assert_eq!(m.via1().unwrap().transport, b"TLS");
}

#[test]
fn invut_unknown_content_type_is_forwarded() {
    // §3.3.6: proxies forward bodies they do not understand.
    let m = v4475("invut");
    assert_eq!(m.content_type(), Some(&b"application/unknownformat"[..]));
    assert_eq!(m.body().len(), 40);
}

#[test]
fn regaut01_unknown_authorization_scheme() {
    // §3.3.7: well formed; a registrar challenges with 401.
    let m = v4475("regaut01");
    let a = m
        .auth_headers(HdrId::Authorization)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(a.scheme, b"NoOneKnowsThisScheme");
    assert!(!a.is_digest());
    assert_eq!(a.get(b"opaque-data"), Some(&b"here"[..]));
}

#[test]
fn multi01_and_mcl01_duplicate_single_value_headers() {
    // §3.3.8 and §3.3.9: 400.
    assert_rejected("multi01", 400, "More than one From");
    assert_rejected("mcl01", 400, "More than one Content-Length");
}

#[test]
fn bcast_response_with_broadcast_via_is_parsed_for_the_proxy_to_drop() {
    // §3.3.10: the decision (never send to a broadcast address) belongs to the forwarding code.
    let m = v4475("bcast");
    let v2 = m.via2().unwrap().unwrap();
    assert_eq!(v2.host, b"255.255.255.255");
    assert_eq!(v2.host_kind, HostKind::Ipv4);
}

#[test]
fn zeromf_max_forwards_zero() {
    // §3.3.11: a proxy answers 483 (OPTIONS may be answered by the proxy itself).
    assert_eq!(v4475("zeromf").max_forwards(), Some(0));
}

#[test]
fn cparam_contact_parameters_vs_uri_parameters() {
    // §3.3.12: without <>, ";unknownparam" is a header parameter of the Contact.
    let m = v4475("cparam01");
    let c = *m.contact().unwrap().unwrap().addr().unwrap();
    assert!(!c.angle);
    assert!(c.params.has(b"unknownparam"));
    assert!(c.uri.params.is_empty());
    // §3.3.13: inside <> it is a URI parameter.
    let m = v4475("cparam02");
    let c = *m.contact().unwrap().unwrap().addr().unwrap();
    assert!(c.uri.has_param(b"unknownparam"));
    assert!(c.params.is_empty());
}

#[test]
fn regescrt_escaped_headers_in_a_contact_uri() {
    // §3.3.14: well formed; a registrar stores the URI with its escaped header.
    let m = v4475("regescrt");
    let c = m.contact().unwrap().unwrap();
    let headers = c.addr().unwrap().uri.headers.unwrap();
    assert_eq!(
        osips::sip::unescape(headers).as_ref(),
        b"Route=<sip:sip.example.com>"
    );
}

#[test]
fn sdp01_unacceptable_accept_is_for_the_endpoint() {
    // §3.3.15: the UAS answers 406; a proxy forwards.
    let m = v4475("sdp01");
    assert_eq!(m.header(HdrId::Accept), Some(&b"text/nobodyKnowsThis"[..]));
}

#[test]
fn inv2543_rfc2543_syntax_is_accepted() {
    // §3.4.1: no Max-Forwards, no branch, no Content-Length (the body is the rest of the datagram).
    let m = v4475("inv2543");
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.via1().unwrap().branch(), None);
    assert_eq!(m.content_length(), None);
    assert!(m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
    // The To is an addr-spec, so ;user=phone is a header parameter.
    assert!(m.to().unwrap().params.has(b"user"));
    assert_eq!(
        m.record_routes()
            .next()
            .unwrap()
            .unwrap()
            .uri
            .param(b"maddr"),
        Some(&b"ss1.example.com"[..])
    );
}

// ---- RFC 5118 ---------------------------------------------------------------------------------

fn v5118(name: &str) -> Msg {
    accept("rfc5118", name)
}

#[test]
fn rfc5118_ipv6_references() {
    // §4.1
    let m = v5118("ipv6-good");
    let ruri = m.ruri_parsed().unwrap();
    assert_eq!(
        (ruri.host, ruri.host_kind),
        (&b"[2001:db8::10]"[..], HostKind::Ipv6)
    );
    let c = m.contact().unwrap().unwrap();
    assert_eq!(c.addr().unwrap().uri.host_unbracketed(), b"2001:db8::1");
    // §4.2: an IPv6 address without brackets is invalid.
    let e = reject("rfc5118", "ipv6-bad");
    assert_eq!((e.code, e.reason), (400, "bad port"));
    // §4.3: the last group is part of the address, not a port.
    let u = v5118("port-ambiguous");
    let ruri = u.ruri_parsed().unwrap();
    assert_eq!((ruri.host, ruri.port), (&b"[2001:db8::10:5070]"[..], None));
    // §4.4
    let u = v5118("port-unambiguous");
    let ruri = u.ruri_parsed().unwrap();
    assert_eq!((ruri.host, ruri.port), (&b"[2001:db8::10]"[..], Some(5070)));
}

#[test]
fn rfc5118_via_received_with_and_without_brackets() {
    // §4.5: both forms are valid.
    let a = v5118("via-received-bracketed");
    assert_eq!(
        a.via1().unwrap().received(),
        Some(&b"[2001:db8::9:255]"[..])
    );
    let b = v5118("via-received-plain");
    let v = b.via1().unwrap();
    assert_eq!(v.received(), Some(&b"2001:db8::9:255"[..]));
    assert_eq!(v.host, b"[2001:db8::9:1]");
}

#[test]
fn rfc5118_ipv6_in_sdp_and_headers() {
    // §4.6 (Content-Length set to the body shown in the RFC: its 268 does not match the body,
    // as nksip's test suite also notes; the same holds for §4.8 and §4.9).
    let m = v5118("ipv6-in-sdp");
    let sdp = Sdp::parse(m.body()).unwrap();
    let c = sdp.session().connection().unwrap();
    assert_eq!((c.addrtype, c.addr), (&b"IP6"[..], &b"2001:db8::20"[..]));
    assert_eq!(sdp.origin().unwrap().addr, b"2001:db8::20");
    // §4.7
    let m = v5118("mult-ip-in-header");
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(
        (vias[0].host, vias[0].port),
        (&b"[2001:db8::9:1]"[..], Some(6050))
    );
    assert_eq!(vias[1].host_kind, HostKind::Ipv4);
    assert_eq!(vias[2].received(), Some(&b"192.0.2.200"[..]));
    // §4.8
    let m = v5118("mult-ip-in-sdp");
    let sdp = Sdp::parse(m.body()).unwrap();
    assert_eq!(
        sdp.media(0).unwrap().connection().unwrap().addr,
        b"192.0.2.1"
    );
    assert_eq!(sdp.media(1).unwrap().connection().unwrap().addrtype, b"IP6");
    // §4.9
    let m = v5118("ipv4-mapped-ipv6");
    let v = m.via1().unwrap();
    assert_eq!((v.host, v.port), (&b"[::ffff:192.0.2.10]"[..], Some(19823)));
    let Contact::Addr(c) = m.contact().unwrap().unwrap() else {
        panic!("star")
    };
    assert_eq!(c.uri.host_kind, HostKind::Ipv6);
}

#[test]
fn rfc5118_ipv6_abnf_bug() {
    // §4.10: three colons are not a valid IPv6 reference; the two-colon form is.
    let e = reject("rfc5118", "ipv6-bug-abnf-3-colons");
    assert_eq!((e.code, e.reason), (400, "bad IPv6 reference"));
    let m = v5118("ipv6-correct-abnf-2-colons");
    assert_eq!(m.ruri_parsed().unwrap().host, b"[2001:db8::192.0.2.1]");
}
