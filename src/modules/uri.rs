//! uri: database checks of URIs against the authenticated user (OpenSIPS 2.x `uri` names).
//! `db_check_to()` / `db_check_from()`: the To / From user (and host with `use_domain`) is the
//! digest user of this request — or, with `use_uri_table`, one of its rows in the `uri` table.
//! `db_does_uri_exist()`: the Request-URI user is a subscriber (or in the `uri` table).

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
    uri_user: String,
    use_uri_table: bool,
    use_domain: bool,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let use_uri_table = db::int_param(ctx, "use_uri_table", 0)? != 0;
    let default_table = if use_uri_table { "uri" } else { "subscriber" };
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let st = State {
        table: db::ident(&db, "table", &db::str_param(ctx, "db_table", default_table))?,
        user: col("user_column", "username")?,
        domain: col("domain_column", "domain")?,
        uri_user: col("uriuser_column", "uri_user")?,
        use_uri_table,
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

/// The digest user name (user part) and realm of the request's credentials.
fn credentials(m: &crate::runtime::SipCtx) -> Option<(String, String)> {
    let c = [HdrId::Authorization, HdrId::ProxyAuthorization]
        .into_iter()
        .flat_map(|id| m.msg.headers_of(id))
        .filter_map(|v| AuthParams::parse(v).ok())
        .find(AuthParams::is_digest)?;
    let user = String::from_utf8_lossy(c.username()?).into_owned();
    let user = user
        .split_once('@')
        .map_or(user.clone(), |(u, _)| u.to_string());
    let realm = String::from_utf8_lossy(c.realm().unwrap_or_default()).into_owned();
    Some((user, realm))
}

fn check_header(ctx: &mut RunCtx<'_>, id: HdrId, func: &str) -> i32 {
    let Some(st) = STATE.read().clone() else {
        return -1;
    };
    let Some(m) = sip(ctx) else {
        return -1;
    };
    let Some((user, host)) = m
        .msg
        .header(id)
        .and_then(|v| NameAddr::parse(v).ok())
        .and_then(|na| user_host(na.uri.raw))
    else {
        return -1;
    };
    let Some((auth_user, realm)) = credentials(m) else {
        tracing::debug!("{func}: no credentials in the request");
        return -1;
    };
    if !st.use_uri_table {
        let same_user = user == auth_user;
        let same_domain = !st.use_domain || host.eq_ignore_ascii_case(&realm);
        return if same_user && same_domain { 1 } else { -1 };
    }
    let mut sql = format!(
        "SELECT 1 FROM {} WHERE {} = ? AND {} = ?",
        st.table, st.user, st.uri_user
    );
    let mut params = vec![DbValue::Text(auth_user), DbValue::Text(user)];
    if st.use_domain {
        sql.push_str(&format!(" AND LOWER({}) = ?", st.domain));
        params.push(DbValue::Text(realm.to_ascii_lowercase()));
    }
    query(&st, &sql, &params, func)
}

fn query(st: &State, sql: &str, params: &[DbValue], func: &str) -> i32 {
    match st.db.query_opt(sql, params) {
        Ok(Some(_)) => 1,
        Ok(None) => -1,
        Err(e) => {
            tracing::error!("{func}: {e}");
            -1
        }
    }
}

fn db_check_to(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    check_header(ctx, HdrId::To, "db_check_to")
}

fn db_check_from(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    check_header(ctx, HdrId::From, "db_check_from")
}

/// `db_does_uri_exist([uri[, table]])`: the Request-URI (or `uri`) user is in the table. The
/// optional arguments are auth_db's 3.x form, so a script loading both modules calls either.
fn db_does_uri_exist(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(st) = STATE.read().clone() else {
        return -1;
    };
    let uri = match args.first().and_then(ArgValue::str) {
        Some(u) => u.to_string(),
        None => match sip(ctx) {
            Some(m) => m.ruri().into_owned(),
            None => return -1,
        },
    };
    let Some((user, host)) = user_host(uri.as_bytes()) else {
        return -1;
    };
    let table = match args.get(1).and_then(ArgValue::str) {
        Some(t) => match db::ident(&st.db, "table", t) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("db_does_uri_exist: {e}");
                return -1;
            }
        },
        None => st.table.clone(),
    };
    let col = if st.use_uri_table {
        &st.uri_user
    } else {
        &st.user
    };
    let mut sql = format!("SELECT 1 FROM {table} WHERE {col} = ?");
    let mut params = vec![DbValue::Text(user)];
    if st.use_domain {
        sql.push_str(&format!(" AND LOWER({}) = ?", st.domain));
        params.push(DbValue::Text(host.to_ascii_lowercase()));
    }
    query(&st, &sql, &params, "db_does_uri_exist")
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "uri",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("db_table"),
        ParamSpec::str("user_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("uriuser_column"),
        ParamSpec::int("use_uri_table"),
        ParamSpec::int("use_domain"),
    ],
    functions: &[
        FunctionSpec {
            name: "db_check_to",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: db_check_to,
        },
        FunctionSpec {
            name: "db_check_from",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: db_check_from,
        },
        FunctionSpec {
            name: "db_does_uri_exist",
            params: &[p::OPT_STR, p::OPT_STR],
            routes: RouteMask::REQUEST.or(RouteMask::FAILURE),
            handler: db_does_uri_exist,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
