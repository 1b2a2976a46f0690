//! load_balancer: destinations with resource capacities from the `load_balancer` table; the
//! load of a destination is the number of ongoing dialogs counted against it (the dialog
//! module's profiles, one per resource, valued with the destination id). `lb_start` sets `$du`
//! to the destination with the most free capacity for the requested resources, `lb_next`
//! moves the call to the next one in a failure route; `lb_reset`, `lb_is_started`,
//! `lb_disable_dst`, `lb_is_destination`, `lb_count_call`, MI `lb_reload`, `lb_list`,
//! `lb_status`, `lb_resize` and the E_LOAD_BALANCER_STATUS event.
//!
//! Destinations are probed per their `probe_mode` (`probe.rs`); `probing_verbose` logs, at
//! INFO, each change of state by probing or MI. Not served: FreeSWITCH stats, clustering,
//! `lb_define_blacklist`.

pub mod data;
mod mi;
pub mod probe;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::db::Db;
use crate::events::{EventDef, EventParams};
use crate::modules::dialog::{self, dlg::DlgRef, track};
use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db;
use data::{Flags, LbData, LbDest, Row};

/// The session of a call, kept in AVPs so that the failure route sees it.
const AVP_GRP: &str = "__lb_grp__";
const AVP_RES: &str = "__lb_res__";
const AVP_FLAGS: &str = "__lb_flags__";
/// Destinations tried, the one in use on top.
const AVP_TRIED: &str = "__lb_tried__";

pub const E_LOAD_BALANCER_STATUS: EventDef = EventDef {
    name: "E_LOAD_BALANCER_STATUS",
    params: &["group", "uri", "status"],
};

struct State {
    db: Arc<Db>,
    select: String,
    data: RwLock<Arc<LbData>>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);
/// `probing_verbose`.
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// Choosing a destination and counting the call on it happen under this lock, so two calls
/// cannot both take the last free slot.
static PICK: Mutex<()> = Mutex::new(());

fn state() -> Option<Arc<State>> {
    STATE.read().clone()
}

/// The destinations in use now (None when the module is not running).
pub fn data() -> Option<Arc<LbData>> {
    Some(state()?.data.read().clone())
}

/// The dialog profile a resource's load is counted in.
pub fn profile(resource: &str) -> String {
    format!("lb:{resource}")
}

/// Ongoing calls on `d` using `resource`.
pub fn load(d: &LbDest, resource: &str) -> u32 {
    dialog::dialogs()
        .map(|dm| {
            dm.table
                .profile_size(&profile(resource), Some(&d.id.to_string())) as u32
        })
        .unwrap_or(0)
}

impl State {
    fn load(&self) -> Result<LbData, String> {
        let rows = self
            .db
            .query(&self.select, &[])
            .map_err(|e| format!("load_balancer table: {e}"))?;
        let rows = rows
            .iter()
            .map(|r| Row {
                id: r.get(0).as_i64().unwrap_or(0),
                group_id: r.get(1).as_i64().unwrap_or(0),
                dst_uri: r.get(2).to_text().unwrap_or_default(),
                resources: r.get(3).to_text().unwrap_or_default(),
                probe_mode: r.get(4).as_i64().unwrap_or(0),
                attrs: r.get(5).to_text(),
            })
            .collect();
        LbData::build(rows)
    }
}

/// Reloads the table; destinations still there keep their enabled state.
pub fn reload() -> Result<(), String> {
    let st = state().ok_or("load_balancer module not running")?;
    let new = st.load()?;
    new.inherit_from(&st.data.read());
    *st.data.write() = Arc::new(new);
    Ok(())
}

/// Enables or disables a destination, raising E_LOAD_BALANCER_STATUS when it changed; whether
/// it changed.
pub fn set_enabled(d: &LbDest, on: bool) -> bool {
    if d.set_enabled(on) == on {
        return false;
    }
    let status = if on { "enabled" } else { "disabled" };
    tracing::debug!("load_balancer: destination {} {status}", d.uri);
    if let Some(shared) = crate::runtime::global_shared() {
        let params = EventParams::new()
            .with("group", d.group as i64)
            .with("uri", d.uri.as_str())
            .with("status", status);
        shared
            .events
            .raise_by_name(E_LOAD_BALANCER_STATUS.name, params);
    }
    true
}

