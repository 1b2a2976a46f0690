//! The server side of a transaction: replies sent upstream (local or relayed), their
//! retransmission (Timer G for INVITE non-2xx finals over UDP) and what completes the transaction.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::sip::{Msg, ReplyOptions, build_reply};
use crate::timer::{self, TimerId};
use crate::transport::{Destination, Proto};

use super::tx::{Transaction, TxState};

pub struct Uas {
    /// Where replies go (the request's source, or its Via, per RFC 3261 §18.2.2).
    pub dest: Destination,
    /// The last reply code sent upstream (0: none).
    pub status: u16,
    /// The last reply sent, re-sent when the request is retransmitted.
    pub reply: Option<Bytes>,
    /// To tag of local replies.
    pub to_tag: String,
    /// Timer G.
    pub retr: Option<TimerId>,
    pub retr_interval: Duration,
    /// An ACK to our non-2xx final reply arrived.
    pub acked: bool,
    /// Whether the last / every final-or-provisional reply sent was made here.
    pub local_last: bool,
    pub relayed_any: bool,
    /// Header lines (CRLF-terminated) added to the next local reply (MI `t_reply`).
    pub extra_headers: Vec<u8>,
}

impl Uas {
    pub fn new(dest: Destination, id: u64) -> Uas {
        Uas {
            dest,
            status: 0,
            reply: None,
            to_tag: format!("tm{:x}", id.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            retr: None,
            retr_interval: Duration::ZERO,
            acked: false,
            local_last: false,
            relayed_any: false,
            extra_headers: Vec::new(),
        }
    }
}

const SERVER: &[u8] = b"Server: osips\r\n";

fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

/// Builds a reply to `req` with the transaction's To tag (and `st.uas.extra_headers`).
pub fn build_local(
    st: &TxState,
    req: &Msg,
    code: u16,
    reason: &str,
    body: Option<(&[u8], &[u8])>,
) -> Vec<u8> {
    let ip = ip_text(st.info.src.ip());
    let mut extra = st.uas.extra_headers.clone();
    extra.extend_from_slice(SERVER);
    let opts = ReplyOptions {
        to_tag: Some(st.uas.to_tag.as_bytes()),
        received: Some((&ip, st.info.src.port())),
        extra_headers: &extra,
        body,
        ..ReplyOptions::default()
    };
    build_reply(req, code, reason, &opts)
}

/// Sends a reply made here (`t_reply`, 100 Trying, a local 408 / 477). False when a final reply
/// was sent already.
pub fn local_reply(
    tx: &Arc<Transaction>,
    st: &mut TxState,
    code: u16,
    reason: &str,
    body: Option<(&[u8], &[u8])>,
) -> bool {
    if st.uas.status >= 200 {
        return false;
    }
    if st.on_done.is_some() {
        // Nobody upstream: the originator gets the outcome.
        if code >= 200 {
            finish_uac(tx, st, code, None);
        }
        return true;
    }
    let out = Bytes::from(build_local(st, &st.request, code, reason, body));
    send_upstream(tx, st, code, out, true);
    true
}

/// Sends a reply upstream and records it; a final reply completes the transaction.
pub fn send_upstream(tx: &Arc<Transaction>, st: &mut TxState, code: u16, out: Bytes, local: bool) {
    if st.on_done.is_some() {
        // A transaction osips originated has nobody upstream.
        if code >= 200 && st.uas.status < 200 {
            finish_uac(tx, st, code, Msg::parse(out).ok());
        }
        return;
    }
    let first_final = code >= 200 && st.uas.status < 200;
    if let Err(e) = tx.send(&st.uas.dest, out.clone()) {
        tracing::debug!("tm: cannot send {code} to {}: {e}", st.uas.dest.addr);
    }
    if let Some(tm) = super::tm_if_started() {
        if local {
            tm.stats.local_replies.inc();
        } else {
            tm.stats.relayed_replies.inc();
            tx.shared.core_stats.fwd_replies.inc();
        }
    }
    if code > 100 && code < 200 {
        super::hooks::fire_provisional(st, code, &out);
    }
    st.uas.local_last = local;
    st.uas.relayed_any |= !local;
    if st.uas.status < 200 || code < 300 {
        st.uas.status = code;
        st.uas.reply = Some(out);
    }
    if first_final {
        complete(tx, st, code);
    }
}

/// Gives the final outcome to whoever originated the request (MI `t_uac_dlg`).
pub fn finish_uac(tx: &Arc<Transaction>, st: &mut TxState, code: u16, reply: Option<Msg>) {
    if let Some(done) = st.on_done.take() {
        done(code, reply);
    }
    st.uas.status = code;
    complete(tx, st, code);
}

/// The first final reply went upstream: stop the branches' timers, start Timer G when needed and
/// schedule the removal.
fn complete(tx: &Arc<Transaction>, st: &mut TxState, code: u16) {
    if let Some(tm) = super::tm_if_started() {
        tm.stats.completed(code);
    }
    super::hooks::fire(tx, st, code);
    let cfg = &tx.cfg;
    if tx.is_invite && code >= 300 && st.uas.dest.proto == Proto::Udp && st.uas.reply.is_some() {
        st.uas.retr_interval = cfg.t1;
        st.uas.retr = Some(tx.after(cfg.t1, retransmit_final));
    }
    // INVITE non-2xx: Timer H (the ACK shortens it); otherwise the wait timer, as OpenSIPS
    // (2xx retransmissions arriving later are forwarded statelessly, RFC 6026 §7.1).
    let keep = if tx.is_invite && code >= 300 {
        cfg.t1x64()
    } else {
        cfg.wt_timer
    };
    tx.delete_after(st, keep);
}

/// Timer G: the non-2xx final reply again, until the ACK comes.
fn retransmit_final(tx: &Arc<Transaction>) {
    let mut st = tx.state.lock();
    if st.uas.acked || st.deleted {
        return;
    }
    if let Some(r) = st.uas.reply.clone() {
        let _ = tx.send(&st.uas.dest, r);
        if let Some(tm) = super::tm_if_started() {
            tm.stats.retransmissions.inc();
        }
    }
    st.uas.retr_interval = (st.uas.retr_interval * 2).min(tx.cfg.t2);
    let next = st.uas.retr_interval;
    st.uas.retr = Some(tx.after(next, retransmit_final));
}

/// A retransmission of the request: the last reply again (nothing when none was sent yet).
pub fn retransmit_reply(tx: &Transaction) {
    let st = tx.state.lock();
    if let Some(r) = st.uas.reply.clone() {
        let _ = tx.send(&st.uas.dest, r);
    }
}

/// The hop-by-hop ACK to our non-2xx final arrived: stop Timer G. True when the ACK belongs to a
/// non-2xx final (so it is absorbed), false for an ACK to a 2xx (end to end).
pub fn ack_received(tx: &Arc<Transaction>) -> bool {
    let mut st = tx.state.lock();
    if st.uas.status < 300 {
        return false;
    }
    st.uas.acked = true;
    if let Some(t) = st.uas.retr.take() {
        timer::global().cancel(t);
    }
    // Timer I (T4 over UDP): the ACK's own retransmissions are absorbed meanwhile.
    let keep = tx.cfg.wt_timer.min(Duration::from_secs(5));
    tx.delete_after(&mut st, keep);
    true
}
