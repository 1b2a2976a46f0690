//! Client branches: building each branch from the request (Request-URI, received / rport,
//! Max-Forwards, Path as Route, our Via), sending it, Timer A / E retransmissions over UDP,
//! Timer B / F (`fr_timeout`, `fr_inv_timeout`), the hop-by-hop ACK for non-2xx finals and CANCEL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::core::stateless::decrement_max_forwards;
use crate::core::via_route::ReceivedEdit;
use crate::runtime::core_fns::resolve_all;
use crate::sip::{HdrId, Msg};
use crate::timer::{Timer, TimerId};
use crate::transport::{Destination, Proto, ReceiveInfo, SocketId};

use super::table::branch_value;
use super::tx::{Transaction, TxState};

/// CANCEL progress of a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelState {
    No,
    /// To send when the branch answers with a provisional reply (RFC 3261 §9.1).
    Pending,
    Sent,
    /// The CANCEL got its reply (its retransmissions stop).
    Answered,
}

pub struct UacBranch {
    pub uri: String,
    pub dest: Destination,
    /// The request as sent (retransmitted as is).
    pub request: Bytes,
    /// Our Via value on it (the ACK and CANCEL carry the same).
    pub via: String,
    /// The last reply code (0: none); 408 / 487 with `local` when made here.
    pub status: u16,
    pub local: bool,
    /// The final reply received (for best-reply selection and relaying).
    pub reply: Option<Msg>,
    pub retr: Option<TimerId>,
    pub retr_interval: Duration,
    pub fr: Option<TimerId>,
    pub cancel: CancelState,
    pub bflags: u32,
    /// The next targets DNS gave for this branch (RFC 3263 §4.3): tried in order when the current
    /// one does not answer at all before the final-response timer fires.
    pub alternates: Vec<Destination>,
}

impl UacBranch {
    pub fn stop_timers(&mut self, t: &Timer) {
        if let Some(id) = self.retr.take() {
            t.cancel(id);
        }
        if let Some(id) = self.fr.take() {
            t.cancel(id);
        }
    }

    pub fn stop_retransmissions(&mut self, t: &Timer) {
        if let Some(id) = self.retr.take() {
            t.cancel(id);
        }
    }

    pub fn is_final(&self) -> bool {
        self.status >= 200
    }
}

/// Where and what one branch is.
#[derive(Debug, Clone, Default)]
pub struct BranchSpec {
    pub uri: String,
    pub dst_uri: Option<String>,
    pub path: Option<String>,
    pub socket: Option<SocketId>,
    /// `t_relay(proto:host:port)`: overrides the URIs as next hop.
    pub proxy: Option<Destination>,
    pub bflags: u32,
    /// The request is osips's own (MI `t_uac_dlg`): its top Via is a placeholder to replace.
    pub local: bool,
    /// Record-Route asked for by the script (rr), written once the outgoing socket is known.
    pub rr: crate::modules::rr::RrState,
}

/// Why a branch was not sent (`t_relay` return codes: -4 bad destination, -6 send failure).
#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    #[error("bad destination: {0}")]
    Destination(String),
    #[error("cannot build the request: {0}")]
    Build(String),
    #[error("send failed: {0}")]
    Send(#[from] std::io::Error),
}

impl BranchError {
    pub fn code(&self) -> i32 {
        match self {
            BranchError::Destination(_) => -4,
            BranchError::Build(_) => -2,
            BranchError::Send(_) => -6,
        }
    }
}

/// The next hops of a branch in failover order: the explicit proxy, else `$du` or the
/// Request-URI located per RFC 3263 (NAPTR / SRV / A).
pub fn destinations(spec: &BranchSpec) -> Result<Vec<Destination>, String> {
    let mut all = match &spec.proxy {
        Some(d) => vec![d.clone()],
        None => resolve_all(spec.dst_uri.as_deref().unwrap_or(&spec.uri))?,
    };
    for d in &mut all {
        if d.socket.is_none() {
            d.socket = spec.socket;
        }
    }
    if all.is_empty() {
        return Err("no destination".into());
    }
    Ok(all)
}

