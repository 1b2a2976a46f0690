//! rr: record-routing (OpenSIPS `rr` module). `record_route()` / `record_route_preset()` /
//! `add_rr_param()` ask for our Record-Route; it is written by [`finish`] when the outgoing socket
//! is known (a send path calls it per branch). `loose_route()` follows the Route set of in-dialog
//! requests; `check_route_param()`, `is_direction()` and `$rr_params` read the parameters of the
//! Route entry that was ours.
//!
//! modparams: `append_fromtag` (1), `enable_double_rr` (1: two headers when the socket changes;
//! 2: only when the transport changes; 0: never), `enable_full_lr` (0).

pub mod loose;
pub mod record;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, ParamValue, PvExport, p};
use crate::script::pv::PvSpec;
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::{EditError, HdrId, Msg};
use crate::transport::{ReceiveInfo, SocketId, Transport};

pub use record::{RecordKind, RecordOptions};

/// The rr state of one request: what the script asked for and what loose_route found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RrState {
    /// Set by `record_route()` / `record_route_preset()`.
    pub record: Option<RecordKind>,
    /// `;n=v` parameters for our Record-Route (`record_route(params)`, `add_rr_param`).
    pub params: String,
    /// Parameters of our Route entry consumed by `loose_route()` (no leading `;`).
    pub route_params: Option<String>,
}

static APPEND_FROMTAG: AtomicBool = AtomicBool::new(true);
static DOUBLE_RR: AtomicU8 = AtomicU8::new(1);
static FULL_LR: AtomicBool = AtomicBool::new(false);

/// The module settings in force.
pub fn options() -> RecordOptions {
    RecordOptions {
        append_fromtag: APPEND_FROMTAG.load(Ordering::Relaxed),
        double_rr: DOUBLE_RR.load(Ordering::Relaxed),
        full_lr: FULL_LR.load(Ordering::Relaxed),
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let int = |name: &str| match ctx.params.get(name) {
        Some(ParamValue::Int(i)) => Ok(Some(*i)),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("rr: modparam {name} must be a number, not `{s}`")),
        None => Ok(None),
    };
    APPEND_FROMTAG.store(
        int("append_fromtag")?.is_none_or(|v| v != 0),
        Ordering::Relaxed,
    );
    let double = int("enable_double_rr")?.unwrap_or(1);
    if !(0..=2).contains(&double) {
        return Err(format!(
            "rr: modparam enable_double_rr must be 0, 1 or 2, not {double}"
        ));
    }
    DOUBLE_RR.store(double as u8, Ordering::Relaxed);
    FULL_LR.store(
        int("enable_full_lr")?.is_some_and(|v| v != 0),
        Ordering::Relaxed,
    );
    Ok(())
}

/// Writes the Record-Route headers the script asked for into `msg`, which leaves on socket `out`
/// of `transport`; `state` and `info` are the request's (`SipCtx::rr`, `SipCtx::info`). Does
/// nothing when record-routing was not asked for. Call it once per outgoing copy (tm: per branch).
pub fn finish(
    state: &RrState,
    info: &ReceiveInfo,
    msg: &mut Msg,
    transport: &Transport,
    out: SocketId,
) -> Result<(), EditError> {
    let Some(kind) = &state.record else {
        return Ok(());
    };
    let Some(outbound) = transport.socket(out) else {
        return Err(EditError {
            reason: "no such outgoing socket",
        });
    };
    let ftag = msg.from_tag().map(<[u8]>::to_vec);
    let values = record::values(
        kind,
        &state.params,
        ftag.as_deref(),
        transport.socket(info.socket),
        outbound,
        options(),
    );
    for v in values {
        msg.add_record_route(v.as_bytes())?;
    }
    Ok(())
}

fn str_arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

/// A parameter as written by the script, with its leading `;`.
fn param_text(p: &str) -> String {
    let p = p.trim();
    if p.is_empty() || p.starts_with(';') {
        p.to_string()
    } else {
        format!(";{p}")
    }
}

fn set_record(ctx: &mut RunCtx<'_>, kind: RecordKind, params: Option<&str>, func: &str) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("{func}: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        tracing::error!("{func}: only requests are record-routed");
        return -1;
    }
    if m.rr.record.is_some() {
        tracing::error!("{func}: the request is already record-routed");
        return -1;
    }
    if let Some(p) = params {
        m.rr.params.push_str(&param_text(p));
    }
    m.rr.record = Some(kind);
    1
}

fn record_route(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let params = str_arg(args, 0).map(str::to_string);
    set_record(ctx, RecordKind::Auto, params.as_deref(), "record_route")
}

fn record_route_preset(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(out) = str_arg(args, 0).filter(|s| !s.trim().is_empty()) else {
        tracing::error!("record_route_preset: empty address");
        return -1;
    };
    let inb = str_arg(args, 1)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string);
    let kind = RecordKind::Preset(out.to_string(), inb);
    set_record(ctx, kind, None, "record_route_preset")
}

fn add_rr_param(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(p) = str_arg(args, 0).filter(|s| !s.trim().is_empty()) else {
        tracing::error!("add_rr_param: empty parameter");
        return -1;
    };
    let p = param_text(p);
    let Some(m) = sip(ctx) else { return -1 };
    m.rr.params.push_str(&p);
    1
}

fn loose_route(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("loose_route: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        return -1;
    }
    let shared = m.shared.clone();
    let is_local = |u: &crate::sip::Uri<'_>| {
        let host = String::from_utf8_lossy(u.host);
        shared.is_myself(&host, u.port)
    };
    let ruri = m.ruri().into_owned();
    let out = match loose::route(&m.msg, &ruri, &is_local) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("loose_route: {e}");
            return -1;
        }
    };
    if let Some(routes) = &out.routes
        && let Err(e) = rewrite_routes(&mut m.msg, routes)
    {
        tracing::error!("loose_route: cannot update the Route headers: {e}");
        return -1;
    }
    if let Some(u) = out.ruri {
        m.new_ruri = Some(u);
    }
    if let Some(d) = out.dst_uri {
        m.dst_uri = Some(d);
    }
    m.rr.route_params = out.params;
    out.rc
}

