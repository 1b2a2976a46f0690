//! Replies from downstream (RFC 3261 §16.7): matched to their branch by our Via branch,
//! provisional replies relayed, every 2xx relayed at once (and the other branches cancelled),
//! non-2xx finals ACKed and kept until every branch is final; then the failure route runs or the
//! best reply goes upstream.

use std::sync::Arc;

use crate::core::ResponseAction;
use crate::runtime::{Shared, SipCtx};
use crate::sip::{HdrId, Method, Msg};
use crate::transport::ReceiveInfo;

use super::ctx::{TmCtx, TmRoute};
use super::table::parse_branch;
use super::tx::{Transaction, TxState};
use super::uac::{self, CancelState, UacBranch};
use super::uas;

/// The core's reply hook (after the global `onreply_route`): consumes the replies of our
/// transactions; other replies (and late 2xx of removed transactions) go on statelessly.
pub fn on_reply(shared: &Arc<Shared>, rpl: &mut Msg, info: &ReceiveInfo) -> ResponseAction {
    let Some(tm) = super::tm_if_started() else {
        return ResponseAction::Relay;
    };
    let Some((id, idx)) = rpl
        .via1()
        .ok()
        .and_then(|v| v.branch().and_then(parse_branch))
    else {
        return ResponseAction::Relay;
    };
    tm.stats.received_replies.inc();
    let Some(tx) = tm.table.by_id.get(&id) else {
        return ResponseAction::Relay;
    };
    let Some(code) = rpl.status() else {
        return ResponseAction::Drop;
    };
    if rpl.cseq().method == Method::Cancel {
        // The reply to our CANCEL ends there (and stops its retransmissions).
        if let Some(b) = tx.state.lock().branches.get_mut(idx)
            && b.cancel == CancelState::Sent
        {
            b.cancel = CancelState::Answered;
        }
        return ResponseAction::Consumed;
    }
    process(shared, &tx, idx, rpl.clone(), info, code);
    ResponseAction::Consumed
}

/// What a reply on a final branch still needs.
fn on_final_branch(tx: &Arc<Transaction>, st: &mut TxState, idx: usize, rpl: Msg, code: u16) {
    let b = &mut st.branches[idx];
    if code < 200 {
        if b.cancel == CancelState::Pending {
            uac::send_cancel(tx, b, idx);
        }
    } else if code < 300 {
        // RFC 6026: every 2xx goes upstream, even after another final.
        relay(tx, st, rpl, code);
    } else {
        uac::send_ack(tx, b, &rpl);
    }
}

fn process(
    shared: &Arc<Shared>,
    tx: &Arc<Transaction>,
    idx: usize,
    rpl: Msg,
    info: &ReceiveInfo,
    code: u16,
) {
    let on_reply = {
        let mut st = tx.state.lock();
        if st.deleted || idx >= st.branches.len() {
            return;
        }
        if st.branches[idx].is_final() {
            return on_final_branch(tx, &mut st, idx, rpl, code);
        }
        let restart = st.fr_inv_timeout;
        let cfg = tx.cfg.clone();
        let b = &mut st.branches[idx];
        let t = crate::timer::global();
        if code < 200 {
            let first = b.status < 100;
            b.status = b.status.max(code);
            if tx.is_invite {
                b.stop_retransmissions(t);
                if first || cfg.restart_fr_on_each_reply {
                    uac::restart_fr(tx, b, idx, restart);
                }
            }
            if b.cancel == CancelState::Pending {
                uac::send_cancel(tx, b, idx);
            }
        }
        (st.on_reply, st.flags)
    };
    let mut rpl = rpl;
    if let (Some(route), flags) = on_reply {
        let mut sc = SipCtx::new(rpl, info.clone(), shared.clone());
        // The request's flags are seen in its onreply_route, as in OpenSIPS.
        sc.flags = flags;
        sc.tm = Some(Box::new(TmCtx {
            tx: Some(tx.clone()),
            route: TmRoute::Reply,
            branch: Some(idx),
            reply_code: Some(code),
            ..TmCtx::default()
        }));
        let out = crate::runtime::handler::run_route(shared.script(), &mut sc, route);
        rpl = sc.msg;
        if out.dropped && code < 200 {
            return;
        }
    }
    let decide = {
        let mut st = tx.state.lock();
        if st.deleted {
            return;
        }
        if code < 200 {
            if code > 100 && st.uas.status < 200 {
                relay(tx, &mut st, rpl, code);
            }
            false
        } else {
            let t = crate::timer::global();
            let Some(b) = st.branches.get_mut(idx) else {
                return;
            };
            b.stop_timers(t);
            b.status = code;
            if code < 300 {
                relay(tx, &mut st, rpl, code);
                cancel_others(tx, &mut st, idx);
                false
            } else {
                uac::send_ack(tx, b, &rpl);
                // RFC 3263 §4.3: a 503 sends the request to the next target DNS gave.
                if code == 503 && !b.alternates.is_empty() && !st.cancelled {
                    let b = &mut st.branches[idx];
                    let next = b.alternates.remove(0);
                    tracing::info!(
                        "tm: 503 from {}, failing over to {}",
                        b.dest.addr,
                        next.addr
                    );
                    b.dest = next;
                    b.status = 0;
                    if uac::start(tx, &mut st, idx).is_ok() {
                        return;
                    }
                    let b = &mut st.branches[idx];
                    b.stop_timers(t);
                    b.status = code;
                }
                let b = &mut st.branches[idx];
                b.reply = Some(rpl);
                if code >= 600 && !tx.cfg.disable_6xx_block {
                    cancel_others(tx, &mut st, idx);
                }
                true
            }
        }
    };
    if decide {
        check_final(tx);
    }
}

