//! Script side of dialog: `create_dialog`, `match_dialog`, profiles, dialog values and the
//! `$DLG_*` / `$dlg_val` variables.

use std::time::{Duration, SystemTime};

use crate::runtime::SipCtx;
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::pv::PvSpec;
use crate::script::{ArgValue, RunCtx, Value};
use crate::sip::Method;

use super::dialogs;
use super::dlg::{Dialog, DlgRef, State};
use super::track::{self, DlgLink};

fn arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_flags(flags: &str) -> Result<(), String> {
    match flags
        .chars()
        .find(|c| !"BPpRrE".contains(*c) && !c.is_whitespace())
    {
        Some(c) => Err(format!("unknown flag `{c}` (B, P, p, R, r, E)")),
        None => Ok(()),
    }
}

fn new_dialog(m: &mut SipCtx, flags: &str) -> Result<(), String> {
    let dm = dialogs().ok_or("the dialog module is not initialised")?;
    let msg = &m.msg;
    if msg.method() != Method::Invite {
        return Err("only an initial INVITE makes a dialog".into());
    }
    let from = msg.from().map_err(|e| format!("From: {e}"))?;
    let from_tag = from.tag().map(text).ok_or("the From has no tag")?;
    let to = msg.to().map_err(|e| format!("To: {e}"))?;
    if to.tag().is_some() {
        return Err("the INVITE is inside a dialog (To tag)".into());
    }
    let callid = text(msg.call_id());
    let caller_contact = msg
        .contact()
        .and_then(|c| c.ok())
        .and_then(|c| c.addr().map(|a| text(a.uri.raw)))
        .unwrap_or_default();
    let caller_route_set = msg
        .record_routes()
        .filter_map(|r| r.ok().map(|a| text(a.raw)))
        .collect();
    let caller_cseq = msg.cseq().num;
    let d = Dialog {
        id: dm.table.new_id(&callid),
        state: State::Unconfirmed,
        callid,
        from_uri: text(from.uri.raw),
        from_tag,
        to_uri: text(to.uri.raw),
        to_tag: String::new(),
        caller_contact,
        callee_contact: String::new(),
        caller_route_set,
        callee_route_set: Vec::new(),
        caller_cseq,
        callee_cseq: 0,
        created: SystemTime::now(),
        start: None,
        timeout: dm.default_timeout,
        timer: None,
        flags: flags.to_string(),
        vals: Vec::new(),
        profiles: Vec::new(),
        cdr: None,
        dirty: false,
    };
    let id = d.id;
    // The cookie sequential requests bring back in their Route (OpenSIPS's `did`).
    m.rr.params
        .push_str(&format!(";{}={}", dm.rr_param, super::dlg::did(id)));
    let r = dm.table.insert(d);
    let mut g = r.lock();
    // Counted as new: the state it starts in.
    g.state = State::Deleted;
    super::stats::transition(&mut g, State::Unconfirmed, None);
    track::arm_setup_guard(&r, &mut g);
    drop(g);
    track::set_link(
        m,
        DlgLink {
            id,
            initial: true,
            upstream: false,
        },
    );
    Ok(())
}

/// `create_dialog([flags])`: 1 when made (or already made in this run).
pub fn create_dialog(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let flags = arg(args, 0).unwrap_or("").to_string();
    if let Err(e) = check_flags(&flags) {
        tracing::error!("create_dialog: {e}");
        return -1;
    }
    let Some(m) = sip(ctx) else { return -1 };
    if track::link_of(m).is_some() {
        return 1;
    }
    match new_dialog(m, &flags) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("create_dialog: {e}");
            -1
        }
    }
}

/// `match_dialog()`: attaches an in-dialog request to its dialog; -1 when there is none.
pub fn match_dialog(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    if track::link_of(m).is_some() {
        return 1;
    }
    let Some((d, upstream)) = track::find_for(m) else {
        return -1;
    };
    let id = d.lock().id;
    track::set_link(
        m,
        DlgLink {
            id,
            initial: false,
            upstream,
        },
    );
    1
}

