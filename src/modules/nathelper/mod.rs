//! nathelper: NAT detection (`nat_uac_test`, `is_rfc1918`), the rewrites that make a NATed UA
//! reachable (`fix_nated_contact`, `fix_nated_register`, `fix_nated_sdp`, `add_rcv_param`) and
//! keep-alive pings of its registered contacts (see [`ping`]).

pub mod fix;
pub mod natflags;
mod ping;

use std::sync::atomic::Ordering;

use parking_lot::RwLock;
use serde_json::json;

use crate::mi::{MiCommand, MiParams, MiResult, Recipe};
use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db::{int_param, str_param};
use crate::modules::probe::{self, ProbeConfig};
use ping::PingConfig;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
struct Config {
    received_avp: Option<String>,
    nortpproxy: String,
}

static CFG: RwLock<Option<Config>> = RwLock::new(None);

fn opt_str(ctx: &InitCtx<'_>, name: &str) -> Option<String> {
    match ctx.params.get(name) {
        Some(ParamValue::Str(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let received_avp = match opt_str(ctx, "received_avp") {
        Some(s) => {
            let inner = s
                .strip_prefix("$avp(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(&s)
                .to_string();
            if inner.is_empty() || inner.contains(['$', '(', ')', ' ']) {
                return Err(format!("modparam received_avp: `{s}` is not an $avp(name)"));
            }
            Some(inner)
        }
        None => None,
    };
    let nonneg = |name: &str, d: i64| -> Result<i64, String> {
        let v = int_param(ctx, name, d)?;
        if v < 0 {
            return Err(format!("modparam {name}: {v} is negative"));
        }
        Ok(v)
    };
    let sipping_bflag = opt_str(ctx, "sipping_bflag");
    let from = opt_str(ctx, "sipping_from");
    if sipping_bflag.is_some() && from.is_none() {
        return Err("modparam sipping_bflag needs sipping_from".into());
    }
    let threshold = nonneg("ping_threshold", 3)? as u64;
    let ping = PingConfig {
        probe: ProbeConfig {
            method: str_param(ctx, "sipping_method", "OPTIONS"),
            from: from.unwrap_or_default(),
            interval: nonneg("natping_interval", 0)? as u64,
            timeout: Duration::from_secs(threshold.max(1)),
            max_forwards: 70,
            reply_codes: Vec::new(),
            ignore_codes: probe::reply_codes(
                "sipping_ignore_rpl_codes",
                &str_param(ctx, "sipping_ignore_rpl_codes", ""),
            )?,
        },
        nated_only: nonneg("ping_nated_only", 0)? != 0,
        sipping_bflag,
        remove_bflag: opt_str(ctx, "remove_on_timeout_bflag"),
        max_lost: nonneg("max_pings_lost", 3)? as u32,
        tcp: nonneg("natping_tcp", 0)? != 0,
    };
    *CFG.write() = Some(Config {
        received_avp,
        nortpproxy: str_param(ctx, "nortpproxy_str", "a=nortpproxy:yes"),
    });
    ping::ENABLED.store(true, Ordering::Relaxed);
    ping::start(ping);
    Ok(())
}

fn destroy() {
    ping::stop();
}

fn nat_uac_test(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let text = args.first().and_then(ArgValue::str).unwrap_or("");
    let flags = match natflags::parse_flags(text) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("nat_uac_test: {e}");
            return -1;
        }
    };
    let Some(m) = sip(ctx) else { return -1 };
    if natflags::test(&m.msg, m.info.src, flags) {
        1
    } else {
        -1
    }
}

fn is_rfc1918(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let ip = args.first().and_then(ArgValue::str).unwrap_or("");
    if natflags::is_rfc1918(ip) { 1 } else { -1 }
}

fn fix_nated_contact(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let params = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let params = match params.as_str() {
        "" => String::new(),
        p if p.starts_with(';') => p.to_string(),
        p => format!(";{p}"),
    };
    let Some(m) = sip(ctx) else { return -1 };
    let src = m.info.src;
    match fix::fix_contact(&mut m.msg, src, &params) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("fix_nated_contact: {e}");
            -1
        }
    }
}

fn fix_nated_register(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(avp) = CFG.read().as_ref().and_then(|c| c.received_avp.clone()) else {
        tracing::error!("fix_nated_register: the received_avp modparam is not set");
        return -1;
    };
    let Some(m) = sip(ctx) else { return -1 };
    let rcv = fix::received_uri(m.info.src, m.info.proto);
    ctx.avps.replace(&avp, Value::str(rcv));
    1
}

