//! Core script functions that need the message or the transport (OpenSIPS `core_cmds.c`):
//! forward / send, flags, the seturi family, strip / prefix, branches, force_rport,
//! force_send_socket, set_advertised_*, cache_* on the local cache.

use crate::dns::SipTarget;
use crate::script::ast::AssignOp;
use crate::script::{ArgValue, RunCtx, Value};
use crate::sip::{Msg, Uri};
use crate::transport::{Destination, Proto};

use super::msgctx::SipCtx;

/// The SIP message of the run, if the route has one.
pub fn sip<'a>(ctx: &'a mut RunCtx<'_>) -> Option<&'a mut SipCtx> {
    ctx.msg.as_mut()?.as_any().downcast_mut::<SipCtx>()
}

fn str_arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

macro_rules! with_sip {
    ($ctx:expr, $name:literal) => {
        match sip($ctx) {
            Some(m) => m,
            None => {
                tracing::error!(concat!($name, ": no SIP message in this route"));
                return -1;
            }
        }
    };
}

/// Parses a next hop: a SIP URI (`sip:host:port;transport=tcp`), or `[proto:]host[:port]`.
pub fn parse_hop(text: &str, default_proto: Proto) -> Result<(Proto, String, Option<u16>), String> {
    let t = text.trim();
    if t.len() > 4
        && (t[..4].eq_ignore_ascii_case("sip:")
            || t[..5.min(t.len())].eq_ignore_ascii_case("sips:"))
    {
        let u = Uri::parse(t.as_bytes()).map_err(|e| format!("bad URI `{t}`: {e}"))?;
        let sips = t[..5].eq_ignore_ascii_case("sips:");
        let proto = match u.transport() {
            Some(tp) => Proto::from_token(&String::from_utf8_lossy(tp))
                .ok_or_else(|| format!("unsupported transport in `{t}`"))?,
            None if sips => Proto::Tls,
            None => Proto::Udp,
        };
        let host = String::from_utf8_lossy(u.host_unbracketed()).into_owned();
        return Ok((proto, host, u.port));
    }
    let (proto, rest) = match t.split_once(':') {
        Some((p, rest)) if Proto::from_token(p).is_some() && !p.is_empty() => {
            (Proto::from_token(p).unwrap_or(default_proto), rest)
        }
        _ => (default_proto, t),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r
            .split_once(']')
            .ok_or_else(|| format!("bad address `{t}`"))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| format!("bad port in `{t}`"))?),
        None => None,
    };
    if host.is_empty() {
        return Err(format!("no host in `{t}`"));
    }
    Ok((proto, host, port))
}

/// Parses a next hop for RFC 3263: like [`parse_hop`], but a transport that is not written stays
/// unknown (DNS NAPTR / SRV choose it), a `sips:` URI asks for TLS and `maddr` wins over the host.
pub fn parse_target(text: &str) -> Result<SipTarget, String> {
    let t = text.trim();
    let lower = t.get(..5).unwrap_or(t).to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") {
        let u = Uri::parse(t.as_bytes()).map_err(|e| format!("bad URI `{t}`: {e}"))?;
        let proto = match u.transport() {
            Some(tp) => Some(
                Proto::from_token(&String::from_utf8_lossy(tp))
                    .ok_or_else(|| format!("unsupported transport in `{t}`"))?,
            ),
            None => None,
        };
        let host = match u.param(b"maddr").filter(|m| !m.is_empty()) {
            Some(m) => String::from_utf8_lossy(m).into_owned(),
            None => String::from_utf8_lossy(u.host_unbracketed()).into_owned(),
        };
        return Ok(SipTarget {
            host,
            port: u.port,
            proto,
            secure: lower.starts_with("sips:"),
        });
    }
    let explicit = t
        .split_once(':')
        .is_some_and(|(p, _)| Proto::from_token(p).is_some());
    let (proto, host, port) = parse_hop(t, Proto::Udp)?;
    Ok(SipTarget::new(host, port, explicit.then_some(proto)))
}

/// The process's resolver, set up on first use with the running script's `dns_*` parameters.
pub fn resolver() -> &'static crate::dns::Resolver {
    crate::dns::global(|name| super::global_shared().and_then(|s| s.script().global_int(name)))
}