/// The run's dialog, or an error logged under `func`.
fn dialog_of(ctx: &mut RunCtx<'_>, func: &str) -> Option<DlgRef> {
    let m = sip(ctx)?;
    match track::current(m) {
        Some((d, _)) => Some(d),
        None => {
            tracing::error!("{func}: no dialog for this message (create_dialog / match_dialog)");
            None
        }
    }
}

/// Profile name and value checked against the modparams.
fn profile_args(
    args: &[ArgValue<'_>],
    func: &str,
    need_value_match: bool,
) -> Option<(String, Option<String>)> {
    let name = arg(args, 0).unwrap_or("").to_string();
    let value = arg(args, 1).map(str::to_string);
    let kinds = dialogs()?.profiles.clone();
    match kinds.kind(&name) {
        None => {
            tracing::error!(
                "{func}: `{name}` is not a profile (profiles_with_value / profiles_no_value)"
            );
            None
        }
        Some(false) if value.is_some() => {
            tracing::error!("{func}: profile `{name}` takes no value");
            None
        }
        Some(true) if value.is_none() && need_value_match => {
            tracing::error!("{func}: profile `{name}` needs a value");
            None
        }
        _ => Some((name, value)),
    }
}

pub fn set_dlg_profile(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, value)) = profile_args(args, "set_dlg_profile", true) else {
        return -1;
    };
    let clear = args.get(2).and_then(ArgValue::int).unwrap_or(0) != 0;
    let Some(d) = dialog_of(ctx, "set_dlg_profile") else {
        return -1;
    };
    let mut g = d.lock();
    if clear {
        g.profiles.retain(|(p, _)| *p != name);
    }
    if !g.profiles.iter().any(|(p, v)| *p == name && *v == value) {
        g.profiles.push((name, value));
    }
    super::persist(&mut g);
    1
}

pub fn unset_dlg_profile(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, value)) = profile_args(args, "unset_dlg_profile", false) else {
        return -1;
    };
    let Some(d) = dialog_of(ctx, "unset_dlg_profile") else {
        return -1;
    };
    let mut g = d.lock();
    let before = g.profiles.len();
    g.profiles
        .retain(|(p, v)| !(*p == name && (value.is_none() || *v == value)));
    super::persist(&mut g);
    if g.profiles.len() < before { 1 } else { -1 }
}

pub fn is_in_profile(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, value)) = profile_args(args, "is_in_profile", false) else {
        return -1;
    };
    let Some(m) = sip(ctx) else { return -1 };
    let Some((d, _)) = track::current(m) else {
        return -1;
    };
    if d.lock().in_profile(&name, value.as_deref()) {
        1
    } else {
        -1
    }
}

pub fn get_profile_size(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, value)) = profile_args(args, "get_profile_size", false) else {
        return -1;
    };
    let Some(ArgValue::Var(out)) = args.get(2) else {
        return -1;
    };
    let Some(dm) = dialogs() else { return -1 };
    let n = dm.table.profile_size(&name, value.as_deref());
    match ctx.set_pv(out, AssignOp::Set, Value::Int(n as i32)) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("get_profile_size: {e}");
            -1
        }
    }
}

pub fn store_dlg_value(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let name = arg(args, 0).unwrap_or("").to_string();
    let value = arg(args, 1).unwrap_or("").to_string();
    let Some(d) = dialog_of(ctx, "store_dlg_value") else {
        return -1;
    };
    let mut g = d.lock();
    g.set_val(&name, value);
    super::persist(&mut g);
    1
}

pub fn fetch_dlg_value(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let name = arg(args, 0).unwrap_or("").to_string();
    let Some(ArgValue::Var(out)) = args.get(1) else {
        return -1;
    };
    let Some(d) = dialog_of(ctx, "fetch_dlg_value") else {
        return -1;
    };
    let Some(v) = d.lock().val(&name).map(str::to_string) else {
        return -1;
    };
    match ctx.set_pv(out, AssignOp::Set, Value::str(v)) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("fetch_dlg_value: {e}");
            -1
        }
    }
}

