//! registrar: REGISTER processing and contact lookup over usrloc (OpenSIPS `registrar`):
//! `save`, `lookup`, `registered` / `is_registered`, `is_contact_registered`, `is_ip_registered`,
//! `remove`, `remove_ip_port`, `add_sock_hdr`, `reg_fetch_contacts` / `reg_free_contacts` with
//! `$ulc`, GRUUs (RFC 5627) and SIP Push Notifications (RFC 8599, [`pn`]).
//!
//! Unlike OpenSIPS, which raises a too short expiry to `min_expires`, osips answers
//! 423 Interval Too Brief with Min-Expires, as RFC 3261 §10.3 step 7 allows.

mod by_ip;
mod fetch;
mod flags;
pub mod gruu;
mod lookup;
pub mod pn;
mod pn_timer;
pub mod pn_wake;
mod reply;
mod save;
#[cfg(test)]
mod save_tests;

use std::sync::Arc;

use parking_lot::RwLock;

use crate::modules::usrloc::{self, Q_UNSPECIFIED};
use crate::runtime::SipCtx;
use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, ModParams, ParamValue, PvExport, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::{Method, Uri};
use crate::stats::{StatDef, StatVar};

pub use flags::{LookupFlags, PathMode, SaveFlags};
pub use lookup::{Target, targets};
pub use pn::PnConfig;
pub use save::ScriptAvps;

/// The module parameters.
#[derive(Debug, Clone)]
pub struct RegConfig {
    pub default_expires: u32,
    pub min_expires: u32,
    /// 0 = no limit.
    pub max_expires: u32,
    /// Thousandths; [`Q_UNSPECIFIED`] when not set.
    pub default_q: i16,
    pub case_sensitive: bool,
    pub realm_prefix: Option<String>,
    /// AVP name (without `$avp(...)`) holding the NAT `received` URI.
    pub received_avp: Option<String>,
    pub received_param: String,
    /// 0 = no limit.
    pub max_contacts: u32,
    pub retry_after: u32,
    pub sock_hdr_name: String,
    /// XOR key of the temporary GRUUs.
    pub gruu_secret: String,
    pub disable_gruu: bool,
    /// AVP name of the contact attributes `save()` stores and `is_registered()` returns.
    pub attr_avp: Option<String>,
    /// A REGISTER with the stored Call-ID and the same CSeq updates the binding.
    pub allow_dup_cseq: bool,
    /// Seconds the granted expiry is randomly moved by (0 = off).
    pub expires_max_deviation: u32,
    pub max_username_len: usize,
    pub max_domain_len: usize,
    pub max_aor_len: usize,
    pub max_contact_len: usize,
    /// The `pn_*` modparams (RFC 8599).
    pub pn: PnConfig,
}

impl Default for RegConfig {
    fn default() -> Self {
        RegConfig {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 0,
            default_q: Q_UNSPECIFIED,
            case_sensitive: true,
            realm_prefix: None,
            received_avp: None,
            received_param: "received".into(),
            max_contacts: 0,
            retry_after: 0,
            sock_hdr_name: "Sock-Info".into(),
            gruu_secret: gruu::DEFAULT_SECRET.into(),
            disable_gruu: false,
            attr_avp: None,
            allow_dup_cseq: false,
            expires_max_deviation: 0,
            max_username_len: 64,
            max_domain_len: 64,
            max_aor_len: 256,
            max_contact_len: 255,
            pn: PnConfig::default(),
        }
    }
}

fn int(p: &ModParams, name: &str) -> Result<Option<i64>, String> {
    match p.get(name) {
        None => Ok(None),
        Some(ParamValue::Int(i)) => Ok(Some(*i)),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("modparam \"{name}\": `{s}` is not a number")),
    }
}

fn string(p: &ModParams, name: &str) -> Option<String> {
    match p.get(name)? {
        ParamValue::Str(s) => Some(s.clone()),
        ParamValue::Int(i) => Some(i.to_string()),
    }
}

