//! tm script functions (§8.3): `t_relay`, `t_newtran`, `t_reply`, `t_reply_with_body`,
//! `t_check_trans`, `t_on_failure` / `t_on_reply` / `t_on_branch`, `t_was_cancelled`,
//! `t_check_status`, `t_local_replied`.

use std::sync::Arc;

use bytes::Bytes;

use crate::core::via_route::reply_destination;
use crate::runtime::SipCtx;
use crate::runtime::core_fns::{next_hop, parse_hop, resolve, sip};
use crate::script::vars::AvpStore;
use crate::script::{ArgValue, RunCtx};
use crate::sip::Method;
use crate::transport::{Destination, Proto};

use super::config;
use super::ctx::{self, TmCtx, TmRoute};
use super::reply;
use super::table::TxKey;
use super::tx::Transaction;
use super::uac::{self, BranchSpec};
use super::uas;

macro_rules! with_sip {
    ($ctx:expr, $name:literal) => {
        match sip($ctx) {
            Some(m) => m,
            None => {
                tracing::error!(concat!($name, ": no SIP message in this route"));
                return -1;
            }
        }
    };
}

/// `t_relay` flags (§8.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayFlags {
    pub no_auto_477: bool,
    /// `pass-reason-hdr`: the CANCELs sent carry the received CANCEL's Reason.
    pub pass_reason: bool,
}

pub(super) fn parse_flags(s: &str) -> Option<RelayFlags> {
    let mut f = RelayFlags::default();
    for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match tok.to_ascii_lowercase().as_str() {
            "no-auto-477" => f.no_auto_477 = true,
            "pass-reason-hdr" => f.pass_reason = true,
            "no-dns-failover" | "allow-no-cancel" => {}
            t if t.parse::<u32>().is_ok() || t.starts_with("0x") => {
                let v = match t.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => t.parse().ok()?,
                };
                // OpenSIPS 1.x numeric flags: 0x02 = no auto 477.
                f.no_auto_477 |= v & 0x02 != 0;
            }
            _ => return None,
        }
    }
    Some(f)
}

