//! rtpengine: media relay control over Sipwise rtpengine's ng protocol (OpenSIPS `rtpengine`).
//!
//! `rtpengine_offer` / `rtpengine_answer` send the message's SDP with the script's flags and put
//! the SDP rtpengine returns in the body (Content-Length fixed when sent); `rtpengine_delete` ends
//! the call on the relay; `rtpengine_manage` picks one of the three from the message as OpenSIPS
//! does. Several instances (`rtpengine_sock`, repeatable, `[set ==] udp:host:port[=weight] ...`)
//! share calls by Call-ID hash and weight; an instance that does not answer is skipped for
//! `rtpengine_disable_tout` seconds and the command goes to the next one. `$rtpquery` gives
//! rtpengine's `query` answer for the message's call as JSON.

pub mod bencode;
pub mod flags;
pub mod ng;
pub mod nodes;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::modules::relay_nodes::{Failure, Relay};
use crate::script::ast::AssignOp;
use crate::script::ast::RouteKind;
use crate::script::module::{InitCtx, ModParams, ParamValue, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::Method;
use crate::stats::{StatDef, StatVar};

pub use bencode::Bencode;
pub use flags::{MsgIds, Op};
pub use nodes::{Node, Set};

/// Module configuration and instances, built by `init`.
pub struct Engines {
    pub sets: Vec<Set>,
    pub retries: u32,
    pub timeout: Duration,
    pub disable_tout: Duration,
    pub default_set: u32,
    stats: Vec<Arc<StatVar>>,
}

static STATS: &[StatDef] = &[
    StatDef::counter("offers"),
    StatDef::counter("answers"),
    StatDef::counter("deletes"),
    StatDef::counter("errors"),
];

static ENGINES: RwLock<Option<Arc<Engines>>> = RwLock::new(None);

/// The running module's instances (None before `init`).
pub fn engines() -> Option<Arc<Engines>> {
    ENGINES.read().clone()
}

fn int(p: &ModParams, name: &str, default: i64) -> Result<i64, String> {
    match p.get(name) {
        None => Ok(default),
        Some(ParamValue::Int(i)) => Ok(*i),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("modparam \"{name}\": `{s}` is not a number")),
    }
}

impl Engines {
    pub fn from_params(p: &ModParams) -> Result<Engines, String> {
        let socks: Vec<String> = p
            .all("rtpengine_sock")
            .iter()
            .map(|v| match v {
                ParamValue::Str(s) => s.clone(),
                ParamValue::Int(i) => i.to_string(),
            })
            .collect();
        let sets =
            nodes::parse_sets(&socks).map_err(|e| format!("modparam \"rtpengine_sock\": {e}"))?;
        let non_neg = |name: &str, d: i64| -> Result<u64, String> {
            let v = int(p, name, d)?;
            u64::try_from(v).map_err(|_| format!("modparam \"{name}\": {v} is negative"))
        };
        let timeout = match p.get("rtpengine_tout_ms") {
            Some(_) => Duration::from_millis(non_neg("rtpengine_tout_ms", 1000)?),
            None => Duration::from_secs(non_neg("rtpengine_tout", 1)?),
        };
        let default_set = non_neg("default_set", 0)? as u32;
        Ok(Engines {
            sets,
            retries: non_neg("rtpengine_retr", 5)?.max(1) as u32,
            timeout: timeout.max(Duration::from_millis(10)),
            disable_tout: Duration::from_secs(non_neg("rtpengine_disable_tout", 60)?),
            default_set,
            stats: Vec::new(),
        })
    }

    pub fn set(&self, id: u32) -> Option<&Set> {
        self.sets.iter().find(|s| s.id == id)
    }

    /// Sends `dict` to the node of set `set` chosen for `call_id`, failing over to the other
    /// nodes; returns the node's URL and its reply.
    pub fn send(
        &self,
        set: u32,
        call_id: &[u8],
        dict: &Bencode,
    ) -> Result<(String, Bencode), String> {
        let s = self
            .set(set)
            .ok_or_else(|| format!("no rtpengine set {set}"))?;
        let (node, reply) = s.failover("rtpengine", call_id, self.disable_tout, |node| {
            ng::request(node.ctl, dict, self.retries, self.timeout).map_err(|e| match e {
                ng::NgError::NoAnswer(e) => Failure::NoAnswer(e),
                e => Failure::Fatal(format!("rtpengine <{}>: {e}", node.url)),
            })
        })?;
        Ok((node.url.clone(), reply))
    }

    fn count(&self, i: usize) {
        if let Some(s) = self.stats.get(i) {
            s.inc();
        }
    }
}

impl Relay for Engines {
    type Ctl = std::net::SocketAddr;
    const SHOW: (&str, &str) = (
        "rtpengine_show",
        "list the rtpengine sets and the state of their nodes",
    );
    const ENABLE: (&str, &str) = (
        "rtpengine_enable",
        "enable (1) or disable (0) an rtpengine node by its URL, or `all`",
    );
    const NOT_INITIALISED: &str = "rtpengine not initialised";
    const NOT_FOUND: &str = "RTPEngine not found";

