//! Dynamic branches (§8.3): `t_wait_for_new_branches([branches])` keeps an INVITE transaction
//! open (a "phony" pending branch) after its branches ended, for at most `fr_inv_timeout` or
//! until `branches` branches were injected;
//! `t_inject_branches("msg"|"event"[, flags])` adds new branches: the current message's
//! destinations, or the contact of the usrloc event (E_UL_CONTACT_*) whose attributes an
//! event_routing notification route holds as `$avp(uri)`, `$avp(received)`... ; flags `cancel`
//! (`c`) cancel the pending branches first, `l` ends the wait (last injection);
//! `t_wait_no_more_branches` lets the transaction end.
//!
//! A notification route runs outside the transaction's processing: event_routing keeps a
//! [`TxRef`] of the subscribing transaction and runs the route inside [`with_remote_tx`]
//! (OpenSIPS `t_set_remote_t`); only `t_inject_branches` acts on that remote transaction.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::runtime::core_fns::sip;
use crate::runtime::{Shared, SipCtx};
use crate::script::vars::AvpStore;
use crate::script::{ArgValue, RunCtx, Value};
use crate::sip::Method;
use crate::transport::SocketId;

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

/// Flags of `t_inject_branches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InjectFlags {
    /// `cancel` / `c`: cancel the pending branches before injecting.
    pub cancel: bool,
    /// `l`: the last injection, the transaction waits for no more branches.
    pub last: bool,
}

impl InjectFlags {
    /// `"cancel"`, `"c"`, `"l"`, comma separated or as letters (`"cl"`); None on anything else.
    pub fn parse(s: &str) -> Option<InjectFlags> {
        let mut f = InjectFlags::default();
        for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tok.eq_ignore_ascii_case("cancel") {
                f.cancel = true;
                continue;
            }
            for c in tok.chars() {
                match c.to_ascii_lowercase() {
                    'c' => f.cancel = true,
                    'l' => f.last = true,
                    _ => return None,
                }
            }
        }
        Some(f)
    }
}

/// A transaction as another script processing refers to it (OpenSIPS's `hash:label` id). It
/// holds the transaction weakly: one that ended is simply gone.
#[derive(Clone, Debug)]
pub struct TxRef(Weak<Transaction>);

impl TxRef {
    pub fn upgrade(&self) -> Option<Arc<Transaction>> {
        self.0.upgrade()
    }
}

/// The transaction of the current run, if it has one (`t_get_trans_ident`): `t_newtran` or
/// `t_relay` made it.
pub fn current_tx(m: &SipCtx) -> Option<TxRef> {
    run_tx(m).map(|t| TxRef(Arc::downgrade(&t)))
}

thread_local! {
    static REMOTE: RefCell<Option<TxRef>> = const { RefCell::new(None) };
}

/// Runs `f` with `t` as this thread's remote transaction (OpenSIPS `t_set_remote_t`), the
/// one `t_inject_branches` acts on when the run has no transaction of its own.
pub fn with_remote_tx<R>(t: Option<TxRef>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<TxRef>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            REMOTE.with(|r| *r.borrow_mut() = old);
        }
    }
    let _restore = Restore(REMOTE.with(|r| std::mem::replace(&mut *r.borrow_mut(), t)));
    f()
}

fn remote_tx() -> Option<Arc<Transaction>> {
    REMOTE.with(|r| r.borrow().as_ref().and_then(TxRef::upgrade))
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

/// `t_wait_for_new_branches([branches])`: INVITE transactions only; `branches` (> 0) ends the
/// wait once that many branches were injected (0 or none: no limit).
pub fn t_wait_for_new_branches(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let max = args
        .first()
        .and_then(ArgValue::int)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0);
    let Some(m) = sip(ctx) else { return -1 };
    wait_for_branches(m, max)
}

/// The transaction of the run waits for new branches (OpenSIPS tm API
/// `t_wait_for_new_branches`, as registrar's lookup uses it for push contacts).
pub fn wait_for_new_branches(m: &SipCtx) -> i32 {
    wait_for_branches(m, None)
}

