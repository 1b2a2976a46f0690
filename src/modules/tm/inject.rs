//! Dynamic branches (§8.3): `t_wait_for_new_branches` keeps an INVITE transaction open (a
//! "phony" pending branch) after its branches ended, for at most `fr_inv_timeout`;
//! `t_inject_branches("msg"[, "cancel"])` adds the current message's destinations as new
//! branches; `t_wait_no_more_branches` lets the transaction end. The "event" source (EBR) has
//! no module here and is refused.

use std::sync::Arc;

use crate::runtime::SipCtx;
use crate::runtime::core_fns::sip;
use crate::script::{ArgValue, RunCtx};
use crate::sip::Method;

use super::ctx::{self, TmRoute};
use super::tx::{Transaction, TxState};
use super::uac::{self, BranchSpec};
use super::{reply, uas};

/// Where `t_inject_branches` takes its destinations from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectSource {
    Msg,
    Event,
}

impl InjectSource {
    pub fn parse(s: &str) -> Option<InjectSource> {
        match s.trim().to_ascii_lowercase().as_str() {
            "msg" | "message" => Some(InjectSource::Msg),
            "event" | "events" => Some(InjectSource::Event),
            _ => None,
        }
    }
}

fn run_tx(m: &SipCtx) -> Option<Arc<Transaction>> {
    ctx::get(m).and_then(|c| c.tx.clone())
}

/// Ends the wait of `tx` (phony branch gone); the transaction may then decide.
fn stop_waiting(tx: &Arc<Transaction>) {
    let decide = {
        let mut st = tx.state.lock();
        if !st.waiting || st.deleted {
            return;
        }
        st.waiting = false;
        if let Some(t) = st.waiting_timer.take() {
            crate::timer::global().cancel(t);
        }
        if st.branches.is_empty() && st.uas.status < 200 {
            uas::local_reply(tx, &mut st, 408, "Request Timeout", None);
            false
        } else {
            true
        }
    };
    if decide {
        reply::check_final(tx);
    }
}

/// `t_wait_for_new_branches()`: INVITE transactions only.
pub fn t_wait_for_new_branches(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    if m.msg.method() != Method::Invite {
        tracing::error!("t_wait_for_new_branches: for INVITE transactions only");
        return -1;
    }
    let Some(tx) = run_tx(m) else {
        tracing::error!("t_wait_for_new_branches: no transaction (call t_newtran first)");
        return -1;
    };
    let mut st = tx.state.lock();
    if st.uas.status >= 200 {
        return -1;
    }
    st.waiting = true;
    if let Some(t) = st.waiting_timer.take() {
        crate::timer::global().cancel(t);
    }
    let wait = st.fr_inv_timeout;
    st.waiting_timer = Some(tx.after(wait, |tx| {
        let tx = tx.clone();
        // The failure route may run: not on the timer thread.
        uac::defer(Box::new(move || stop_waiting(&tx)));
    }));
    // The transaction lives at least as long as it waits.
    let cfg = tx.cfg.clone();
    let life = wait + st.fr_inv_timeout + cfg.t1x64();
    tx.delete_after(&mut st, life);
    1
}

/// `t_wait_no_more_branches()`.
pub fn t_wait_no_more_branches(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    let Some(tx) = run_tx(m) else { return -1 };
    if !tx.state.lock().waiting {
        return -1;
    }
    // Inside an onreply route the reply being handled decides afterwards.
    if ctx::get(m).is_some_and(|c| c.route == TmRoute::Reply) {
        let mut st = tx.state.lock();
        st.waiting = false;
        if let Some(t) = st.waiting_timer.take() {
            crate::timer::global().cancel(t);
        }
        return 1;
    }
    stop_waiting(&tx);
    1
}

