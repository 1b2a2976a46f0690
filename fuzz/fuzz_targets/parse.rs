//! Fuzz target: any byte string must parse or fail cleanly, and every accessor must run
//! without panicking on whatever parsed. Run with `cargo +nightly fuzz run parse` from the
//! repository root (seed corpus: tests/fixtures/sip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use osips::sip::{Msg, ReplyOptions, build_reply, sdp::Sdp};

fuzz_target!(|data: &[u8]| {
    let Ok(mut msg) = Msg::parse(bytes::Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = msg.check();
    let _ = msg.ruri_parsed();
    for v in msg.vias() {
        if let Ok(v) = v {
            let _ = (v.branch(), v.rport(), v.received(), v.ttl(), v.alias());
        }
    }
    let _ = (msg.from(), msg.to(), msg.cseq(), msg.call_id(), msg.expires());
    for c in msg.contacts().flatten() {
        let _ = (c.expires(), c.q(), c.instance(), c.reg_id());
    }
    let _ = msg.routes().count() + msg.record_routes().count();
    for h in [
        osips::sip::HdrId::Authorization,
        osips::sip::HdrId::ProxyAuthorization,
        osips::sip::HdrId::WwwAuthenticate,
    ] {
        let _ = msg.auth_headers(h).count();
    }
    if let Ok(sdp) = Sdp::parse(msg.body()) {
        for m in sdp.media_sections() {
            let _ = (m.media(), m.effective_connection(), m.rtcp(), m.candidates().count());
        }
    }
    let _ = build_reply(&msg, 200, "OK", &ReplyOptions::default());
    let _ = msg.add_top_via_param(b"received=127.0.0.1");
    let _ = msg.add_record_route(b"<sip:127.0.0.1;lr>");
    let out = msg.serialise();
    // What we write must parse again.
    if let Err(e) = Msg::parse(bytes::Bytes::from(out)) {
        assert_eq!(e.code, 513, "edited message no longer parses: {e}");
    }
});