/// Builds branch `idx` of `tx` from `base` (the request with the script's edits).
pub fn prepare(
    tx: &Transaction,
    base: &Msg,
    info: &ReceiveInfo,
    spec: &BranchSpec,
    idx: usize,
) -> Result<UacBranch, BranchError> {
    let core = tx
        .shared
        .core()
        .ok_or_else(|| BranchError::Build("the proxy core is not running".into()))?;
    let t = core.transport();
    let mut targets = destinations(spec).map_err(BranchError::Destination)?;
    let mut dest = targets.remove(0);
    let socket = dest
        .socket
        .filter(|&s| t.socket(s).is_some_and(|d| d.proto == dest.proto))
        .or_else(|| t.pick_socket(dest.proto, dest.addr))
        .ok_or_else(|| BranchError::Destination(format!("no {} socket", dest.proto.name())))?;
    dest.socket = Some(socket);
    // Failover targets leave from the same socket, so the request (our Via) stays as it is.
    let alternates = targets
        .into_iter()
        .filter(|d| d.proto == dest.proto)
        .map(|d| Destination {
            socket: Some(socket),
            ..d
        })
        .collect();
    let build = |e: crate::sip::EditError| BranchError::Build(e.to_string());
    let mut msg = base.clone();
    if msg.ruri() != spec.uri.as_bytes() {
        msg.set_ruri(spec.uri.as_bytes()).map_err(build)?;
    }
    let prefix = t
        .via_prefix(socket)
        .ok_or_else(|| BranchError::Destination("no socket".into()))?;
    let via = format!("{prefix}{}", branch_value(tx.id, idx));
    if spec.local {
        // A request osips originates: its placeholder top Via becomes ours.
        let at = msg
            .headers()
            .position(|h| h.is_named("Via"))
            .ok_or_else(|| BranchError::Build("no Via".into()))?;
        msg.replace_header_value(at, via.as_bytes())
            .map_err(build)?;
    } else {
        let received = match msg.via1() {
            Ok(top) => ReceivedEdit::new(&msg, &top, info),
            Err(_) => return Err(BranchError::Build("no top Via".into())),
        };
        if let Some(r) = received {
            r.apply(&mut msg).map_err(build)?;
        }
        decrement_max_forwards(&mut msg).map_err(build)?;
    }
    if let Some(p) = &spec.path {
        msg.add_header_first("Route", p.as_bytes()).map_err(build)?;
    }
    if !spec.local {
        msg.add_via(via.as_bytes()).map_err(build)?;
    }
    // The Record-Route names the socket the branch leaves on, known only here.
    crate::modules::rr::finish(&spec.rr, info, &mut msg, t, socket).map_err(build)?;
    Ok(UacBranch {
        uri: spec.uri.clone(),
        dest,
        request: msg.to_bytes(),
        via,
        status: 0,
        local: false,
        reply: None,
        retr: None,
        retr_interval: Duration::ZERO,
        fr: None,
        cancel: CancelState::No,
        bflags: spec.bflags,
        alternates,
    })
}

/// Sends branch `idx` (already in `st.branches`) and starts its timers.
pub fn start(tx: &Arc<Transaction>, st: &mut TxState, idx: usize) -> Result<(), BranchError> {
    let fr = st.fr_timeout;
    let t1 = tx.cfg.t1;
    let b = &mut st.branches[idx];
    tx.send(&b.dest, b.request.clone())?;
    tx.shared.core_stats.fwd_requests.inc();
    if b.dest.proto == Proto::Udp {
        b.retr_interval = t1;
        b.retr = Some(tx.after(t1, move |tx| retransmit(tx, idx)));
    }
    b.fr = Some(tx.after(fr, move |tx| fr_expired(tx, idx)));
    Ok(())
}

/// Timer A (INVITE: doubling, until a provisional) / Timer E (others: doubling up to T2).
fn retransmit(tx: &Arc<Transaction>, idx: usize) {
    let mut st = tx.state.lock();
    if st.deleted {
        return;
    }
    let t2 = tx.cfg.t2;
    let Some(b) = st.branches.get_mut(idx) else {
        return;
    };
    b.retr = None;
    if b.is_final() || (tx.is_invite && b.status >= 100) || b.cancel != CancelState::No {
        return;
    }
    let _ = tx.send(&b.dest, b.request.clone());
    if let Some(tm) = super::tm_if_started() {
        tm.stats.retransmissions.inc();
    }
    b.retr_interval = if tx.is_invite {
        b.retr_interval * 2
    } else if b.status >= 100 {
        t2
    } else {
        (b.retr_interval * 2).min(t2)
    };
    let next = b.retr_interval;
    b.retr = Some(tx.after(next, move |tx| retransmit(tx, idx)));
}

