//! domain: which domains this proxy serves (the `domain` table; tenants are domains).
//! `is_domain_local(domain[, attrs_var])`, `is_from_local([attrs_var])`,
//! `is_uri_host_local([attrs_var])`; a domain row with `accept_subdomain` also matches its
//! subdomains. `db_mode` 1 keeps the table in memory (MI `domain_reload`, `domain_dump`);
//! 0 asks the database each time.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::json;

use crate::db::{Db, Value as DbValue};
use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::{HdrId, NameAddr, Uri};

use super::auth_db::db;

/// One row of the domain table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEntry {
    pub domain: String,
    pub attrs: Option<String>,
    pub accept_subdomain: bool,
}

/// The domains, indexed for lookups.
#[derive(Debug, Default)]
pub struct DomainSet {
    exact: HashMap<String, DomainEntry>,
    /// Entries that accept subdomains, longest first (the most specific parent wins).
    parents: Vec<DomainEntry>,
}

impl DomainSet {
    pub fn new(rows: Vec<DomainEntry>) -> DomainSet {
        let mut s = DomainSet::default();
        for mut e in rows {
            e.domain = e.domain.to_ascii_lowercase();
            if e.accept_subdomain {
                s.parents.push(e.clone());
            }
            s.exact.insert(e.domain.clone(), e);
        }
        s.parents.sort_by_key(|e| std::cmp::Reverse(e.domain.len()));
        s
    }

    /// The entry `host` belongs to: itself, or a parent that accepts subdomains.
    pub fn find(&self, host: &str) -> Option<&DomainEntry> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(e) = self.exact.get(&host) {
            return Some(e);
        }
        self.parents.iter().find(|p| {
            host.len() > p.domain.len() + 1
                && host.ends_with(&p.domain)
                && host.as_bytes()[host.len() - p.domain.len() - 1] == b'.'
        })
    }

    pub fn entries(&self) -> impl Iterator<Item = &DomainEntry> {
        self.exact.values()
    }
}

struct State {
    db: Arc<Db>,
    select: String,
    /// db_mode 0: only the rows that can match one host.
    select_host: String,
    cached: bool,
    set: RwLock<Arc<DomainSet>>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

impl State {
    fn load(&self) -> Result<DomainSet, String> {
        self.load_with(&self.select, &[])
    }

    fn load_with(&self, sql: &str, params: &[DbValue]) -> Result<DomainSet, String> {
        let rows = self
            .db
            .query(sql, params)
            .map_err(|e| format!("domain table: {e}"))?;
        Ok(DomainSet::new(
            rows.iter()
                .map(|r| DomainEntry {
                    domain: r.get(0).to_text().unwrap_or_default(),
                    attrs: r.get(1).to_text().filter(|a| !a.is_empty()),
                    accept_subdomain: r.get(2).as_i64().unwrap_or(0) != 0,
                })
                .filter(|e| !e.domain.is_empty())
                .collect(),
        ))
    }

    fn current(&self) -> Result<Arc<DomainSet>, String> {
        if self.cached {
            Ok(self.set.read().clone())
        } else {
            self.load().map(Arc::new)
        }
    }

