//! drouting: dynamic routing from `dr_gateways`, `dr_rules`, `dr_carriers` and `dr_groups`
//! (default partition). `do_routing` picks the rule of the longest matching prefix of the
//! R-URI user (then by priority), rewrites the R-URI towards its first usable gateway (strip,
//! pri_prefix) and keeps the others in AVPs for `use_next_gw` in a failure route;
//! `is_from_gw` / `goes_to_gw`, and the MI `dr_reload`, `dr_gw_status`, `dr_carrier_status`.
//!
//! Rules with a `timerec` match only inside it ([`timerec`]); a rule's `routeid` names a script
//! route run when the rule is taken ([`rule_route`]); lists are sorted by their `sort_alg`
//! (`N`, `W`; `Q` keeps the listed order: osips has no qrouting statistics); gateways are
//! probed per their `probe_mode`. Not served yet: other partitions.

pub mod data;
mod mi;
mod probe;
pub mod rule_route;
pub mod timerec;

use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::Db;
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db;
use data::{CarrierRow, GwRow, Hop, RoutingData, RuleRow};

/// AVPs holding the routing state of a call between `do_routing` and `use_next_gw`.
const AVP_RURI: &str = "__dr_ruri__";
/// The gateways still to try, the one in use on top (`ruleid:gwid[#carrierid]`).
const AVP_GWS: &str = "__dr_gws__";
/// The rule chosen (its id), for the rule attributes on failover.
const AVP_RULE: &str = "__dr_rule__";

