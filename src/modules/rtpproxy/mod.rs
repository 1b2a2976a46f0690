//! rtpproxy: media relay control over the RTPProxy control protocol (OpenSIPS `rtpproxy`).
//!
//! `rtpproxy_offer` sends `U` (create) and `rtpproxy_answer` `L` (lookup) for each media stream
//! and rewrites the SDP with the ports and address the proxy returns; `rtpproxy_unforce` sends
//! `D`. Instances (`rtpproxy_sock`, repeatable) are chosen by Call-ID hash and weight, with
//! failover to the next one when an instance does not answer (`rtpproxy_disable_tout`).
//! `rtpproxy_engage` is not offered: it needs the dialog module.

pub mod command;
pub mod nodes;
pub mod sdp;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::modules::relay_nodes::{Failure, Relay};
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, ModParams, ParamValue, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::sdp::Sdp;

pub use nodes::{Ctl, Node, Set, Target};

/// Configuration and instances, built by `init`.
pub struct Proxies {
    pub sets: Vec<Set>,
    pub retries: u32,
    pub timeout: Duration,
    pub disable_tout: Duration,
    pub default_set: u32,
    /// The "already proxied" mark (`a=nortpproxy:yes`); None when set empty.
    pub nortpproxy: Option<String>,
}

static PROXIES: RwLock<Option<Arc<Proxies>>> = RwLock::new(None);

pub fn proxies() -> Option<Arc<Proxies>> {
    PROXIES.read().clone()
}

fn int(p: &ModParams, name: &str, default: i64) -> Result<u64, String> {
    let v = match p.get(name) {
        None => default,
        Some(ParamValue::Int(i)) => *i,
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("modparam \"{name}\": `{s}` is not a number"))?,
    };
    u64::try_from(v).map_err(|_| format!("modparam \"{name}\": {v} is negative"))
}

fn string(p: &ModParams, name: &str) -> Option<String> {
    p.get(name).map(|v| match v {
        ParamValue::Str(s) => s.clone(),
        ParamValue::Int(i) => i.to_string(),
    })
}

impl Proxies {
    pub fn from_params(p: &ModParams) -> Result<Proxies, String> {
        let socks: Vec<String> = p
            .all("rtpproxy_sock")
            .iter()
            .map(|v| match v {
                ParamValue::Str(s) => s.clone(),
                ParamValue::Int(i) => i.to_string(),
            })
            .collect();
        let sets =
            nodes::parse_sets(&socks).map_err(|e| format!("modparam \"rtpproxy_sock\": {e}"))?;
        // rtpproxy_timeout is in seconds and may be fractional ("0.5").
        let timeout = match string(p, "rtpproxy_timeout") {
            None => Duration::from_secs(1),
            Some(t) => t
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("modparam \"rtpproxy_timeout\": bad value `{t}`"))?,
        };
        let nortpproxy = match string(p, "nortpproxy_str") {
            None => Some("a=nortpproxy:yes".to_string()),
            Some(s) if s.trim().is_empty() => None,
            Some(s) => {
                let s = s.trim_end().to_string();
                if s.len() < 3 || s.as_bytes()[1] != b'=' {
                    return Err(format!(
                        "modparam \"nortpproxy_str\": `{s}` is not an SDP line (x=value)"
                    ));
                }
                Some(s)
            }
        };
        Ok(Proxies {
            sets,
            retries: int(p, "rtpproxy_retr", 5)?.max(1) as u32,
            timeout,
            disable_tout: Duration::from_secs(int(p, "rtpproxy_disable_tout", 60)?),
            default_set: int(p, "default_set", 0)? as u32,
            nortpproxy,
        })
    }

    pub fn set(&self, id: u32) -> Option<&Set> {
        self.sets.iter().find(|s| s.id == id)
    }

    /// Sends `cmd` to the node for the call once it passed the version check, failing over
    /// to another node when it does not answer; returns the node and the reply.
    pub fn command(&self, set: u32, call_id: &[u8], cmd: &str) -> Result<(&Node, String), String> {
        let s = self
            .set(set)
            .ok_or_else(|| format!("no rtpproxy set {set}"))?;
        s.failover("rtpproxy", call_id, self.disable_tout, |n| {
            nodes::verify(n, self.retries, self.timeout)
                .and_then(|()| n.ctl.send(cmd, self.retries, self.timeout))
                .map_err(Failure::NoAnswer)
        })
    }
}

