//! What tm tells the dialog module: the replies of the initial INVITE move the state, a BYE
//! relayed statefully ends the call; and acc's `cdr` mark waits on the dialog until then.

use std::time::{Duration, SystemTime};

use crate::modules::acc::mark::AccMark;
use crate::modules::acc::report::{Cdr, Kind, Record};
use crate::modules::tm::{self, TxData, TxInfo};
use crate::runtime::SipCtx;
use crate::sip::{Method, Msg};

use super::dialogs;
use super::dlg::{CdrAcc, Dialog, DlgRef, End, MatchMode, State, parse_did};

pub const KEY: &str = "dialog";

/// The dialog a transaction (or a script run) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlgLink {
    pub id: u64,
    /// The initial INVITE (its replies drive the state).
    pub initial: bool,
    /// From the callee towards the caller.
    pub upstream: bool,
}

/// The run's dialog link, if any.
pub fn link_of(m: &mut SipCtx) -> Option<DlgLink> {
    tm::with_data(m, KEY, |s| {
        s.as_ref()
            .and_then(|d| d.downcast_ref::<DlgLink>())
            .copied()
    })
}

pub fn set_link(m: &mut SipCtx, link: DlgLink) {
    tm::with_data(m, KEY, |s| *s = Some(Box::new(link)));
}