/// Every destination for `t` in the order to try (RFC 3263 with SRV priority / weight), keeping
/// only transports we have a socket for.
pub fn locate(t: &SipTarget) -> Result<Vec<Destination>, String> {
    let targets = resolver().locate(t).map_err(|e| e.to_string())?;
    // Only transports DNS chose need checking (an explicit one is the script's choice), and only
    // when there is another target to prefer.
    let protos: Option<Vec<Proto>> = if t.proto.is_none() && targets.len() > 1 {
        super::global_shared().and_then(|s| s.core()).map(|c| {
            c.transport()
                .sockets()
                .iter()
                .map(|l| l.def.proto)
                .collect()
        })
    } else {
        None
    };
    let usable = |p: Proto| protos.as_ref().is_none_or(|ps| ps.contains(&p));
    let out: Vec<Destination> = targets
        .iter()
        .filter(|t| usable(t.proto))
        .map(|t| Destination::new(t.proto, t.addr))
        .collect();
    if out.is_empty() {
        let names: Vec<&str> = targets.iter().map(|t| t.proto.name()).collect();
        return Err(format!(
            "{} resolves only to transports without a socket here ({})",
            t.host,
            names.join(", ")
        ));
    }
    Ok(out)
}

/// [`locate`] for a URI or `[proto:]host[:port]` text: the ordered destinations a sender (tm's
/// `t_relay`) fails over through.
pub fn resolve_all(text: &str) -> Result<Vec<Destination>, String> {
    locate(&parse_target(text)?)
}

/// Resolves a next hop to a destination: IP literals directly; names through DNS (SRV for the
/// given transport when there is no port, else A/AAAA); the first target.
pub fn resolve(proto: Proto, host: &str, port: Option<u16>) -> Result<Destination, String> {
    first_of(locate(&SipTarget::new(host, port, Some(proto))))
}

/// Every destination for the message in failover order: `$du` if set, else the Request-URI.
pub fn next_hops(m: &SipCtx) -> Result<Vec<Destination>, String> {
    let target = match &m.dst_uri {
        Some(d) => d.clone(),
        None => m.ruri().into_owned(),
    };
    let mut all = resolve_all(&target)?;
    for d in &mut all {
        d.socket = m.send_socket;
    }
    Ok(all)
}

fn first_of(all: Result<Vec<Destination>, String>) -> Result<Destination, String> {
    all?.into_iter()
        .next()
        .ok_or_else(|| "no destination".to_string())
}

/// Where the message goes: the first of [`next_hops`].
pub fn next_hop(m: &SipCtx) -> Result<Destination, String> {
    first_of(next_hops(m))
}

/// `forward([dst])`: stateless forwarding; the request is sent when the route ends.
pub fn forward(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "forward");
    if !m.msg.is_request() {
        tracing::error!("forward: only requests can be forwarded this way");
        return -1;
    }
    let dest = match str_arg(args, 0).filter(|s| !s.is_empty()) {
        Some(d) => first_of(resolve_all(d)).map(|mut d| {
            d.socket = m.send_socket;
            d
        }),
        None => next_hop(m),
    };
    match dest {
        Ok(d) => {
            if m.forward.is_some() {
                tracing::warn!("forward: the request was already forwarded; the last target wins");
            }
            m.forward = Some(d);
            1
        }
        Err(e) => {
            tracing::error!("forward: {e}");
            -1
        }
    }
}

/// `send(dst[, headers])`: sends the message as it is (with the script's edits) to `dst`.
pub fn send(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "send");
    let Some(dst) = str_arg(args, 0) else {
        return -1;
    };
    let dest = match first_of(resolve_all(dst)) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("send: {e}");
            return -1;
        }
    };
    let mut msg = m.msg.clone();
    if let Some(h) = str_arg(args, 1).filter(|h| !h.is_empty()) {
        let h = h.trim_end_matches(['\r', '\n']);
        for line in h.split("\r\n") {
            if let Some((n, v)) = line.split_once(':')
                && msg.add_header(n.trim(), v.trim().as_bytes()).is_err()
            {
                return -1;
            }
        }
    }
    let Some(core) = m.shared.core() else {
        return -1;
    };
    match core.transport().send(&dest, msg.to_bytes()) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("send to {}: {e}", dest.addr);
            -1
        }
    }
}

fn flag_arg(args: &[ArgValue<'_>]) -> Option<u32> {
    match args.first() {
        Some(ArgValue::Flag(f)) if *f < 32 => Some(*f),
        _ => None,
    }
}

pub fn setflag(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "setflag");
    let Some(f) = flag_arg(args) else { return -1 };
    m.flags |= 1 << f;
    1
}

pub fn resetflag(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "resetflag");
    let Some(f) = flag_arg(args) else { return -1 };
    m.flags &= !(1 << f);
    1
}