/// The arguments of `t_relay`: flags and / or an explicit `[proto:]host[:port]` next hop, in
/// either position.
pub fn relay_args(args: &[ArgValue<'_>]) -> Result<(RelayFlags, Option<Destination>), String> {
    let mut flags = RelayFlags::default();
    let mut proxy = None;
    for a in args
        .iter()
        .filter_map(ArgValue::str)
        .filter(|s| !s.is_empty())
    {
        if let Some(f) = parse_flags(a) {
            flags.no_auto_477 |= f.no_auto_477;
            flags.pass_reason |= f.pass_reason;
        } else {
            let (p, h, port) = parse_hop(a, Proto::Udp)?;
            proxy = Some(resolve(p, &h, port)?);
        }
    }
    Ok((flags, proxy))
}

/// The transaction of this run's request: the one already made in this run, else a new one
/// (`Ok((tx, true))`), or the existing one this request retransmits (`Ok((tx, false))`).
pub fn new_transaction(m: &mut SipCtx) -> Result<(Arc<Transaction>, bool), i32> {
    if let Some(tx) = ctx::get(m).and_then(|c| c.tx.clone()) {
        return Ok((tx, true));
    }
    let tm = super::tm(&m.shared);
    let key = TxKey::of(&m.msg, None).ok_or(-2)?;
    if let Some(tx) = tm.table.by_key.get(&key) {
        return Ok((tx, false));
    }
    let cfg = config::of(m.shared.script());
    let dest = match m.msg.via1() {
        Ok(via) => reply_destination(&via, &m.info),
        Err(_) => return Err(-2),
    };
    let tx = Transaction::new(
        m.shared.clone(),
        cfg.clone(),
        Some(key.clone()),
        m.msg.clone(),
        m.info.clone(),
        dest,
    );
    let (tx, new) = tm.table.by_key.insert_new(key, tx);
    if !new {
        return Ok((tx, false));
    }
    tm.table.by_id.insert_new(tx.id, tx.clone());
    tm.stats.uas_transactions.inc();
    tm.stats.inuse.inc();
    let c = ctx::of(m);
    {
        let mut st = tx.state.lock();
        st.ext = std::mem::take(&mut c.ext);
        if let Some(d) = c.fr_timeout {
            st.fr_timeout = d;
        }
        if let Some(d) = c.fr_inv_timeout {
            st.fr_inv_timeout = d;
        }
        // Removed at the latest when every timer it may run has run.
        let life = st.fr_timeout + st.fr_inv_timeout + cfg.t1x64();
        tx.delete_after(&mut st, life);
        if tx.is_invite && cfg.auto_100trying {
            uas::local_reply(&tx, &mut st, 100, "Trying", None);
        }
    }
    c.tx = Some(tx.clone());
    super::hooks::fire_request(m);
    Ok((tx, true))
}

fn forward_statelessly(m: &mut SipCtx, proxy: Option<Destination>, func: &str) -> i32 {
    let dest = match proxy {
        Some(d) => Ok(d),
        None => next_hop(m),
    };
    match dest {
        Ok(mut d) => {
            if d.socket.is_none() {
                d.socket = m.send_socket;
            }
            m.forward = Some(d);
            1
        }
        Err(e) => {
            tracing::error!("{func}: {e}");
            -4
        }
    }
}

/// The 200 to a CANCEL, with the To tag of the INVITE's replies.
fn answer_cancel(tx: &Transaction, m: &SipCtx) {
    let Ok(via) = m.msg.via1() else { return };
    let dest = reply_destination(&via, &m.info);
    let out = {
        let st = tx.state.lock();
        uas::build_local(&st, &m.msg, 200, "OK", None)
    };
    let _ = tx.send(&dest, Bytes::from(out));
}

/// `t_relay([flags], [proxy])`.
pub fn t_relay(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let avps = ctx.avps.clone();
    let m = with_sip!(ctx, "t_relay");
    if !m.msg.is_request() {
        tracing::error!("t_relay: only requests can be relayed");
        return -1;
    }
    let (flags, proxy) = match relay_args(args) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("t_relay: {e}");
            return -4;
        }
    };
    let tm = super::tm(&m.shared);
    match m.msg.method() {
        Method::Ack => {
            if let Some(tx) = tm.table.lookup(&m.msg)
                && uas::ack_received(&tx)
            {
                return 0;
            }
            return forward_statelessly(m, proxy, "t_relay");
        }
        Method::Cancel => {
            if let Some(tx) = tm.table.lookup_cancelled(&m.msg) {
                if flags.pass_reason
                    && let Some(r) = m.msg.header_by_name("Reason")
                {
                    let mut h = tx.cancel_hdrs.lock();
                    // A reason set by the script (`t_add_cancel_reason`) wins.
                    if h.reason.is_empty() {
                        h.reason = [b"Reason: ", r, b"\r\n"].concat();
                    }
                }
                answer_cancel(&tx, m);
                reply::cancel_all(&tx);
                return 1;
            }
            return forward_statelessly(m, proxy, "t_relay");
        }
        _ => {}
    }
    let route = ctx::get(m).map(|c| c.route).unwrap_or_default();
    if route == TmRoute::Request && ctx::get(m).is_some_and(|c| c.relayed) {
        tracing::error!("t_relay: the request was relayed already in this route");
        return -1;
    }
    let tx = match new_transaction(m) {
        Ok((tx, true)) => tx,
        Ok((tx, false)) => {
            uas::retransmit_reply(&tx);
            return 0;
        }
        Err(rc) => return rc,
    };
    relay_branches(m, &tx, route, proxy, flags, avps)
}

