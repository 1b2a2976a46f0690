//! Core functions (OpenSIPS `core_cmds.c`), described through the same [`ModuleDescriptor`] table
//! as modules. Functions that need the SIP message or the transport are implemented in
//! `crate::runtime::core_fns`; the ones not implemented yet use [`needs_message`]: they log an
//! error and return -1 (false), never a fake success.

use super::ast::AssignOp;
use super::module::{ArgValue, FunctionSpec, ModuleDescriptor, RouteMask, RunCtx, p};
use super::value::Value;
use crate::runtime::core_fns as rt;

const ALL: RouteMask = RouteMask::ALL;

/// Handler of a core function that needs the message or the transport layer.
pub fn needs_message(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    tracing::error!(route = ?ctx.route, "core function needs the SIP runtime, which is not wired yet");
    -1
}

/// `pv_printf(var, fmt)`: the format was expanded by the interpreter.
fn pv_printf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(ArgValue::Var(pv)), Some(ArgValue::Str(s))) = (args.first(), args.get(1)) else {
        return -1;
    };
    match ctx.set_pv(pv, AssignOp::Set, Value::str(s.clone())) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("pv_printf: {e}");
            -1
        }
    }
}

/// `get_timestamp(sec_var, usec_var)`.
fn get_timestamp(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(ArgValue::Var(s)), Some(ArgValue::Var(u))) = (args.first(), args.get(1)) else {
        return -1;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ok = ctx
        .set_pv(s, AssignOp::Set, Value::Int(now.as_secs() as i32))
        .is_ok()
        && ctx
            .set_pv(u, AssignOp::Set, Value::Int(now.subsec_micros() as i32))
            .is_ok();
    if ok { 1 } else { -1 }
}

/// `avp_print()`: logs every AVP at INFO.
fn avp_print(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let mut names: Vec<&str> = ctx.avps.names().collect();
    names.sort_unstable();
    for n in names {
        for (i, v) in ctx.avps.values(n).enumerate() {
            tracing::info!("$avp({n})[{i}] = {v}");
        }
    }
    1
}

macro_rules! f {
    ($name:literal, [$($p:expr),*]) => {
        FunctionSpec { name: $name, params: &[$($p),*], routes: ALL, handler: needs_message }
    };
    ($name:literal, [$($p:expr),*], $h:expr) => {
        FunctionSpec { name: $name, params: &[$($p),*], routes: ALL, handler: $h }
    };
}

