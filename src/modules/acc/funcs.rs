//! Script side of acc: `do_accounting`, `drop_accounting`, the immediate `acc_*_request`
//! functions and `$acc_extra(tag)`.

use std::time::SystemTime;

use crate::runtime::core_fns::sip;
use crate::script::pv::{PvIndex, PvSpec};
use crate::script::{ArgValue, RunCtx, Value};

use super::mark::{self, AccMark, Types};
use super::report::{self, Kind, Record};

fn arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

pub fn do_accounting(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let types = match mark::parse_types(arg(args, 0).unwrap_or("")) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("do_accounting: {e}");
            return -1;
        }
    };
    let flags = match mark::parse_flags(arg(args, 1).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("do_accounting: {e}");
            return -1;
        }
    };
    let table = arg(args, 2).filter(|t| !t.is_empty()).map(str::to_string);
    let Some(m) = sip(ctx) else {
        tracing::error!("do_accounting: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        tracing::error!("do_accounting: only requests are accounted");
        return -1;
    }
    mark::with_mark(m, |mk| {
        mk.types.log |= types.log;
        mk.types.db |= types.db;
        mk.types.evi |= types.evi;
        mk.flags.cdr |= flags.cdr;
        mk.flags.missed |= flags.missed;
        mk.flags.failed |= flags.failed;
        if table.is_some() {
            mk.table = table;
        }
    });
    1
}

/// `drop_accounting([types[, flags]])`: without arguments every type and flag goes.
pub fn drop_accounting(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let types = match arg(args, 0).filter(|s| !s.is_empty()) {
        None => Types {
            log: true,
            db: true,
            evi: true,
        },
        Some(t) => match mark::parse_types(t) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("drop_accounting: {e}");
                return -1;
            }
        },
    };
    let flags = match arg(args, 1).map(mark::parse_flags).transpose() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("drop_accounting: {e}");
            return -1;
        }
    };
    let Some(m) = sip(ctx) else { return -1 };
    mark::with_mark(m, |mk| match flags {
        Some(f) => {
            mk.flags.cdr &= !f.cdr;
            mk.flags.missed &= !f.missed;
            mk.flags.failed &= !f.failed;
        }
        None => {
            mk.types.log &= !types.log;
            mk.types.db &= !types.db;
            mk.types.evi &= !types.evi;
            if mk.types == Types::default() {
                *mk = AccMark::default();
            }
        }
    });
    1
}

/// "404 Not found" → (404, "Not found"); a comment without a code is reported as 0.
fn comment(text: &str) -> (u16, String) {
    let t = text.trim();
    match t.split_once(' ') {
        Some((c, r)) if c.len() == 3 && c.parse::<u16>().is_ok() => {
            (c.parse().unwrap_or(0), r.trim().to_string())
        }
        _ if t.len() == 3 && t.parse::<u16>().is_ok() => (t.parse().unwrap_or(0), String::new()),
        _ => (0, t.to_string()),
    }
}

/// Reports the current request now, with the comment as code and reason.
fn request_now(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], types: Types, func: &str) -> i32 {
    let Some(acc) = super::acc() else { return -1 };
    let (code, reason) = comment(arg(args, 0).unwrap_or(""));
    let table = arg(args, 1).map(str::to_string);
    let Some(m) = sip(ctx) else { return -1 };
    if !m.msg.is_request() {
        tracing::error!("{func}: only requests are accounted");
        return -1;
    }
    let mut mk = mark::mark_of(m).unwrap_or_default();
    mk.types = types;
    mk.table = table;
    let r = Record::of(
        Kind::Answered,
        &m.msg,
        None,
        code,
        &reason,
        SystemTime::now(),
        &mk,
    );
    if types.db {
        let Some(db) = acc.db.as_ref() else {
            tracing::error!("{func}: modparam db_url is not set");
            return -1;
        };
        let table = mk.table.as_deref().unwrap_or(&acc.cfg.table_acc);
        if let Err(e) = report::insert(db, &acc.cfg, table, &r) {
            tracing::error!("{func}: cannot write to table {table}: {e}");
            return -1;
        }
        return 1;
    }
    report::emit(&acc.cfg, None, &m.shared.events, &mk, &r);
    1
}

pub fn acc_log_request(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let types = Types {
        log: true,
        ..Types::default()
    };
    request_now(ctx, args, types, "acc_log_request")
}