fn relay_branches(
    m: &mut SipCtx,
    tx: &Arc<Transaction>,
    route: TmRoute,
    proxy: Option<Destination>,
    flags: RelayFlags,
    avps: AvpStore,
) -> i32 {
    let originated = tx.state.lock().originated;
    let c = ctx::of(m);
    let (on_failure, on_reply, on_branch) = (c.on_failure, c.on_reply, c.on_branch);
    let (fr, fr_inv) = (c.fr_timeout, c.fr_inv_timeout);
    let ruri = m.ruri().into_owned();
    let mut specs = vec![BranchSpec {
        uri: ruri.clone(),
        dst_uri: m.dst_uri.clone(),
        path: None,
        socket: m.send_socket,
        proxy: proxy.clone(),
        bflags: m.bflags,
        local: originated,
        rr: m.rr.clone(),
    }];
    for b in m.branches.drain(..) {
        specs.push(BranchSpec {
            uri: b.uri,
            dst_uri: b.dst_uri,
            path: b.path,
            socket: b.socket.or(m.send_socket),
            proxy: proxy.clone(),
            bflags: b.bflags,
            local: originated,
            rr: m.rr.clone(),
        });
    }
    let (on_branch, extra_hdrs) = {
        let mut st = tx.state.lock();
        if st.cancelled || st.uas.status >= 200 {
            return -3;
        }
        // A 6xx ends the search (RFC 3261 §16.7 step 5) unless `disable_6xx_block`.
        if route == TmRoute::Failure
            && !tx.cfg.disable_6xx_block
            && st.branches.iter().any(|b| b.status >= 600 && !b.local)
        {
            return -3;
        }
        if on_failure.is_some() {
            st.on_failure = on_failure;
        }
        if on_reply.is_some() {
            st.on_reply = on_reply;
        }
        if on_branch.is_some() {
            st.on_branch = on_branch;
        }
        if let Some(d) = fr {
            st.fr_timeout = d;
        }
        if let Some(d) = fr_inv {
            st.fr_inv_timeout = d;
        }
        if route == TmRoute::Request {
            st.request = m.msg.clone();
            st.ruri = ruri;
            st.flags = m.flags;
            st.rr = m.rr.clone();
        }
        // The failure route's own AVPs are stored when it ends.
        if route != TmRoute::Failure {
            st.avps = avps.clone();
        }
        (st.on_branch, st.extra_hdrs.clone())
    };
    let script = m.shared.script();
    let mut sent = 0;
    let mut last_err = -3;
    for mut spec in specs {
        let idx = tx.state.lock().branches.len();
        let mut msg = m.msg.clone();
        if let Some(r) = on_branch {
            let mut sc = SipCtx::new(msg, m.info.clone(), m.shared.clone());
            if spec.uri.as_bytes() != sc.msg.ruri() {
                sc.new_ruri = Some(spec.uri.clone());
            }
            sc.dst_uri = spec.dst_uri.clone();
            sc.flags = m.flags;
            sc.bflags = spec.bflags;
            sc.send_socket = spec.socket;
            sc.tm = Some(Box::new(TmCtx {
                tx: Some(tx.clone()),
                route: TmRoute::Branch,
                branch: Some(idx),
                ..TmCtx::default()
            }));
            let mut branch_avps = avps.clone();
            let out =
                crate::runtime::handler::run_route_avps(script, &mut sc, r, Some(&mut branch_avps));
            if out.dropped {
                continue;
            }
            spec.uri = sc.ruri().into_owned();
            spec.dst_uri = sc.dst_uri.clone();
            spec.bflags = sc.bflags;
            spec.socket = sc.send_socket;
            msg = sc.msg;
        }
        for (n, v) in &extra_hdrs {
            if let Err(e) = msg.add_header(n, v.as_bytes()) {
                tracing::error!("t_relay: t_add_hdrs header {n}: {e}");
            }
        }
        match uac::prepare(tx, &msg, &m.info, &spec, idx) {
            Ok(b) => {
                let mut st = tx.state.lock();
                if st.deleted {
                    return -1;
                }
                st.branches.push(b);
                let i = st.branches.len() - 1;
                match uac::start(tx, &mut st, i) {
                    Ok(()) => {
                        sent += 1;
                        // A CANCEL that came while the branches were being built.
                        if st.cancelled {
                            uac::cancel_branch(tx, &mut st.branches[i], i);
                        }
                    }
                    Err(e) => {
                        tracing::error!("t_relay: branch to {}: {e}", spec.uri);
                        last_err = e.code();
                        st.branches.pop();
                    }
                }
            }
            Err(e) => {
                tracing::error!("t_relay: branch to {}: {e}", spec.uri);
                last_err = e.code();
            }
        }
    }
    if sent > 0 {
        ctx::of(m).relayed = route == TmRoute::Request;
        if tx.state.lock().cancelled {
            reply::check_final(tx);
        }
        return 1;
    }
    if route == TmRoute::Request && !flags.no_auto_477 {
        let mut st = tx.state.lock();
        if st.branches.is_empty() && uas::local_reply(tx, &mut st, 477, "Send failed", None) {
            return 0;
        }
    }
    last_err
}

