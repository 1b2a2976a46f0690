//! dispatcher: destination sets from the `dispatcher` table, `ds_select_dst` / `ds_select_domain`
//! with the algorithms of OpenSIPS 3.x, failover through `ds_next_dst` / `ds_next_domain` (the
//! remaining destinations are kept in AVPs as OpenSIPS does), `ds_mark_dst`, `ds_is_in_list`,
//! `ds_count`, OPTIONS probing and the MI commands `ds_list`, `ds_set_state`, `ds_reload`.

pub mod algo;
mod mi;
mod probe;
pub mod set;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::RwLock;

use crate::db::Db;
use crate::events::EventParams;
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::pv::{Format, parse_format};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::{AuthParams, HdrId};

use super::auth_db::db;
use algo::Pick;
use set::{Dest, DsState, Row, Sets};

pub use probe::PingConfig;

/// AVP names and variables the module is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub dst_avp: String,
    pub grp_avp: String,
    pub cnt_avp: String,
    pub attrs_avp: Option<String>,
    pub hash_pvar: Option<String>,
    pub pvar_algo_pattern: Option<String>,
    pub setid_pvar: Option<String>,
    pub probe: PingConfig,
}

struct State {
    db: Arc<Db>,
    select: String,
    /// `UPDATE ... SET state WHERE setid AND destination` when `persistent_state` is on.
    update: Option<String>,
    sets: RwLock<Arc<Sets>>,
    cfg: Config,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

const EVENT: &str = "E_DISPATCHER_STATUS";

impl State {
    /// Writes the state of every destination back to the table (`persistent_state`).
    fn flush(&self) {
        let Some(sql) = &self.update else { return };
        let sets = self.sets.read().clone();
        for s in &sets.sets {
            for d in &s.dests {
                let params = crate::params![d.state() as i64, s.id as i64, d.uri.as_str()];
                if let Err(e) = self.db.execute(sql, params) {
                    tracing::error!("dispatcher: cannot save the state of {}: {e}", d.uri);
                }
            }
        }
    }