fn non_negative(p: &ModParams, name: &str, default: u32) -> Result<u32, String> {
    match int(p, name)? {
        None => Ok(default),
        Some(v) if (0..=u32::MAX as i64).contains(&v) => Ok(v as u32),
        Some(v) => Err(format!("modparam \"{name}\": {v} is out of range")),
    }
}

/// `$avp(name)` (or a bare name) to the AVP name.
fn avp_name(spec: &str) -> Result<String, String> {
    let s = spec.trim();
    let inner = s
        .strip_prefix("$avp(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s);
    if inner.is_empty() || inner.contains(['$', '(', ')', ' ']) {
        return Err(format!("`{spec}` is not an $avp(name)"));
    }
    Ok(inner.to_string())
}

impl RegConfig {
    pub fn from_params(p: &ModParams) -> Result<RegConfig, String> {
        let d = RegConfig::default();
        let default_q = match int(p, "default_q")? {
            None => d.default_q,
            Some(q) if (0..=1000).contains(&q) => q as i16,
            Some(q) => return Err(format!("modparam \"default_q\": {q} is not 0..1000")),
        };
        let c = RegConfig {
            default_expires: non_negative(p, "default_expires", d.default_expires)?,
            min_expires: non_negative(p, "min_expires", d.min_expires)?,
            max_expires: non_negative(p, "max_expires", d.max_expires)?,
            default_q,
            case_sensitive: int(p, "case_sensitive")?.unwrap_or(1) != 0,
            realm_prefix: string(p, "realm_prefix").filter(|s| !s.is_empty()),
            received_avp: string(p, "received_avp")
                .filter(|s| !s.is_empty())
                .map(|s| avp_name(&s))
                .transpose()?,
            received_param: string(p, "received_param").unwrap_or(d.received_param),
            max_contacts: non_negative(p, "max_contacts", d.max_contacts)?,
            retry_after: non_negative(p, "retry_after", d.retry_after)?,
            sock_hdr_name: string(p, "sock_hdr_name").unwrap_or(d.sock_hdr_name),
            gruu_secret: string(p, "gruu_secret")
                .filter(|s| !s.is_empty())
                .unwrap_or(d.gruu_secret),
            disable_gruu: int(p, "disable_gruu")?.unwrap_or(0) != 0,
            attr_avp: string(p, "attr_avp")
                .filter(|s| !s.is_empty())
                .map(|s| avp_name(&s))
                .transpose()?,
            allow_dup_cseq: int(p, "allow_dup_cseq")?.unwrap_or(0) != 0,
            expires_max_deviation: non_negative(p, "expires_max_deviation", 0)?,
            max_username_len: non_negative(p, "max_username_len", d.max_username_len as u32)?
                as usize,
            max_domain_len: non_negative(p, "max_domain_len", d.max_domain_len as u32)? as usize,
            max_aor_len: non_negative(p, "max_aor_len", d.max_aor_len as u32)? as usize,
            max_contact_len: non_negative(p, "max_contact_len", d.max_contact_len as u32)? as usize,
            pn: PnConfig::from_params(p)?,
        };
        if c.max_expires > 0 && c.max_expires < c.min_expires {
            return Err(format!(
                "max_expires {} is below min_expires {}",
                c.max_expires, c.min_expires
            ));
        }
        Ok(c)
    }
}

/// max_expires, max_contacts, default_expire, accepted_regs, rejected_regs (in this order).
static STATS: &[StatDef] = crate::stats::REGISTRAR_STATS;

struct State {
    cfg: RegConfig,
    accepted: Option<Arc<StatVar>>,
    rejected: Option<Arc<StatVar>>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn state() -> Arc<State> {
    if let Some(s) = STATE.read().clone() {
        return s;
    }
    Arc::new(State {
        cfg: RegConfig::default(),
        accepted: None,
        rejected: None,
    })
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let cfg = RegConfig::from_params(ctx.params)?;
    let (mut accepted, mut rejected) = (None, None);
    if let Some(s) = crate::runtime::global_shared() {
        let v = s.stats.register_group("registrar", STATS);
        v[0].set(u64::from(cfg.max_expires));
        v[1].set(u64::from(cfg.max_contacts));
        v[2].set(u64::from(cfg.default_expires));
        accepted = Some(v[3].clone());
        rejected = Some(v[4].clone());
    }
    if cfg.pn.enable {
        pn_timer::start(cfg.pn.trigger_interval);
    }
    *STATE.write() = Some(Arc::new(State {
        cfg,
        accepted,
        rejected,
    }));
    Ok(())
}

/// The AOR of a URI text as usrloc keys it: `user` or `user@domain` (usrloc `use_domain`),
/// user unescaped and, unless `case_sensitive`, lower-cased; the `realm_prefix` is dropped from
/// the domain.
pub fn aor_of(uri: &str, cfg: &RegConfig, use_domain: bool) -> Result<String, &'static str> {
    let t = uri.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(t);
    let starts = |p: &str| t.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    let has_scheme = starts("sip:") || starts("sips:") || starts("tel:");
    let owned;
    let text = if has_scheme {
        t
    } else {
        owned = format!("sip:{t}");
        &owned
    };
    let u = Uri::parse(text.as_bytes()).map_err(|_| "Error while parsing AOR")?;
    let user = u
        .user_unescaped()
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default();
    if user.is_empty() && !use_domain {
        return Err("No username in To URI");
    }
    let user = if cfg.case_sensitive {
        user
    } else {
        user.to_lowercase()
    };
    if !use_domain {
        return Ok(user);
    }
    let mut host = String::from_utf8_lossy(u.host).to_ascii_lowercase();
    if let Some(pfx) = &cfg.realm_prefix
        && host.len() > pfx.len()
        && host.starts_with(&pfx.to_ascii_lowercase())
    {
        host = host[pfx.len()..].to_string();
    }
    Ok(if user.is_empty() {
        host
    } else {
        format!("{user}@{host}")
    })
}

fn use_domain() -> bool {
    usrloc::usrloc().is_some_and(|u| u.config().use_domain)
}

/// The AOR named by `arg`, else by the To URI (REGISTER) or the Request-URI.
/// The AOR a check function asks about (`given`, else the request's) and the usrloc `table` it
/// looks in; None when there is no message, the AOR does not parse or the table is unknown.
fn aor_in(
    ctx: &mut RunCtx<'_>,
    cfg: &RegConfig,
    table: &str,
    given: Option<&str>,
) -> Option<(String, std::sync::Arc<usrloc::Domain>)> {
    let aor = aor_arg(sip(ctx)?, cfg, given).ok()?;
    Some((aor, usrloc::domain(table).ok()?))
}

fn aor_arg(m: &SipCtx, cfg: &RegConfig, arg: Option<&str>) -> Result<String, &'static str> {
    let text = match arg.filter(|a| !a.is_empty()) {
        Some(a) => a.to_string(),
        None if m.msg.method() == Method::Register => match m.msg.to() {
            Ok(na) => String::from_utf8_lossy(na.uri.raw).into_owned(),
            Err(_) => return Err("To header not found"),
        },
        None => m.ruri().into_owned(),
    };
    aor_of(&text, cfg, use_domain())
}