/// `t_newtran()`: 1 new transaction, 0 retransmission (last reply re-sent).
pub fn t_newtran(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "t_newtran");
    if !m.msg.is_request() || matches!(m.msg.method(), Method::Ack | Method::Cancel) {
        return -1;
    }
    match new_transaction(m) {
        Ok((_, true)) => 1,
        Ok((tx, false)) => {
            uas::retransmit_reply(&tx);
            0
        }
        Err(rc) => rc,
    }
}

/// `t_check_trans()`.
pub fn t_check_trans(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "t_check_trans");
    if let Some(c) = ctx::get(m)
        && c.tx.is_some()
    {
        return 1;
    }
    if !m.msg.is_request() {
        return -1;
    }
    let tm = super::tm(&m.shared);
    match m.msg.method() {
        Method::Cancel => match tm.table.lookup_cancelled(&m.msg) {
            Some(_) => 1,
            None => -1,
        },
        Method::Ack => match tm.table.lookup(&m.msg) {
            Some(tx) if uas::ack_received(&tx) => 1,
            Some(_) => -2,
            None => -1,
        },
        _ => match tm.table.lookup(&m.msg) {
            Some(tx) => {
                uas::retransmit_reply(&tx);
                0
            }
            None => -1,
        },
    }
}

fn reply_common(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], func: &str) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("{func}: no SIP message in this route");
        return -1;
    };
    let code = args.first().and_then(ArgValue::int).unwrap_or(0);
    if !(100..=699).contains(&code) {
        tracing::error!("{func}: bad reply code {code}");
        return -1;
    }
    if !m.msg.is_request() || m.msg.method() == Method::Ack {
        tracing::error!("{func}: only requests other than ACK are answered");
        return -1;
    }
    let reason = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let body = args.get(2).and_then(ArgValue::str).map(str::to_string);
    let tx = match new_transaction(m) {
        Ok((tx, true)) => tx,
        Ok((tx, false)) => {
            uas::retransmit_reply(&tx);
            return 0;
        }
        Err(rc) => return rc,
    };
    m.replied = true;
    // The body's type: SDP when it looks like SDP, plain text otherwise.
    let ct: &[u8] = match &body {
        Some(b) if b.starts_with("v=") => b"application/sdp",
        _ => b"text/plain",
    };
    let mut st = tx.state.lock();
    let b = body.as_ref().map(|b| (b.as_bytes(), ct));
    if uas::local_reply(&tx, &mut st, code as u16, &reason, b) {
        1
    } else {
        -1
    }
}

/// For `send_reply` (signaling): answers statefully when this run has a transaction (made here,
/// or a failure route's); None when there is none and the caller replies statelessly.
pub fn t_reply_if_transaction(ctx: &mut RunCtx<'_>, code: i32, reason: &str) -> Option<i32> {
    let m = sip(ctx)?;
    ctx::get(m)?.tx.as_ref()?;
    let args = [ArgValue::Int(code), ArgValue::Str(reason.into())];
    Some(reply_common(ctx, &args, "send_reply"))
}

/// `t_reply(code, reason)`.
pub fn t_reply(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    reply_common(ctx, &args[..args.len().min(2)], "t_reply")
}

/// `t_reply_with_body(code, reason, body)`.
pub fn t_reply_with_body(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    reply_common(ctx, args, "t_reply_with_body")
}

#[derive(Clone, Copy)]
enum Armed {
    Failure,
    Reply,
    Branch,
}

fn arm(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], which: Armed) -> i32 {
    let Some(ArgValue::Route(_, index)) = args.first() else {
        return -1;
    };
    let index = *index;
    let Some(m) = sip(ctx) else { return -1 };
    let c = ctx::of(m);
    match which {
        Armed::Failure => c.on_failure = Some(index),
        Armed::Reply => c.on_reply = Some(index),
        Armed::Branch => c.on_branch = Some(index),
    }
    if c.route != TmRoute::Request
        && let Some(tx) = &c.tx
    {
        let mut st = tx.state.lock();
        match which {
            Armed::Failure => st.on_failure = Some(index),
            Armed::Reply => st.on_reply = Some(index),
            Armed::Branch => st.on_branch = Some(index),
        }
    }
    1
}