pub static CORE_FUNCTIONS: &[FunctionSpec] = &[
    f!("forward", [p::OPT_STR], rt::forward),
    f!("send", [p::STR, p::OPT_STR], rt::send),
    f!("setflag", [p::FLAG], rt::setflag),
    f!("resetflag", [p::FLAG], rt::resetflag),
    f!("isflagset", [p::FLAG], rt::isflagset),
    f!("setbflag", [p::BFLAG, p::OPT_INT], rt::setbflag),
    f!("resetbflag", [p::BFLAG, p::OPT_INT], rt::resetbflag),
    f!("isbflagset", [p::BFLAG, p::OPT_INT], rt::isbflagset),
    f!("sethost", [p::STR], rt::sethost),
    f!("sethostport", [p::STR], rt::sethostport),
    f!("setuser", [p::STR], rt::setuser),
    f!("setuserpass", [p::STR], rt::setuserpass),
    f!("setport", [p::STR], rt::setport),
    f!("seturi", [p::STR], rt::seturi),
    f!("prefix", [p::STR], rt::prefix),
    f!("strip", [p::INT], rt::strip),
    f!("strip_tail", [p::INT], rt::strip_tail),
    f!(
        "append_msg_branch",
        [p::STR, p::OPT_STR, p::OPT_STR],
        rt::append_branch
    ),
    f!(
        "append_branch_old",
        [p::OPT_STR, p::OPT_STR],
        rt::append_branch
    ),
    f!("append_branch", [p::OPT_STR, p::OPT_STR], rt::append_branch),
    f!("remove_msg_branch", [p::INT], rt::remove_branch),
    f!("remove_branch", [p::INT], rt::remove_branch),
    f!("move_msg_branch", [p::OPT_INT, p::OPT_INT, p::OPT_STR]),
    f!("move_branch", [p::OPT_INT, p::OPT_INT, p::OPT_STR]),
    f!("swap_msg_branches", [p::OPT_INT, p::OPT_INT]),
    f!("swap_branches", [p::OPT_INT, p::OPT_INT]),
    f!("pv_printf", [p::VAR, p::STR], pv_printf),
    f!("revert_uri", [], rt::revert_uri),
    f!("setdsturi", [p::STR], rt::setdsturi),
    f!("resetdsturi", [], rt::resetdsturi),
    f!("isdsturiset", [], rt::isdsturiset),
    f!("force_rport", [], rt::force_rport),
    f!("add_local_rport", [], rt::add_local_rport),
    f!("force_tcp_alias", [p::OPT_INT]),
    f!("set_via_handling", [p::STR]),
    f!("set_advertised_address", [p::STR], rt::set_advertised),
    f!("set_advertised_port", [p::STR], rt::set_advertised),
    f!("force_send_socket", [p::STATIC], rt::force_send_socket),
    f!("serialize_branches", [p::INT, p::OPT_INT]),
    f!("next_branches", []),
    f!("use_blacklist", [p::STR]),
    f!("unuse_blacklist", [p::STR]),
    f!(
        "check_blacklist_rule",
        [p::STR, p::STR, p::OPT_INT, p::OPT_STR, p::OPT_STR]
    ),
    f!(
        "add_blacklist_rule",
        [
            p::STR,
            p::STR,
            p::OPT_INT,
            p::OPT_STR,
            p::OPT_STR,
            p::OPT_INT
        ]
    ),
    f!(
        "del_blacklist_rule",
        [p::STR, p::STR, p::OPT_INT, p::OPT_STR, p::OPT_STR]
    ),
    f!(
        "cache_store",
        [p::STR, p::STR, p::STR, p::OPT_INT],
        rt::cache_store
    ),
    f!("cache_fetch", [p::STR, p::STR, p::VAR], rt::cache_fetch),
    f!("cache_remove", [p::STR, p::STR], rt::cache_remove),
    f!(
        "cache_counter_fetch",
        [p::STR, p::STR, p::VAR],
        rt::cache_counter_fetch
    ),
    f!(
        "cache_add",
        [p::STR, p::STR, p::INT, p::INT, p::OPT_VAR],
        rt::cache_add
    ),
    f!(
        "cache_sub",
        [p::STR, p::STR, p::INT, p::INT, p::OPT_VAR],
        rt::cache_sub
    ),
    f!("cache_raw_query", [p::STR, p::STR, p::OPT_RAW]),
    f!(
        "raise_event",
        [p::STR, p::OPT_AVP, p::OPT_AVP],
        crate::runtime::event_route::raise_event
    ),
    f!(
        "subscribe_event",
        [p::STR, p::STR, p::OPT_INT],
        crate::runtime::event_route::subscribe_event
    ),
    f!(
        "construct_uri",
        [p::STR, p::OPT_STR, p::STR, p::OPT_STR, p::OPT_STR, p::AVP]
    ),
    f!("get_timestamp", [p::VAR, p::VAR], get_timestamp),
    f!("script_trace", [p::OPT_INT, p::OPT_RAW, p::OPT_STATIC]),
    f!("is_myself", [p::STR, p::OPT_INT], rt::is_myself),
    f!("sr_check_status", [p::STR, p::OPT_STR]),
    f!("avp_print", [], avp_print),
];

/// Function names of older releases, accepted with a warning as the given current name.
pub const RENAMED: &[(&str, &str, &str)] = &[
    ("rewritehost", "sethost", "3.3"),
    ("rewritehostport", "sethostport", "3.3"),
    ("rewriteuser", "setuser", "3.3"),
    ("rewriteuserpass", "setuserpass", "3.3"),
    ("rewriteport", "setport", "3.3"),
    ("rewriteuri", "seturi", "3.3"),
];

pub static CORE: ModuleDescriptor = ModuleDescriptor {
    name: "core",
    functions: CORE_FUNCTIONS,
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_renames_resolve() {
        let mut names: Vec<_> = CORE_FUNCTIONS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        for (_, new, _) in RENAMED {
            assert!(CORE.function(new).is_some(), "{new}");
        }
    }
}