pub fn isflagset(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "isflagset");
    let Some(f) = flag_arg(args) else { return -1 };
    if m.flags & (1 << f) != 0 { 1 } else { -1 }
}

/// Branch flags: only branch 0 (the Request-URI branch) is kept.
fn bflag_branch_ok(args: &[ArgValue<'_>]) -> bool {
    matches!(
        args.get(1),
        None | Some(ArgValue::None) | Some(ArgValue::Int(0))
    )
}

pub fn setbflag(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "setbflag");
    let Some(f) = flag_arg(args).filter(|_| bflag_branch_ok(args)) else {
        return -1;
    };
    m.bflags |= 1 << f;
    1
}

pub fn resetbflag(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "resetbflag");
    let Some(f) = flag_arg(args).filter(|_| bflag_branch_ok(args)) else {
        return -1;
    };
    m.bflags &= !(1 << f);
    1
}

pub fn isbflagset(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "isbflagset");
    let Some(f) = flag_arg(args).filter(|_| bflag_branch_ok(args)) else {
        return -1;
    };
    if m.bflags & (1 << f) != 0 { 1 } else { -1 }
}

fn set_part(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], part: &str) -> i32 {
    let m = with_sip!(ctx, "seturi");
    match m.set_ruri_part(part, str_arg(args, 0)) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("set{part}: {e}");
            -1
        }
    }
}

pub fn sethost(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    set_part(ctx, args, "host")
}
pub fn sethostport(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    set_part(ctx, args, "hostport")
}
pub fn setuser(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    set_part(ctx, args, "user")
}
pub fn setuserpass(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    set_part(ctx, args, "userpass")
}
pub fn setport(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    set_part(ctx, args, "port")
}

pub fn seturi(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "seturi");
    let Some(u) = str_arg(args, 0) else { return -1 };
    if Uri::parse(u.as_bytes()).is_err() {
        tracing::error!("seturi: `{u}` is not a valid URI");
        return -1;
    }
    m.new_ruri = Some(u.to_string());
    1
}

pub fn revert_uri(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "revert_uri");
    m.new_ruri = None;
    1
}

fn user_of(m: &SipCtx) -> Option<String> {
    let r = m.ruri().into_owned();
    let u = Uri::parse(r.as_bytes()).ok()?;
    Some(String::from_utf8_lossy(u.user.unwrap_or_default()).into_owned())
}

fn edit_user(ctx: &mut RunCtx<'_>, name: &str, f: impl FnOnce(&str) -> Option<String>) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("{name}: no SIP message in this route");
        return -1;
    };
    let Some(user) = user_of(m) else {
        tracing::error!("{name}: bad Request-URI");
        return -1;
    };
    let Some(new) = f(&user) else { return -1 };
    match m.set_ruri_part("user", Some(&new)) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("{name}: {e}");
            -1
        }
    }
}

/// `strip(n)`: removes the first n characters of the R-URI user.
pub fn strip(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let n = args.first().and_then(ArgValue::int).unwrap_or(-1);
    if n < 0 {
        return -1;
    }
    edit_user(ctx, "strip", |u| {
        let n = n as usize;
        (n <= u.len() && u.is_char_boundary(n)).then(|| u[n..].to_string())
    })
}

/// `strip_tail(n)`: removes the last n characters of the R-URI user.
pub fn strip_tail(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let n = args.first().and_then(ArgValue::int).unwrap_or(-1);
    if n < 0 {
        return -1;
    }
    edit_user(ctx, "strip_tail", |u| {
        let n = n as usize;
        (n <= u.len() && u.is_char_boundary(u.len() - n)).then(|| u[..u.len() - n].to_string())
    })
}

/// `prefix(s)`: puts s in front of the R-URI user.
pub fn prefix(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(p) = str_arg(args, 0).map(str::to_string) else {
        return -1;
    };
    edit_user(ctx, "prefix", |u| Some(format!("{p}{u}")))
}

pub fn setdsturi(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "setdsturi");
    let Some(u) = str_arg(args, 0) else { return -1 };
    if Uri::parse(u.as_bytes()).is_err() {
        tracing::error!("setdsturi: `{u}` is not a valid URI");
        return -1;
    }
    m.dst_uri = Some(u.to_string());
    1
}

pub fn resetdsturi(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "resetdsturi");
    m.dst_uri = None;
    1
}

pub fn isdsturiset(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "isdsturiset");
    if m.dst_uri.is_some() { 1 } else { -1 }
}

