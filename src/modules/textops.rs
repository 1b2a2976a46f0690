//! textops: regular expressions on the raw message (`search`, `search_body`).

use crate::runtime::core_fns::sip;
use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, RouteMask, RunCtx};

const ANY: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

fn search_in(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], body: bool) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("search: no SIP message in this route");
        return -1;
    };
    let Some(ArgValue::Regex(re)) = args.first() else {
        return -1;
    };
    let bytes = if body { m.msg.body() } else { m.msg.as_bytes() };
    if re.is_match(&String::from_utf8_lossy(bytes)) {
        1
    } else {
        -1
    }
}

fn search(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    search_in(ctx, args, false)
}

fn search_body(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    search_in(ctx, args, true)
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "textops",
    functions: &[
        FunctionSpec {
            name: "search",
            params: &[p::REGEX],
            routes: ANY,
            handler: search,
        },
        FunctionSpec {
            name: "search_body",
            params: &[p::REGEX],
            routes: ANY,
            handler: search_body,
        },
    ],
    ..ModuleDescriptor::EMPTY
};
