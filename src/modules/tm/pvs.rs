//! `$T_reply_code`, `$T_branch_idx`, `$T_ruri`, `$T_id`, `$T_fr_timeout`, `$T_fr_inv_timeout`.

use std::time::Duration;

use crate::runtime::core_fns::sip;
use crate::script::pv::PvSpec;
use crate::script::{PvExport, RunCtx, Value};

use super::ctx;

fn int(v: u64) -> Value {
    Value::StrInt(v.to_string().into(), v as i32)
}

fn reply_code(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    super::funcs::reply_code(m).map(|c| int(c as u64))
}

fn branch_idx(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    Some(Value::Int(
        ctx::get(m).and_then(|c| c.branch).unwrap_or(0) as i32
    ))
}

fn t_ruri(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    let tx = ctx::get(m)?.tx.clone()?;
    let r = tx.state.lock().ruri.clone();
    Some(Value::str(r))
}

fn t_id(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    let tx = ctx::get(m)?.tx.clone()?;
    Some(Value::str(super::mi::trans_id(tx.id)))
}

fn timeout(ctx: &mut RunCtx<'_>, inv: bool) -> Option<Value> {
    let m = sip(ctx)?;
    let cfg = super::config::of(m.shared.script());
    let c = ctx::get(m);
    let d = match c.and_then(|c| c.tx.clone()) {
        Some(tx) => {
            let st = tx.state.lock();
            if inv {
                st.fr_inv_timeout
            } else {
                st.fr_timeout
            }
        }
        None => {
            let set = c.and_then(|c| if inv { c.fr_inv_timeout } else { c.fr_timeout });
            set.unwrap_or(if inv {
                cfg.fr_inv_timeout
            } else {
                cfg.fr_timeout
            })
        }
    };
    Some(int(d.as_secs()))
}

fn set_timeout(ctx: &mut RunCtx<'_>, v: &Value, inv: bool) -> Result<(), String> {
    let m = sip(ctx).ok_or("no SIP message in this route")?;
    let secs = v
        .as_int()
        .filter(|&s| s > 0)
        .ok_or("a timeout is a positive number of seconds")?;
    let d = Duration::from_secs(secs as u64);
    let c = ctx::of(m);
    if inv {
        c.fr_inv_timeout = Some(d);
    } else {
        c.fr_timeout = Some(d);
    }
    if let Some(tx) = &c.tx {
        let mut st = tx.state.lock();
        if inv {
            st.fr_inv_timeout = d;
        } else {
            st.fr_timeout = d;
        }
    }
    Ok(())
}

fn fr_get(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    timeout(ctx, false)
}
fn fr_set(ctx: &mut RunCtx<'_>, _: &PvSpec, v: &Value) -> Result<(), String> {
    set_timeout(ctx, v, false)
}
fn fr_inv_get(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    timeout(ctx, true)
}
fn fr_inv_set(ctx: &mut RunCtx<'_>, _: &PvSpec, v: &Value) -> Result<(), String> {
    set_timeout(ctx, v, true)
}

pub static PVS: [PvExport; 6] = [
    PvExport::read("T_id", false, t_id),
    PvExport::read("T_reply_code", false, reply_code),
    PvExport::read("T_branch_idx", false, branch_idx),
    PvExport::read("T_ruri", false, t_ruri),
    PvExport::read_write("T_fr_timeout", false, fr_get, fr_set),
    PvExport::read_write("T_fr_inv_timeout", false, fr_inv_get, fr_inv_set),
];
