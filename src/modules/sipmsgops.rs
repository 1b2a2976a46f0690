//! sipmsgops: SIP-aware message operations (`is_method`, `has_totag`, `append_hf`, `insert_hf`,
//! `remove_hf`, `is_present_hf`, `has_body`, `ruri_has_param`). Header changes are edits applied
//! when the message is sent, so a header added here is not seen by `is_present_hf` later in the
//! same route (as with OpenSIPS lumps).

use crate::runtime::core_fns::sip;
use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, RouteMask, RunCtx};
use crate::sip::Uri;

const ANY: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

fn str_arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

macro_rules! msg {
    ($ctx:expr, $f:literal) => {
        match sip($ctx) {
            Some(m) => m,
            None => {
                tracing::error!(concat!($f, ": no SIP message in this route"));
                return -1;
            }
        }
    };
}

/// `is_method("INVITE|REGISTER")`: the request method (the CSeq method of a reply).
fn is_method(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "is_method");
    let Some(list) = str_arg(args, 0) else {
        return -1;
    };
    let method: &[u8] = if m.msg.is_request() {
        m.msg.method_bytes()
    } else {
        m.msg.cseq().method.as_str().as_bytes()
    };
    let hit = list
        .split('|')
        .any(|x| x.trim().as_bytes().eq_ignore_ascii_case(method));
    if hit { 1 } else { -1 }
}

fn has_totag(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "has_totag");
    if m.msg.to_tag().is_some_and(|t| !t.is_empty()) {
        1
    } else {
        -1
    }
}

/// The header text of `append_hf` / `insert_hf`: must end in CRLF, which is added when missing.
fn header_text(txt: &str) -> Option<Vec<u8>> {
    if !txt.contains(':') {
        tracing::error!("header text `{txt}` has no `:`");
        return None;
    }
    let mut v = txt.as_bytes().to_vec();
    if !v.ends_with(b"\r\n") {
        if v.ends_with(b"\n") {
            v.pop();
        }
        v.extend_from_slice(b"\r\n");
    }
    Some(v)
}

/// Byte offset of the start (`before`) or end of the first header named `name`.
fn anchor(m: &crate::sip::Msg, name: &str, before: bool) -> Option<usize> {
    let h = m.headers().find(|h| h.is_named(name))?;
    let r = m.range_of(h.name)?;
    if before {
        Some(r.start)
    } else {
        // After the anchor header's line: the start of the next header, or the end of the headers.
        let next = m.header_at(h.index + 1).and_then(|n| m.range_of(n.name));
        Some(next.map(|r| r.start).unwrap_or(m.headers_end as usize))
    }
}

fn add_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], first: bool, f: &str) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("{f}: no SIP message in this route");
        return -1;
    };
    let Some(txt) = str_arg(args, 0).and_then(header_text) else {
        return -1;
    };
    let at = match str_arg(args, 1).filter(|s| !s.is_empty()) {
        Some(h) => match anchor(&m.msg, h, first) {
            Some(a) => a,
            None => {
                tracing::debug!("{f}: no `{h}` header to anchor on");
                return -1;
            }
        },
        None if first => m.msg.start_line_end as usize,
        None => m.msg.headers_end as usize,
    };
    match m.msg.insert(at, &txt) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("{f}: {e}");
            -1
        }
    }
}

fn append_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    add_hf(ctx, args, false, "append_hf")
}

fn insert_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    add_hf(ctx, args, true, "insert_hf")
}

/// `remove_hf(name)`: true if at least one header was removed.
fn remove_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "remove_hf");
    let Some(name) = str_arg(args, 0) else {
        return -1;
    };
    match m.msg.remove_headers_by_name(name) {
        Ok(0) => -1,
        Ok(_) => 1,
        Err(e) => {
            tracing::error!("remove_hf: {e}");
            -1
        }
    }
}

/// `remove_hf_re(re)`: removes headers whose name matches.
fn remove_hf_re(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "remove_hf_re");
    let Some(ArgValue::Regex(re)) = args.first() else {
        return -1;
    };
    let idx: Vec<usize> = m
        .msg
        .headers()
        .filter(|h| re.is_match(&String::from_utf8_lossy(h.name)))
        .map(|h| h.index)
        .collect();
    for &i in &idx {
        if let Err(e) = m.msg.remove_header(i) {
            tracing::error!("remove_hf_re: {e}");
            return -1;
        }
    }
    if idx.is_empty() { -1 } else { 1 }
}

fn is_present_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "is_present_hf");
    let Some(name) = str_arg(args, 0) else {
        return -1;
    };
    if m.msg.headers().any(|h| h.is_named(name)) {
        1
    } else {
        -1
    }
}

/// `has_body([mime])`.
fn has_body(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "has_body");
    if m.msg.body().is_empty() {
        return -1;
    }
    match str_arg(args, 0).filter(|s| !s.is_empty()) {
        None => 1,
        Some(mime) => {
            let ct = m.msg.content_type().unwrap_or_default();
            let ct = String::from_utf8_lossy(ct);
            let base = ct.split(';').next().unwrap_or("").trim();
            if base.eq_ignore_ascii_case(mime.trim()) {
                1
            } else {
                -1
            }
        }
    }
}

/// `ruri_has_param(name[, value])`.
fn ruri_has_param(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = msg!(ctx, "ruri_has_param");
    let Some(name) = str_arg(args, 0) else {
        return -1;
    };
    let ruri = m.ruri().into_owned();
    let Ok(u) = Uri::parse(ruri.as_bytes()) else {
        return -1;
    };
    let found = match (u.params.get(name.as_bytes()), str_arg(args, 1)) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(v), Some(want)) => v.is_some_and(|v| v.eq_ignore_ascii_case(want.as_bytes())),
    };
    if found { 1 } else { -1 }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "sipmsgops",
    functions: &[
        FunctionSpec {
            name: "is_method",
            params: &[p::STR],
            routes: ANY,
            handler: is_method,
        },
        FunctionSpec {
            name: "has_totag",
            params: &[],
            routes: ANY,
            handler: has_totag,
        },
        FunctionSpec {
            name: "append_hf",
            params: &[p::STR, p::OPT_STR],
            routes: ANY,
            handler: append_hf,
        },
        FunctionSpec {
            name: "insert_hf",
            params: &[p::STR, p::OPT_STR],
            routes: ANY,
            handler: insert_hf,
        },
        FunctionSpec {
            name: "remove_hf",
            params: &[p::STR],
            routes: ANY,
            handler: remove_hf,
        },
        FunctionSpec {
            name: "remove_hf_re",
            params: &[p::REGEX],
            routes: ANY,
            handler: remove_hf_re,
        },
        FunctionSpec {
            name: "is_present_hf",
            params: &[p::STR],
            routes: ANY,
            handler: is_present_hf,
        },
        FunctionSpec {
            name: "has_body",
            params: &[p::OPT_STR],
            routes: ANY,
            handler: has_body,
        },
        FunctionSpec {
            name: "ruri_has_param",
            params: &[p::STR, p::OPT_STR],
            routes: RouteMask::REQUEST
                .or(RouteMask::FAILURE)
                .or(RouteMask::BRANCH),
            handler: ruri_has_param,
        },
    ],
    ..ModuleDescriptor::EMPTY
};