pub fn t_on_failure(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    arm(ctx, args, Armed::Failure)
}

pub fn t_on_reply(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    arm(ctx, args, Armed::Reply)
}

pub fn t_on_branch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    arm(ctx, args, Armed::Branch)
}

/// The transaction of the run: made or found in this run, else the one the request belongs to.
fn current_tx(m: &SipCtx) -> Option<Arc<Transaction>> {
    if let Some(tx) = ctx::get(m).and_then(|c| c.tx.clone()) {
        return Some(tx);
    }
    let tm = super::tm_if_started()?;
    if m.msg.is_request() {
        if m.msg.method() == Method::Cancel {
            return tm.table.lookup_cancelled(&m.msg);
        }
        return tm.table.lookup(&m.msg);
    }
    None
}

/// `t_was_cancelled()`.
pub fn t_was_cancelled(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "t_was_cancelled");
    match current_tx(m) {
        Some(tx) if tx.state.lock().cancelled => 1,
        _ => -1,
    }
}

/// The reply code `t_check_status` and `$T_reply_code` see: the current reply (onreply route),
/// the winning reply (failure route), else the last reply sent upstream.
pub fn reply_code(m: &SipCtx) -> Option<u16> {
    let c = ctx::get(m);
    match c.map(|c| c.route) {
        Some(TmRoute::Reply) | Some(TmRoute::Failure) => c.and_then(|c| c.reply_code),
        _ => current_tx(m)
            .map(|tx| tx.state.lock().uas.status)
            .filter(|&s| s > 0),
    }
}

/// `t_check_status(re)`.
pub fn t_check_status(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "t_check_status");
    let Some(code) = reply_code(m) else {
        return -1;
    };
    let text = code.to_string();
    let hit = match args.first() {
        Some(ArgValue::Regex(re)) => re.is_match(&text),
        Some(ArgValue::Str(s)) => match regex::Regex::new(s) {
            Ok(re) => re.is_match(&text),
            Err(e) => {
                tracing::error!("t_check_status: bad regular expression `{s}`: {e}");
                return -1;
            }
        },
        _ => return -1,
    };
    if hit { 1 } else { -1 }
}

/// `t_local_replied("all" | "last")`: the last reply (in a failure route: the winning one), or
/// every reply, was made by osips.
pub fn t_local_replied(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "t_local_replied");
    let all = args.first().and_then(ArgValue::str) == Some("all");
    let Some(tx) = current_tx(m) else { return -1 };
    let in_failure = ctx::get(m).is_some_and(|c| c.route == TmRoute::Failure);
    let st = tx.state.lock();
    let yes = if in_failure {
        if all {
            st.branches.iter().all(|b| b.local)
        } else {
            reply::best_branch(&st.branches).is_some_and(|i| st.branches[i].local)
        }
    } else if all {
        st.uas.status > 0 && !st.uas.relayed_any
    } else {
        st.uas.status > 0 && st.uas.local_last
    };
    if yes { 1 } else { -1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_arguments_are_flags_or_a_destination() {
        let a = [ArgValue::Str("no-auto-477".into())];
        let (f, p) = relay_args(&a).unwrap();
        assert!(f.no_auto_477);
        assert!(p.is_none());
        let a = [ArgValue::Str("tcp:127.0.0.3:5090".into())];
        let (f, p) = relay_args(&a).unwrap();
        assert!(!f.no_auto_477);
        let p = p.unwrap();
        assert_eq!(
            (p.proto, p.addr),
            (Proto::Tcp, "127.0.0.3:5090".parse().unwrap())
        );
        let a = [ArgValue::Str("pass-reason-hdr,no-auto-477".into())];
        let (f, _) = relay_args(&a).unwrap();
        assert!(f.pass_reason && f.no_auto_477);
        let a = [ArgValue::None, ArgValue::Str("0x02".into())];
        assert!(relay_args(&a).unwrap().0.no_auto_477);
        assert!(relay_args(&[ArgValue::Str("udp:127.0.0.1:notaport".into())]).is_err());
    }
}