/// `append_branch([uri[, q]])`: adds a branch (the current R-URI when no URI is given).
pub fn append_branch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "append_branch");
    let uri = match str_arg(args, 0).filter(|s| !s.is_empty()) {
        Some(u) => u.to_string(),
        None => m.ruri().into_owned(),
    };
    if Uri::parse(uri.as_bytes()).is_err() {
        tracing::error!("append_branch: `{uri}` is not a valid URI");
        return -1;
    }
    let q = str_arg(args, 1).and_then(parse_q);
    m.branches.push(super::msgctx::Branch {
        q,
        ..super::msgctx::Branch::new(uri)
    });
    1
}

/// A q-value as written (`0.5`, `1`, `0.125`) in thousandths.
pub fn parse_q(text: &str) -> Option<i32> {
    let v: f64 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&v)
        .then(|| (v * 1000.0).round() as i32)
}

/// `remove_branch(i)`.
pub fn remove_branch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "remove_branch");
    let i = args.first().and_then(ArgValue::int).unwrap_or(-1);
    let n = m.branches.len() as i32;
    let i = if i < 0 { n + i } else { i };
    if i < 0 || i >= n {
        return -1;
    }
    m.branches.remove(i as usize);
    1
}

/// `force_rport()`: answer to the source port even without `;rport` in the top Via.
pub fn force_rport(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "force_rport");
    m.info.force_rport = true;
    let has_rport = m.msg.via1().map(|v| v.rport().is_some()).unwrap_or(true);
    if !has_rport && m.msg.add_top_via_param(b"rport").is_err() {
        return -1;
    }
    1
}

/// `add_local_rport()`: our Via carries `;rport` (the core's Via is built per socket).
pub fn add_local_rport(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let _ = with_sip!(ctx, "add_local_rport");
    1
}

/// `force_send_socket(proto:ip:port)`: send from this listening socket.
pub fn force_send_socket(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "force_send_socket");
    let Some(s) = str_arg(args, 0) else { return -1 };
    let Some(core) = m.shared.core() else {
        return -1;
    };
    let wanted = parse_hop(s, Proto::Udp).ok();
    let found = core.transport().sockets().iter().position(|l| {
        wanted.as_ref().is_some_and(|(p, h, port)| {
            l.def.proto == *p
                && l.def.addr.ip().to_string() == *h
                && port.is_none_or(|port| port == l.def.addr.port())
        })
    });
    match found {
        Some(i) => {
            m.send_socket = Some(i);
            1
        }
        None => {
            tracing::error!("force_send_socket: {s} is not one of our sockets");
            -1
        }
    }
}

/// `set_advertised_address(addr)` / `set_advertised_port(port)`: accepted; the Via the core writes
/// comes from the socket's `as` address, so per-message values are only logged.
pub fn set_advertised(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let _ = with_sip!(ctx, "set_advertised_address");
    tracing::debug!(
        "set_advertised_*({}): per-message advertised values are not applied; use `socket = ... as host:port`",
        str_arg(args, 0).unwrap_or_default()
    );
    1
}

fn cache_err(f: &str, e: impl std::fmt::Display) -> i32 {
    tracing::error!("{f}: {e}");
    -1
}

fn cache(ctx: &mut RunCtx<'_>) -> Option<std::sync::Arc<super::Shared>> {
    sip(ctx)
        .map(|m| m.shared.clone())
        .or_else(super::global_shared)
}

/// `cache_store(system, key, value[, expire])`.
pub fn cache_store(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(sh) = cache(ctx) else { return -1 };
    let (Some(sys), Some(k), Some(v)) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2))
    else {
        return -1;
    };
    let exp = args.get(3).and_then(ArgValue::int).unwrap_or(0).max(0) as u32;
    match sh.cache.store(sys, k, v, exp) {
        Ok(()) => 1,
        Err(e) => cache_err("cache_store", e),
    }
}

/// `cache_fetch(system, key, var)`: -2 when the key is missing.
pub fn cache_fetch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(sh) = cache(ctx) else { return -1 };
    let (Some(sys), Some(k), Some(ArgValue::Var(pv))) =
        (str_arg(args, 0), str_arg(args, 1), args.get(2))
    else {
        return -1;
    };
    match sh.cache.fetch(sys, k) {
        Ok(Some(v)) => match ctx.set_pv(pv, AssignOp::Set, Value::str(v)) {
            Ok(()) => 1,
            Err(e) => cache_err("cache_fetch", e),
        },
        Ok(None) => -2,
        Err(e) => cache_err("cache_fetch", e),
    }
}

/// `cache_remove(system, key)`.
pub fn cache_remove(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(sh) = cache(ctx) else { return -1 };
    let (Some(sys), Some(k)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return -1;
    };
    match sh.cache.remove(sys, k) {
        Ok(()) => 1,
        Err(e) => cache_err("cache_remove", e),
    }
}