/// With `probing_verbose`, an INFO line on a change of state in OpenSIPS's words: `action`
/// ("re-enable", "manually disable") and why (" after 503 reply on probe").
pub fn verbose(d: &LbDest, action: &str, why: &str) {
    if VERBOSE.load(Ordering::Relaxed) {
        tracing::info!(
            "load_balancer: {action} destination {} <{}>{why}",
            d.id,
            d.uri
        );
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let cols = [
        "id",
        "group_id",
        "dst_uri",
        "resources",
        "probe_mode",
        "attrs",
    ]
    .iter()
    .map(|c| db::ident(&db, "column", c))
    .collect::<Result<Vec<_>, _>>()?
    .join(", ");
    let select = format!(
        "SELECT {cols} FROM {}",
        db::ident(
            &db,
            "table",
            &db::str_param(ctx, "db_table", "load_balancer")
        )?
    );
    let st = State {
        db,
        select,
        data: RwLock::new(Arc::new(LbData::default())),
    };
    *st.data.write() = Arc::new(st.load()?);
    let probe = crate::modules::probe::ProbeConfig::from_probing_params(ctx)?;
    VERBOSE.store(
        db::int_param(ctx, "probing_verbose", 0)? != 0,
        Ordering::Relaxed,
    );
    *STATE.write() = Some(Arc::new(st));
    probe::PROBER.start(probe);
    Ok(())
}

fn destroy() {
    probe::PROBER.stop();
    STATE.write().take();
}

// ---- the call's dialog ----

/// The dialog of the call, created when the script did not (as OpenSIPS does).
fn call_dialog(ctx: &mut RunCtx<'_>) -> Option<DlgRef> {
    if dialog::dialogs().is_none() {
        tracing::error!("load_balancer: the dialog module is needed to count the load");
        return None;
    }
    let m = sip(ctx)?;
    if let Some((d, _)) = track::current(m) {
        return Some(d);
    }
    if dialog::funcs::create_dialog(ctx, &[]) < 0 {
        return None;
    }
    track::current(sip(ctx)?).map(|(d, _)| d)
}

fn count(d: &DlgRef, dest: u32, resources: &[String]) {
    let mut g = d.lock();
    let id = dest.to_string();
    for r in resources {
        let entry = (profile(r), Some(id.clone()));
        if !g.profiles.contains(&entry) {
            g.profiles.push(entry);
        }
    }
    dialog::persist(&mut g);
}

fn uncount(d: &DlgRef, dest: u32, resources: &[String]) {
    let mut g = d.lock();
    let id = dest.to_string();
    g.profiles.retain(|(p, v)| {
        !(v.as_deref() == Some(&id) && resources.iter().any(|r| *p == profile(r)))
    });
    dialog::persist(&mut g);
}

fn current_dialog(ctx: &mut RunCtx<'_>) -> Option<DlgRef> {
    track::current(sip(ctx)?).map(|(d, _)| d)
}

// ---- script functions ----

struct Session {
    group: i32,
    resources: Vec<String>,
    flags: Flags,
    tried: Vec<u32>,
}

fn session(ctx: &RunCtx<'_>) -> Option<Session> {
    let tried: Vec<u32> = ctx
        .avps
        .values(AVP_TRIED)
        .filter_map(|v| v.as_int())
        .map(|v| v as u32)
        .collect();
    if tried.is_empty() {
        return None;
    }
    Some(Session {
        group: ctx.avps.get(AVP_GRP, 0).as_int()?,
        resources: data::parse_wanted(&ctx.avps.get(AVP_RES, 0).as_str()?),
        flags: Flags::parse(&ctx.avps.get(AVP_FLAGS, 0).as_str().unwrap_or_default()),
        tried,
    })
}

fn clear_session(ctx: &mut RunCtx<'_>) {
    for a in [AVP_GRP, AVP_RES, AVP_FLAGS, AVP_TRIED] {
        ctx.avps.delete_all(a);
    }
}

/// Chooses and counts a destination for the session, setting `$du`; the script's return code.
fn route(ctx: &mut RunCtx<'_>, s: &Session, attrs_var: Option<&ArgValue<'_>>) -> i32 {
    let Some(d) = data() else { return -1 };
    let chosen = {
        let _g = PICK.lock();
        let r = data::select(
            &d,
            s.group,
            &s.resources,
            s.flags,
            &s.tried,
            &load,
            &mut |n| rand::random::<u32>() as usize % n.max(1),
        );
        // The dialog is made only for a call that goes somewhere.
        if let Ok(id) = r {
            let Some(dlg) = call_dialog(ctx) else {
                return -1;
            };
            count(&dlg, id, &s.resources);
        }
        r
    };
    match chosen {
        Ok(id) => {
            let (uri, attrs) = d
                .by_id(id)
                .map(|x| (x.uri.clone(), x.attrs.clone()))
                .unwrap_or_default();
            ctx.avps.push(AVP_TRIED, Value::Int(id as i32));
            if let Some(ArgValue::Var(spec)) = attrs_var
                && let Err(e) =
                    ctx.set_pv(spec, crate::script::ast::AssignOp::Set, Value::str(attrs))
            {
                tracing::error!("load_balancer: cannot set the attributes variable: {e}");
            }
            let Some(m) = sip(ctx) else { return -1 };
            m.dst_uri = Some(uri);
            1
        }
        Err(e) => {
            tracing::debug!("load_balancer: group {}: {e:?}", s.group);
            e as i32
        }
    }
}

fn lb_start(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(group) = args.first().and_then(ArgValue::int) else {
        tracing::error!("lb_start: the group is not a number");
        return -1;
    };
    let res_text = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let resources = data::parse_wanted(&res_text);
    if resources.is_empty() {
        tracing::error!("lb_start: no resources given");
        return -4;
    }
    let flags = Flags::parse(args.get(2).and_then(ArgValue::str).unwrap_or(""));
    reset(ctx);
    ctx.avps.push(AVP_GRP, Value::Int(group));
    ctx.avps.push(AVP_RES, Value::str(resources.join(";")));
    ctx.avps.push(AVP_FLAGS, Value::str(flags.text()));
    let s = Session {
        group,
        resources,
        flags,
        tried: Vec::new(),
    };
    let rc = route(ctx, &s, args.get(3));
    if rc < 0 {
        clear_session(ctx);
    }
    rc
}

fn lb_next(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(s) = session(ctx) else {
        tracing::error!("lb_next: no load-balancing session (lb_start first)");
        return -1;
    };
    // The call leaves the destination it was on.
    if let Some(dlg) = current_dialog(ctx) {
        uncount(&dlg, s.tried[0], &s.resources);
    }
    route(ctx, &s, args.first())
}

fn lb_start_or_next(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    if session(ctx).is_some() {
        lb_next(ctx, args.get(3).map(std::slice::from_ref).unwrap_or(&[]))
    } else {
        lb_start(ctx, args)
    }
}

/// Ends the session: the call no longer counts on its destination.
fn reset(ctx: &mut RunCtx<'_>) {
    if let Some(s) = session(ctx)
        && let Some(dlg) = current_dialog(ctx)
    {
        uncount(&dlg, s.tried[0], &s.resources);
    }
    clear_session(ctx);
}

fn lb_reset(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    reset(ctx);
    1
}

fn lb_is_started(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    if session(ctx).is_some() { 1 } else { -1 }
}

fn lb_disable_dst(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let (Some(s), Some(d)) = (session(ctx), data()) else {
        return -1;
    };
    match d.by_id(s.tried[0]) {
        Some(dest) => {
            set_enabled(dest, false);
            1
        }
        None => -1,
    }
}

fn ip_port(args: &[ArgValue<'_>], fname: &str) -> Option<(IpAddr, u16)> {
    let text = args.first().and_then(ArgValue::str).unwrap_or("");
    let Ok(ip) = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        tracing::error!("{fname}: `{text}` is not an IP address");
        return None;
    };
    let port = args.get(1).and_then(ArgValue::int).unwrap_or(0);
    Some((ip, u16::try_from(port).ok()?))
}

fn lb_is_destination(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some((ip, port)), Some(d)) = (ip_port(args, "lb_is_destination"), data()) else {
        return -1;
    };
    let group = args.get(2).and_then(ArgValue::int).filter(|&g| g >= 0);
    let active_only = args.get(3).and_then(ArgValue::int).unwrap_or(0) != 0;
    let hit = d.dests.iter().find(|x| {
        group.is_none_or(|g| g == x.group) && x.matches(ip, port) && (!active_only || x.enabled())
    });
    match hit {
        Some(x) => {
            let attrs = x.attrs.clone();
            if let Some(ArgValue::Var(spec)) = args.get(4)
                && let Err(e) =
                    ctx.set_pv(spec, crate::script::ast::AssignOp::Set, Value::str(attrs))
            {
                tracing::error!("lb_is_destination: {e}");
            }
            1
        }
        None => -1,
    }
}