pub fn acc_db_request(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let types = Types {
        db: true,
        ..Types::default()
    };
    request_now(ctx, args, types, "acc_db_request")
}

pub fn acc_evi_request(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let types = Types {
        evi: true,
        ..Types::default()
    };
    request_now(ctx, args, types, "acc_evi_request")
}

fn tag(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Result<String, String> {
    let tag = ctx
        .inner_name(spec)
        .map_err(|e| e.to_string())?
        .into_owned();
    let known = super::acc().is_some_and(|a| a.cfg.extras.knows(&tag));
    if !known {
        return Err(format!(
            "$acc_extra({tag}): `{tag}` is not declared in modparam extra_fields"
        ));
    }
    Ok(tag)
}

pub fn extra_get(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Option<Value> {
    let tag = tag(ctx, spec).ok()?;
    let m = sip(ctx)?;
    let v = mark::mark_of(m).and_then(|mk| mk.extra(&tag).map(str::to_string));
    Some(v.map(Value::str).unwrap_or(Value::Null))
}

pub fn extra_set(ctx: &mut RunCtx<'_>, spec: &PvSpec, v: &Value) -> Result<(), String> {
    let tag = tag(ctx, spec)?;
    let value = v.as_str().map(|s| s.into_owned()).unwrap_or_default();
    let m = sip(ctx).ok_or("no SIP message in this route")?;
    mark::with_mark(m, |mk| mk.set_extra(&tag, value));
    Ok(())
}

/// `acc_new_leg()`: the `$acc_leg` values set from now on belong to a new call leg.
pub fn acc_new_leg(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    if mark::mark_of(m).is_none_or(|mk| mk.types == Types::default()) {
        tracing::error!("acc_new_leg: call do_accounting() first");
        return -1;
    }
    mark::with_mark(m, |mk| mk.new_leg());
    1
}

fn leg_tag(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Result<String, String> {
    let tag = ctx
        .inner_name(spec)
        .map_err(|e| e.to_string())?
        .into_owned();
    if !super::acc().is_some_and(|a| a.cfg.legs.knows(&tag)) {
        return Err(format!(
            "$acc_leg({tag}): `{tag}` is not declared in modparam leg_fields"
        ));
    }
    Ok(tag)
}

/// The leg `[i]` of `$(acc_leg(tag)[i])` (negative from the last), None for the current one.
fn leg_index(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Result<Option<i32>, String> {
    match &spec.index {
        None => Ok(None),
        Some(PvIndex::At(i)) => Ok(Some(*i)),
        Some(PvIndex::Pv(p)) => {
            let v = ctx.get_pv(p).map_err(|e| e.to_string())?;
            v.as_int()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| format!("$acc_leg index `{}` is not an integer", p.text))
        }
        Some(_) => Err("$acc_leg takes a leg number as index".into()),
    }
}

pub fn leg_get(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Option<Value> {
    let tag = leg_tag(ctx, spec).ok()?;
    let i = leg_index(ctx, spec).ok()?;
    let m = sip(ctx)?;
    let v = mark::mark_of(m).and_then(|mk| mk.leg(&tag, i).map(str::to_string));
    Some(v.map(Value::str).unwrap_or(Value::Null))
}

pub fn leg_set(ctx: &mut RunCtx<'_>, spec: &PvSpec, v: &Value) -> Result<(), String> {
    let tag = leg_tag(ctx, spec)?;
    let i = leg_index(ctx, spec)?;
    let value = v.as_str().map(|s| s.into_owned()).unwrap_or_default();
    let m = sip(ctx).ok_or("no SIP message in this route")?;
    mark::with_mark(m, |mk| mk.set_leg(&tag, i, value)).map_err(|e| format!("$acc_leg({tag}): {e}"))
}

pub fn current_leg(ctx: &mut RunCtx<'_>, _: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    let n = mark::mark_of(m).map_or(0, |mk| mk.current_leg());
    Some(Value::Int(n as i32))
}

#[cfg(test)]
mod tests {
    use super::comment;

    #[test]
    fn comments_give_code_and_reason() {
        assert_eq!(comment("404 Not found"), (404, "Not found".into()));
        assert_eq!(comment("200"), (200, String::new()));
        assert_eq!(comment("missed call"), (0, "missed call".into()));
    }
}
