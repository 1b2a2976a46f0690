//! `error_route` and `$err.*` on real parsed messages: a header that does not parse, read by the
//! script, runs error_route after the statement (OpenSIPS `run_action_list`).

use std::sync::Arc;

use bytes::Bytes;

use super::handler::ScriptHandler;
use super::{Runtime, Shared};
use crate::core::RequestHandler;
use crate::sip::Msg;
use crate::transport::ReceiveInfo;

fn request(from: &str, ruri: &str) -> Msg {
    let text = format!(
        "OPTIONS {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.9:5062;branch=z9hG4bKerr1\r\n\
Max-Forwards: 70\r\n\
To: <sip:alice@example.com>\r\n\
From: {from}\r\n\
Call-ID: err-1@127.0.0.9\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    );
    Msg::parse(Bytes::from(text)).unwrap()
}

fn info() -> ReceiveInfo {
    ReceiveInfo::udp(
        "127.0.0.9:5062".parse().unwrap(),
        "127.0.0.1:5060".parse().unwrap(),
        0,
    )
}

const SCRIPT: &str = r#"
route {
	cache_store("local", "before", "yes");
	$var(f) = $fu;
	cache_store("local", "after", "yes");
}
error_route {
	cache_store("local", "err", "$err.class|$err.level|$err.info|$err.rcode|$err.rreason|$rm");
	exit;
}
"#;

fn run(script: &str, msg: Msg) -> Arc<Shared> {
    let rt = Runtime::load_str("t.cfg", script).unwrap_or_else(|e| panic!("{e}"));
    let sh = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let h = ScriptHandler::new(sh.clone());
    let mut m = msg;
    h.on_request(&mut m, &info());
    sh
}

fn cached(sh: &Shared, key: &str) -> Option<String> {
    sh.cache.fetch("local", key).unwrap()
}

#[test]
fn a_from_header_that_does_not_parse_runs_error_route() {
    let sh = run(SCRIPT, request("<sip:bob@", "sip:alice@example.com"));
    assert_eq!(cached(&sh, "before").as_deref(), Some("yes"));
    assert_eq!(
        cached(&sh, "err").as_deref(),
        Some("1|3|error parsing From header|400|bad header|OPTIONS")
    );
    // `exit` in error_route ends the request's run.
    assert_eq!(cached(&sh, "after"), None);
}

#[test]
fn a_well_formed_request_does_not() {
    let sh = run(
        SCRIPT,
        request("<sip:bob@127.0.0.9>;tag=1", "sip:alice@example.com"),
    );
    assert_eq!(cached(&sh, "err"), None);
    assert_eq!(cached(&sh, "after").as_deref(), Some("yes"));
}

#[test]
fn a_from_uri_that_does_not_parse_fails_only_the_uri_parts() {
    // As OpenSIPS's parse_to / parse_from_uri: the tag and URI text read without parsing the URI.
    let script = r#"
route {
	cache_store("local", "tag", "$ft $fu");
	$var(u) = $fU;
	cache_store("local", "after", "yes");
}
error_route {
	cache_store("local", "err", "$err.info|$err.rcode");
	exit;
}
"#;
    let sh = run(script, request("<sip:@x>;tag=77", "sip:alice@example.com"));
    assert_eq!(cached(&sh, "tag").as_deref(), Some("77 sip:@x"));
    assert_eq!(
        cached(&sh, "err").as_deref(),
        Some("error parsing From uri|400")
    );
    assert_eq!(cached(&sh, "after"), None);
}

#[test]
fn without_exit_the_interrupted_route_goes_on_and_the_error_is_cleared() {
    let script = r#"
route {
	$var(f) = $fu;
	cache_store("local", "after", "class=$err.class");
}
error_route {
	cache_store("local", "err", "$err.info");
}
"#;
    let sh = run(script, request("\"unterminated <sip:bob@x>", "sip:a@b"));
    assert_eq!(
        cached(&sh, "err").as_deref(),
        Some("error parsing From header")
    );
    assert_eq!(cached(&sh, "after").as_deref(), Some("class=0"));
}

#[test]
fn without_error_route_the_error_stays_readable() {
    let script = r#"
route {
	$var(f) = $fu;
	cache_store("local", "after", "$err.rcode $err.rreason");
}
"#;
    let sh = run(script, request("<sip:bob@", "sip:a@b"));
    assert_eq!(cached(&sh, "after").as_deref(), Some("400 bad header"));
}
