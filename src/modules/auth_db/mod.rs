//! auth_db: digest credentials checked against the subscriber table (`www_authorize`,
//! `proxy_authorize`), and `db_does_uri_exist(uri, table)`.
//!
//! The HA1 column follows the algorithm of the credentials: `password_column` ("ha1") for MD5,
//! `hash_column_sha256` ("ha1_sha256"), `hash_column_sha512t256` ("ha1_sha512t256"). With
//! `calculate_ha1` the clear password is read instead, from `password_column` when set, else
//! from `password` (OpenSIPS keeps "ha1" there and expects the script to change it).
//! `load_credentials` ("$avp(name)=column;column;...") copies columns of the authorized row into
//! AVPs; it loads nothing by default (OpenSIPS's default "rpid" names a column the 3.x schema
//! dropped).

pub mod db;

use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, Value as DbValue};
use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};
use crate::sip::Uri;
use crate::sip::digest::DigestHash;

use super::auth::verify::{self, AuthResult, Secret};

/// The module's configuration after `init`.
pub struct AuthDb {
    pub db: Arc<Db>,
    pub calculate_ha1: bool,
    pub use_domain: bool,
    user_col: String,
    domain_col: String,
    md5_col: String,
    sha256_col: String,
    sha512t256_col: String,
    /// `load_credentials`: (AVP name, quoted column).
    credentials: Vec<(String, String)>,
}

/// Parses `load_credentials`: `$avp(name)=column` or `column` items separated by `;`.
fn parse_load_credentials(db: &Db, text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (avp, col) = match item.split_once('=') {
            Some((a, c)) => {
                let a = a.trim();
                let name = a
                    .strip_prefix("$avp(")
                    .and_then(|r| r.strip_suffix(')'))
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        format!("modparam load_credentials: `{a}` is not an $avp(name)")
                    })?;
                (name.to_string(), c.trim())
            }
            None => (item.to_string(), item),
        };
        out.push((avp, db::ident(db, "column", col)?));
    }
    Ok(out)
}

/// `load_credentials` values of a row: (AVP name, value).
pub type Loaded = Vec<(String, DbValue)>;

static STATE: RwLock<Option<Arc<AuthDb>>> = RwLock::new(None);

fn state() -> Option<Arc<AuthDb>> {
    STATE.read().clone()
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let calculate_ha1 = db::int_param(ctx, "calculate_ha1", 0)? != 0;
    let password_default = if calculate_ha1 { "password" } else { "ha1" };
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let st = AuthDb {
        calculate_ha1,
        use_domain: db::int_param(ctx, "use_domain", 0)? != 0,
        user_col: col("user_column", "username")?,
        domain_col: col("domain_column", "domain")?,
        md5_col: col("password_column", password_default)?,
        sha256_col: col("hash_column_sha256", "ha1_sha256")?,
        sha512t256_col: col("hash_column_sha512t256", "ha1_sha512t256")?,
        credentials: parse_load_credentials(&db, &db::str_param(ctx, "load_credentials", ""))?,
        db,
    };
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

impl AuthDb {
    /// The secret of `user` (@`domain` with use_domain) usable with `hash`, and the
    /// `load_credentials` values of the row.
    pub fn secret(
        &self,
        table: &str,
        user: &str,
        domain: &str,
        hash: DigestHash,
    ) -> Result<Option<(Secret, Loaded)>, String> {
        let table = db::ident(&self.db, "table", table)?;
        let col = match (self.calculate_ha1, hash) {
            (true, _) | (false, DigestHash::Md5) => &self.md5_col,
            (false, DigestHash::Sha256) => &self.sha256_col,
            (false, DigestHash::Sha512_256) => &self.sha512t256_col,
        };
        let mut cols = col.clone();
        for (_, c) in &self.credentials {
            cols.push_str(", ");
            cols.push_str(c);
        }
        let mut sql = format!("SELECT {cols} FROM {table} WHERE {} = ?", self.user_col);
        let mut params = vec![DbValue::Text(user.to_string())];
        if self.use_domain {
            sql.push_str(&format!(" AND {} = ?", self.domain_col));
            params.push(DbValue::Text(domain.to_string()));
        }
        let row = self
            .db
            .query_opt(&sql, &params)
            .map_err(|e| e.to_string())?;
        Ok(row.map(|r| {
            let v = r.get(0).to_text().unwrap_or_default();
            let secret = if self.calculate_ha1 {
                Secret::Password(v)
            } else {
                Secret::Ha1(v)
            };
            let loaded = self
                .credentials
                .iter()
                .enumerate()
                .map(|(i, (avp, _))| (avp.clone(), r.get(i + 1).clone()))
                .collect();
            (secret, loaded)
        }))
    }

    /// True when `user`@`domain` has a row in `table` (domain ignored without use_domain).
    pub fn exists(&self, table: &str, user: &str, domain: &str) -> Result<bool, String> {
        let table = db::ident(&self.db, "table", table)?;
        let mut sql = format!("SELECT 1 FROM {table} WHERE {} = ?", self.user_col);
        let mut params = vec![DbValue::Text(user.to_string())];
        if self.use_domain {
            sql.push_str(&format!(" AND {} = ?", self.domain_col));
            params.push(DbValue::Text(domain.to_string()));
        }
        Ok(self
            .db
            .query_opt(&sql, &params)
            .map_err(|e| e.to_string())?
            .is_some())
    }
}

fn authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], proxy: bool) -> i32 {
    let realm = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let table = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("subscriber")
        .to_string();
    let Some(st) = state() else {
        tracing::error!("auth_db: the module was not initialised (no database)");
        return AuthResult::Error as i32;
    };
    let mut loaded = Vec::new();
    let mut lookup = |user: &str, domain: &str, hash: DigestHash| {
        Ok(st
            .secret(&table, user, domain, hash)?
            .map(|(secret, values)| {
                loaded = values;
                secret
            }))
    };
    let rc = verify::authorize(ctx, &realm, proxy, &mut lookup);
    if rc == AuthResult::Authorized as i32 {
        for (avp, v) in loaded {
            let v = match v {
                DbValue::Null => continue,
                DbValue::Int(i) => match i32::try_from(i) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::str(i.to_string()),
                },
                other => Value::str(other.to_text().unwrap_or_default()),
            };
            ctx.avps.push(&avp, v);
        }
    }
    rc
}