/// The destinations of the run: in a request route its Request-URI (`$du`) and the added
/// branches, in other routes the added branches.
fn specs(m: &mut SipCtx, request_route: bool) -> Vec<BranchSpec> {
    let mut out = Vec::new();
    if request_route {
        out.push(BranchSpec {
            uri: m.ruri().into_owned(),
            dst_uri: m.dst_uri.clone(),
            socket: m.send_socket,
            bflags: m.bflags,
            ..BranchSpec::default()
        });
    }
    for b in m.branches.drain(..) {
        out.push(BranchSpec {
            uri: b.uri,
            dst_uri: b.dst_uri,
            path: b.path,
            socket: b.socket.or(m.send_socket),
            bflags: b.bflags,
            ..BranchSpec::default()
        });
    }
    out
}

/// Sends the new branches under the transaction lock; returns how many went out.
fn add_branches(tx: &Arc<Transaction>, st: &mut TxState, specs: &[BranchSpec]) -> usize {
    let base = st.request.clone();
    let info = st.info.clone();
    let mut sent = 0;
    for spec in specs {
        let idx = st.branches.len();
        let mut msg = base.clone();
        for (n, v) in &st.extra_hdrs {
            let _ = msg.add_header(n, v.as_bytes());
        }
        let spec = BranchSpec {
            rr: st.rr.clone(),
            ..spec.clone()
        };
        match uac::prepare(tx, &msg, &info, &spec, idx) {
            Ok(b) => {
                st.branches.push(b);
                match uac::start(tx, st, idx) {
                    Ok(()) => sent += 1,
                    Err(e) => {
                        tracing::error!("t_inject_branches: branch to {}: {e}", spec.uri);
                        st.branches.pop();
                    }
                }
            }
            Err(e) => tracing::error!("t_inject_branches: branch to {}: {e}", spec.uri),
        }
    }
    sent
}

/// `t_inject_branches("msg"|"event"[, "cancel"])`.
pub fn t_inject_branches(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let src = args.first().and_then(ArgValue::str).unwrap_or("");
    match InjectSource::parse(src) {
        Some(InjectSource::Msg) => {}
        Some(InjectSource::Event) => {
            tracing::error!("t_inject_branches: the \"event\" source needs the EBR module");
            return -1;
        }
        None => {
            tracing::error!("t_inject_branches: unknown source `{src}` (\"msg\" or \"event\")");
            return -1;
        }
    }
    let cancel = match args.get(1).and_then(ArgValue::str).map(str::trim) {
        None | Some("") => false,
        Some(f) if f.eq_ignore_ascii_case("cancel") => true,
        Some(f) => {
            tracing::error!("t_inject_branches: unknown flag `{f}` (\"cancel\")");
            return -1;
        }
    };
    let Some(m) = sip(ctx) else { return -1 };
    let Some(tx) = run_tx(m) else {
        tracing::error!("t_inject_branches: no transaction");
        return -1;
    };
    let request_route = ctx::get(m).is_some_and(|c| c.route == TmRoute::Request);
    if request_route {
        // The request as the script has it now is the base of the new branches.
        let mut st = tx.state.lock();
        st.request = m.msg.clone();
    }
    let specs = specs(m, request_route);
    if specs.is_empty() {
        return -1;
    }
    let ended = {
        let mut st = tx.state.lock();
        if st.uas.status >= 200 || st.cancelled || st.deleted {
            return -1;
        }
        let mut ended = false;
        if cancel {
            for i in 0..st.branches.len() {
                let b = &mut st.branches[i];
                ended |= uac::cancel_branch(&tx, b, i);
            }
        }
        if add_branches(&tx, &mut st, &specs) == 0 {
            drop(st);
            if ended {
                reply::check_final(&tx);
            }
            return -1;
        }
        ended
    };
    if ended {
        reply::check_final(&tx);
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_sources() {
        assert_eq!(InjectSource::parse("msg"), Some(InjectSource::Msg));
        assert_eq!(InjectSource::parse("Message"), Some(InjectSource::Msg));
        assert_eq!(InjectSource::parse("events"), Some(InjectSource::Event));
        assert_eq!(InjectSource::parse("x"), None);
    }
}