fn str_arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

fn count(v: &Option<Arc<StatVar>>) {
    if let Some(v) = v {
        v.inc();
    }
}

fn w_save(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location").to_string();
    let flags = match SaveFlags::parse(str_arg(args, 1).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("save: {e}");
            return -1;
        }
    };
    let aor_given = str_arg(args, 2).map(str::to_string);
    let first = |ctx: &RunCtx<'_>, name: Option<&str>| {
        name.and_then(|n| ctx.avps.get(n, 0).as_str().map(|s| s.into_owned()))
    };
    let avps = ScriptAvps {
        received: first(ctx, st.cfg.received_avp.as_deref()),
        attr: first(ctx, st.cfg.attr_avp.as_deref()),
    };
    let Some(m) = sip(ctx) else {
        tracing::error!("save: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        tracing::error!("save: only a REGISTER request can be saved");
        return -1;
    }
    let result = match aor_arg(m, &st.cfg, aor_given.as_deref()) {
        Ok(aor) => save::save(m, &st.cfg, &table, &flags, &aor, avps),
        Err(info) => Err(save::Refusal {
            code: 400,
            reason: "Bad Request",
            info,
            headers: String::new(),
        }),
    };
    match result {
        Ok(acc) => {
            count(&st.accepted);
            if !flags.no_reply {
                reply::send(m, 200, "OK", &acc.headers);
            }
            1
        }
        Err(r) => {
            count(&st.rejected);
            if !flags.no_reply {
                let mut h = r.headers.clone();
                h.push_str(&format!("P-Registrar-Error: {}\r\n", r.info));
                if r.code >= 500 && st.cfg.retry_after > 0 {
                    h.push_str(&format!("Retry-After: {}\r\n", st.cfg.retry_after));
                }
                reply::send(m, r.code, r.reason, &h);
            }
            -1
        }
    }
}

