//! signaling: `send_reply`, stateful when a transaction exists; without tm it replies statelessly
//! through sl, as OpenSIPS does.

use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, RouteMask, RunCtx};

fn send_reply(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let code = args.first().and_then(ArgValue::int).unwrap_or(0);
    let reason = args.get(1).and_then(ArgValue::str).unwrap_or("");
    if let Some(rc) = super::tm::funcs::t_reply_if_transaction(ctx, code, reason) {
        return rc;
    }
    super::sl::reply(ctx, code, reason, "send_reply")
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "signaling",
    deps: &["sl"],
    functions: &[FunctionSpec {
        name: "send_reply",
        params: &[p::INT, p::STR],
        routes: RouteMask::REQUEST
            .or(RouteMask::ERROR)
            .or(RouteMask::FAILURE),
        handler: send_reply,
    }],
    ..ModuleDescriptor::EMPTY
};
