//! The script run on real parsed messages, without sockets: pseudo-variables, core functions and
//! module functions as the runtime wires them.

use std::sync::Arc;

use bytes::Bytes;

use super::handler::ScriptHandler;
use super::msgctx::SipCtx;
use super::{Runtime, Shared};
use crate::core::{Action, RequestHandler, ResponseAction};
use crate::sip::Msg;
use crate::transport::{Proto, ReceiveInfo};

const INVITE: &str = "INVITE sip:alice@example.com:5070;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.9:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Alice <sip:alice@example.com>\r\n\
From: \"Bob B\" <sip:bob@biloxi.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@127.0.0.9:5062>\r\n\
User-Agent: sipp-test\r\n\
X-Tenant: acme-42\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Route: <sip:p2.example.com;lr>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn info() -> ReceiveInfo {
    ReceiveInfo::udp(
        "127.0.0.9:5062".parse().unwrap(),
        "127.0.0.1:5060".parse().unwrap(),
        0,
    )
}

fn shared(script: &str) -> Arc<Shared> {
    let rt = match Runtime::load_str("t.cfg", script) {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    Arc::new(Shared::new(rt.script, rt.settings, 0))
}

/// Runs the main route on `msg`; returns the handler's decision and the message as it leaves.
fn run(script: &str, msg: &str) -> (Action, Msg) {
    let h = ScriptHandler::new(shared(script));
    let mut m = Msg::parse(Bytes::from(msg.to_string())).unwrap();
    let a = h.on_request(&mut m, &info());
    (a, m)
}

/// `$var(out)` after running `expr_stmt` on the INVITE: the route stores it in the local cache,
/// read back here.
fn probe(expr_stmt: &str) -> Option<String> {
    let script = format!(
        "loadmodule \"sipmsgops.so\"\nroute {{ $var(out) = \"unset\"; {expr_stmt} cache_store(\"local\", \"out\", \"$var(out)\"); }}"
    );
    let sh = shared(&script);
    let h = ScriptHandler::new(sh.clone());
    let mut m = Msg::parse(Bytes::from(INVITE)).unwrap();
    h.on_request(&mut m, &info());
    sh.cache.fetch("local", "out").unwrap()
}

#[test]
fn request_pvs() {
    let cases = [
        ("$ru", "sip:alice@example.com:5070;transport=udp"),
        ("$rU", "alice"),
        ("$rd", "example.com"),
        ("$rp", "5070"),
        ("$rm", "INVITE"),
        ("$si", "127.0.0.9"),
        ("$sp", "5062"),
        ("$socket_in(ip)", "127.0.0.1"),
        ("$socket_in(port)", "5060"),
        ("$socket_in(proto)", "udp"),
        ("$fu", "sip:bob@biloxi.example.com"),
        ("$fU", "bob"),
        ("$fd", "biloxi.example.com"),
        ("$fn", "Bob B"),
        ("$ft", "1928301774"),
        ("$tu", "sip:alice@example.com"),
        ("$tU", "alice"),
        ("$tn", "Alice"),
        ("$tt", "<null>"),
        ("$ci", "a84b4c76e66710@pc33.example.com"),
        ("$cs", "314159"),
        ("$ct", "<sip:bob@127.0.0.9:5062>"),
        ("$cT", "application/sdp"),
        ("$ua", "sipp-test"),
        ("$hdr(X-Tenant)", "acme-42"),
        ("$(hdr(Route)[1])", "<sip:p2.example.com;lr>"),
        ("$(hdr(Route)[-1])", "<sip:p2.example.com;lr>"),
        ("$hdrcnt(Route)", "2"),
        // Header names: case-insensitive, compact forms of known headers, unknown names.
        ("$hdr(x-tenant)", "acme-42"),
        (
            "$hdr(f)",
            "\"Bob B\" <sip:bob@biloxi.example.com>;tag=1928301774",
        ),
        ("$hdr(route)", "<sip:p1.example.com;lr>"),
        ("$(hdr(Route)[-2])", "<sip:p1.example.com;lr>"),
        ("$(hdr(Route)[2])", "<null>"),
        ("$hdr(X-Missing)", "<null>"),
        ("$hdrcnt(x-TENANT)", "1"),
        ("$(fu{uri.user})", "bob"),
        ("$(fu{uri.host})", "biloxi.example.com"),
        ("$(ru{uri.port})", "5070"),
        ("$(ru{uri.transport})", "udp"),
        ("$(ru{param.value,transport})", "udp"),
        ("$Ri", "127.0.0.1"),
        ("$rb", "v=0\n"),
        ("$du", "<null>"),
        ("$(ru{s.len})", "40"),
    ];
    for (pv, want) in cases {
        assert_eq!(
            probe(&format!("$var(out) = {pv};")).as_deref(),
            Some(want),
            "{pv}"
        );
    }
}

#[test]
fn writing_ruri_parts_and_du() {
    let got = probe("$rU = \"carol\"; $rd = \"127.0.0.2\"; $var(out) = $ru;");
    assert_eq!(
        got.as_deref(),
        Some("sip:carol@127.0.0.2:5070;transport=udp")
    );
    let got = probe("$rp = 5099; strip(2); prefix(\"+44\"); $var(out) = $ru;");
    assert_eq!(
        got.as_deref(),
        Some("sip:+44ice@example.com:5099;transport=udp")
    );
    let got = probe("$du = \"sip:127.0.0.3:5080\"; $var(out) = $du + \"|\" + $dd + \"|\" + $dp;");
    assert_eq!(got.as_deref(), Some("sip:127.0.0.3:5080|127.0.0.3|5080"));
    let got = probe("seturi(\"sip:x@127.0.0.4\"); revert_uri(); $var(out) = $ru;");
    assert_eq!(
        got.as_deref(),
        Some("sip:alice@example.com:5070;transport=udp")
    );
    let got = probe("sethostport(\"127.0.0.5:5090\"); strip_tail(2); $var(out) = $ru;");
    assert_eq!(got.as_deref(), Some("sip:ali@127.0.0.5:5090;transport=udp"));
}

#[test]
fn flags_and_methods() {
    let got = probe(
        "setflag(3); if (isflagset(3)) $var(out) = \"set\"; resetflag(3); if (!isflagset(3)) $var(out) = $var(out) + \"+reset\";",
    );
    assert_eq!(got.as_deref(), Some("set+reset"));
    let got = probe(
        "if (is_method(\"REGISTER|INVITE\")) $var(out) = \"yes\"; if (has_totag()) $var(out) = \"totag\";",
    );
    assert_eq!(got.as_deref(), Some("yes"));
    let got = probe(
        "if (is_present_hf(\"x-tenant\") && is_present_hf(\"c\") && !is_present_hf(\"X-None\")) $var(out) = \"present\";",
    );
    assert_eq!(got.as_deref(), Some("present"));
    let got = probe("if ($hdr(X-Tenant) =~ \"^ACME-[0-9]+$\") $var(out) = \"tenant\";");
    assert_eq!(got.as_deref(), Some("tenant"));
}

#[test]
fn forward_applies_the_new_ruri_and_header_edits() {
    let (a, m) = run(
        "loadmodule \"sipmsgops.so\"\nroute { $rU = \"dave\"; append_hf(\"X-Added: 1\\r\\n\"); remove_hf(\"X-Tenant\"); forward(\"udp:127.0.0.7:5999\"); }",
        INVITE,
    );
    match a {
        Action::Forward(d) => assert_eq!(d.addr, "127.0.0.7:5999".parse().unwrap()),
        other => panic!("{other:?}"),
    }
    let out = String::from_utf8(m.serialise()).unwrap();
    assert!(out.starts_with("INVITE sip:dave@example.com:5070;transport=udp SIP/2.0\r\n"));
    assert!(out.contains("\r\nX-Added: 1\r\n"), "{out}");
    assert!(!out.contains("X-Tenant"), "{out}");
}

#[test]
fn forward_uses_du_then_ruri() {
    let (a, _) = run(
        "route { $du = \"sip:127.0.0.8:5088;transport=tcp\"; forward(); }",
        INVITE,
    );
    match a {
        Action::Forward(d) => {
            assert_eq!(d.proto, Proto::Tcp);
            assert_eq!(d.addr, "127.0.0.8:5088".parse().unwrap());
        }
        other => panic!("{other:?}"),
    }
    let (a, _) = run("route { $rd = \"127.0.0.6\"; forward(); }", INVITE);
    match a {
        Action::Forward(d) => assert_eq!(d.addr, "127.0.0.6:5070".parse().unwrap()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn implicit_action_is_discard() {
    let (a, _) = run("route { $var(x) = 1; }", INVITE);
    assert_eq!(a, Action::Drop);
    let (a, _) = run("route { forward(\"udp:127.0.0.7:5999\"); drop; }", INVITE);
    assert!(matches!(a, Action::Forward(_)));
}

#[test]
fn maxfwd_checks() {
    let script = "loadmodule \"maxfwd.so\"\nroute { $var(a) = mf_process_maxfwd_header(10); $var(b) = is_maxfwd_lt(71); $var(c) = is_maxfwd_lt(70); cache_store(\"local\", \"out\", \"$var(a)/$var(b)/$var(c)\"); }";
    let sh = shared(script);
    let h = ScriptHandler::new(sh.clone());
    let mut m = Msg::parse(Bytes::from(INVITE)).unwrap();
    h.on_request(&mut m, &info());
    assert_eq!(
        sh.cache.fetch("local", "out").unwrap().as_deref(),
        Some("1/1/-1")
    );
    let no_mf = INVITE.replace("Max-Forwards: 70\r\n", "");
    let mut m = Msg::parse(Bytes::from(no_mf)).unwrap();
    h.on_request(&mut m, &info());
    assert_eq!(
        sh.cache.fetch("local", "out").unwrap().as_deref(),
        Some("2/-2/-2")
    );
}

#[test]
fn reply_routes_can_drop_provisional_replies_only() {
    let script = "route { exit; }\nonreply_route { if ($rs == 180) drop; }";
    let h = ScriptHandler::new(shared(script));
    let reply = |code: &str| {
        format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut m = Msg::parse(Bytes::from(reply("180"))).unwrap();
    assert_eq!(h.on_response(&mut m, &info()), ResponseAction::Drop);
    let mut m = Msg::parse(Bytes::from(reply("183"))).unwrap();
    assert_eq!(h.on_response(&mut m, &info()), ResponseAction::Relay);
}

#[test]
fn sip_ctx_rebuilds_uris() {
    let sh = shared("route { exit; }");
    let m = Msg::parse(Bytes::from(INVITE)).unwrap();
    let mut c = SipCtx::new(m, info(), sh);
    c.set_ruri_part("userpass", Some("u:p")).unwrap();
    assert_eq!(c.ruri(), "sip:u:p@example.com:5070;transport=udp");
    c.set_ruri_part("user", None).unwrap();
    assert_eq!(c.ruri(), "sip:example.com:5070;transport=udp");
    c.set_ruri_part("port", None).unwrap();
    assert_eq!(c.ruri(), "sip:example.com;transport=udp");
}

#[test]
fn default_script_compiles() {
    let rt = Runtime::load_str("<embedded default>", super::DEFAULT_SCRIPT).unwrap();
    assert_eq!(rt.settings.sockets.len(), 2);
    assert!(rt.settings.sockets.iter().all(|s| s.addr.port() == 5060));
}