    fn running() -> Option<Arc<Engines>> {
        engines()
    }

    fn sets(&self) -> &[Set] {
        &self.sets
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let mut e = Engines::from_params(ctx.params)?;
    if e.sets.is_empty() {
        return Err("modparam \"rtpengine_sock\": no rtpengine given".into());
    }
    if e.set(e.default_set).is_none() {
        return Err(format!(
            "modparam \"default_set\": no rtpengine set {}",
            e.default_set
        ));
    }
    if let Some(s) = crate::runtime::global_shared() {
        e.stats = s.stats.register_group("rtpengine", STATS);
    }
    *ENGINES.write() = Some(Arc::new(e));
    Ok(())
}

/// The message identifiers an ng request needs.
fn msg_ids(m: &crate::runtime::SipCtx) -> MsgIds {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let msg = &m.msg;
    MsgIds {
        is_request: msg.is_request(),
        call_id: text(msg.call_id()),
        from_tag: msg.from_tag().map(text).unwrap_or_default(),
        to_tag: msg.to_tag().map(text),
        via1_branch: msg.via1().ok().and_then(|v| v.branch().map(text)),
        via2_branch: msg
            .via2()
            .and_then(Result::ok)
            .and_then(|v| v.branch().map(text)),
        src_ip: Some(m.info.src.ip()),
    }
}

fn set_var(ctx: &mut RunCtx<'_>, arg: Option<&ArgValue<'_>>, v: Value, func: &str) {
    if let Some(ArgValue::Var(spec)) = arg
        && let Err(e) = ctx.set_pv(spec, AssignOp::Set, v)
    {
        tracing::error!("{func}: cannot set the variable: {e}");
    }
}

/// One ng command for the message of this run; the reply when rtpengine said "ok".
fn call(
    ctx: &mut RunCtx<'_>,
    op: Op,
    args: &[ArgValue<'_>],
    func: &str,
) -> Result<(Op, Bencode), ()> {
    let Some(e) = engines() else {
        tracing::error!("{func}: rtpengine is not initialised");
        return Err(());
    };
    let flags_str = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let body_arg = args.get(3).and_then(ArgValue::str).map(str::to_string);
    let Some(m) = crate::runtime::core_fns::sip(ctx) else {
        tracing::error!("{func}: no SIP message in this route");
        return Err(());
    };
    let ids = msg_ids(m);
    let set = m.rtpengine_set.unwrap_or(e.default_set);
    let sdp: Option<Vec<u8>> = match op {
        Op::Offer | Op::Answer => {
            let b = match &body_arg {
                Some(b) => b.as_bytes().to_vec(),
                None => m.msg.body().to_vec(),
            };
            if b.is_empty() {
                tracing::error!("{func}: the message has no SDP body");
                return Err(());
            }
            Some(b)
        }
        _ => None,
    };
    let (op, dict) = flags::build(op, &flags_str, &ids, sdp.as_deref()).map_err(|err| {
        tracing::error!("{func}: {err}");
        e.count(3);
    })?;
    let (url, reply) = e.send(set, ids.call_id.as_bytes(), &dict).map_err(|err| {
        tracing::error!("{func}: {err}");
        e.count(3);
    })?;
    set_var(ctx, args.get(1), Value::str(url), func);
    match reply.get_str("result").as_deref() {
        Some("ok") => {}
        Some("error") => {
            tracing::error!(
                "{func}: rtpengine replied with error: {}",
                reply.get_str("error-reason").unwrap_or_default()
            );
            e.count(3);
            return Err(());
        }
        other => {
            tracing::error!("{func}: rtpengine did not return \"ok\" ({other:?})");
            e.count(3);
            return Err(());
        }
    }
    if let Some(w) = reply.get_str("warning") {
        tracing::warn!("{func}: rtpengine: {w}");
    }
    e.count(match op {
        Op::Offer => 0,
        Op::Answer => 1,
        _ => 2,
    });
    Ok((op, reply))
}

/// Offer or answer: the returned SDP replaces the body, or goes to `sdp_var` when given.
fn offer_answer(ctx: &mut RunCtx<'_>, op: Op, args: &[ArgValue<'_>], func: &str) -> i32 {
    let Ok((_, reply)) = call(ctx, op, args, func) else {
        return -1;
    };
    let Some(sdp) = reply.get("sdp").and_then(Bencode::as_bytes) else {
        tracing::error!("{func}: rtpengine returned no SDP");
        return -1;
    };
    if let Some(ArgValue::Var(_)) = args.get(2) {
        let v = Value::str(String::from_utf8_lossy(sdp).into_owned());
        set_var(ctx, args.get(2), v, func);
        return 1;
    }
    let Some(m) = crate::runtime::core_fns::sip(ctx) else {
        return -1;
    };
    match m.msg.set_body(sdp, None) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("{func}: cannot replace the body: {e}");
            -1
        }
    }
}

fn rtpengine_offer(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    offer_answer(ctx, Op::Offer, args, "rtpengine_offer")
}