/// Cancels every branch but `except` that has no final reply.
fn cancel_others(tx: &Arc<Transaction>, st: &mut TxState, except: usize) {
    for (i, b) in st.branches.iter_mut().enumerate() {
        if i != except {
            uac::cancel_branch(tx, b, i);
        }
    }
}

/// Cancels every pending branch (a CANCEL from upstream); then decides if all are final.
pub fn cancel_all(tx: &Arc<Transaction>) {
    {
        let mut st = tx.state.lock();
        st.cancelled = true;
        st.waiting = false;
        if let Some(t) = st.waiting_timer.take() {
            crate::timer::global().cancel(t);
        }
        for (i, b) in st.branches.iter_mut().enumerate() {
            uac::cancel_branch(tx, b, i);
        }
    }
    check_final(tx);
}

/// Relays a received reply upstream (our Via removed).
fn relay(tx: &Arc<Transaction>, st: &mut TxState, mut rpl: Msg, code: u16) {
    if st.on_done.is_some() {
        // osips originated the request: the reply ends here.
        if code >= 200 && st.uas.status < 200 {
            uas::finish_uac(tx, st, code, Some(rpl));
        }
        return;
    }
    if rpl.remove_top_via().is_err() {
        return;
    }
    uas::send_upstream(tx, st, code, rpl.to_bytes(), false);
}

/// Preference of a final reply (lower wins), RFC 3261 §16.7 step 6: 6xx, then the lowest class;
/// among 4xx the challenges and the replies a UAC can act on, then real replies before local
/// timeouts; 503 last among 5xx.
pub fn rank(code: u16, local: bool) -> u32 {
    let class = code / 100;
    match class {
        6 => 0,
        2 => 1,
        3 => 10,
        4 if matches!(code, 401 | 407 | 415 | 420 | 484) => 20,
        4 if local => 22,
        4 => 21,
        5 if code == 503 => 31,
        5 => 30,
        _ => 40,
    }
}

/// The index of the best final reply among the branches (the first of equals).
pub fn best_branch(branches: &[UacBranch]) -> Option<usize> {
    branches
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_final())
        .min_by_key(|(i, b)| (rank(b.status, b.local), *i))
        .map(|(i, _)| i)
}

fn local_reason(code: u16) -> &'static str {
    match code {
        408 => "Request Timeout",
        487 => "Request Terminated",
        477 => "Send failed",
        _ => "Error",
    }
}

/// When every branch is final and nothing was sent upstream yet: the failure route if armed
/// (it may add branches, serial forking, or reply), else the best reply goes upstream.
pub fn check_final(tx: &Arc<Transaction>) {
    loop {
        let mut st = tx.state.lock();
        if st.deleted
            || st.deciding
            || st.waiting
            || st.uas.status >= 200
            || st.branches.is_empty()
            || st.branches.iter().any(|b| !b.is_final())
        {
            return;
        }
        let Some(best) = best_branch(&st.branches) else {
            return;
        };
        if let Some(route) = st.on_failure.take() {
            st.deciding = true;
            let n = st.branches.len();
            let code = st.branches[best].status;
            let mut sc = SipCtx::new(st.request.clone(), st.info.clone(), tx.shared.clone());
            if st.ruri.as_bytes() != st.request.ruri() {
                sc.new_ruri = Some(st.ruri.clone());
            }
            sc.flags = st.flags;
            sc.rr = st.rr.clone();
            sc.tm = Some(Box::new(TmCtx {
                tx: Some(tx.clone()),
                route: TmRoute::Failure,
                reply_code: Some(code),
                branch: Some(best),
                ..TmCtx::default()
            }));
            let mut avps = std::mem::take(&mut st.avps);
            drop(st);
            crate::runtime::handler::run_route_avps(
                tx.shared.script(),
                &mut sc,
                route,
                Some(&mut avps),
            );
            let mut st = tx.state.lock();
            st.avps = avps;
            st.deciding = false;
            if st.uas.status >= 200 {
                return;
            }
            if st.branches.len() > n {
                // New branches: they decide when they end (maybe they already did).
                continue;
            }
            return send_best(tx, &mut st);
        }
        return send_best(tx, &mut st);
    }
}