struct State {
    db: Arc<Db>,
    selects: [String; 4],
    use_domain: bool,
    data: RwLock<Arc<RoutingData>>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn state() -> Option<Arc<State>> {
    STATE.read().clone()
}

/// The routing data in use now (None when the module is not running).
pub fn data() -> Option<Arc<RoutingData>> {
    Some(state()?.data.read().clone())
}

impl State {
    fn load(&self) -> Result<RoutingData, String> {
        let q = |i: usize, what: &str| {
            self.db
                .query(&self.selects[i], &[])
                .map_err(|e| format!("{what}: {e}"))
        };
        let text = |r: &crate::db::Row, i: usize| r.get(i).to_text().unwrap_or_default();
        let gws = q(0, "dr_gateways")?
            .iter()
            .map(|r| GwRow {
                gwid: text(r, 0),
                gw_type: r.get(1).as_i64().unwrap_or(0),
                address: text(r, 2),
                strip: r.get(3).as_i64().unwrap_or(0),
                pri_prefix: r.get(4).to_text(),
                attrs: r.get(5).to_text(),
                probe_mode: r.get(6).as_i64().unwrap_or(0),
                state: r.get(7).as_i64().unwrap_or(0),
                socket: r.get(8).to_text(),
                description: r.get(9).to_text(),
            })
            .collect();
        let carriers = q(1, "dr_carriers")?
            .iter()
            .map(|r| CarrierRow {
                carrierid: text(r, 0),
                gwlist: text(r, 1),
                flags: r.get(2).as_i64().unwrap_or(0),
                sort_alg: r.get(3).to_text(),
                state: r.get(4).as_i64().unwrap_or(0),
                attrs: r.get(5).to_text(),
                description: r.get(6).to_text(),
            })
            .collect();
        let rules: Vec<RuleRow> = q(2, "dr_rules")?
            .iter()
            .map(|r| RuleRow {
                ruleid: r.get(0).as_i64().unwrap_or(0),
                groupid: text(r, 1),
                prefix: text(r, 2),
                timerec: r.get(3).to_text(),
                priority: r.get(4).as_i64().unwrap_or(0),
                routeid: r.get(5).to_text(),
                gwlist: r.get(6).to_text(),
                sort_alg: r.get(7).to_text(),
                attrs: r.get(8).to_text(),
            })
            .collect();
        let script = crate::runtime::global_shared().map(|s| s.script());
        let rules = rules
            .into_iter()
            .map(|mut r| {
                let name = r.routeid.as_deref().map(str::trim).unwrap_or("");
                if name.is_empty() {
                    r.routeid = None;
                } else if let Some(sc) = script
                    && !rule_route::exists(sc, name)
                {
                    tracing::warn!(
                        "drouting: rule {}: routeid `{name}`: no such route, not run",
                        r.ruleid
                    );
                    r.routeid = None;
                } else {
                    r.routeid = Some(name.to_string());
                }
                r
            })
            .collect();
        let groups = q(3, "dr_groups")?
            .iter()
            .map(|r| {
                let domain = if self.use_domain {
                    text(r, 1).to_ascii_lowercase()
                } else {
                    String::new()
                };
                (text(r, 0), domain, r.get(2).as_i64().unwrap_or(0))
            })
            .collect();
        let d = RoutingData::build(gws, carriers, rules, groups)?;
        let quality = d.quality_sorted();
        if !quality.is_empty() {
            tracing::info!(
                "drouting: sort_alg Q ({}) keeps the listed order: quality-based sorting needs \
                 qrouting's call statistics, which osips does not collect",
                quality.join(", ")
            );
        }
        Ok(d)
    }
}

/// Reloads the tables; gateways and carriers still there keep their state.
pub fn reload() -> Result<(), String> {
    let st = state().ok_or("drouting module not running")?;
    let new = st.load()?;
    new.inherit_from(&st.data.read());
    *st.data.write() = Arc::new(new);
    Ok(())
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let table =
        |name: &str, default: &str| db::ident(&db, "table", &db::str_param(ctx, name, default));
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let cols = |names: &[&str]| -> Result<String, String> {
        names
            .iter()
            .map(|n| db::ident(&db, "column", n))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(", "))
    };
    let selects = [
        format!(
            "SELECT {} FROM {}",
            cols(&[
                "gwid",
                "type",
                "address",
                "strip",
                "pri_prefix",
                "attrs",
                "probe_mode",
                "state",
                "socket",
                "description"
            ])?,
            table("drd_table", "dr_gateways")?
        ),
        format!(
            "SELECT {} FROM {}",
            cols(&[
                "carrierid",
                "gwlist",
                "flags",
                "sort_alg",
                "state",
                "attrs",
                "description"
            ])?,
            table("drc_table", "dr_carriers")?
        ),
        format!(
            "SELECT {} FROM {}",
            cols(&[
                "ruleid", "groupid", "prefix", "timerec", "priority", "routeid", "gwlist",
                "sort_alg", "attrs"
            ])?,
            table("drr_table", "dr_rules")?
        ),
        format!(
            "SELECT {}, {}, {} FROM {}",
            col("drg_user_col", "username")?,
            col("drg_domain_col", "domain")?,
            col("drg_grpid_col", "groupid")?,
            table("drg_table", "dr_groups")?
        ),
    ];
    let st = State {
        db,
        selects,
        use_domain: db::int_param(ctx, "use_domain", 0)? != 0,
        data: RwLock::new(Arc::new(RoutingData::default())),
    };
    *st.data.write() = Arc::new(st.load()?);
    let probe = crate::modules::probe::ProbeConfig::from_probing_params(ctx)?;
    *STATE.write() = Some(Arc::new(st));
    probe::PROBER.start(probe);
    Ok(())
}

fn destroy() {
    probe::PROBER.stop();
    STATE.write().take();
}

/// Changes the state of a gateway (probing, MI), saying so in the log.
pub fn change_state(g: &data::Gateway, new: data::GwState) {
    let old = g.set_state(new);
    if old != new {
        tracing::info!(
            "drouting: gateway {} {} -> {}",
            g.id,
            old.name(),
            new.name()
        );
    }
}

// ---- script functions ----

/// Only the default partition is served: another name is an error.
fn partition_ok(fname: &str, arg: Option<&ArgValue<'_>>) -> bool {
    match arg.and_then(ArgValue::str).map(str::trim) {
        None | Some("") | Some("default") => true,
        Some(p) => {
            tracing::error!("{fname}: partition `{p}` not found (only `default` is served)");
            false
        }
    }
}

fn set_var(ctx: &mut RunCtx<'_>, var: Option<&ArgValue<'_>>, v: &str) {
    if let Some(ArgValue::Var(spec)) = var
        && let Err(e) = ctx.set_pv(spec, AssignOp::Set, Value::str(v.to_string()))
    {
        tracing::error!("drouting: cannot set the attributes variable: {e}");
    }
}

fn hop_key(rule: i64, h: &Hop) -> String {
    match &h.carrier {
        Some(c) => format!("{rule}:{}#{}", h.gw.id, c.id),
        None => format!("{rule}:{}", h.gw.id),
    }
}