    fn find(&self, host: &str) -> Result<Option<DomainEntry>, String> {
        if self.cached {
            return Ok(self.set.read().find(host).cloned());
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let set = self.load_with(&self.select_host, &[DbValue::Text(host.clone())])?;
        Ok(set.find(&host).cloned())
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let mode = db::int_param(ctx, "db_mode", 0)?;
    if !(0..=1).contains(&mode) {
        return Err(format!("modparam db_mode: {mode} is not 0 or 1"));
    }
    let id =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let (domain, sub) = (
        id("domain_col", "domain")?,
        id(
            "subdomain_col",
            &db::str_param(ctx, "accept_subdomain_col", "accept_subdomain"),
        )?,
    );
    let select = format!(
        "SELECT {domain}, {}, {sub} FROM {}",
        id("attrs_col", "attrs")?,
        db::ident(&db, "table", &db::str_param(ctx, "domain_table", "domain"))?,
    );
    let select_host = format!("{select} WHERE LOWER({domain}) = ? OR {sub} <> 0");
    let st = State {
        db,
        select,
        select_host,
        cached: mode == 1,
        set: RwLock::new(Arc::new(DomainSet::default())),
    };
    if st.cached {
        *st.set.write() = Arc::new(st.load()?);
    }
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

/// The domain entry of `host`, if local (None also when the module is not running).
pub fn lookup(host: &str) -> Option<DomainEntry> {
    let st = STATE.read().clone()?;
    match st.find(host) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("domain: {e}");
            None
        }
    }
}

fn answer(ctx: &mut RunCtx<'_>, host: Option<String>, var: Option<&ArgValue<'_>>) -> i32 {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return -1;
    };
    let Some(e) = lookup(&host) else {
        return -1;
    };
    if let Some(ArgValue::Var(spec)) = var {
        let v = e.attrs.map(Value::str).unwrap_or(Value::Null);
        if let Err(e) = ctx.set_pv(spec, AssignOp::Set, v) {
            tracing::error!("domain: cannot set the attributes variable: {e}");
        }
    }
    1
}

fn is_domain_local(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let host = args.first().and_then(ArgValue::str).map(str::to_string);
    answer(ctx, host, args.get(1))
}

fn is_from_local(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let host = sip(ctx).and_then(|m| {
        let na = NameAddr::parse(m.msg.header(HdrId::From)?).ok()?;
        Some(String::from_utf8_lossy(na.uri.host_unbracketed()).into_owned())
    });
    answer(ctx, host, args.first())
}

fn is_uri_host_local(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let host = sip(ctx).and_then(|m| {
        let ruri = m.ruri().into_owned();
        let u = Uri::parse(ruri.as_bytes()).ok()?;
        Some(String::from_utf8_lossy(u.host_unbracketed()).into_owned())
    });
    answer(ctx, host, args.first())
}

fn running() -> Result<Arc<State>, MiError> {
    STATE
        .read()
        .clone()
        .ok_or_else(|| MiError::new(500, "domain module not running"))
}

fn mi_reload(_p: &MiParams<'_>) -> MiResult {
    let st = running()?;
    if !st.cached {
        return Err(MiError::new(400, "Domain cache is not enabled (db_mode 0)"));
    }
    let set = st.load().map_err(|e| MiError::new(500, e))?;
    *st.set.write() = Arc::new(set);
    crate::mi::ok()
}

fn mi_dump(_p: &MiParams<'_>) -> MiResult {
    let st = running()?;
    let set = st.current().map_err(|e| MiError::new(500, e))?;
    let mut list: Vec<&DomainEntry> = set.entries().collect();
    list.sort_by(|a, b| a.domain.cmp(&b.domain));
    let domains: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            json!({
                "name": e.domain,
                "accept_subdomain": e.accept_subdomain as i32,
                "attributes": e.attrs,
            })
        })
        .collect();
    Ok(json!({ "Domains": domains }))
}

static MI: &[MiCommand] = &[
    MiCommand {
        name: "domain_reload",
        aliases: &["reload"],
        help: "reloads the domain table into the cache",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_reload,
        }],
    },
    MiCommand {
        name: "domain_dump",
        aliases: &["dump"],
        help: "lists the local domains",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_dump,
        }],
    },
];

const ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::BRANCH)
    .or(RouteMask::FAILURE)
    .or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "domain",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::int("db_mode"),
        ParamSpec::str("domain_table"),
        ParamSpec::str("domain_col"),
        ParamSpec::str("attrs_col"),
        ParamSpec::str("subdomain_col"),
        ParamSpec::str("accept_subdomain_col"),
    ],
    functions: &[
        FunctionSpec {
            name: "is_domain_local",
            params: &[p::STR, p::OPT_VAR],
            routes: ROUTES,
            handler: is_domain_local,
        },
        FunctionSpec {
            name: "is_from_local",
            params: &[p::OPT_VAR],
            routes: ROUTES,
            handler: is_from_local,
        },
        FunctionSpec {
            name: "is_uri_host_local",
            params: &[p::OPT_VAR],
            routes: ROUTES,
            handler: is_uri_host_local,
        },
    ],
    mi_commands: MI,
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    fn e(d: &str, sub: bool) -> DomainEntry {
        DomainEntry {
            domain: d.into(),
            attrs: Some(format!("tenant={d}")),
            accept_subdomain: sub,
        }
    }

    #[test]
    fn exact_and_subdomains() {
        let s = DomainSet::new(vec![
            e("Tenant-A.test", false),
            e("b.test", true),
            e("x.b.test", true),
        ]);
        assert_eq!(s.find("tenant-a.test").unwrap().domain, "tenant-a.test");
        assert_eq!(s.find("TENANT-A.TEST.").unwrap().domain, "tenant-a.test");
        assert!(s.find("sub.tenant-a.test").is_none(), "no accept_subdomain");
        assert_eq!(s.find("b.test").unwrap().domain, "b.test");
        assert_eq!(s.find("pbx.b.test").unwrap().domain, "b.test");
        assert_eq!(s.find("y.x.b.test").unwrap().domain, "x.b.test");
        assert!(s.find("evilb.test").is_none());
        assert!(s.find("test").is_none());
        assert!(s.find("").is_none());
    }
}