/// Timer B / F, or `fr_inv_timeout` after a provisional: the branch ends with a local 408.
fn fr_expired(tx: &Arc<Transaction>, idx: usize) {
    {
        let mut st = tx.state.lock();
        if st.deleted {
            return;
        }
        let cancelled = st.cancelled;
        let Some(b) = st.branches.get_mut(idx) else {
            return;
        };
        b.fr = None;
        if b.is_final() {
            return;
        }
        b.stop_retransmissions(crate::timer::global());
        // Nothing at all came back: the next DNS target, with the timers started again.
        if b.status == 0 && !b.alternates.is_empty() && !cancelled {
            let next = b.alternates.remove(0);
            tracing::info!(
                "tm: no answer from {}, failing over to {}",
                b.dest.addr,
                next.addr
            );
            b.dest = next;
            if let Err(e) = start(tx, &mut st, idx) {
                tracing::warn!("tm: failover send failed: {e}");
            } else {
                return;
            }
            let Some(b) = st.branches.get_mut(idx) else {
                return;
            };
            b.stop_timers(crate::timer::global());
        }
        let Some(b) = st.branches.get_mut(idx) else {
            return;
        };
        let provisional = b.status >= 100;
        b.status = 408;
        b.local = true;
        if provisional && b.cancel == CancelState::No {
            send_cancel(tx, b, idx);
        }
        if let Some(tm) = super::tm_if_started() {
            tm.stats.timeouts.inc();
        }
    }
    // The failure route may take its time (database, DNS): not on the timer thread.
    let tx = tx.clone();
    defer(Box::new(move || super::reply::check_final(&tx)));
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the one thread that handles timeouts (`tm-timeout`), in order.
pub(super) fn defer(job: Job) {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    let q = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tm-timeout".into())
            .spawn(move || {
                for job in rx {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("tm: a timeout handler panicked");
                    }
                }
            })
            .expect("the tm timeout thread starts");
        tx
    });
    if let Err(e) = q.send(job) {
        (e.0)();
    }
}

/// (Re)starts the final-response timer of a branch.
pub fn restart_fr(tx: &Arc<Transaction>, b: &mut UacBranch, idx: usize, d: Duration) {
    if let Some(id) = b.fr.take() {
        crate::timer::global().cancel(id);
    }
    b.fr = Some(tx.after(d, move |tx| fr_expired(tx, idx)));
}

/// Cancels a pending branch: CANCEL when it answered provisionally, else it ends here with a
/// local 487 and the CANCEL waits for a provisional. True when the branch became final.
pub fn cancel_branch(tx: &Arc<Transaction>, b: &mut UacBranch, idx: usize) -> bool {
    if b.is_final() || b.cancel != CancelState::No {
        return false;
    }
    let t = crate::timer::global();
    b.stop_retransmissions(t);
    if b.status >= 100 {
        send_cancel(tx, b, idx);
        false
    } else {
        b.cancel = CancelState::Pending;
        b.stop_timers(t);
        b.status = 487;
        b.local = true;
        true
    }
}

/// Sends the CANCEL of a branch (RFC 3261 §9.1: same Request-URI, Call-ID, From, To, CSeq
/// number and top Via as the request); over UDP it is retransmitted (Timer E) until its reply
/// comes, for at most 64 × T1 (Timer F).
pub fn send_cancel(tx: &Arc<Transaction>, b: &mut UacBranch, idx: usize) {
    b.cancel = CancelState::Sent;
    let Ok(req) = Msg::parse(b.request.clone()) else {
        return;
    };
    let to = req.header(HdrId::To).unwrap_or_default().to_vec();
    let extra = tx.cancel_hdrs.lock().lines();
    let Some(out) = hop_request(&req, &b.via, "CANCEL", &to, &extra) else {
        return;
    };
    let _ = tx.send(&b.dest, out.clone());
    if b.dest.proto == Proto::Udp {
        let t1 = tx.cfg.t1;
        tx.after(t1, move |tx| retransmit_cancel(tx, idx, out, t1, t1));
    }
}