fn w_lookup(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location").to_string();
    let flags = match LookupFlags::parse(str_arg(args, 1).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("lookup: {e}");
            return lookup::INTERNAL_ERROR;
        }
    };
    let aor_given = str_arg(args, 2).map(str::to_string);
    let Some(m) = sip(ctx) else {
        tracing::error!("lookup: no SIP message in this route");
        return lookup::INTERNAL_ERROR;
    };
    let uri_text = match aor_given.filter(|a| !a.is_empty()) {
        Some(a) => a,
        None => m.ruri().into_owned(),
    };
    let gruu = if st.cfg.disable_gruu {
        None
    } else {
        Uri::parse(uri_text.as_bytes())
            .ok()
            .and_then(|u| gruu::parse_target(&u, &st.cfg.gruu_secret))
    };
    let aor = match &gruu {
        Some(gruu::GruuTarget::Temporary(t)) => Ok(t.aor.clone()),
        _ => aor_of(&uri_text, &st.cfg, use_domain()),
    };
    let aor = match aor {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("lookup: {e}");
            return lookup::INTERNAL_ERROR;
        }
    };
    // `r`: the AORs already in the branches are replaced by their contacts.
    let aor_branches = if flags.branch_lookup && !flags.no_branches {
        std::mem::take(&mut m.branches)
    } else {
        Vec::new()
    };
    let now = usrloc::now();
    let mut woken = false;
    let rc = match targets(&table, &aor) {
        Ok(ts) => {
            let (ts, lflags) = match &gruu {
                Some(g) => (
                    lookup::gruu_filter(ts, g),
                    LookupFlags {
                        no_branches: true,
                        ..flags.clone()
                    },
                ),
                None => (ts, flags.clone()),
            };
            match lookup::filter(m, ts, &lflags) {
                Err(code) => code,
                Ok(ts) if st.cfg.pn.enable => {
                    let (send, mut wake) = lookup::pn_split(&st.cfg.pn, ts, now);
                    if lflags.no_branches {
                        wake = lookup::single_branch_wake(&send, wake);
                    }
                    // before `apply`: the transaction keeps the request as it is now
                    match pn_wake::awake(m, &st.cfg.pn, &table, &aor, &wake) {
                        pn_wake::Awake::Sent => woken = true,
                        pn_wake::Awake::NoneSent => {}
                        pn_wake::Awake::Retransmission => return 0,
                        pn_wake::Awake::Error => return lookup::INTERNAL_ERROR,
                    }
                    if send.is_empty() {
                        lookup::NOT_FOUND
                    } else {
                        lookup::apply(m, send, &lflags)
                    }
                }
                Ok(ts) => lookup::apply(m, ts, &lflags),
            }
        }
        Err(e) => {
            tracing::error!("lookup {aor}: {e}");
            lookup::INTERNAL_ERROR
        }
    };
    let rc = if rc < 0 && woken { lookup::PN_SENT } else { rc };
    let mut found_in_branches = false;
    for b in aor_branches {
        let Ok(baor) = aor_of(&b.uri, &st.cfg, use_domain()) else {
            continue;
        };
        match targets(&table, &baor).map(|ts| lookup::filter(m, ts, &flags)) {
            Ok(Ok(ts)) => {
                found_in_branches = true;
                lookup::push_branches(m, ts);
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::error!("lookup {baor}: {e}"),
        }
    }
    if rc < 0 && found_in_branches {
        lookup::FOUND
    } else {
        rc
    }
}