fn www_authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    authorize(ctx, args, false)
}

fn proxy_authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    authorize(ctx, args, true)
}

/// `db_does_uri_exist(uri, table)`: 1 when the URI's user (and host, with use_domain) is a
/// subscriber.
fn db_does_uri_exist(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let uri = args.first().and_then(ArgValue::str).unwrap_or("");
    let table = args.get(1).and_then(ArgValue::str).unwrap_or("subscriber");
    let _ = sip(ctx);
    let Some(st) = state() else {
        return -1;
    };
    let Ok(u) = Uri::parse(uri.as_bytes()) else {
        tracing::error!("db_does_uri_exist: `{uri}` is not a SIP URI");
        return -1;
    };
    let user = String::from_utf8_lossy(u.user.unwrap_or_default());
    let host = String::from_utf8_lossy(u.host);
    match st.exists(table, &user, &host) {
        Ok(true) => 1,
        Ok(false) => -1,
        Err(e) => {
            tracing::error!("db_does_uri_exist: {e}");
            -1
        }
    }
}

/// The running auth_db, for the uri module's checks.
pub fn running() -> Option<Arc<AuthDb>> {
    state()
}

const R: RouteMask = RouteMask::REQUEST;

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "auth_db",
    deps: &["auth"],
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::int("calculate_ha1"),
        ParamSpec::int("use_domain"),
        ParamSpec::str("load_credentials"),
        ParamSpec::str("user_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("password_column"),
        ParamSpec::str("hash_column_sha256"),
        ParamSpec::str("hash_column_sha512t256"),
        ParamSpec::str("uri_user_column"),
        ParamSpec::str("uri_domain_column"),
        ParamSpec::str("uri_uriuser_column"),
        ParamSpec::int("skip_version_check"),
    ],
    functions: &[
        FunctionSpec {
            name: "www_authorize",
            params: &[p::STR, p::STR],
            routes: R,
            handler: www_authorize,
        },
        FunctionSpec {
            name: "proxy_authorize",
            params: &[p::STR, p::STR],
            routes: R,
            handler: proxy_authorize,
        },
        FunctionSpec {
            name: "db_does_uri_exist",
            params: &[p::STR, p::STR],
            routes: R,
            handler: db_does_uri_exist,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_credentials_items() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.sqlite"), true).unwrap();
        let l = parse_load_credentials(&db, " $avp(dom)=domain; id ;").unwrap();
        assert_eq!(
            l,
            vec![
                ("dom".to_string(), "\"domain\"".to_string()),
                ("id".to_string(), "\"id\"".to_string())
            ]
        );
        assert!(parse_load_credentials(&db, "").unwrap().is_empty());
        assert!(parse_load_credentials(&db, "$var(x)=domain").is_err());
        assert!(parse_load_credentials(&db, "$avp(x)=dom ain").is_err());
        assert!(parse_load_credentials(&db, "x\"; DROP TABLE subscriber").is_err());
    }
}
