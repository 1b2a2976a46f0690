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
    if line_regex(re).is_match(&String::from_utf8_lossy(bytes)) {
        1
    } else {
        -1
    }
}

/// OpenSIPS compiles these with REG_NEWLINE: `^` and `$` match at every line of the message
/// (CRLF lines). Only patterns with anchors need the line-mode copy.
fn line_regex(re: &regex::Regex) -> std::borrow::Cow<'_, regex::Regex> {
    if !re.as_str().contains(['^', '$']) {
        return std::borrow::Cow::Borrowed(re);
    }
    regex::RegexBuilder::new(re.as_str())
        .case_insensitive(true)
        .multi_line(true)
        .crlf(true)
        .build()
        .map_or(std::borrow::Cow::Borrowed(re), std::borrow::Cow::Owned)
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

#[cfg(test)]
mod tests {
    use super::line_regex;

    #[test]
    fn anchors_match_at_every_line_as_with_reg_newline() {
        let body =
            "v=0\r\nc=IN IP4 127.0.0.10\r\na=candidate:1 1 UDP 1 127.0.0.10 4000 typ host\r\n";
        let re = crate::script::compiler::posix_regex("^a=candidate:").unwrap();
        assert!(line_regex(&re).is_match(body));
        let re = crate::script::compiler::posix_regex("typ host$").unwrap();
        assert!(line_regex(&re).is_match(body));
        let re = crate::script::compiler::posix_regex("^c=IN IP4 127.0.0.1$").unwrap();
        assert!(!line_regex(&re).is_match(body));
        let re = crate::script::compiler::posix_regex("A=CANDIDATE").unwrap();
        assert!(line_regex(&re).is_match(body));
    }
}