/// `registered` / `is_registered(domain[, aor])`: 1 when the AOR has a valid contact.
fn w_is_registered(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location").to_string();
    let given = str_arg(args, 1).map(str::to_string);
    let callid = str_arg(args, 2).map(str::to_string);
    let Some((aor, dom)) = aor_in(ctx, &st.cfg, &table, given.as_deref()) else {
        return -1;
    };
    let now = usrloc::now();
    let found = dom.with_record(&aor, |r| {
        r.and_then(|r| {
            r.contacts
                .iter()
                .find(|c| c.is_valid(now) && callid.as_deref().is_none_or(|cid| c.callid() == cid))
                .map(|c| c.attr().unwrap_or("").to_string())
        })
    });
    match found {
        Ok(Some(attr)) => {
            if let Some(name) = &st.cfg.attr_avp {
                ctx.avps.push(name, Value::str(attr));
            }
            1
        }
        _ => -1,
    }
}

/// `is_contact_registered(domain[, aor[, contact[, callid]]])`; the contact defaults to the
/// request's Contact URIs.
fn w_is_contact_registered(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location").to_string();
    let given = str_arg(args, 1).map(str::to_string);
    let contact = str_arg(args, 2)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let callid = str_arg(args, 3)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let Some(m) = sip(ctx) else { return -1 };
    let Ok(aor) = aor_arg(m, &st.cfg, given.as_deref()) else {
        return -1;
    };
    let wanted: Vec<String> = match contact {
        Some(c) => vec![c],
        None => m
            .msg
            .contacts()
            .filter_map(|c| c.ok())
            .filter_map(|c| {
                c.addr()
                    .map(|a| String::from_utf8_lossy(a.uri.raw).into_owned())
            })
            .collect(),
    };
    let Ok(dom) = usrloc::domain(&table) else {
        return -1;
    };
    let now = usrloc::now();
    let found = dom.with_record(&aor, |r| {
        r.is_some_and(|r| {
            r.contacts.iter().any(|c| {
                c.is_valid(now)
                    && (wanted.is_empty() || wanted.iter().any(|w| w == c.contact()))
                    && callid.as_deref().is_none_or(|cid| c.callid() == cid)
            })
        })
    });
    if found.unwrap_or(false) { 1 } else { -1 }
}

