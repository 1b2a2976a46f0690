//! sl: stateless replies (`sl_send_reply`, `sl_reply_error`).

use crate::runtime::core_fns::sip;
use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx};

const R_E: RouteMask = RouteMask::REQUEST.or(RouteMask::ERROR);

/// Sends `code reason` to the request of this run; 1 when sent, -1 otherwise.
pub fn reply(ctx: &mut RunCtx<'_>, code: i32, reason: &str, func: &str) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("{func}: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        tracing::error!("{func}: a reply cannot be answered");
        return -1;
    }
    if !(100..=699).contains(&code) {
        tracing::error!("{func}: bad reply code {code}");
        return -1;
    }
    let Some(core) = m.shared.core() else {
        return -1;
    };
    core.reply(&m.msg, &m.info, code as u16, reason);
    m.replied = true;
    1
}

fn sl_send_reply(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let code = args.first().and_then(ArgValue::int).unwrap_or(0);
    let reason = args.get(1).and_then(ArgValue::str).unwrap_or("");
    reply(ctx, code, reason, "sl_send_reply")
}

/// Without an internal error code to report, as OpenSIPS with none set: 500.
fn sl_reply_error(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    reply(ctx, 500, "Server Internal Error", "sl_reply_error")
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "sl",
    params: &[ParamSpec::int("enable_stats")],
    functions: &[
        FunctionSpec {
            name: "sl_send_reply",
            params: &[p::INT, p::STR],
            routes: R_E,
            handler: sl_send_reply,
        },
        FunctionSpec {
            name: "sl_reply_error",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: sl_reply_error,
        },
    ],
    ..ModuleDescriptor::EMPTY
};