fn send_best(tx: &Arc<Transaction>, st: &mut TxState) {
    let Some(best) = best_branch(&st.branches) else {
        return;
    };
    let code = st.branches[best].status;
    match st.branches[best].reply.clone() {
        Some(mut r) if !st.branches[best].local => {
            if matches!(code, 401 | 407) {
                aggregate_challenges(&st.branches, best, &mut r);
            }
            relay(tx, st, r, code)
        }
        _ => {
            uas::local_reply(tx, st, code, local_reason(code), None);
        }
    }
}

/// RFC 3261 §16.7 step 7: a 401 / 407 going upstream carries the challenges of every branch
/// that answered 401 / 407.
pub fn aggregate_challenges(branches: &[UacBranch], best: usize, r: &mut Msg) {
    for (i, b) in branches.iter().enumerate() {
        let Some(other) = b.reply.as_ref().filter(|_| i != best && !b.local) else {
            continue;
        };
        if !matches!(b.status, 401 | 407) {
            continue;
        }
        for (id, name) in [
            (HdrId::WwwAuthenticate, "WWW-Authenticate"),
            (HdrId::ProxyAuthenticate, "Proxy-Authenticate"),
        ] {
            for v in other.headers_of(id) {
                let _ = r.add_header(name, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Destination, Proto};
    use bytes::Bytes;

    fn branch(status: u16, local: bool) -> UacBranch {
        UacBranch {
            uri: String::new(),
            dest: Destination::new(Proto::Udp, "127.0.0.1:5060".parse().unwrap()),
            request: Bytes::new(),
            via: String::new(),
            status,
            local,
            reply: None,
            retr: None,
            retr_interval: std::time::Duration::ZERO,
            fr: None,
            cancel: CancelState::No,
            bflags: 0,
            alternates: Vec::new(),
        }
    }

    fn best(codes: &[(u16, bool)]) -> Option<u16> {
        let v: Vec<_> = codes.iter().map(|&(c, l)| branch(c, l)).collect();
        best_branch(&v).map(|i| v[i].status)
    }

    #[test]
    fn challenges_of_every_branch_go_upstream() {
        let rpl = |code: u16, hdr: &str| {
            Msg::parse(Bytes::from(format!(
                "SIP/2.0 {code} Auth\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKtm1.0\r\n\
                 From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
                 {hdr}\r\nContent-Length: 0\r\n\r\n"
            )))
            .unwrap()
        };
        let mut a = branch(407, false);
        a.reply = Some(rpl(407, "Proxy-Authenticate: Digest realm=\"a\""));
        let mut b = branch(401, false);
        b.reply = Some(rpl(401, "WWW-Authenticate: Digest realm=\"b\""));
        let c = branch(486, false);
        let v = vec![a, b, c];
        let best = best_branch(&v).unwrap();
        assert_eq!(best, 0);
        let mut out = v[best].reply.clone().unwrap();
        aggregate_challenges(&v, best, &mut out);
        let text = String::from_utf8(out.serialise()).unwrap();
        assert!(
            text.contains("Proxy-Authenticate: Digest realm=\"a\""),
            "{text}"
        );
        assert!(
            text.contains("WWW-Authenticate: Digest realm=\"b\""),
            "{text}"
        );
    }

    #[test]
    fn best_reply_follows_rfc3261_16_7() {
        assert_eq!(best(&[(486, false), (603, false), (302, false)]), Some(603));
        assert_eq!(best(&[(486, false), (302, false), (500, false)]), Some(302));
        assert_eq!(best(&[(500, false), (486, false)]), Some(486));
        assert_eq!(best(&[(486, false), (407, false)]), Some(407));
        assert_eq!(best(&[(408, true), (480, false)]), Some(480));
        assert_eq!(best(&[(503, false), (500, false)]), Some(500));
        assert_eq!(
            best(&[(486, false), (480, false)]),
            Some(486),
            "first of equals"
        );
        assert_eq!(
            best(&[(180, false), (486, false)]),
            Some(486),
            "pending ignored"
        );
        assert_eq!(best(&[(180, false)]), None);
    }
}