/// `remove(domain, aor[, contact[, next_hop[, sip_instance]]])`: 1 when something was removed.
fn w_remove(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location");
    let Some(aor_text) = str_arg(args, 1) else {
        return -1;
    };
    let contact = str_arg(args, 2).filter(|c| !c.is_empty());
    let next_hop = str_arg(args, 3).filter(|c| !c.is_empty());
    let instance = str_arg(args, 4).filter(|c| !c.is_empty());
    let aor = match aor_of(aor_text, &st.cfg, use_domain()) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("remove: {e}");
            return -1;
        }
    };
    let Ok(dom) = usrloc::domain(table) else {
        return -1;
    };
    let Ok(mut g) = dom.lock(&aor, true) else {
        return -1;
    };
    let ids: Vec<u64> = g
        .contacts()
        .iter()
        .filter(|c| contact.is_none_or(|x| c.contact() == x))
        .filter(|c| instance.is_none_or(|x| c.instance() == Some(x)))
        .filter(|c| {
            next_hop.is_none_or(|h| {
                c.received()
                    .unwrap_or(c.contact())
                    .contains(h.trim_start_matches("sip:"))
            })
        })
        .map(|c| c.contact_id)
        .collect();
    let mut removed = 0;
    for id in ids {
        match g.delete(id) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::error!("remove: {e}");
                return -1;
            }
        }
    }
    if removed > 0 { 1 } else { -1 }
}

/// `reg_fetch_contacts(domain, uri, profile)`: 1 when the AOR has contacts.
fn w_fetch_contacts(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location");
    let (Some(uri), Some(profile)) = (str_arg(args, 1), str_arg(args, 2)) else {
        return -1;
    };
    let aor = match aor_of(uri, &st.cfg, use_domain()) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("reg_fetch_contacts: {e}");
            return -1;
        }
    };
    match fetch::fetch(table, &aor, profile) {
        Ok(0) => -1,
        Ok(_) => 1,
        Err(e) => {
            tracing::error!("reg_fetch_contacts {aor}: {e}");
            -1
        }
    }
}

/// `reg_free_contacts(profile)`.
fn w_free_contacts(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match str_arg(args, 0) {
        Some(p) if fetch::free(p) => 1,
        _ => -1,
    }
}

/// The string values of a variable argument: every value of an `$avp`, else its one value.
fn var_values(ctx: &mut RunCtx<'_>, arg: Option<&ArgValue<'_>>) -> Vec<String> {
    let Some(ArgValue::Var(spec)) = arg else {
        return Vec::new();
    };
    if spec.name == "avp"
        && spec.index.is_none()
        && let Some(name) = spec.inner_literal()
    {
        return ctx
            .avps
            .values(name)
            .filter_map(|v| v.as_str().map(|s| s.into_owned()))
            .collect();
    }
    match ctx.get_pv(spec) {
        Ok(v) => v.as_str().map(|s| vec![s.into_owned()]).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// `is_ip_registered(domain, [aor], ip_var[, port_var])`: 1 when a contact of the AOR is
/// reached on one of the IPs (and the port).
fn w_is_ip_registered(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let table = str_arg(args, 0).unwrap_or("location").to_string();
    let given = str_arg(args, 1).map(str::to_string);
    let ips = var_values(ctx, args.get(2));
    let port = match var_values(ctx, args.get(3)).first() {
        None => None,
        Some(p) => match p.trim().parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => {
                tracing::error!("is_ip_registered: port `{p}` is not a number");
                return -1;
            }
        },
    };
    if ips.is_empty() {
        return -1;
    }
    let Some((aor, dom)) = aor_in(ctx, &st.cfg, &table, given.as_deref()) else {
        return -1;
    };
    let now = usrloc::now();
    let found = dom.with_record(&aor, |r| {
        r.is_some_and(|r| {
            r.contacts
                .iter()
                .any(|c| c.is_valid(now) && by_ip::matches(c, &ips, port))
        })
    });
    if found.unwrap_or(false) { 1 } else { -1 }
}

/// `remove_ip_port(ip, port, domain[, aor])`: 1 when a contact was removed.
fn w_remove_ip_port(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let (Some(ip), Some(port), Some(table)) = (
        str_arg(args, 0),
        args.get(1).and_then(ArgValue::int),
        str_arg(args, 2),
    ) else {
        return -1;
    };
    let Ok(port) = u16::try_from(port) else {
        tracing::error!("remove_ip_port: port {port} is out of range");
        return -1;
    };
    let aor = match str_arg(args, 3).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match aor_of(a, &st.cfg, use_domain()) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!("remove_ip_port: {e}");
                return -1;
            }
        },
    };
    match by_ip::remove_ip_port(table, ip, port, aor.as_deref()) {
        Ok(0) => -1,
        Ok(_) => 1,
        Err(e) => {
            tracing::error!("remove_ip_port: {e}");
            -1
        }
    }
}