/// Replaces the Route headers by `routes` (kept in the first Route line; the others removed).
fn rewrite_routes(msg: &mut Msg, routes: &[String]) -> Result<(), EditError> {
    let lines: Vec<usize> = msg
        .headers()
        .filter(|h| h.id == HdrId::Route)
        .map(|h| h.index)
        .collect();
    let joined = routes.join(", ");
    for (n, &i) in lines.iter().enumerate() {
        if n == 0 && !routes.is_empty() {
            msg.replace_header_value(i, joined.as_bytes())?;
        } else {
            msg.remove_header(i)?;
        }
    }
    Ok(())
}

fn route_param_value<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn check_route_param(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(ArgValue::Regex(re)) = args.first() else {
        return -1;
    };
    let re = (*re).clone();
    let Some(m) = sip(ctx) else { return -1 };
    match &m.rr.route_params {
        Some(p) if re.is_match(p) => 1,
        _ => -1,
    }
}

/// `is_direction("downstream"|"upstream")`: downstream when the `ftag` of our Route is the From
/// tag (the request goes the way the dialog's first request went); no `ftag` counts as downstream.
fn is_direction(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let want_down = match str_arg(args, 0).map(|s| s.trim().to_ascii_lowercase()) {
        Some(d) if d == "downstream" => true,
        Some(d) if d == "upstream" => false,
        other => {
            tracing::error!(
                "is_direction: `{}` is neither downstream nor upstream",
                other.unwrap_or_default()
            );
            return -1;
        }
    };
    let Some(m) = sip(ctx) else { return -1 };
    let Some(params) = &m.rr.route_params else {
        return -1;
    };
    let down = match route_param_value(params, "ftag") {
        Some(ftag) => m.msg.from_tag().is_some_and(|t| t == ftag.as_bytes()),
        None => true,
    };
    if down == want_down { 1 } else { -1 }
}

fn rr_params_pv(ctx: &mut RunCtx<'_>, _spec: &PvSpec) -> Option<Value> {
    let m = sip(ctx)?;
    m.rr.route_params.clone().map(Value::str)
}

const RBF: RouteMask = RouteMask::REQUEST
    .or(RouteMask::BRANCH)
    .or(RouteMask::FAILURE);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "rr",
    params: &[
        ParamSpec::int("append_fromtag"),
        ParamSpec::int("enable_double_rr"),
        ParamSpec::int("enable_full_lr"),
        ParamSpec::int("add_username"),
        ParamSpec::int("enable_socket_mismatch_warning"),
        ParamSpec::str("ignore_user"),
    ],
    functions: &[
        FunctionSpec {
            name: "record_route",
            params: &[p::OPT_STR],
            routes: RBF,
            handler: record_route,
        },
        FunctionSpec {
            name: "record_route_preset",
            params: &[p::STR, p::OPT_STR],
            routes: RBF,
            handler: record_route_preset,
        },
        FunctionSpec {
            name: "add_rr_param",
            params: &[p::STR],
            routes: RBF,
            handler: add_rr_param,
        },
        FunctionSpec {
            name: "loose_route",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: loose_route,
        },
        FunctionSpec {
            name: "check_route_param",
            params: &[p::REGEX],
            routes: RouteMask::REQUEST,
            handler: check_route_param,
        },
        FunctionSpec {
            name: "is_direction",
            params: &[p::STR],
            routes: RouteMask::REQUEST,
            handler: is_direction,
        },
    ],
    pvs: &[PvExport::read("rr_params", false, rr_params_pv)],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_params_by_name() {
        let p = "lr;ftag=abc;Foo=bar;flag";
        assert_eq!(route_param_value(p, "ftag"), Some("abc"));
        assert_eq!(route_param_value(p, "foo"), Some("bar"));
        assert_eq!(route_param_value(p, "flag"), Some(""));
        assert_eq!(route_param_value(p, "none"), None);
        assert_eq!(param_text("x=1"), ";x=1");
        assert_eq!(param_text(";x=1"), ";x=1");
    }

    #[test]
    fn route_lines_are_rewritten_in_place() {
        let raw = "BYE sip:b@127.0.0.9 SIP/2.0\r\nRoute: <sip:127.0.0.1;lr>, <sip:127.0.0.7;lr>\r\n\
                   Via: SIP/2.0/UDP 127.0.0.5;branch=z9hG4bKx\r\nRoute: <sip:127.0.0.6;lr>\r\n\
                   From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\
                   Content-Length: 0\r\n\r\n";
        let mut m = Msg::parse(bytes::Bytes::from(raw)).unwrap();
        rewrite_routes(
            &mut m,
            &["<sip:127.0.0.7;lr>".into(), "<sip:127.0.0.6;lr>".into()],
        )
        .unwrap();
        let out = String::from_utf8(m.serialise()).unwrap();
        assert!(
            out.contains("\r\nRoute: <sip:127.0.0.7;lr>, <sip:127.0.0.6;lr>\r\nVia:"),
            "{out}"
        );
        assert_eq!(out.matches("Route:").count(), 1, "{out}");
        let mut m = Msg::parse(bytes::Bytes::from(raw)).unwrap();
        rewrite_routes(&mut m, &[]).unwrap();
        assert!(!String::from_utf8(m.serialise()).unwrap().contains("Route:"));
    }
}
