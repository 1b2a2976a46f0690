//! The registrar's own replies: the core's stateless reply plus header lines (Contact list,
//! Path, Min-Expires, P-Registrar-Error...).

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

use bytes::Bytes;

use crate::core::via_route::reply_destination;
use crate::runtime::SipCtx;
use crate::sip::{ReplyOptions, build_reply};

/// The same request (and its retransmissions) gets the same To tag.
fn to_tag(m: &SipCtx) -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let via_branch = m
        .msg
        .via1()
        .ok()
        .and_then(|v| v.branch().map(|b| b.to_vec()))
        .unwrap_or_default();
    let h = KEY.get_or_init(RandomState::new).hash_one((
        m.msg.call_id(),
        m.msg.from_tag().unwrap_or_default(),
        via_branch,
    ));
    format!("rg{h:016x}")
}

/// Sends `code reason` with `headers` (each line ending in CRLF); true when sent.
pub fn send(m: &mut SipCtx, code: u16, reason: &str, headers: &str) -> bool {
    let Some(core) = m.shared.core() else {
        return false;
    };
    let Ok(via1) = m.msg.via1() else {
        return false;
    };
    let dest = reply_destination(&via1, &m.info);
    let tag = to_tag(m);
    let ip = match m.info.src.ip() {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let mut extra = String::with_capacity(headers.len() + 16);
    extra.push_str(headers);
    extra.push_str("Server: osips\r\n");
    let opts = ReplyOptions {
        to_tag: Some(tag.as_bytes()),
        received: Some((&ip, m.info.src.port())),
        extra_headers: extra.as_bytes(),
        ..ReplyOptions::default()
    };
    let out = build_reply(&m.msg, code, reason, &opts);
    match core.transport().send(&dest, Bytes::from(out)) {
        Ok(()) => {
            m.replied = true;
            true
        }
        Err(e) => {
            tracing::debug!("registrar: cannot send {code} to {}: {e}", dest.addr);
            false
        }
    }
}