/// `add_sock_hdr(name)`: a `name: proto:ip:port` header naming the socket the REGISTER came
/// in on, for a registrar behind this proxy (its `save()` flag `socket-header`).
fn w_add_sock_hdr(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(name) = str_arg(args, 0).map(|n| n.trim().to_string()) else {
        return -1;
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        tracing::error!("add_sock_hdr: `{name}` is not a header name");
        return -1;
    }
    let Some(m) = sip(ctx) else { return -1 };
    if m.msg.method() != Method::Register {
        tracing::error!("add_sock_hdr: only for REGISTER requests");
        return -1;
    }
    let Some(sock) = save::received_socket(m) else {
        return -1;
    };
    match m.msg.add_header(&name, sock.as_bytes()) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("add_sock_hdr: {e:?}");
            -1
        }
    }
}

const R_O: RouteMask = RouteMask::REQUEST.or(RouteMask::ONREPLY);
const R_O_F: RouteMask = R_O.or(RouteMask::FAILURE);
const ANY_MSG: RouteMask = R_O_F.or(RouteMask::BRANCH);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "registrar",
    deps: &["usrloc"],
    params: &[
        ParamSpec::int("default_expires"),
        ParamSpec::int("min_expires"),
        ParamSpec::int("max_expires"),
        ParamSpec::int("default_q"),
        ParamSpec::int("case_sensitive"),
        ParamSpec::flag("tcp_persistent_flag"),
        ParamSpec::str("realm_prefix"),
        ParamSpec::str("received_avp"),
        ParamSpec::str("received_param"),
        ParamSpec::int("max_contacts"),
        ParamSpec::int("retry_after"),
        ParamSpec::str("sock_hdr_name"),
        ParamSpec::str("gruu_secret"),
        ParamSpec::int("disable_gruu"),
        ParamSpec::str("attr_avp"),
        ParamSpec::int("allow_dup_cseq"),
        ParamSpec::int("expires_max_deviation"),
        ParamSpec::int("max_username_len"),
        ParamSpec::int("max_domain_len"),
        ParamSpec::int("max_aor_len"),
        ParamSpec::int("max_contact_len"),
        ParamSpec::int("pn_enable"),
        ParamSpec::str("pn_providers"),
        ParamSpec::str("pn_ct_match_params"),
        ParamSpec::int("pn_pnsreg_interval"),
        ParamSpec::int("pn_trigger_interval"),
        ParamSpec::int("pn_skip_pn_interval"),
        ParamSpec::int("pn_refresh_timeout"),
        ParamSpec::int("pn_enable_purr"),
    ],
    functions: &[
        FunctionSpec {
            name: "save",
            params: &[p::STATIC, p::OPT_STR, p::OPT_STR, p::OPT_STR],
            routes: R_O,
            handler: w_save,
        },
        FunctionSpec {
            name: "lookup",
            params: &[p::STATIC, p::OPT_STR, p::OPT_STR],
            routes: R_O_F,
            handler: w_lookup,
        },
        FunctionSpec {
            name: "registered",
            params: &[p::STATIC, p::OPT_STR, p::OPT_STR],
            routes: ANY_MSG,
            handler: w_is_registered,
        },
        FunctionSpec {
            name: "is_registered",
            params: &[p::STATIC, p::OPT_STR],
            routes: ANY_MSG,
            handler: w_is_registered,
        },
        FunctionSpec {
            name: "is_contact_registered",
            params: &[p::STATIC, p::OPT_STR, p::OPT_STR, p::OPT_STR],
            routes: ANY_MSG,
            handler: w_is_contact_registered,
        },
        FunctionSpec {
            name: "remove",
            params: &[p::STATIC, p::STR, p::OPT_STR, p::OPT_STR, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: w_remove,
        },
        FunctionSpec {
            name: "is_ip_registered",
            params: &[p::STATIC, p::OPT_STR, p::VAR, p::OPT_VAR],
            routes: ANY_MSG,
            handler: w_is_ip_registered,
        },
        FunctionSpec {
            name: "remove_ip_port",
            params: &[p::STR, p::INT, p::STATIC, p::OPT_STR],
            routes: RouteMask::ALL,
            handler: w_remove_ip_port,
        },
        FunctionSpec {
            name: "add_sock_hdr",
            params: &[p::STR],
            routes: RouteMask::REQUEST,
            handler: w_add_sock_hdr,
        },
        FunctionSpec {
            name: "reg_fetch_contacts",
            params: &[p::STATIC, p::STR, p::STR],
            routes: RouteMask::ALL,
            handler: w_fetch_contacts,
        },
        FunctionSpec {
            name: "reg_free_contacts",
            params: &[p::STR],
            routes: RouteMask::ALL,
            handler: w_free_contacts,
        },
    ],
    pvs: &[PvExport::read("ulc", true, fetch::pv_ulc)],
    stats: STATS,
    init: Some(init),
    check_params: Some(|p| RegConfig::from_params(p).map(|_| ())),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aors_as_usrloc_keys_them() {
        let mut cfg = RegConfig::default();
        assert_eq!(
            aor_of("sip:Alice@Example.COM", &cfg, true).unwrap(),
            "Alice@example.com"
        );
        assert_eq!(
            aor_of("sip:alice@example.com;transport=tcp", &cfg, false).unwrap(),
            "alice"
        );
        assert_eq!(aor_of("<sip:al%69ce@x>", &cfg, true).unwrap(), "alice@x");
        assert_eq!(aor_of("bob@x", &cfg, true).unwrap(), "bob@x");
        assert!(aor_of("sip:example.com", &cfg, false).is_err());
        cfg.case_sensitive = false;
        cfg.realm_prefix = Some("sip.".into());
        assert_eq!(
            aor_of("sip:Alice@sip.example.com", &cfg, true).unwrap(),
            "alice@example.com"
        );
        assert!(aor_of("sip:", &cfg, true).is_err());
        for odd in ["", "ab€x@y", "€€€€€", "<>", "sip:@", "sip:a@b:99999"] {
            let _ = aor_of(odd, &cfg, true);
        }
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = RegConfig::from_params(&ModParams::default()).unwrap();
        assert_eq!(
            (c.default_expires, c.min_expires, c.max_expires),
            (3600, 60, 0)
        );
        let mut p = ModParams::default();
        p.0.insert(
            "received_avp".into(),
            vec![ParamValue::Str("$avp(rcv)".into())],
        );
        p.0.insert("default_q".into(), vec![ParamValue::Int(500)]);
        let c = RegConfig::from_params(&p).unwrap();
        assert_eq!(c.received_avp.as_deref(), Some("rcv"));
        assert_eq!(c.default_q, 500);
        p.0.insert("default_q".into(), vec![ParamValue::Int(5000)]);
        assert!(RegConfig::from_params(&p).is_err());
        let mut p = ModParams::default();
        p.0.insert("min_expires".into(), vec![ParamValue::Int(120)]);
        p.0.insert("max_expires".into(), vec![ParamValue::Int(60)]);
        assert!(RegConfig::from_params(&p).is_err());
        let mut p = ModParams::default();
        p.0.insert(
            "received_avp".into(),
            vec![ParamValue::Str("$var(x)".into())],
        );
        assert!(RegConfig::from_params(&p).is_err());
    }
}
