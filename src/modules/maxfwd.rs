//! maxfwd: Max-Forwards checks (`mf_process_maxfwd_header`, `is_maxfwd_lt`).
//!
//! The core decrements Max-Forwards (or adds it) on every stateless forward (RFC 3261 §16.6), so
//! `mf_process_maxfwd_header` checks the value and leaves the one edit to the core: the request
//! never leaves with Max-Forwards decremented twice.

use crate::runtime::core_fns::sip;
use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx};
use crate::sip::HdrId;

fn header_value(ctx: &mut RunCtx<'_>) -> Option<Result<u32, ()>> {
    let m = sip(ctx)?;
    let raw = m.msg.header(HdrId::MaxForwards)?;
    let t = crate::sip::scan::trim(raw);
    Some(crate::sip::scan::parse_u32(t).ok_or(()))
}

/// 2 = header added, 1 = decremented, -1 = it is 0 (reply 483), -2 = error.
fn mf_process_maxfwd_header(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let max = args.first().and_then(ArgValue::int).unwrap_or(70);
    if !(1..=256).contains(&max) {
        tracing::error!("mf_process_maxfwd_header: max {max} out of range 1..256");
        return -2;
    }
    match header_value(ctx) {
        None if sip(ctx).is_none() => -2,
        None => 2,
        Some(Err(())) => -2,
        Some(Ok(0)) => -1,
        Some(Ok(_)) => 1,
    }
}

/// 1 if Max-Forwards < max, -1 if not, -2 when missing, -3 when malformed.
fn is_maxfwd_lt(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let max = args.first().and_then(ArgValue::int).unwrap_or(0);
    match header_value(ctx) {
        None => -2,
        Some(Err(())) => -3,
        Some(Ok(v)) if (v as i64) < max as i64 => 1,
        Some(Ok(_)) => -1,
    }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "maxfwd",
    params: &[ParamSpec::int("max_limit")],
    functions: &[
        FunctionSpec {
            name: "mf_process_maxfwd_header",
            params: &[p::INT],
            routes: RouteMask::REQUEST,
            handler: mf_process_maxfwd_header,
        },
        FunctionSpec {
            name: "is_maxfwd_lt",
            params: &[p::INT],
            routes: RouteMask::REQUEST
                .or(RouteMask::FAILURE)
                .or(RouteMask::BRANCH),
            handler: is_maxfwd_lt,
        },
    ],
    ..ModuleDescriptor::EMPTY
};