/// Points the request at `hop`: the R-URI from the original user, and its socket.
fn apply_hop(ctx: &mut RunCtx<'_>, orig_ruri: &str, hop: &Hop) -> bool {
    let user = crate::sip::Uri::parse(orig_ruri.as_bytes())
        .ok()
        .and_then(|u| u.user.map(|b| String::from_utf8_lossy(b).into_owned()))
        .unwrap_or_default();
    let ruri = data::ruri_for(&hop.gw, &user);
    let socket = hop
        .gw
        .socket
        .as_deref()
        .and_then(crate::modules::dispatcher::socket_id);
    let Some(m) = sip(ctx) else { return false };
    m.new_ruri = Some(ruri);
    if socket.is_some() {
        m.send_socket = socket;
    }
    true
}

fn set_attrs(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], first: usize, rule: &str, hop: &Hop) {
    set_var(ctx, args.get(first), rule);
    set_var(ctx, args.get(first + 1), &hop.gw.attrs);
    let carrier_attrs = hop.carrier.as_ref().map(|c| c.attrs.as_str()).unwrap_or("");
    set_var(ctx, args.get(first + 2), carrier_attrs);
}

/// The caller's group from `dr_groups` (From user, and domain with `use_domain`).
fn caller_group(ctx: &mut RunCtx<'_>, st: &State, d: &RoutingData) -> Option<i32> {
    let m = sip(ctx)?;
    let from = m.msg.from().ok()?;
    let u = crate::sip::Uri::parse(from.uri.raw).ok()?;
    let user = u.user.map(|b| String::from_utf8_lossy(b).into_owned())?;
    let domain = if st.use_domain {
        String::from_utf8_lossy(u.host).to_ascii_lowercase()
    } else {
        String::new()
    };
    d.group_of(&user, &domain)
}

type Chosen = (Arc<data::Rule>, Vec<(i64, Hop)>);

fn do_routing(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    if !partition_ok("do_routing", args.get(6)) {
        return -1;
    }
    let Some(st) = state() else { return -1 };
    let d = st.data.read().clone();
    let group = match args.first() {
        Some(ArgValue::Int(g)) => Some(*g),
        Some(ArgValue::Str(s)) if !s.trim().is_empty() => match s.trim().parse() {
            Ok(g) => Some(g),
            Err(_) => {
                tracing::error!("do_routing: group `{s}` is not a number");
                return -1;
            }
        },
        _ => caller_group(ctx, &st, &d),
    };
    let Some(group) = group else {
        tracing::error!("do_routing: the caller is in no dr_groups group");
        return -1;
    };
    let flags = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let whitelist: Option<Vec<String>> = args
        .get(2)
        .and_then(ArgValue::str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split([',', ';']).map(|x| x.trim().to_string()).collect());
    let Some(m) = sip(ctx) else { return -1 };
    let orig = m.ruri().into_owned();
    let user = crate::sip::Uri::parse(orig.as_bytes())
        .ok()
        .and_then(|u| u.user.map(|b| String::from_utf8_lossy(b).into_owned()))
        .unwrap_or_default();
    let rules: Vec<_> = d
        .lookup(group, &user, flags.contains('L'), timerec::local_now())
        .into_iter()
        .collect();
    let fallback = flags.contains('F');
    let mut draw = |total: u32| rand::random::<u32>() % total.max(1);
    // The rule taken and the gateways to try, each with the rule it comes from.
    let mut chosen: Option<Chosen> = None;
    for r in &rules {
        // The rule is taken: its route runs before its gateways are looked at (a rule of
        // the 'F' fallback chain runs its route when use_next_gw reaches it).
        if chosen.is_none() && !rule_route::run(ctx, r.id, &r.route_id) {
            return -1;
        }
        let hops = data::hops(&d, r, whitelist.as_deref(), &mut draw);
        match &mut chosen {
            None if !hops.is_empty() => {
                chosen = Some((r.clone(), hops.into_iter().map(|h| (r.id, h)).collect()))
            }
            // The 'F' flag: when the rule's gateways are used up, the next rule's follow.
            Some((_, all)) if fallback => {
                for h in hops {
                    if !all.iter().any(|(_, x)| Arc::ptr_eq(&x.gw, &h.gw)) {
                        all.push((r.id, h));
                    }
                }
            }
            _ => {}
        }
        // Without 'F' only the best rule counts, even with none of its gateways usable.
        if !fallback {
            break;
        }
    }
    let Some((rule, hops)) = chosen else {
        tracing::debug!("do_routing: no usable rule for `{user}` in group {group}");
        return -1;
    };
    ctx.avps.delete_all(AVP_RURI);
    ctx.avps.delete_all(AVP_GWS);
    ctx.avps.delete_all(AVP_RULE);
    ctx.avps.push(AVP_RURI, Value::str(orig.clone()));
    ctx.avps.push(AVP_RULE, Value::str(rule.attrs.clone()));
    for (rule_id, h) in hops.iter().rev() {
        ctx.avps.push(AVP_GWS, Value::str(hop_key(*rule_id, h)));
    }
    let hops: Vec<Hop> = hops.into_iter().map(|(_, h)| h).collect();
    if !apply_hop(ctx, &orig, &hops[0]) {
        return -1;
    }
    set_attrs(ctx, args, 3, &rule.attrs, &hops[0]);
    1
}

