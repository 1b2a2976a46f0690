//! group: membership in the `grp` table. `db_is_user_in(uri, group)` (also `is_user_in`):
//! `uri` is "Request-URI", "To", "From", "Credentials" (the digest user name and realm), or a
//! SIP URI (e.g. a variable holding one).

use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, Value as DbValue};
use crate::runtime::core_fns::sip;
use crate::script::module::{InitCtx, p};
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx};
use crate::sip::{AuthParams, HdrId, NameAddr, Uri};

use super::auth_db::db;

struct State {
    db: Arc<Db>,
    table: String,
    user: String,
    domain: String,
    group: String,
    use_domain: bool,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let st = State {
        table: db::ident(&db, "table", &db::str_param(ctx, "table", "grp"))?,
        user: col("user_column", "username")?,
        domain: col("domain_column", "domain")?,
        group: col("group_column", "grp")?,
        use_domain: db::int_param(ctx, "use_domain", 0)? != 0,
        db,
    };
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

fn user_host(uri: &[u8]) -> Option<(String, String)> {
    let u = Uri::parse(uri).ok()?;
    Some((
        String::from_utf8_lossy(u.user?).into_owned(),
        String::from_utf8_lossy(u.host).into_owned(),
    ))
}

/// The (user, domain) the `uri` argument names in this message.
fn subject(ctx: &mut RunCtx<'_>, which: &str) -> Option<(String, String)> {
    let m = sip(ctx)?;
    match which.to_ascii_lowercase().as_str() {
        "request-uri" => user_host(m.ruri().as_bytes()),
        "to" | "from" => {
            let id = if which.eq_ignore_ascii_case("to") {
                HdrId::To
            } else {
                HdrId::From
            };
            let na = NameAddr::parse(m.msg.header(id)?).ok()?;
            user_host(na.uri.raw)
        }
        "credentials" => {
            let c = [HdrId::Authorization, HdrId::ProxyAuthorization]
                .into_iter()
                .flat_map(|id| m.msg.headers_of(id))
                .filter_map(|v| AuthParams::parse(v).ok())
                .find(AuthParams::is_digest)?;
            let user = String::from_utf8_lossy(c.username()?).into_owned();
            let realm = String::from_utf8_lossy(c.realm().unwrap_or_default()).into_owned();
            Some(match user.split_once('@') {
                Some((u, d)) => (u.to_string(), d.to_string()),
                None => (user, realm),
            })
        }
        _ => user_host(which.as_bytes()),
    }
}

fn db_is_user_in(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let which = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let group = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let Some(st) = STATE.read().clone() else {
        return -1;
    };
    let Some((user, domain)) = subject(ctx, &which) else {
        tracing::debug!("db_is_user_in: no user in `{which}`");
        return -1;
    };
    let mut sql = format!(
        "SELECT 1 FROM {} WHERE {} = ? AND {} = ?",
        st.table, st.user, st.group
    );
    let mut params = vec![DbValue::Text(user), DbValue::Text(group)];
    if st.use_domain {
        sql.push_str(&format!(" AND LOWER({}) = ?", st.domain));
        params.push(DbValue::Text(domain.to_ascii_lowercase()));
    }
    match st.db.query_opt(&sql, &params) {
        Ok(Some(_)) => 1,
        Ok(None) => -1,
        Err(e) => {
            tracing::error!("db_is_user_in: {e}");
            -1
        }
    }
}

const ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "group",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("table"),
        ParamSpec::str("user_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("group_column"),
        ParamSpec::int("use_domain"),
        ParamSpec::str("re_table"),
        ParamSpec::str("re_exp_column"),
        ParamSpec::str("re_gid_column"),
        ParamSpec::int("multiple_gid"),
    ],
    functions: &[
        FunctionSpec {
            name: "db_is_user_in",
            params: &[p::STR, p::STR],
            routes: ROUTES,
            handler: db_is_user_in,
        },
        FunctionSpec {
            name: "is_user_in",
            params: &[p::STR, p::STR],
            routes: ROUTES,
            handler: db_is_user_in,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