fn with_current<T>(ctx: &mut RunCtx<'_>, f: impl FnOnce(&Dialog, DlgLink) -> T) -> Option<T> {
    let m = sip(ctx)?;
    let (d, link) = track::current(m)?;
    let g = d.lock();
    Some(f(&g, link))
}

pub fn pv_status(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    with_current(ctx, |d, _| Value::Int(d.state as i32))
}

pub fn pv_lifetime(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    with_current(ctx, |d, _| {
        let since = d.start.unwrap_or(d.created);
        let secs = SystemTime::now()
            .duration_since(since)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        Value::Int(secs as i32)
    })
}

pub fn pv_dir(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    with_current(ctx, |_, l| {
        Value::Str(if l.upstream { "upstream" } else { "downstream" }.into())
    })
}

pub fn pv_did(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    with_current(ctx, |d, _| {
        Value::str(format!("{}:{}", d.h_entry(), d.h_id()))
    })
}

pub fn pv_count(_ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let dm = dialogs()?;
    let n = dm
        .table
        .all()
        .iter()
        .filter(|d| d.lock().state != State::Deleted)
        .count();
    Some(Value::Int(n as i32))
}

pub fn pv_timeout(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    with_current(ctx, |d, _| Value::Int(d.timeout.as_secs() as i32))
}

pub fn set_timeout(ctx: &mut RunCtx<'_>, _: &PvSpec, v: &Value) -> Result<(), String> {
    let secs = v
        .as_int()
        .filter(|&s| s > 0)
        .ok_or("$DLG_timeout is a positive number of seconds")?;
    let m = sip(ctx).ok_or("no SIP message in this route")?;
    let (d, _) = track::current(m).ok_or("no dialog for this message")?;
    let mut g = d.lock();
    g.timeout = Duration::from_secs(secs as u64);
    // A confirmed call counts its new lifetime from now, as OpenSIPS.
    if g.state == State::Confirmed {
        track::arm_timeout(&d, &mut g);
    }
    super::persist(&mut g);
    Ok(())
}

pub fn pv_val(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Option<Value> {
    let name = ctx.inner_name(spec).ok()?.into_owned();
    with_current(ctx, |d, _| {
        d.val(&name)
            .map(|v| Value::str(v.to_string()))
            .unwrap_or(Value::Null)
    })
}

pub fn set_val(ctx: &mut RunCtx<'_>, spec: &PvSpec, v: &Value) -> Result<(), String> {
    let name = ctx
        .inner_name(spec)
        .map_err(|e| e.to_string())?
        .into_owned();
    let m = sip(ctx).ok_or("no SIP message in this route")?;
    let (d, _) = track::current(m).ok_or("no dialog for this message")?;
    let value = v.as_str().map(|s| s.into_owned()).unwrap_or_default();
    let mut g = d.lock();
    g.set_val(&name, value);
    super::persist(&mut g);
    Ok(())
}

/// `validate_dialog()`: an in-dialog request belongs to a known dialog and its CSeq is not older
/// than the last one seen from the same side (ACK and CANCEL may repeat it). OpenSIPS's codes:
/// -1 bad CSeq, -4 no dialog. The route set and remote target are not compared.
pub fn validate_dialog(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    if match_dialog(ctx, args) < 0 {
        return -4;
    }
    let Some(m) = sip(ctx) else { return -4 };
    let Some((d, link)) = track::current(m) else {
        return -4;
    };
    let cseq = m.msg.cseq().num;
    let repeat_ok = matches!(m.msg.method(), Method::Ack | Method::Cancel);
    let mut g = d.lock();
    let last = if link.upstream {
        &mut g.callee_cseq
    } else {
        &mut g.caller_cseq
    };
    if cseq < *last || (cseq == *last && !repeat_ok) {
        tracing::warn!(
            "validate_dialog: CSeq {cseq} is not after {last}",
            last = *last
        );
        return -1;
    }
    *last = cseq;
    g.dirty = true;
    1
}

#[cfg(test)]
mod tests {
    use super::check_flags;

    #[test]
    fn create_flags() {
        assert!(check_flags("BPr").is_ok());
        assert!(check_flags("X").unwrap_err().contains("`X`"));
    }
}