fn cache_add_sub(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], sign: i64, name: &str) -> i32 {
    let Some(sh) = cache(ctx) else { return -1 };
    let (Some(sys), Some(k)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return -1;
    };
    let delta = args.get(2).and_then(ArgValue::int).unwrap_or(0) as i64 * sign;
    let exp = args.get(3).and_then(ArgValue::int).unwrap_or(0).max(0) as u32;
    match sh.cache.add(sys, k, delta, exp) {
        Ok(n) => {
            if let Some(ArgValue::Var(pv)) = args.get(4)
                && let Err(e) = ctx.set_pv(pv, AssignOp::Set, Value::Int(n as i32))
            {
                return cache_err(name, e);
            }
            1
        }
        Err(e) => cache_err(name, e),
    }
}

pub fn cache_add(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    cache_add_sub(ctx, args, 1, "cache_add")
}

pub fn cache_sub(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    cache_add_sub(ctx, args, -1, "cache_sub")
}

/// `cache_counter_fetch(system, key, var)`.
pub fn cache_counter_fetch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(sh) = cache(ctx) else { return -1 };
    let (Some(sys), Some(k), Some(ArgValue::Var(pv))) =
        (str_arg(args, 0), str_arg(args, 1), args.get(2))
    else {
        return -1;
    };
    match sh.cache.fetch(sys, k) {
        Ok(Some(v)) => {
            let n = Value::parse_int(&v).unwrap_or(0);
            match ctx.set_pv(pv, AssignOp::Set, Value::Int(n)) {
                Ok(()) => 1,
                Err(e) => cache_err("cache_counter_fetch", e),
            }
        }
        Ok(None) => -2,
        Err(e) => cache_err("cache_counter_fetch", e),
    }
}

/// `is_myself(host[, port])`: the host (and port) is one of our sockets or aliases.
pub fn is_myself(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let m = with_sip!(ctx, "is_myself");
    let Some(h) = str_arg(args, 0) else { return -1 };
    let local = match args.get(1).and_then(ArgValue::int) {
        Some(p) => m.shared.is_myself(h, Some(p as u16)),
        None => m.shared.is_myself_any_port(h),
    };
    if local { 1 } else { -1 }
}

/// A reply-capable view of the message for the `sl` module.
pub fn request_of(m: &SipCtx) -> Option<&Msg> {
    m.msg.is_request().then_some(&m.msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_in_thousandths() {
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("x"), None);
    }

    #[test]
    fn hops() {
        assert_eq!(
            parse_hop("sip:bob@127.0.0.1:5070;transport=tcp", Proto::Udp).unwrap(),
            (Proto::Tcp, "127.0.0.1".into(), Some(5070))
        );
        assert_eq!(
            parse_hop("udp:127.0.0.2:5080", Proto::Tcp).unwrap(),
            (Proto::Udp, "127.0.0.2".into(), Some(5080))
        );
        assert_eq!(
            parse_hop("127.0.0.3", Proto::Udp).unwrap(),
            (Proto::Udp, "127.0.0.3".into(), None)
        );
        assert_eq!(
            parse_hop("tcp:[::1]:5090", Proto::Udp).unwrap(),
            (Proto::Tcp, "::1".into(), Some(5090))
        );
        assert!(parse_hop("udp:127.0.0.1:notaport", Proto::Udp).is_err());
        assert_eq!(
            parse_target("sip:svc.example.test").unwrap(),
            SipTarget::new("svc.example.test", None, None)
        );
        assert_eq!(
            parse_target("sip:b@svc.example.test;transport=TCP").unwrap(),
            SipTarget::new("svc.example.test", None, Some(Proto::Tcp))
        );
        assert_eq!(
            parse_target("sip:b@x.test:5070;maddr=127.0.0.9").unwrap(),
            SipTarget::new("127.0.0.9", Some(5070), None)
        );
        assert!(parse_target("sips:b@x.test").unwrap().secure);
        assert_eq!(
            parse_target("tcp:gw.test").unwrap(),
            SipTarget::new("gw.test", None, Some(Proto::Tcp))
        );
        assert_eq!(
            parse_target("gw.test:5080").unwrap(),
            SipTarget::new("gw.test", Some(5080), None)
        );
        assert_eq!(
            resolve(Proto::Udp, "127.0.0.1", None).unwrap().addr,
            "127.0.0.1:5060".parse().unwrap()
        );
    }
}
