//! alias_db: aliases kept in a table (`dbaliases`). `alias_db_lookup(table[, flags])` rewrites
//! the Request-URI user@host of an alias to its canonical user@domain; `alias_db_find(table,
//! in_uri, out_var[, flags])` writes it to a variable. Flags: `d` ignore the domain of the alias,
//! `r` reverse (canonical → alias). Without `d` an alias only resolves within its own domain.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, Value as DbValue};
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::Uri;

use super::auth_db::db;

struct State {
    db: Arc<Db>,
    user: String,
    domain: String,
    alias_user: String,
    alias_domain: String,
    domain_prefix: String,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let st = State {
        user: col("user_column", "username")?,
        domain: col("domain_column", "domain")?,
        alias_user: col("alias_user_column", "alias_username")?,
        alias_domain: col("alias_domain_column", "alias_domain")?,
        domain_prefix: db::str_param(ctx, "domain_prefix", ""),
        db,
    };
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

/// Parsed flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    ignore_domain: bool,
    reverse: bool,
}

fn flags(text: &str) -> Result<Flags, String> {
    let mut f = Flags::default();
    for c in text.chars() {
        match c {
            'd' | 'D' => f.ignore_domain = true,
            'r' | 'R' => f.reverse = true,
            c if c.is_whitespace() => {}
            c => return Err(format!("unknown flag `{c}` (d, r)")),
        }
    }
    Ok(f)
}

impl State {
    /// The target (user, domain) of `user`@`host` in `table`.
    fn find(
        &self,
        table: &str,
        user: &str,
        host: &str,
        f: Flags,
    ) -> Result<Option<(String, String)>, String> {
        let table = db::ident(&self.db, "table", table)?;
        let host = host
            .strip_prefix(self.domain_prefix.as_str())
            .filter(|_| !self.domain_prefix.is_empty())
            .unwrap_or(host);
        let (out_u, out_d, in_u, in_d) = if f.reverse {
            (
                &self.alias_user,
                &self.alias_domain,
                &self.user,
                &self.domain,
            )
        } else {
            (
                &self.user,
                &self.domain,
                &self.alias_user,
                &self.alias_domain,
            )
        };
        let mut sql = format!("SELECT {out_u}, {out_d} FROM {table} WHERE {in_u} = ?");
        let mut params = vec![DbValue::Text(user.to_string())];
        if !f.ignore_domain {
            sql.push_str(&format!(" AND LOWER({in_d}) = ?"));
            params.push(DbValue::Text(host.to_ascii_lowercase()));
        }
        let row = self
            .db
            .query_opt(&sql, &params)
            .map_err(|e| e.to_string())?;
        Ok(row.map(|r| {
            (
                r.get(0).to_text().unwrap_or_default(),
                r.get(1).to_text().unwrap_or_default(),
            )
        }))
    }
}

fn user_host(uri: &str) -> Option<(String, String)> {
    let u = Uri::parse(uri.as_bytes()).ok()?;
    Some((
        String::from_utf8_lossy(u.user?).into_owned(),
        String::from_utf8_lossy(u.host).into_owned(),
    ))
}

fn resolve(table: &str, uri: &str, flag_text: &str, func: &str) -> Option<(String, String)> {
    let st = STATE.read().clone()?;
    let f = match flags(flag_text) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("{func}: {e}");
            return None;
        }
    };
    let (user, host) = user_host(uri)?;
    match st.find(table, &user, &host, f) {
        Ok(t) => t.filter(|(u, _)| !u.is_empty()),
        Err(e) => {
            tracing::error!("{func}: {e}");
            None
        }
    }
}

fn alias_db_lookup(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let table = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("dbaliases")
        .to_string();
    let flag_text = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let Some(m) = sip(ctx) else {
        return -1;
    };
    let ruri = m.ruri().into_owned();
    let Some((user, domain)) = resolve(&table, &ruri, &flag_text, "alias_db_lookup") else {
        return -1;
    };
    let r = m
        .set_ruri_part("user", Some(&user))
        .and_then(|_| match domain.is_empty() {
            true => Ok(()),
            false => m.set_ruri_part("host", Some(&domain)),
        });
    match r {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("alias_db_lookup: {e}");
            -1
        }
    }
}

fn alias_db_find(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let table = args.first().and_then(ArgValue::str).unwrap_or("dbaliases");
    let uri = args.get(1).and_then(ArgValue::str).unwrap_or("");
    let flag_text = args.get(3).and_then(ArgValue::str).unwrap_or("");
    let Some(ArgValue::Var(out)) = args.get(2) else {
        return -1;
    };
    let Some((user, domain)) = resolve(table, uri, flag_text, "alias_db_find") else {
        return -1;
    };
    match ctx.set_pv(
        out,
        AssignOp::Set,
        Value::str(format!("sip:{user}@{domain}")),
    ) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("alias_db_find: {e}");
            -1
        }
    }
}

const ROUTES: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "alias_db",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("user_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("alias_user_column"),
        ParamSpec::str("alias_domain_column"),
        ParamSpec::str("domain_prefix"),
        ParamSpec::int("append_branches"),
    ],
    functions: &[
        FunctionSpec {
            name: "alias_db_lookup",
            params: &[p::STR, p::OPT_STR],
            routes: ROUTES,
            handler: alias_db_lookup,
        },
        FunctionSpec {
            name: "alias_db_find",
            params: &[p::STR, p::STR, p::VAR, p::OPT_STR],
            routes: ROUTES,
            handler: alias_db_find,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(flags("").unwrap(), Flags::default());
        let f = flags("dr").unwrap();
        assert!(f.ignore_domain && f.reverse);
        assert!(flags("x").is_err());
    }

    #[test]
    fn uri_user_and_host() {
        assert_eq!(
            user_host("sip:sales@tenant-a.test;transport=udp"),
            Some(("sales".into(), "tenant-a.test".into()))
        );
        assert_eq!(user_host("sip:tenant-a.test"), None);
    }
}