/// The rule id of a stored `ruleid:gwid[#carrierid]`.
fn hop_rule(key: &str) -> Option<i64> {
    key.split_once(':')?.0.parse().ok()
}

/// A stored `ruleid:gwid[#carrierid]` back to its gateway (None when gone since a reload).
fn hop_of(d: &RoutingData, key: &str) -> Option<Hop> {
    let key = key.split_once(':').map_or(key, |(_, k)| k);
    let (gw, carrier) = match key.split_once('#') {
        Some((g, c)) => (g, Some(c)),
        None => (key, None),
    };
    Some(Hop {
        gw: d.gateway(gw)?.clone(),
        carrier: match carrier {
            Some(c) => Some(d.carrier(c)?.clone()),
            None => None,
        },
    })
}

/// The 'F' fallback reached the gateways of another rule: its route runs and its attributes
/// replace the previous rule's; false when the route dropped the routing.
fn enter_rule(ctx: &mut RunCtx<'_>, d: &RoutingData, rule_id: i64) -> bool {
    let Some(rule) = d.rule(rule_id).cloned() else {
        return true;
    };
    if !rule_route::run(ctx, rule.id, &rule.route_id) {
        return false;
    }
    ctx.avps.delete_all(AVP_RULE);
    ctx.avps.push(AVP_RULE, Value::str(rule.attrs.clone()));
    true
}

fn use_next_gw(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    if !partition_ok("use_next_gw", args.get(3)) {
        return -1;
    }
    let Some(d) = data() else { return -1 };
    let Some(orig) = ctx.avps.get(AVP_RURI, 0).as_str().map(|s| s.into_owned()) else {
        return -1;
    };
    let Some(used) = ctx.avps.get(AVP_GWS, 0).as_str().map(|s| s.into_owned()) else {
        return -1;
    };
    let rule = hop_rule(&used);
    ctx.avps.delete_at(AVP_GWS, 0);
    loop {
        let Some(key) = ctx.avps.get(AVP_GWS, 0).as_str().map(|s| s.into_owned()) else {
            return -1;
        };
        match hop_of(&d, &key) {
            Some(h) if h.gw.is_active() => {
                let next = hop_rule(&key);
                if next != rule
                    && let Some(id) = next
                    && !enter_rule(ctx, &d, id)
                {
                    ctx.avps.delete_all(AVP_GWS);
                    return -1;
                }
                if !apply_hop(ctx, &orig, &h) {
                    return -1;
                }
                let rule_attrs = ctx
                    .avps
                    .get(AVP_RULE, 0)
                    .as_str()
                    .map(|s| s.into_owned())
                    .unwrap_or_default();
                set_attrs(ctx, args, 0, &rule_attrs, &h);
                return 1;
            }
            // Disabled or removed since do_routing.
            _ => {
                ctx.avps.delete_at(AVP_GWS, 0);
            }
        }
    }
}