fn rtpengine_answer(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    if let Some(m) = crate::runtime::core_fns::sip(ctx)
        && m.msg.is_request()
        && !matches!(m.msg.method(), Method::Ack | Method::Prack)
    {
        tracing::error!("rtpengine_answer: a request other than ACK/PRACK carries no answer");
        return -1;
    }
    offer_answer(ctx, Op::Answer, args, "rtpengine_answer")
}

fn rtpengine_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match call(ctx, Op::Delete, args, "rtpengine_delete") {
        Ok(_) => 1,
        Err(()) => -1,
    }
}

/// OpenSIPS `rtpengine_manage`: BYE/CANCEL, an INVITE in failure_route or a negative reply
/// delete; an INVITE/UPDATE with SDP offers; ACK/PRACK with SDP and 1xx/2xx with SDP answer.
fn rtpengine_manage(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let route = ctx.route;
    let body_arg = args.get(3).and_then(ArgValue::str).map(|s| !s.is_empty());
    let Some(m) = crate::runtime::core_fns::sip(ctx) else {
        return -1;
    };
    let method = m.msg.cseq().method;
    if !matches!(
        method,
        Method::Invite
            | Method::Ack
            | Method::Cancel
            | Method::Bye
            | Method::Update
            | Method::Prack
    ) {
        return -1;
    }
    if matches!(method, Method::Cancel | Method::Bye) {
        return rtpengine_delete(ctx, args);
    }
    let has_sdp = body_arg.unwrap_or_else(|| m.msg.has_sdp());
    if m.msg.is_request() {
        if !has_sdp {
            return -1;
        }
        let op = match method {
            Method::Ack | Method::Prack => Op::Answer,
            Method::Invite if route == RouteKind::Failure => {
                return rtpengine_delete(ctx, args);
            }
            _ => Op::Offer,
        };
        return offer_answer(ctx, op, args, "rtpengine_manage");
    }
    if m.msg.status().unwrap_or(0) >= 300 {
        return rtpengine_delete(ctx, args);
    }
    if has_sdp {
        return offer_answer(ctx, Op::Answer, args, "rtpengine_manage");
    }
    -1
}

fn rtpengine_use_set(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(id) = args.first().and_then(ArgValue::int) else {
        return -1;
    };
    let known = engines().is_some_and(|e| id >= 0 && e.set(id as u32).is_some());
    if !known {
        tracing::error!("rtpengine_use_set: could not locate rtpengine set {id}");
        return -1;
    }
    match crate::runtime::core_fns::sip(ctx) {
        Some(m) => {
            m.rtpengine_set = Some(id as u32);
            1
        }
        None => -1,
    }
}

/// `$rtpquery`: rtpengine's `query` answer for the call of this message, as JSON text.
fn rtpquery_pv(ctx: &mut RunCtx<'_>, _: &crate::script::pv::PvSpec) -> Option<Value> {
    let e = engines()?;
    let m = crate::runtime::core_fns::sip(ctx)?;
    let ids = msg_ids(m);
    let set = m.rtpengine_set.unwrap_or(e.default_set);
    let (_, dict) = flags::build(Op::Query, "", &ids, None)
        .map_err(|err| tracing::error!("$rtpquery: {err}"))
        .ok()?;
    match e.send(set, ids.call_id.as_bytes(), &dict) {
        Ok((_, reply)) => Some(Value::str(reply.to_json().to_string())),
        Err(err) => {
            tracing::error!("$rtpquery: {err}");
            None
        }
    }
}

const ALL: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "rtpengine",
    params: &[
        ParamSpec::str("rtpengine_sock").multi(),
        ParamSpec::int("rtpengine_disable_tout"),
        ParamSpec::int("rtpengine_tout"),
        ParamSpec::int("rtpengine_tout_ms"),
        ParamSpec::int("rtpengine_retr"),
        ParamSpec::int("rtpengine_timer_interval"),
        ParamSpec::int("default_set"),
        ParamSpec::int("ping_enabled"),
    ],
    functions: &[
        FunctionSpec {
            name: "rtpengine_offer",
            params: &[p::OPT_STR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
            routes: ALL,
            handler: rtpengine_offer,
        },
        FunctionSpec {
            name: "rtpengine_answer",
            params: &[p::OPT_STR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
            routes: ALL,
            handler: rtpengine_answer,
        },
        FunctionSpec {
            name: "rtpengine_manage",
            params: &[p::OPT_STR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
            routes: ALL,
            handler: rtpengine_manage,
        },
        FunctionSpec {
            name: "rtpengine_delete",
            params: &[p::OPT_STR, p::OPT_VAR],
            routes: ALL,
            handler: rtpengine_delete,
        },
        FunctionSpec {
            name: "rtpengine_use_set",
            params: &[p::INT],
            routes: ALL,
            handler: rtpengine_use_set,
        },
    ],
    pvs: &[crate::script::PvExport::read(
        "rtpquery",
        false,
        rtpquery_pv,
    )],
    mi_commands: Engines::MI_COMMANDS,
    stats: STATS,
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