fn retransmit_cancel(
    tx: &Arc<Transaction>,
    idx: usize,
    out: Bytes,
    interval: Duration,
    spent: Duration,
) {
    let st = tx.state.lock();
    let Some(b) = st.branches.get(idx) else {
        return;
    };
    if st.deleted || b.cancel != CancelState::Sent || spent >= tx.cfg.t1x64() {
        return;
    }
    let _ = tx.send(&b.dest, out.clone());
    let next = (interval * 2).min(tx.cfg.t2);
    tx.after(next, move |tx| {
        retransmit_cancel(tx, idx, out, next, spent + next)
    });
}

/// Sends the ACK for a non-2xx final reply on a branch (RFC 3261 §17.1.1.3).
pub fn send_ack(tx: &Transaction, b: &UacBranch, reply: &Msg) {
    let Ok(req) = Msg::parse(b.request.clone()) else {
        return;
    };
    let to = reply.header(HdrId::To).unwrap_or_default();
    let added = tx.cancel_hdrs.lock().added.clone();
    if let Some(out) = hop_request(&req, &b.via, "ACK", to, &added) {
        let _ = tx.send(&b.dest, out);
    }
}

/// An ACK or CANCEL for `req`: its Request-URI, our Via, its Route set, From, Call-ID and CSeq
/// number, with the given To and `extra` header lines (each ending in CRLF).
pub fn hop_request(req: &Msg, via: &str, method: &str, to: &[u8], extra: &[u8]) -> Option<Bytes> {
    let mut out = format!(
        "{method} {} SIP/2.0\r\n",
        String::from_utf8_lossy(req.ruri())
    )
    .into_bytes();
    let mut line = |name: &str, v: &[u8]| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    };
    line("Via", via.as_bytes());
    for r in req.headers_of(HdrId::Route) {
        line("Route", r);
    }
    line("From", req.header(HdrId::From)?);
    line("To", to);
    line("Call-ID", req.call_id());
    line("CSeq", format!("{} {method}", req.cseq().num).as_bytes());
    line("Max-Forwards", b"70");
    out.extend_from_slice(extra);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_and_cancel_copy_the_transaction_fields() {
        let raw = "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtm0000000000000001.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKa\r\n\
            Route: <sip:127.0.0.9;lr>\r\nMax-Forwards: 69\r\n\
            From: <sip:alice@h>;tag=f1\r\nTo: <sip:bob@h>\r\nCall-ID: cid1\r\n\
            CSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n";
        let req = Msg::parse(Bytes::from(raw)).unwrap();
        let via = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtm0000000000000001.0";
        let ack = hop_request(&req, via, "ACK", b"<sip:bob@h>;tag=t9", b"").unwrap();
        let m = Msg::parse(ack).unwrap();
        assert_eq!(m.method(), crate::sip::Method::Ack);
        assert_eq!(m.ruri(), b"sip:bob@127.0.0.1:5080");
        assert_eq!(m.vias().count(), 1);
        assert_eq!(m.via1().unwrap().raw, via.as_bytes());
        assert_eq!(m.cseq().num, 4);
        assert_eq!(m.cseq().method, crate::sip::Method::Ack);
        assert_eq!(m.to_tag(), Some(&b"t9"[..]));
        assert_eq!(m.header(HdrId::Route), Some(&b"<sip:127.0.0.9;lr>"[..]));
        let cancel = hop_request(
            &req,
            via,
            "CANCEL",
            b"<sip:bob@h>",
            b"Reason: SIP;cause=200\r\n",
        )
        .unwrap();
        let c = Msg::parse(cancel).unwrap();
        assert_eq!(c.cseq().method, crate::sip::Method::Cancel);
        assert_eq!(c.to_tag(), None);
        assert_eq!(c.call_id(), b"cid1");
        assert_eq!(c.header_by_name("Reason"), Some(&b"SIP;cause=200"[..]));
    }
}