impl Relay for Proxies {
    type Ctl = nodes::Ctl;
    const SHOW: (&str, &str) = (
        "rtpproxy_show",
        "list the rtpproxy sets and the state of their nodes",
    );
    const ENABLE: (&str, &str) = (
        "rtpproxy_enable",
        "enable (1) or disable (0) an rtpproxy node by its URL, or `all`",
    );
    const NOT_INITIALISED: &str = "rtpproxy not initialised";
    const NOT_FOUND: &str = "RTPProxy not found";

    fn running() -> Option<Arc<Proxies>> {
        proxies()
    }

    fn sets(&self) -> &[Set] {
        &self.sets
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let p = Proxies::from_params(ctx.params)?;
    if p.sets.is_empty() {
        return Err("modparam \"rtpproxy_sock\": no rtpproxy given".into());
    }
    if p.set(p.default_set).is_none() {
        return Err(format!(
            "modparam \"default_set\": no rtpproxy set {}",
            p.default_set
        ));
    }
    *PROXIES.write() = Some(Arc::new(p));
    Ok(())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn set_arg(args: &[ArgValue<'_>], i: usize, default: u32) -> Result<u32, String> {
    match args.get(i) {
        Some(ArgValue::Int(n)) if *n >= 0 => Ok(*n as u32),
        Some(ArgValue::Int(n)) => Err(format!("bad set {n}")),
        Some(ArgValue::Str(s)) if !s.is_empty() => {
            s.trim().parse().map_err(|_| format!("bad set `{s}`"))
        }
        _ => Ok(default),
    }
}

fn set_var(ctx: &mut RunCtx<'_>, arg: Option<&ArgValue<'_>>, v: &str, func: &str) {
    if let Some(ArgValue::Var(spec)) = arg
        && let Err(e) = ctx.set_pv(spec, AssignOp::Set, Value::str(v.to_string()))
    {
        tracing::error!("{func}: cannot set the variable: {e}");
    }
}

/// `rtpproxy_offer` / `rtpproxy_answer`: flags, advertised ip, set, sock_var.
fn force(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], offer: bool, func: &str) -> i32 {
    match force_inner(ctx, args, offer, func) {
        Ok(url) => {
            set_var(ctx, args.get(3), &url, func);
            1
        }
        Err(e) => {
            tracing::error!("{func}: {e}");
            -1
        }
    }
}

fn force_inner(
    ctx: &mut RunCtx<'_>,
    args: &[ArgValue<'_>],
    offer: bool,
    func: &str,
) -> Result<String, String> {
    let px = proxies().ok_or("rtpproxy is not initialised")?;
    let flags = command::parse_flags(args.first().and_then(ArgValue::str).unwrap_or(""));
    let adv_ip = args
        .get(1)
        .and_then(ArgValue::str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let set = set_arg(args, 2, px.default_set)?;
    let m = crate::runtime::core_fns::sip(ctx).ok_or("no SIP message in this route")?;
    let body = m.msg.body().to_vec();
    if body.is_empty() {
        return Err("the message has no SDP body".into());
    }
    if let Some(mark) = &px.nortpproxy
        && !flags.force
        && sdp::proxied(&body, mark.as_bytes())
    {
        tracing::debug!("{func}: SDP already proxied");
        return Err("SDP already goes through a proxy (use flag f to force)".into());
    }
    let call_id = text(m.msg.call_id());
    if call_id.is_empty() {
        return Err("no Call-ID".into());
    }
    let mut from_tag = m.msg.from_tag().map(text).ok_or("no From tag")?;
    let mut to_tag = m.msg.to_tag().map(text).unwrap_or_default();
    let is_request = m.msg.is_request();
    let mut create = offer;
    if flags.lookup {
        if to_tag.is_empty() {
            to_tag = "dummy".into();
        }
        create = false;
        if offer {
            std::mem::swap(&mut from_tag, &mut to_tag);
        }
    } else if (!is_request && offer) || (is_request && !offer) {
        if to_tag.is_empty() {
            return Err("no To tag for the answering side".into());
        }
        std::mem::swap(&mut from_tag, &mut to_tag);
    }
    let src_ip = m.info.src.ip().to_string();
    let parsed = Sdp::parse(&body).map_err(|e| format!("bad SDP: {e}"))?;
    let streams = sdp::streams(&parsed)?;
    let mut ports = Vec::with_capacity(streams.len());
    let mut url = String::new();
    let mut proxy_ip: Option<String> = None;
    for st in &streams {
        let ip = if flags.real {
            st.ip.clone()
        } else {
            src_ip.clone()
        };
        let cmd = command::update(
            create,
            &flags,
            ip.contains(':'),
            &call_id,
            &ip,
            st.port,
            (&from_tag, Some(to_tag.as_str())),
            st.medianum,
        );
        let (node, reply) = px.command(set, call_id.as_bytes(), &cmd)?;
        let a = command::parse_update_reply(&reply).map_err(|e| format!("<{}>: {e}", node.url))?;
        url = node.url.clone();
        if proxy_ip.is_none() {
            proxy_ip = adv_ip
                .clone()
                .or_else(|| node.ctl.adv_ip.clone())
                .or(a.ip)
                .or_else(|| match &node.ctl.target {
                    Target::Udp(s) => Some(s.ip().to_string()),
                    Target::Unix(_) => None,
                });
        }
        ports.push((st.index, a.port));
    }
    if flags.keep_body {
        return Ok(url);
    }
    let ip = proxy_ip.ok_or("no address to advertise (give one as the second parameter)")?;
    let new = sdp::rewrite(&parsed, &flags, &ports, &ip, px.nortpproxy.as_deref());
    m.msg
        .set_body(&new, None)
        .map_err(|e| format!("cannot replace the body: {e}"))?;
    Ok(url)
}

fn rtpproxy_offer(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    force(ctx, args, true, "rtpproxy_offer")
}

fn rtpproxy_answer(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    force(ctx, args, false, "rtpproxy_answer")
}

/// `rtpproxy_unforce([set[, sock_var]])`: `D callid from_tag to_tag`.
fn rtpproxy_unforce(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let run = |ctx: &mut RunCtx<'_>| -> Result<String, String> {
        let px = proxies().ok_or("rtpproxy is not initialised")?;
        let set = set_arg(args, 0, px.default_set)?;
        let m = crate::runtime::core_fns::sip(ctx).ok_or("no SIP message in this route")?;
        let call_id = text(m.msg.call_id());
        let from_tag = m.msg.from_tag().map(text).ok_or("no From tag")?;
        let to_tag = m.msg.to_tag().map(text);
        let cmd = command::delete(&call_id, &from_tag, to_tag.as_deref());
        let (node, reply) = px.command(set, call_id.as_bytes(), &cmd)?;
        if reply.starts_with('E') {
            return Err(format!("<{}> replied {reply}", node.url));
        }
        Ok(node.url.clone())
    };
    match run(ctx) {
        Ok(url) => {
            set_var(ctx, args.get(1), &url, "rtpproxy_unforce");
            1
        }
        Err(e) => {
            tracing::error!("rtpproxy_unforce: {e}");
            -1
        }
    }
}

const ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "rtpproxy",
    params: &[
        ParamSpec::str("rtpproxy_sock").multi(),
        ParamSpec::int("rtpproxy_disable_tout"),
        ParamSpec::any("rtpproxy_timeout"),
        ParamSpec::int("rtpproxy_retr"),
        ParamSpec::int("default_set"),
        ParamSpec::str("nortpproxy_str"),
    ],
    functions: &[
        FunctionSpec {
            name: "rtpproxy_offer",
            params: &[p::OPT_STR, p::OPT_STR, p::OPT_ANY, p::OPT_VAR],
            routes: ROUTES,
            handler: rtpproxy_offer,
        },
        FunctionSpec {
            name: "rtpproxy_answer",
            params: &[p::OPT_STR, p::OPT_STR, p::OPT_ANY, p::OPT_VAR],
            routes: ROUTES,
            handler: rtpproxy_answer,
        },
        FunctionSpec {
            name: "rtpproxy_unforce",
            params: &[p::OPT_ANY, p::OPT_VAR],
            routes: ROUTES,
            handler: rtpproxy_unforce,
        },
    ],
    mi_commands: Proxies::MI_COMMANDS,
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