fn lb_count_call(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some((ip, port)), Some(d)) = (ip_port(args, "lb_count_call"), data()) else {
        return -1;
    };
    let group = args.get(2).and_then(ArgValue::int).unwrap_or(-1);
    let resources = data::parse_wanted(args.get(3).and_then(ArgValue::str).unwrap_or(""));
    let undo = args.get(4).and_then(ArgValue::int).unwrap_or(0) != 0;
    let Some(dest) = d
        .dests
        .iter()
        .find(|x| (group < 0 || x.group == group) && x.matches(ip, port))
    else {
        return -1;
    };
    if resources.is_empty() || resources.iter().any(|r| dest.capacity(r).is_none()) {
        tracing::error!("lb_count_call: {} lacks one of the resources", dest.uri);
        return -1;
    }
    let id = dest.id;
    let Some(dlg) = call_dialog(ctx) else {
        return -1;
    };
    if undo {
        uncount(&dlg, id, &resources);
    } else {
        count(&dlg, id, &resources);
    }
    1
}

const R_B_F: RouteMask = RouteMask::REQUEST
    .or(RouteMask::BRANCH)
    .or(RouteMask::FAILURE);
const R_F: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "load_balancer",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("db_table"),
        ParamSpec::int("probing_interval"),
        ParamSpec::str("probing_method"),
        ParamSpec::str("probing_from"),
        ParamSpec::str("probing_reply_codes"),
        ParamSpec::int("probing_verbose"),
        ParamSpec::str("lb_define_blacklist").multi(),
        ParamSpec::int("fetch_freeswitch_stats"),
        ParamSpec::int("initial_freeswitch_load"),
        ParamSpec::int("cluster_id"),
        ParamSpec::str("cluster_sharing_tag"),
    ],
    functions: &[
        FunctionSpec {
            name: "lb_start",
            params: &[p::INT, p::STR, p::OPT_STR, p::OPT_VAR],
            routes: R_B_F,
            handler: lb_start,
        },
        FunctionSpec {
            name: "lb_next",
            params: &[p::OPT_VAR],
            routes: R_B_F,
            handler: lb_next,
        },
        FunctionSpec {
            name: "lb_start_or_next",
            params: &[p::INT, p::STR, p::OPT_STR, p::OPT_VAR],
            routes: R_B_F,
            handler: lb_start_or_next,
        },
        FunctionSpec {
            name: "load_balance",
            params: &[p::INT, p::STR, p::OPT_STR, p::OPT_VAR],
            routes: R_B_F,
            handler: lb_start_or_next,
        },
        FunctionSpec {
            name: "lb_reset",
            params: &[],
            routes: R_F,
            handler: lb_reset,
        },
        FunctionSpec {
            name: "lb_is_started",
            params: &[],
            routes: RouteMask::ALL,
            handler: lb_is_started,
        },
        FunctionSpec {
            name: "lb_disable_dst",
            params: &[],
            routes: R_F,
            handler: lb_disable_dst,
        },
        FunctionSpec {
            name: "lb_is_destination",
            params: &[p::STR, p::INT, p::OPT_INT, p::OPT_INT, p::OPT_VAR],
            routes: RouteMask::ALL,
            handler: lb_is_destination,
        },
        FunctionSpec {
            name: "lb_count_call",
            params: &[p::STR, p::INT, p::INT, p::STR, p::OPT_INT],
            routes: R_B_F,
            handler: lb_count_call,
        },
    ],
    mi_commands: mi::MI,
    events: &[E_LOAD_BALANCER_STATUS],
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};