fn add_rcv_param(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let to_uri = args.first().and_then(ArgValue::int).unwrap_or(0) != 0;
    let Some(m) = sip(ctx) else { return -1 };
    let (src, proto) = (m.info.src, m.info.proto);
    match fix::add_rcv(&mut m.msg, src, proto, to_uri) {
        Ok(n) if n > 0 => 1,
        Ok(_) => -1,
        Err(e) => {
            tracing::error!("add_rcv_param: {e}");
            -1
        }
    }
}

fn fix_nated_sdp(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let flags = match fix::parse_sdp_flags(args.first().and_then(ArgValue::str).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("fix_nated_sdp: {e}");
            return -1;
        }
    };
    let ip = args.get(1).and_then(ArgValue::str).map(str::to_string);
    let nortpproxy = CFG
        .read()
        .as_ref()
        .map(|c| c.nortpproxy.clone())
        .unwrap_or_default();
    let Some(m) = sip(ctx) else { return -1 };
    if m.msg.body().is_empty() {
        return -1;
    }
    let ip = ip
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| m.info.src.ip().to_string());
    match fix::fix_sdp(m.msg.body(), flags, &ip, &nortpproxy) {
        Ok(Some(body)) => match m.msg.set_body(&body, None) {
            Ok(()) => 1,
            Err(e) => {
                tracing::error!("fix_nated_sdp: {e}");
                -1
            }
        },
        Ok(None) => 1,
        Err(e) => {
            tracing::error!("fix_nated_sdp: {e}");
            -1
        }
    }
}

fn mi_enable_ping(p: &MiParams<'_>) -> MiResult {
    if p.has("status") {
        let on = p.int("status")? != 0;
        ping::ENABLED.store(on, Ordering::Relaxed);
        return crate::mi::ok();
    }
    Ok(json!({ "Status": ping::ENABLED.load(Ordering::Relaxed) as i32 }))
}

static MI: &[MiCommand] = &[MiCommand {
    name: "nh_enable_ping",
    aliases: &["enable_ping"],
    help: "shows or switches the NAT pinging",
    flags: 0,
    recipes: &[
        Recipe {
            params: &[],
            handler: mi_enable_ping,
        },
        Recipe {
            params: &["status"],
            handler: mi_enable_ping,
        },
    ],
}];

const ANY: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "nathelper",
    params: &[
        ParamSpec::str("received_avp"),
        ParamSpec::int("natping_interval"),
        ParamSpec::int("ping_nated_only"),
        ParamSpec::int("natping_processes"),
        ParamSpec::int("natping_partitions"),
        ParamSpec::str("natping_socket"),
        ParamSpec::int("natping_tcp"),
        ParamSpec::str("force_socket"),
        ParamSpec::bflag("sipping_bflag"),
        ParamSpec::bflag("remove_on_timeout_bflag"),
        ParamSpec::str("sipping_from"),
        ParamSpec::str("sipping_method"),
        ParamSpec::str("sipping_ignore_rpl_codes"),
        ParamSpec::flag("sipping_latency_flag"),
        ParamSpec::int("ping_threshold"),
        ParamSpec::int("max_pings_lost"),
        ParamSpec::str("nortpproxy_str"),
        ParamSpec::int("oldip_skip"),
        ParamSpec::int("cluster_id"),
        ParamSpec::str("cluster_sharing_tag"),
    ],
    functions: &[
        FunctionSpec {
            name: "nat_uac_test",
            params: &[p::STR],
            routes: ANY,
            handler: nat_uac_test,
        },
        FunctionSpec {
            name: "is_rfc1918",
            params: &[p::STR],
            routes: ANY,
            handler: is_rfc1918,
        },
        FunctionSpec {
            name: "fix_nated_contact",
            params: &[p::OPT_STR],
            routes: ANY,
            handler: fix_nated_contact,
        },
        FunctionSpec {
            name: "fix_nated_register",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: fix_nated_register,
        },
        FunctionSpec {
            name: "add_rcv_param",
            params: &[p::OPT_INT],
            routes: RouteMask::REQUEST,
            handler: add_rcv_param,
        },
        FunctionSpec {
            name: "fix_nated_sdp",
            params: &[p::STR, p::OPT_STR, p::OPT_STR],
            routes: ANY,
            handler: fix_nated_sdp,
        },
    ],
    mi_commands: MI,
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};