fn wait_for_branches(m: &SipCtx, max: Option<u32>) -> i32 {
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
    st.waiting_left = max;
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

/// The destinations of the run: with `with_ruri` its Request-URI (`$du`), then the added
/// branches.
fn specs(m: &mut SipCtx, with_ruri: bool) -> Vec<BranchSpec> {
    let mut out = Vec::new();
    if with_ruri {
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

fn avp_str(avps: &AvpStore, name: &str) -> Option<String> {
    match avps.get(name, 0) {
        Value::Null => None,
        v => v.as_str().map(|s| s.into_owned()).filter(|s| !s.is_empty()),
    }
}

fn avp_int(avps: &AvpStore, name: &str) -> Option<i64> {
    match avps.get(name, 0) {
        Value::Int(i) => Some(i64::from(i)),
        v => v.as_str().and_then(|s| s.trim().parse().ok()),
    }
}

/// The first URI of a Path value (`<sip:edge;lr>, <sip:core;lr>` gives `sip:edge;lr`).
pub(crate) fn first_path_uri(path: &str) -> Option<String> {
    let first = path.split(',').next()?.trim();
    let inner = first
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .map(|(u, _)| u)
        .unwrap_or(first);
    Some(inner.trim().to_string()).filter(|u| !u.is_empty())
}

/// The index of the listening socket written `name` (`udp:127.0.0.1:5060`).
pub(crate) fn socket_id(shared: &Shared, name: &str) -> Option<SocketId> {
    let core = shared.core()?;
    core.transport()
        .sockets()
        .iter()
        .position(|l| l.def.to_string().split(" as ").next() == Some(name))
}

/// The branch of a usrloc contact event (`ul_contact_event_to_msg`): `uri` as Request-URI, the
/// first `path` hop else `received` as next hop, `bflags`, and the `socket` it registered
/// through. Err when the attributes hold no contact.
pub fn event_branch(avps: &AvpStore, shared: &Shared) -> Result<BranchSpec, &'static str> {
    let uri = avp_str(avps, "uri").ok_or("no $avp(uri): not a usrloc contact event")?;
    let path = avp_str(avps, "path");
    let dst_uri = path
        .as_deref()
        .and_then(first_path_uri)
        .or_else(|| avp_str(avps, "received"));
    let socket = avp_str(avps, "socket").and_then(|s| {
        let id = socket_id(shared, &s);
        if id.is_none() {
            tracing::warn!("t_inject_branches: socket `{s}` of the event is not ours, ignored");
        }
        id
    });
    Ok(BranchSpec {
        uri,
        dst_uri,
        path,
        socket,
        bflags: avp_int(avps, "bflags")
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(0),
        ..BranchSpec::default()
    })
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

/// `t_inject_branches("msg"|"event"[, flags])`: 1 when a branch went out; -1 otherwise (no
/// transaction, none to inject into any more, no destination, or every send failed).
pub fn t_inject_branches(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let src = args.first().and_then(ArgValue::str).unwrap_or("");
    let Some(source) = InjectSource::parse(src) else {
        tracing::error!("t_inject_branches: unknown source `{src}` (\"msg\" or \"event\")");
        return -1;
    };
    let flags_arg = args.get(1).and_then(ArgValue::str).unwrap_or("");
    let Some(flags) = InjectFlags::parse(flags_arg) else {
        tracing::error!(
            "t_inject_branches: unknown flags `{flags_arg}` (\"cancel\", \"c\", \"l\")"
        );
        return -1;
    };
    // The event's attributes are the run's AVPs (event_routing's notification route).
    let avps = std::mem::take(ctx.avps);
    let Some(m) = sip(ctx) else {
        *ctx.avps = avps;
        return -1;
    };
    let event = (source == InjectSource::Event).then(|| event_branch(&avps, &m.shared));
    let local = run_tx(m);
    let is_local = local.is_some();
    let Some(tx) = local.or_else(remote_tx) else {
        *ctx.avps = avps;
        tracing::error!("t_inject_branches: no transaction (local or remote)");
        return -1;
    };
    let request_route = is_local && ctx::get(m).is_some_and(|c| c.route == TmRoute::Request);
    let specs = match event {
        Some(Ok(spec)) => vec![spec],
        Some(Err(e)) => {
            tracing::error!("t_inject_branches(\"event\"): {e}");
            Vec::new()
        }
        None => {
            if request_route {
                // The request as the script has it now is the base of the new branches.
                tx.state.lock().request = m.msg.clone();
            }
            // Outside the transaction's own run (a notification route) the dummy message's
            // Request-URI is a destination only once the script set it (lookup, `$ru`).
            let with_ruri = request_route || (!is_local && m.new_ruri.is_some());
            specs(m, with_ruri)
        }
    };
    *ctx.avps = avps;
    inject(&tx, &specs, flags)
}

/// Adds `specs` as new branches of `tx` (after cancelling the pending ones with
/// `flags.cancel`); 1 when one went out.
fn inject(tx: &Arc<Transaction>, specs: &[BranchSpec], flags: InjectFlags) -> i32 {
    if specs.is_empty() {
        return -1;
    }
    let (ended, all_came) = {
        let mut st = tx.state.lock();
        if st.uas.status >= 200 || st.cancelled || st.deleted {
            return -1;
        }
        let mut ended = false;
        if flags.cancel {
            for i in 0..st.branches.len() {
                let b = &mut st.branches[i];
                ended |= uac::cancel_branch(tx, b, i);
            }
        }
        let sent = add_branches(tx, &mut st, specs);
        if sent == 0 {
            drop(st);
            if ended {
                reply::check_final(tx);
            }
            return -1;
        }
        let all_came = st.waiting && count_injected(&mut st.waiting_left, sent);
        (ended, all_came)
    };
    if flags.last || all_came {
        stop_waiting(tx);
    } else if ended {
        reply::check_final(tx);
    }
    1
}

/// Counts `sent` injected branches against the `t_wait_for_new_branches(branches)` limit;
/// true when it is reached (the wait ends).
fn count_injected(left: &mut Option<u32>, sent: usize) -> bool {
    let Some(n) = left else { return false };
    *n = n.saturating_sub(u32::try_from(sent).unwrap_or(u32::MAX));
    *n == 0
}

/// OpenSIPS tm API `t_inject_ul_event_branch`: a new branch of `tx` towards the contact of
/// the usrloc event whose attributes `avps` holds ([`event_branch`]). 1 when it went out; -1
/// when the transaction is gone or answered, the attributes hold no contact, or sending failed.
pub fn inject_event_branch(tx: &TxRef, avps: &AvpStore) -> i32 {
    let Some(tx) = tx.upgrade() else {
        return -1;
    };
    let spec = match event_branch(avps, &tx.shared) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::error!("t_inject_ul_event_branch: {e}");
            return -1;
        }
    };
    inject(&tx, &[spec], InjectFlags::default())
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

    #[test]
    fn inject_flags() {
        let f = |s: &str| InjectFlags::parse(s);
        assert_eq!(f(""), Some(InjectFlags::default()));
        let cancel = InjectFlags {
            cancel: true,
            last: false,
        };
        assert_eq!(f("cancel"), Some(cancel));
        assert_eq!(f("C"), Some(cancel));
        let both = InjectFlags {
            cancel: true,
            last: true,
        };
        assert_eq!(f("cl"), Some(both));
        assert_eq!(f("cancel, l"), Some(both));
        assert_eq!(f("x"), None);
        assert_eq!(f("cancelx"), None);
    }

    #[test]
    fn injected_branches_count_down_the_wait() {
        let mut unlimited = None;
        assert!(!count_injected(&mut unlimited, 5));
        assert_eq!(unlimited, None);
        let mut left = Some(3);
        assert!(!count_injected(&mut left, 1));
        assert_eq!(left, Some(2));
        // Two at once (a "msg" injection with an added branch) reach the limit.
        assert!(count_injected(&mut left, 2));
        let mut left = Some(1);
        assert!(count_injected(&mut left, 4));
        assert_eq!(left, Some(0));
    }

    #[test]
    fn wait_takes_an_optional_branch_count() {
        let check = |call: &str| {
            crate::script::check_str(
                "t.cfg",
                &format!("loadmodule \"tm.so\"\nroute {{ t_newtran(); {call}; exit; }}\n"),
                &crate::script::Registry::builtin(),
            )
            .script
            .is_some()
        };
        assert!(check("t_wait_for_new_branches()"));
        assert!(check("t_wait_for_new_branches(2)"));
        assert!(!check("t_wait_for_new_branches(2, 3)"));
    }

    #[test]
    fn event_attributes_make_the_branch() {
        let script: &'static crate::script::Script = Box::leak(Box::new(
            crate::script::check_str("t.cfg", "route{}", &crate::script::Registry::builtin())
                .script
                .unwrap(),
        ));
        let settings = crate::runtime::settings::Settings::from_script(script).unwrap();
        let shared = std::sync::Arc::new(crate::runtime::Shared::new(script, settings, 0));
        let msg = crate::sip::Msg::parse(bytes::Bytes::from_static(
            b"DUMMY sip:user@domain.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 DUMMY\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let info = crate::transport::ReceiveInfo {
            proto: crate::transport::Proto::Udp,
            src: "127.0.0.1:5060".parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            socket: 0,
            conn: None,
            force_rport: false,
        };
        let m = SipCtx::new(msg, info, shared);
        let mut avps = AvpStore::default();
        assert!(event_branch(&avps, &m.shared).is_err());
        avps.push("uri", Value::str("sip:bob@127.0.0.2:5070"));
        avps.push("received", Value::str("sip:127.0.0.3:5071"));
        avps.push("bflags", Value::Int(4));
        let b = event_branch(&avps, &m.shared).unwrap();
        assert_eq!(b.uri, "sip:bob@127.0.0.2:5070");
        assert_eq!(b.dst_uri.as_deref(), Some("sip:127.0.0.3:5071"));
        assert_eq!(b.bflags, 4);
        // a Path wins over received
        avps.push("path", Value::str("<sip:127.0.0.4:5072;lr>, <sip:core;lr>"));
        let b = event_branch(&avps, &m.shared).unwrap();
        assert_eq!(b.dst_uri.as_deref(), Some("sip:127.0.0.4:5072;lr"));
        assert_eq!(
            b.path.as_deref(),
            Some("<sip:127.0.0.4:5072;lr>, <sip:core;lr>")
        );
    }
}