/// The run's dialog.
pub fn current(m: &mut SipCtx) -> Option<(DlgRef, DlgLink)> {
    let link = link_of(m)?;
    let d = dialogs()?.table.get(link.id)?;
    Some((d, link))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tag(m: &Msg, from: bool) -> Option<String> {
    let h = if from { m.from() } else { m.to() };
    h.ok().and_then(|n| n.tag().map(text))
}

fn contact(m: &Msg) -> String {
    m.contact()
        .and_then(|c| c.ok())
        .and_then(|c| c.addr().map(|a| text(a.uri.raw)))
        .unwrap_or_default()
}

/// The value of parameter `name` in our Route entry's parameters (`a=b;c`, no leading `;`).
pub fn route_param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Finds the dialog of an in-dialog request: by the `did` cookie of the Route entry
/// `loose_route()` consumed, and/or by Call-ID and tags, as `dlg_match_mode` says.
pub fn find_for(m: &SipCtx) -> Option<(DlgRef, bool)> {
    let dm = dialogs()?;
    let msg = &m.msg;
    let from_tag = tag(msg, true)?;
    let to_tag = tag(msg, false)?;
    let callid = text(msg.call_id());
    if dm.match_mode != MatchMode::DidNone {
        let cookie =
            m.rr.route_params
                .as_deref()
                .and_then(|p| route_param(p, &dm.rr_param));
        if let Some(c) = cookie {
            // A cookie that names no dialog of this call is a mismatch, not a reason to guess.
            return parse_did(c)
                .and_then(|id| dm.table.find_by_id(id, &callid, &from_tag, Some(&to_tag)));
        }
        if dm.match_mode == MatchMode::DidOnly {
            return None;
        }
    }
    dm.table.find(&callid, &from_tag, Some(&to_tag))
}

/// tm: a new transaction. In-dialog requests get their dialog; a BYE ends it.
pub fn on_request(m: &mut SipCtx) {
    if dialogs().is_none() || !m.msg.is_request() {
        return;
    }
    let link = match link_of(m) {
        Some(l) => l,
        None => {
            let Some((d, upstream)) = find_for(m) else {
                return;
            };
            let link = DlgLink {
                id: d.lock().id,
                initial: false,
                upstream,
            };
            set_link(m, link);
            link
        }
    };
    if !link.initial
        && let Some(d) = dialogs().and_then(|t| t.table.get(link.id))
    {
        let n = m.msg.cseq().num;
        let mut g = d.lock();
        let seen = if link.upstream {
            &mut g.callee_cseq
        } else {
            &mut g.caller_cseq
        };
        *seen = (*seen).max(n);
    }
    if !link.initial
        && m.msg.method() == Method::Bye
        && let Some(d) = dialogs().and_then(|t| t.table.get(link.id))
    {
        end(&d, End::Bye);
    }
}

/// tm: a provisional reply of the initial INVITE went upstream.
pub fn on_provisional(reply: &Msg, _code: u16, data: &TxData) {
    let Some(link) = data.downcast_ref::<DlgLink>().filter(|l| l.initial) else {
        return;
    };
    let Some(d) = dialogs().and_then(|t| t.table.get(link.id)) else {
        return;
    };
    let mut g = d.lock();
    if g.state == State::Unconfirmed
        && let Some(t) = tag(reply, false)
    {
        super::stats::transition(&mut g, State::Early, None);
        g.to_tag = t;
        g.callee_contact = contact(reply);
    }
}

/// tm: the initial INVITE's final reply went upstream: confirmed (timeout armed) or failed.
pub fn on_final(info: &TxInfo<'_>, data: TxData) {
    let Ok(link) = data.downcast::<DlgLink>() else {
        return;
    };
    if !link.initial {
        return;
    }
    let Some(dm) = dialogs() else { return };
    let Some(d) = dm.table.get(link.id) else {
        return;
    };
    if info.code >= 300 {
        end(&d, End::Failed);
        return;
    }
    let mut g = d.lock();
    if g.state == State::Deleted {
        return;
    }
    super::stats::transition(&mut g, State::Confirmed, None);
    g.start = Some(info.finished);
    if let Some(r) = info.reply {
        if let Some(t) = tag(r, false) {
            g.to_tag = t;
        }
        g.callee_contact = contact(r);
        g.callee_route_set = callee_route_set(&info.tx.shared, info.request, r);
    }
    arm_timeout(&d, &mut g);
    super::persist(&mut g);
}

/// The Record-Route entries of the 2xx put there by hops between us and the callee (those
/// before ours), nearest first.
fn callee_route_set(shared: &crate::runtime::Shared, req: &Msg, rpl: &Msg) -> Vec<String> {
    let upstream = req.record_routes().count();
    let all: Vec<(String, bool)> = rpl
        .record_routes()
        .filter_map(|r| r.ok())
        .map(|a| {
            let port = a.uri.port;
            let host = text(a.uri.host);
            (text(a.raw), shared.is_myself(&host, port))
        })
        .collect();
    let below = all.len().saturating_sub(upstream);
    let mut set: Vec<String> = all[..below]
        .iter()
        .filter(|(_, mine)| !mine)
        .map(|(v, _)| v.clone())
        .collect();
    set.reverse();
    set
}

/// Longest a call may take to be answered before its dialog is dropped (tm's
/// `fr_inv_timeout` normally ends the INVITE well before); also drops dialogs whose INVITE was
/// never relayed statefully.
const SETUP_GUARD: Duration = Duration::from_secs(300);

/// Arms the guard of a dialog not answered yet.
pub fn arm_setup_guard(d: &DlgRef, g: &mut Dialog) {
    let weak = std::sync::Arc::downgrade(d);
    g.timer = Some(crate::timer::global().schedule(
        SETUP_GUARD,
        Box::new(move || {
            if let Some(d) = weak.upgrade() {
                let pending = matches!(d.lock().state, State::Unconfirmed | State::Early);
                if pending {
                    end(&d, End::Failed);
                }
            }
        }),
    ));
}

/// (Re)arms the dialog's lifetime timer from now.
pub fn arm_timeout(d: &DlgRef, g: &mut super::dlg::Dialog) {
    let t = crate::timer::global();
    if let Some(old) = g.timer.take() {
        t.cancel(old);
    }
    let weak = std::sync::Arc::downgrade(d);
    g.timer = Some(t.schedule(
        g.timeout,
        Box::new(move || {
            if let Some(d) = weak.upgrade() {
                end(&d, End::Timeout);
            }
        }),
    ));
}

/// Ends a dialog: deleted, out of the table, acc's call record written. Ended from MI, or by
/// its timeout with create_dialog's `B` flag, a confirmed call gets a BYE on both sides.
pub fn end(d: &DlgRef, why: End) {
    let (id, cdr) = {
        let mut g = d.lock();
        if g.state == State::Deleted {
            return;
        }
        let bye = why == End::Mi || (why == End::Timeout && g.flags.contains('B'));
        if bye && g.state == State::Confirmed {
            send_byes(&g);
        }
        super::stats::transition(&mut g, State::Deleted, Some(why));
        if let Some(t) = g.timer.take() {
            crate::timer::global().cancel(t);
        }
        let cdr = g.cdr.take().zip(g.start).map(|(acc, start)| {
            let ms = SystemTime::now()
                .duration_since(start)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64;
            (acc, start, g.created, ms)
        });
        (g.id, cdr)
    };
    tracing::debug!("dialog {id}: ended ({why:?})");
    if let Some(dm) = dialogs() {
        dm.table.remove(id);
    }
    super::forget(id);
    if let Some((acc, start, created, ms)) = cdr {
        let mut r = acc.record;
        r.kind = Kind::CallEnded;
        r.cdr = Some(Cdr {
            created,
            start,
            ms_duration: ms,
        });
        crate::modules::acc::report_call(&acc.mark, &r);
    }
}

/// A BYE from osips to one side of the call.
pub fn bye_text(g: &Dialog, to_callee: bool) -> (String, String, Option<String>) {
    let (ruri, routes, from, ftag, to, ttag, cseq) = if to_callee {
        (
            &g.callee_contact,
            &g.callee_route_set,
            &g.from_uri,
            &g.from_tag,
            &g.to_uri,
            &g.to_tag,
            g.caller_cseq + 1,
        )
    } else {
        (
            &g.caller_contact,
            &g.caller_route_set,
            &g.to_uri,
            &g.to_tag,
            &g.from_uri,
            &g.from_tag,
            g.callee_cseq + 1,
        )
    };
    let mut headers = format!(
        "From: <{from}>;tag={ftag}\r\nTo: <{to}>;tag={ttag}\r\nCall-ID: {}\r\nCSeq: {cseq} BYE\r\n",
        g.callid
    );
    for r in routes {
        headers.push_str(&format!("Route: {r}\r\n"));
    }
    let dst = routes.first().and_then(|r| {
        let inner = r.trim().trim_start_matches('<');
        inner.split('>').next().map(str::to_string)
    });
    let text = tm::mi::build_uac_request("BYE", ruri, &headers, None);
    (text, ruri.clone(), dst)
}

fn send_byes(g: &Dialog) {
    let Some(shared) = crate::runtime::global_shared() else {
        return;
    };
    for to_callee in [true, false] {
        let (text, ruri, dst) = bye_text(g, to_callee);
        if ruri.is_empty() {
            continue;
        }
        let id = g.id;
        let done = Box::new(move |code: u16, _| {
            tracing::debug!("dialog {id}: BYE answered {code}");
        });
        if let Err(e) = tm::send_request(&shared, text, &ruri, dst, done) {
            tracing::error!("dialog {id}: cannot send BYE to {ruri}: {e}");
        }
    }
}

/// acc: an answered INVITE marked `cdr`: its record waits on the dialog.
pub fn keep_cdr(info: &TxInfo<'_>, mark: &AccMark) -> bool {
    let Some(dm) = dialogs() else { return false };
    let Some(from_tag) = tag(info.request, true) else {
        return false;
    };
    let Some((d, _)) = dm
        .table
        .find(&text(info.request.call_id()), &from_tag, None)
    else {
        return false;
    };
    let record = Record::of(
        Kind::CallEnded,
        info.request,
        info.reply,
        info.code,
        &info.reason,
        info.created,
        mark,
    );
    d.lock().cdr = Some(CdrAcc {
        mark: mark.clone(),
        record,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::route_param;

    #[test]
    fn route_param_by_name() {
        let p = "lr;ftag=ab;did=bd.1;nat=yes";
        assert_eq!(route_param(p, "did"), Some("bd.1"));
        assert_eq!(route_param(p, "DID"), Some("bd.1"));
        assert_eq!(route_param(p, "lr"), Some(""));
        assert_eq!(route_param(p, "di"), None);
        assert_eq!(route_param("", "did"), None);
    }
}