    fn load(&self) -> Result<Sets, String> {
        let rows = self
            .db
            .query(&self.select, &[])
            .map_err(|e| format!("dispatcher table: {e}"))?;
        let rows: Vec<Row> = rows
            .iter()
            .map(|r| Row {
                setid: r.get(0).as_i64().unwrap_or(0),
                destination: r.get(1).to_text().unwrap_or_default(),
                socket: r.get(2).to_text(),
                state: r.get(3).as_i64().unwrap_or(0),
                probe_mode: r.get(4).as_i64().unwrap_or(0),
                weight: r.get(5).to_text().unwrap_or_else(|| "1".into()),
                priority: r.get(6).as_i64().unwrap_or(0),
                attrs: r.get(7).to_text(),
                description: r.get(8).to_text(),
            })
            .collect();
        Ok(Sets::from_rows(&rows))
    }
}

fn state() -> Option<Arc<State>> {
    STATE.read().clone()
}

/// The sets in use now (None when the module is not running).
pub fn sets() -> Option<Arc<Sets>> {
    Some(state()?.sets.read().clone())
}

/// Reloads the sets from the database, keeping the state of the destinations still there when
/// `inherit` is set.
pub fn reload(inherit: bool) -> Result<(), String> {
    let st = state().ok_or("dispatcher module not running")?;
    let new = st.load()?;
    if inherit {
        new.inherit_from(&st.sets.read());
    }
    *st.sets.write() = Arc::new(new);
    Ok(())
}

/// Changes the state of a destination and raises E_DISPATCHER_STATUS when it changed.
pub fn change_state(setid: i32, d: &Dest, new: DsState) {
    let old = d.set_state(new);
    if old == new {
        return;
    }
    tracing::info!(
        "dispatcher: set {setid} destination {} {} -> {}",
        d.uri,
        old.name(),
        new.name()
    );
    if let Some(shared) = crate::runtime::global_shared() {
        let params = EventParams::new()
            .with("partition", "default")
            .with("group", setid as i64)
            .with("address", d.uri.as_str())
            .with("status", new.name().to_ascii_lowercase());
        shared.events.raise_by_name(EVENT, params);
    }
}

/// A failure (probe or `ds_mark_dst("p")`): the destination goes Probing after `threshold` of them.
pub fn note_failure(setid: i32, d: &Dest, threshold: u32) {
    let n = d.failures.fetch_add(1, Ordering::Relaxed) + 1;
    if n >= threshold.max(1) && d.state() == DsState::Active {
        change_state(setid, d, DsState::Probing);
    }
}

fn str_param(ctx: &InitCtx<'_>, name: &str) -> Option<String> {
    match ctx.params.get(name) {
        Some(ParamValue::Str(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(ParamValue::Int(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// `$avp(name)` (or a bare name) to the AVP name.
fn avp_name(param: &str, spec: &str) -> Result<String, String> {
    let s = spec.trim();
    let inner = s
        .strip_prefix("$avp(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s);
    if inner.is_empty() || inner.contains(['$', '(', ')', ' ']) {
        return Err(format!("modparam {param}: `{spec}` is not an $avp(name)"));
    }
    Ok(inner.to_string())
}

fn config(ctx: &InitCtx<'_>) -> Result<Config, String> {
    let avp = |name: &str, default: &str| -> Result<String, String> {
        match str_param(ctx, name) {
            Some(s) => avp_name(name, &s),
            None => Ok(default.to_string()),
        }
    };
    let check_fmt = |name: &str| -> Result<Option<String>, String> {
        match str_param(ctx, name) {
            Some(s) => {
                parse_format(&s, &|_| true).map_err(|e| format!("modparam {name}: {}", e.msg))?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    };
    if let Some(p) = str_param(ctx, "partition") {
        tracing::warn!("dispatcher: only the default partition is served; `{p}` is ignored");
    }
    Ok(Config {
        dst_avp: avp("dst_avp", "__ds_dst")?,
        grp_avp: avp("grp_avp", "__ds_grp")?,
        cnt_avp: avp("cnt_avp", "__ds_cnt")?,
        attrs_avp: str_param(ctx, "attrs_avp")
            .map(|s| avp_name("attrs_avp", &s))
            .transpose()?,
        hash_pvar: check_fmt("hash_pvar")?,
        pvar_algo_pattern: str_param(ctx, "pvar_algo_pattern"),
        setid_pvar: check_fmt("setid_pvar")?,
        probe: PingConfig::from_params(ctx)?,
    })
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let cfg = config(ctx)?;
    let db = db::open(ctx)?;
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let select = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
        col("setid_col", "setid")?,
        col("destination_col", "destination")?,
        col("socket_col", "socket")?,
        col("state_col", "state")?,
        col("probe_mode_col", "probe_mode")?,
        col("weight_col", "weight")?,
        col("priority_col", "priority")?,
        col("attrs_col", "attrs")?,
        col("description_col", "description")?,
        db::ident(
            &db,
            "table",
            &db::str_param(ctx, "table_name", "dispatcher")
        )?,
    );
    let update = if db::int_param(ctx, "persistent_state", 1)? != 0 {
        Some(format!(
            "UPDATE {} SET {} = ? WHERE {} = ? AND {} = ?",
            db::ident(
                &db,
                "table",
                &db::str_param(ctx, "table_name", "dispatcher")
            )?,
            col("state_col", "state")?,
            col("setid_col", "setid")?,
            col("destination_col", "destination")?,
        ))
    } else {
        None
    };
    let st = State {
        db,
        select,
        update,
        sets: RwLock::new(Arc::new(Sets::default())),
        cfg: cfg.clone(),
    };
    *st.sets.write() = Arc::new(st.load()?);
    *STATE.write() = Some(Arc::new(st));
    probe::start(cfg.probe);
    Ok(())
}

fn destroy() {
    probe::stop();
    if let Some(st) = STATE.write().take() {
        st.flush();
    }
}

// ---- script functions ----

fn hdr_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The text algorithms 0-3 and 5 hash; None when the message lacks it.
fn hash_text(ctx: &mut RunCtx<'_>, alg: i32, user_only: bool) -> Option<String> {
    let m = sip(ctx)?;
    let uri_text = |raw: &[u8]| -> String {
        if user_only && let Ok(u) = crate::sip::Uri::parse(raw) {
            return u.user.map(hdr_text).unwrap_or_default();
        }
        hdr_text(raw)
    };
    match alg {
        0 => Some(hdr_text(m.msg.call_id())),
        1 => m.msg.from().ok().map(|f| uri_text(f.uri.raw)),
        2 => m.msg.to().ok().map(|t| uri_text(t.uri.raw)),
        3 => Some(uri_text(m.ruri().as_bytes())),
        5 => [HdrId::ProxyAuthorization, HdrId::Authorization]
            .into_iter()
            .filter_map(|id| m.msg.header(id))
            .find_map(|v| AuthParams::parse(v).ok()?.username().map(hdr_text)),
        _ => None,
    }
}

fn expand_fmt(ctx: &mut RunCtx<'_>, text: &str) -> Option<String> {
    let f: Format = parse_format(text, &|_| true).ok()?;
    Some(ctx.expand(&f))
}

fn pick(ctx: &mut RunCtx<'_>, st: &State, set: &set::DsSet, alg: i32, flags: &str) -> Option<Pick> {
    let user_only = flags.contains('u');
    Some(match alg {
        0..=3 => Pick::Hash(algo::hash(hash_text(ctx, alg, user_only)?.as_bytes())),
        4 => Pick::RoundRobin,
        5 => match hash_text(ctx, 5, false) {
            Some(u) => Pick::Hash(algo::hash(u.as_bytes())),
            None => Pick::RoundRobin,
        },
        6 | 11 => Pick::Random(rand::random()),
        7 => {
            let Some(f) = st.cfg.hash_pvar.as_deref() else {
                tracing::error!("ds_select_dst: algorithm 7 needs the hash_pvar modparam");
                return None;
            };
            Pick::Hash(algo::hash(expand_fmt(ctx, f)?.as_bytes()))
        }
        9 => {
            let Some(pat) = st.cfg.pvar_algo_pattern.clone() else {
                tracing::error!("ds_select_dst: algorithm 9 needs the pvar_algo_pattern modparam");
                return None;
            };
            let loads = set
                .dests
                .iter()
                .map(|d| {
                    let text = pat.replace("%u", &d.uri).replace("%i", &set.id.to_string());
                    expand_fmt(ctx, &text)
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(i64::MAX)
                })
                .collect();
            Pick::Load(loads)
        }
        10 => Pick::LeastLoaded,
        _ => Pick::First,
    })
}

fn select(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], domain: bool) -> i32 {
    let fname = if domain {
        "ds_select_domain"
    } else {
        "ds_select_dst"
    };
    let Some(st) = state() else {
        return -1;
    };
    let setid = args.first().and_then(ArgValue::int).unwrap_or(0);
    let alg = args.get(1).and_then(ArgValue::int).unwrap_or(0);
    let flags = args
        .get(2)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let max = args
        .get(4)
        .and_then(ArgValue::int)
        .filter(|&n| n > 0)
        .map(|n| n as usize);
    if let Some(part) = args.get(3).and_then(ArgValue::str)
        && !part.is_empty()
        && part != "default"
    {
        tracing::error!("{fname}: partition `{part}` not found (only `default` is served)");
        return -1;
    }
    let sets = st.sets.read().clone();
    let Some(set) = sets.set(setid) else {
        tracing::error!("{fname}: destination set {setid} not found");
        return -1;
    };
    let Some(pk) = pick(ctx, &st, set, alg, &flags) else {
        return -1;
    };
    let mut order = algo::order(set, &pk, flags.contains('d'));
    if order.is_empty() {
        return -1;
    }
    if !flags.contains('f') {
        order.truncate(1);
    }
    if let Some(m) = max {
        order.truncate(m);
    }
    let first = &set.dests[order[0]];
    first.first_hits.fetch_add(1, Ordering::Relaxed);
    if pk == Pick::LeastLoaded {
        first.load.fetch_add(1, Ordering::Relaxed);
    }
    if !set_target(ctx, &first.uri, domain) {
        return -1;
    }
    set_socket(ctx, first.socket.as_deref());
    let cfg = &st.cfg;
    let append = flags.contains('a');
    if !append {
        ctx.avps.delete_all(&cfg.dst_avp);
        ctx.avps.delete_all(&cfg.grp_avp);
        if let Some(a) = &cfg.attrs_avp {
            ctx.avps.delete_all(a);
        }
    }
    // The chosen destination ends on top, the next one below it, and so on.
    for (k, &i) in order.iter().enumerate().rev() {
        let d = &set.dests[i];
        let put = |avps: &mut crate::script::vars::AvpStore, name: &str, v: Value| {
            if append && k > 0 {
                avps.append(name, v)
            } else {
                avps.push(name, v)
            }
        };
        put(ctx.avps, &cfg.dst_avp, Value::str(d.uri.clone()));
        put(ctx.avps, &cfg.grp_avp, Value::Int(setid));
        if let Some(a) = &cfg.attrs_avp {
            put(ctx.avps, a, Value::str(d.attrs.clone()));
        }
    }
    let cnt = ctx.avps.count(&cfg.dst_avp) as i32;
    ctx.avps.replace(&cfg.cnt_avp, Value::Int(cnt));
    1
}

/// `$du` := uri, or the R-URI's host and port := those of uri.
fn set_target(ctx: &mut RunCtx<'_>, uri: &str, domain: bool) -> bool {
    let Some(m) = sip(ctx) else {
        return false;
    };
    if !domain {
        m.dst_uri = Some(uri.to_string());
        return true;
    }
    let Ok(u) = crate::sip::Uri::parse(uri.as_bytes()) else {
        return false;
    };
    let host = hdr_text(u.host);
    let port = u.port.map(|p| p.to_string());
    m.set_ruri_part("host", Some(&host)).is_ok() && m.set_ruri_part("port", port.as_deref()).is_ok()
}

/// The listening socket named by a destination's `socket` column (`udp:127.0.0.1:5060`).
pub fn socket_id(text: &str) -> Option<crate::transport::SocketId> {
    let def: crate::transport::SocketDef = text.trim().parse().ok()?;
    let core = crate::runtime::global_shared()?.core()?;
    core.transport()
        .sockets()
        .iter()
        .position(|l| l.def.proto == def.proto && l.def.addr == def.addr)
}

/// `force_send_socket` to the destination's socket, when it names one of ours.
fn set_socket(ctx: &mut RunCtx<'_>, socket: Option<&str>) {
    let id = socket.and_then(|s| {
        let id = socket_id(s);
        if id.is_none() {
            tracing::warn!("dispatcher: socket `{s}` is not one of ours, ignored");
        }
        id
    });
    if id.is_some()
        && let Some(m) = sip(ctx)
    {
        m.send_socket = id;
    }
}

fn ds_select_dst(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    select(ctx, args, false)
}

fn ds_select_domain(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    select(ctx, args, true)
}

fn next(ctx: &mut RunCtx<'_>, domain: bool) -> i32 {
    let Some(st) = state() else {
        return -1;
    };
    let cfg = &st.cfg;
    if ctx.avps.count(&cfg.dst_avp) == 0 {
        return -1;
    }
    let sets = st.sets.read().clone();
    // The call leaves the destination it was on (algorithm 10 counts what it sent there).
    if let Some(uri) = ctx.avps.get(&cfg.dst_avp, 0).as_str()
        && let Some(d) = sets.find(ctx.avps.get(&cfg.grp_avp, 0).as_int().unwrap_or(0), &uri)
    {
        let _ = d
            .load
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
    ctx.avps.delete_at(&cfg.dst_avp, 0);
    ctx.avps.delete_at(&cfg.grp_avp, 0);
    if let Some(a) = &cfg.attrs_avp {
        ctx.avps.delete_at(a, 0);
    }
    loop {
        let uri = ctx.avps.get(&cfg.dst_avp, 0);
        let Some(uri) = uri.as_str().map(|s| s.into_owned()) else {
            return -1;
        };
        let grp = ctx.avps.get(&cfg.grp_avp, 0).as_int().unwrap_or(0);
        // A destination that went down since the selection is skipped.
        if sets.find(grp, &uri).is_some_and(|d| !d.is_active()) {
            ctx.avps.delete_at(&cfg.dst_avp, 0);
            ctx.avps.delete_at(&cfg.grp_avp, 0);
            if let Some(a) = &cfg.attrs_avp {
                ctx.avps.delete_at(a, 0);
            }
            continue;
        }
        let cnt = ctx.avps.count(&cfg.dst_avp) as i32;
        ctx.avps.replace(&cfg.cnt_avp, Value::Int(cnt));
        if !set_target(ctx, &uri, domain) {
            return -1;
        }
        let socket = sets.find(grp, &uri).and_then(|d| d.socket.clone());
        set_socket(ctx, socket.as_deref());
        return 1;
    }
}

fn ds_next_dst(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    next(ctx, false)
}

fn ds_next_domain(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    next(ctx, true)
}

fn ds_mark_dst(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(st) = state() else {
        return -1;
    };
    let letter = args.first().and_then(ArgValue::str).unwrap_or("i");
    let Some(new) = DsState::from_letter(letter) else {
        tracing::error!("ds_mark_dst: unknown state `{letter}` (a, i or p)");
        return -1;
    };
    let uri = ctx.avps.get(&st.cfg.dst_avp, 0);
    let Some(uri) = uri.as_str().map(|s| s.into_owned()) else {
        return -1;
    };
    let grp = ctx.avps.get(&st.cfg.grp_avp, 0).as_int().unwrap_or(0);
    let sets = st.sets.read().clone();
    let Some(d) = sets.find(grp, &uri) else {
        return -1;
    };
    match new {
        DsState::Probing => note_failure(grp, d, st.cfg.probe.threshold),
        s => change_state(grp, d, s),
    }
    1
}

fn set_var(ctx: &mut RunCtx<'_>, var: Option<&ArgValue<'_>>, v: Value) {
    if let Some(ArgValue::Var(spec)) = var
        && let Err(e) = ctx.set_pv(spec, AssignOp::Set, v)
    {
        tracing::error!("dispatcher: cannot set the variable: {e}");
    }
}

fn ds_is_in_list(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(st) = state() else {
        return -1;
    };
    let ip_text = args.first().and_then(ArgValue::str).unwrap_or("");
    let Ok(ip) = ip_text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    else {
        tracing::error!("ds_is_in_list: `{ip_text}` is not an IP address");
        return -1;
    };
    let port = args.get(1).and_then(ArgValue::int).unwrap_or(0);
    let Ok(port) = u16::try_from(port) else {
        return -1;
    };
    let want = args.get(2).and_then(ArgValue::int).filter(|&s| s >= 0);
    let active_only = args.get(4).and_then(ArgValue::int).unwrap_or(0) != 0;
    let sets = st.sets.read().clone();
    for s in &sets.sets {
        if want.is_some_and(|w| w != s.id) {
            continue;
        }
        let hit = s
            .dests
            .iter()
            .any(|d| d.matches(ip, port) && (!active_only || d.is_active()));
        if hit {
            if want.is_none()
                && let Some(var) = &st.cfg.setid_pvar
                && let Ok(spec) = crate::script::pv::parse_pv(var)
                && let Err(e) = ctx.set_pv(&spec, AssignOp::Set, Value::Int(s.id))
            {
                tracing::error!("ds_is_in_list: cannot set setid_pvar: {e}");
            }
            return 1;
        }
    }
    -1
}

fn ds_count(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(sets) = sets() else {
        return -1;
    };
    let setid = args.first().and_then(ArgValue::int).unwrap_or(0);
    let filter = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("a")
        .to_ascii_lowercase();
    let Some(set) = sets.set(setid) else {
        return -1;
    };
    let n = set
        .dests
        .iter()
        .filter(|d| match d.state() {
            DsState::Active => filter.contains('a'),
            DsState::Inactive => filter.contains('i'),
            DsState::Probing => filter.contains('p'),
            DsState::Disabled => filter.contains('d'),
        })
        .count();
    set_var(ctx, args.get(2), Value::Int(n as i32));
    1
}

fn ds_push_script_attrs(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let attrs = args.first().and_then(ArgValue::str).unwrap_or("");
    let ip = args.get(1).and_then(ArgValue::str).unwrap_or("");
    let port = args.get(2).and_then(ArgValue::int).unwrap_or(0);
    let setid = args.get(3).and_then(ArgValue::int).unwrap_or(-1);
    push_script_attrs(attrs, ip, port, setid)
}

/// Sets the script attributes of the destinations at `ip:port` (port 0 = any) of `setid` (-1 = all).
fn push_script_attrs(attrs: &str, ip: &str, port: i32, setid: i32) -> i32 {
    let (Some(sets), Ok(ip), Ok(port)) = (
        sets(),
        ip.trim().parse::<std::net::IpAddr>(),
        u16::try_from(port),
    ) else {
        return -1;
    };
    let mut n = 0;
    for s in sets.sets.iter().filter(|s| setid < 0 || s.id == setid) {
        for d in s.dests.iter().filter(|d| d.matches(ip, port)) {
            *d.script_attrs.lock() = attrs.to_string();
            n += 1;
        }
    }
    if n > 0 { 1 } else { -1 }
}

const R_F: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);
const R_B_F: RouteMask = R_F.or(RouteMask::BRANCH).or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "dispatcher",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("table_name"),
        ParamSpec::str("partition").multi(),
        ParamSpec::str("setid_col"),
        ParamSpec::str("destination_col"),
        ParamSpec::str("socket_col"),
        ParamSpec::str("state_col"),
        ParamSpec::str("probe_mode_col"),
        ParamSpec::str("weight_col"),
        ParamSpec::str("priority_col"),
        ParamSpec::str("attrs_col"),
        ParamSpec::str("description_col"),
        ParamSpec::str("dst_avp"),
        ParamSpec::str("grp_avp"),
        ParamSpec::str("cnt_avp"),
        ParamSpec::str("sock_avp"),
        ParamSpec::str("attrs_avp"),
        ParamSpec::str("script_attrs_avp"),
        ParamSpec::str("hash_pvar"),
        ParamSpec::str("setid_pvar"),
        ParamSpec::str("pvar_algo_pattern"),
        ParamSpec::str("ds_ping_method"),
        ParamSpec::str("ds_ping_from"),
        ParamSpec::int("ds_ping_interval"),
        ParamSpec::int("ds_probing_threshold"),
        ParamSpec::int("ds_probing_mode"),
        ParamSpec::int("ds_ping_maxfwd"),
        ParamSpec::str("ds_probing_sock"),
        ParamSpec::str("options_reply_codes"),
        ParamSpec::int("persistent_state"),
        ParamSpec::str("ds_define_blacklist").multi(),
    ],
    functions: &[
        FunctionSpec {
            name: "ds_select_dst",
            params: &[p::INT, p::INT, p::OPT_STR, p::OPT_STR, p::OPT_INT],
            routes: R_B_F,
            handler: ds_select_dst,
        },
        FunctionSpec {
            name: "ds_select_domain",
            params: &[p::INT, p::INT, p::OPT_STR, p::OPT_STR, p::OPT_INT],
            routes: R_B_F,
            handler: ds_select_domain,
        },
        FunctionSpec {
            name: "ds_next_dst",
            params: &[p::OPT_STR],
            routes: R_F,
            handler: ds_next_dst,
        },
        FunctionSpec {
            name: "ds_next_domain",
            params: &[p::OPT_STR],
            routes: R_F,
            handler: ds_next_domain,
        },
        FunctionSpec {
            name: "ds_mark_dst",
            params: &[p::OPT_STR, p::OPT_STR],
            routes: R_F,
            handler: ds_mark_dst,
        },
        FunctionSpec {
            name: "ds_is_in_list",
            params: &[
                p::STR,
                p::INT,
                p::OPT_INT,
                p::OPT_STR,
                p::OPT_INT,
                p::OPT_STR,
            ],
            routes: RouteMask::ALL,
            handler: ds_is_in_list,
        },
        FunctionSpec {
            name: "ds_count",
            params: &[p::INT, p::STR, p::VAR, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: ds_count,
        },
        FunctionSpec {
            name: "ds_push_script_attrs",
            params: &[p::STR, p::STR, p::INT, p::INT, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: ds_push_script_attrs,
        },
    ],
    mi_commands: mi::MI,
    events: &[crate::events::E_DISPATCHER_STATUS],
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};