/// The gateway type argument: absent or negative matches every type.
fn type_arg(args: &[ArgValue<'_>]) -> Option<i32> {
    args.first().and_then(ArgValue::int).filter(|&t| t >= 0)
}

fn find_gw(
    ctx: &mut RunCtx<'_>,
    args: &[ArgValue<'_>],
    ip: IpAddr,
    port: u16,
    ignore_port: bool,
) -> i32 {
    if !partition_ok("is_from_gw/goes_to_gw", args.get(3)) {
        return -1;
    }
    let Some(d) = data() else { return -1 };
    let want = type_arg(args);
    let hit = d
        .gateways
        .iter()
        .find(|g| want.is_none_or(|t| t == g.gw_type) && g.matches(ip, port, ignore_port))
        .cloned();
    match hit {
        Some(g) => {
            set_var(ctx, args.get(2), &g.attrs);
            1
        }
        None => -1,
    }
}

fn is_from_gw(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    let (ip, port) = (m.info.src.ip(), m.info.src.port());
    let ignore_port = args
        .get(1)
        .and_then(ArgValue::str)
        .is_some_and(|f| f.contains('n'));
    find_gw(ctx, args, ip, port, ignore_port)
}

fn goes_to_gw(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    let target = m.dst_uri.clone().unwrap_or_else(|| m.ruri().into_owned());
    let Ok(u) = crate::sip::Uri::parse(target.as_bytes()) else {
        return -1;
    };
    let host = String::from_utf8_lossy(u.host).into_owned();
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return -1;
    };
    let port = u.port.unwrap_or(0);
    let ignore_port = port == 0
        || args
            .get(1)
            .and_then(ArgValue::str)
            .is_some_and(|f| f.contains('n'));
    find_gw(ctx, args, ip, port, ignore_port)
}

const R_F: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);
const R_F_B: RouteMask = R_F.or(RouteMask::BRANCH).or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "drouting",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("drd_table"),
        ParamSpec::str("drr_table"),
        ParamSpec::str("drg_table"),
        ParamSpec::str("drc_table"),
        ParamSpec::str("drg_user_col"),
        ParamSpec::str("drg_domain_col"),
        ParamSpec::str("drg_grpid_col"),
        ParamSpec::int("use_domain"),
        ParamSpec::str("ruri_avp"),
        ParamSpec::str("gw_id_avp"),
        ParamSpec::str("gw_priprefix_avp"),
        ParamSpec::str("gw_sock_avp"),
        ParamSpec::str("rule_id_avp"),
        ParamSpec::str("rule_prefix_avp"),
        ParamSpec::str("carrier_id_avp"),
        ParamSpec::str("define_blacklist").multi(),
        ParamSpec::int("probing_interval"),
        ParamSpec::str("probing_method"),
        ParamSpec::str("probing_from"),
        ParamSpec::str("probing_reply_codes"),
        ParamSpec::int("persistent_state"),
        ParamSpec::int("no_concurrent_reload"),
        ParamSpec::str("partition_id_pvar"),
        ParamSpec::str("use_partitions"),
        ParamSpec::str("extra_prefix_chars"),
        ParamSpec::str("cache_file"),
    ],
    functions: &[
        FunctionSpec {
            name: "do_routing",
            params: &[
                p::OPT_STR,
                p::OPT_STR,
                p::OPT_STR,
                p::OPT_VAR,
                p::OPT_VAR,
                p::OPT_VAR,
                p::OPT_STR,
            ],
            routes: R_F_B,
            handler: do_routing,
        },
        FunctionSpec {
            name: "use_next_gw",
            params: &[p::OPT_VAR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
            routes: R_F_B,
            handler: use_next_gw,
        },
        FunctionSpec {
            name: "dr_next_gw",
            params: &[p::OPT_VAR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
            routes: R_F_B,
            handler: use_next_gw,
        },
        FunctionSpec {
            name: "is_from_gw",
            params: &[p::OPT_INT, p::OPT_STR, p::OPT_VAR, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: is_from_gw,
        },
        FunctionSpec {
            name: "goes_to_gw",
            params: &[p::OPT_INT, p::OPT_STR, p::OPT_VAR, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: goes_to_gw,
        },
    ],
    mi_commands: mi::MI,
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hops_keep_their_rule() {
        let d = RoutingData::build(
            vec![data::GwRow::plain("gw:1", "127.0.0.2")],
            vec![],
            vec![],
            vec![],
        )
        .unwrap();
        let hop = Hop {
            gw: d.gateway("gw:1").unwrap().clone(),
            carrier: None,
        };
        let key = hop_key(42, &hop);
        assert_eq!(key, "42:gw:1");
        assert_eq!(hop_rule(&key), Some(42));
        assert_eq!(hop_of(&d, &key).unwrap().gw.id, "gw:1");
        assert!(hop_of(&d, "42:gone").is_none());
    }
}
