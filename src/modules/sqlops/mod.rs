//! sqlops: raw SQL from the script into variables (`sql_query`, `sql_query_one`), structured
//! statements from JSON (`sql_select[_one]`, `sql_update`, `sql_insert`, `sql_replace`,
//! `sql_delete`) and user
//! preferences kept as AVPs in `usr_preferences` (`sql_avp_load`, `sql_avp_store`,
//! `sql_avp_delete`). `db_url` may be given several times as `"N url"` (N = the `db_id`).
//! The raw query text is the script author's SQL (that is the point of the function); every
//! other statement here is parameterised.

pub mod avp;
pub mod spec;
pub mod structured;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, DbUrl, Value as DbValue};
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::pv::PvSpec;
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db;

/// `type` column bit: the value is an integer.
const DB_VAL_INT: i64 = 1;

struct Columns {
    uuid: String,
    username: String,
    domain: String,
    attribute: String,
    value: String,
    kind: String,
}

pub(crate) struct State {
    dbs: BTreeMap<i64, Arc<Db>>,
    table: String,
    use_domain: bool,
    cols: Columns,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

/// `"N url"` or `"url"` (id 0).
fn parse_db_url(text: &str) -> Result<(i64, String), String> {
    let t = text.trim();
    if let Some((id, url)) = t.split_once(char::is_whitespace)
        && let Ok(id) = id.parse::<i64>()
    {
        return Ok((id, url.trim().to_string()));
    }
    if t.is_empty() {
        return Err("modparam db_url: empty".into());
    }
    Ok((0, t.to_string()))
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let st = State::from_params(ctx, "usr_table", true)?.expect("a database");
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

impl State {
    /// The databases (`db_url`, several as `"N url"`), the `usr_preferences` table (modparam
    /// `table_param`), `use_domain` and the `*_column` names of a module; avpops shares this.
    /// Without `db_url`: the default database when `default_db`, else None.
    pub(crate) fn from_params(
        ctx: &InitCtx<'_>,
        table_param: &str,
        default_db: bool,
    ) -> Result<Option<State>, String> {
        let mut dbs = BTreeMap::new();
        for v in ctx.params.all("db_url") {
            let ParamValue::Str(s) = v else {
                return Err("modparam db_url: not a string".into());
            };
            let (id, url) = parse_db_url(s)?;
            let u = DbUrl::parse(&url).map_err(|e| format!("modparam db_url {id}: {e}"))?;
            let handle = Db::connect(&u)
                .map_err(|e| format!("database {} (db_url {id}): {e}", u.redacted()))?;
            if dbs.insert(id, Arc::new(handle)).is_some() {
                return Err(format!("modparam db_url: id {id} given twice"));
            }
        }
        if dbs.is_empty() {
            if !default_db {
                return Ok(None);
            }
            dbs.insert(0, db::open(ctx)?);
        }
        let first = dbs.values().next().cloned().expect("one database");
        let col = |n: &str, d: &str| db::ident(&first, "column", &db::str_param(ctx, n, d));
        let cols = Columns {
            uuid: col("uuid_column", "uuid")?,
            username: col("username_column", "username")?,
            domain: col("domain_column", "domain")?,
            attribute: col("attribute_column", "attribute")?,
            value: col("value_column", "value")?,
            kind: col("type_column", "type")?,
        };
        let table = db::str_param(ctx, table_param, "usr_preferences");
        db::ident(&first, "table", &table)?;
        Ok(Some(State {
            dbs,
            table,
            use_domain: db::int_param(ctx, "use_domain", 0)? != 0,
            cols,
        }))
    }
}

fn state() -> Option<Arc<State>> {
    STATE.read().clone()
}

impl State {
    pub(crate) fn db(&self, id: i64) -> Result<&Arc<Db>, String> {
        self.dbs
            .get(&id)
            .ok_or_else(|| format!("no db_url with id {id}"))
    }
}

/// The `db_id` argument: a number or a string holding one (0 when omitted).
pub(crate) fn db_id(arg: Option<&ArgValue<'_>>) -> Result<i64, String> {
    match arg {
        None | Some(ArgValue::None) => Ok(0),
        Some(ArgValue::Int(i)) => Ok(*i as i64),
        Some(ArgValue::Str(s)) if s.trim().is_empty() => Ok(0),
        Some(ArgValue::Str(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("db_id `{s}` is not a number")),
        Some(other) => Err(format!("db_id {other:?} is not a number")),
    }
}

/// A database value as a script value (`null_as` for SQL NULL).
pub(crate) fn script_value(v: &DbValue, null_as: Value) -> Value {
    match v {
        DbValue::Null => null_as,
        DbValue::Int(i) => i32::try_from(*i)
            .map(Value::Int)
            .unwrap_or_else(|_| Value::str(i.to_string())),
        other => Value::str(other.to_text().unwrap_or_default()),
    }
}

fn set(ctx: &mut RunCtx<'_>, var: &PvSpec, v: Value) -> Result<(), String> {
    ctx.set_pv(var, AssignOp::Set, v)
        .map_err(|e| format!("cannot set {}: {e}", var.text))
}

fn run_query(
    ctx: &RunCtx<'_>,
    func: &str,
    args: &[ArgValue<'_>],
) -> Result<Vec<crate::db::Row>, String> {
    let _ = ctx;
    let st = state().ok_or("sqlops module not running")?;
    let query = args.first().and_then(ArgValue::str).unwrap_or("");
    if query.trim().is_empty() {
        return Err(format!("{func}: empty query"));
    }
    let db = st.db(db_id(args.get(2))?)?;
    db.query(query, &[])
        .map_err(|e| format!("query failed: {e}"))
}

fn dest_vars(arg: Option<&ArgValue<'_>>) -> Result<Vec<PvSpec>, String> {
    match arg.and_then(ArgValue::str) {
        Some(s) if !s.trim().is_empty() => spec::parse_var_list(s),
        _ => Ok(Vec::new()),
    }
}

/// Rows into AVPs (`sql_query`, `sql_select`): 1 rows, -2 no row.
fn rows_to_avps(
    ctx: &mut RunCtx<'_>,
    rows: &[crate::db::Row],
    dest: Vec<PvSpec>,
) -> Result<i32, String> {
    if rows.is_empty() || rows[0].is_empty() {
        return Ok(-2);
    }
    // Without a list, column j goes to $avp(j+1); with one, columns past its end are dropped.
    let vars: Vec<PvSpec> = if dest.is_empty() {
        (0..rows[0].len()).map(spec::default_avp).collect()
    } else {
        dest
    };
    // The first row ends on top of each AVP stack ($avp(x)[0]).
    for row in rows.iter().rev() {
        for (j, var) in vars.iter().take(row.len()).enumerate() {
            set(ctx, var, script_value(row.get(j), Value::str("<null>")))?;
        }
    }
    Ok(1)
}

/// The first row into any variables (`sql_query_one`, `sql_select_one`).
fn row_to_vars(
    ctx: &mut RunCtx<'_>,
    rows: &[crate::db::Row],
    dest: Vec<PvSpec>,
) -> Result<i32, String> {
    let Some(row) = rows.first().filter(|r| !r.is_empty()) else {
        return Ok(-2);
    };
    if dest.len() < row.len() {
        return Err(format!(
            "the query returns {} column(s) but {} variable(s) are given",
            row.len(),
            dest.len()
        ));
    }
    for (j, var) in dest.iter().take(row.len()).enumerate() {
        set(ctx, var, script_value(row.get(j), Value::Null))?;
    }
    Ok(1)
}

/// Logs `Err` under the script function's name and gives the script's false (-1).
/// Shared with avpops, whose functions end the same way.
pub(crate) fn report(func: &str, r: Result<i32, String>) -> i32 {
    r.unwrap_or_else(|e| {
        tracing::error!("{func}: {e}");
        -1
    })
}

/// `sql_query(query, [res_col_avps], [db_id])`: 1 rows, -2 no row, -1 error.
fn sql_query(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let r = dest_vars(args.get(1)).and_then(|dest| {
        let rows = run_query(ctx, "sql_query", args)?;
        rows_to_avps(ctx, &rows, dest)
    });
    report("sql_query", r)
}

/// `sql_query_one(query, [res_col_vars], [db_id])`: the first row into any variables.
fn sql_query_one(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let r = dest_vars(args.get(1)).and_then(|dest| {
        let rows = run_query(ctx, "sql_query_one", args)?;
        row_to_vars(ctx, &rows, dest)
    });
    report("sql_query_one", r)
}

fn arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

/// The database of `db_id` (argument `i`).
fn db_at(args: &[ArgValue<'_>], i: usize) -> Result<Arc<Db>, String> {
    let st = state().ok_or("sqlops module not running")?;
    st.db(db_id(args.get(i))?).cloned()
}

/// `sql_select([columns], table, [filter], [order], [res_col_avps], [db_id])` and `_one`.
fn select(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], one: bool) -> Result<i32, String> {
    let db = db_at(args, 5)?;
    let dest = dest_vars(args.get(4))?;
    let (sql, params) = structured::select(
        db.engine(),
        arg(args, 0),
        arg(args, 1).unwrap_or(""),
        arg(args, 2),
        arg(args, 3),
    )?;
    let rows = db
        .query(&sql, &params)
        .map_err(|e| format!("query failed: {e}"))?;
    if one {
        row_to_vars(ctx, &rows, dest)
    } else {
        rows_to_avps(ctx, &rows, dest)
    }
}

fn sql_select(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    report("sql_select", select(ctx, args, false))
}

fn sql_select_one(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    report("sql_select_one", select(ctx, args, true))
}

fn exec(func: &str, db: Arc<Db>, built: Result<(String, Vec<DbValue>), String>) -> i32 {
    let r = built.and_then(|(sql, params)| {
        db.execute(&sql, &params)
            .map(|_| 1)
            .map_err(|e| format!("query failed: {e}"))
    });
    report(func, r)
}

/// `sql_update(columns, table, [filter], [db_id])`.
fn sql_update(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match db_at(args, 3) {
        Ok(db) => {
            let built = structured::update(
                db.engine(),
                arg(args, 0).unwrap_or(""),
                arg(args, 1).unwrap_or(""),
                arg(args, 2),
            );
            exec("sql_update", db, built)
        }
        Err(e) => report("sql_update", Err(e)),
    }
}

fn insert_or_replace(args: &[ArgValue<'_>], replace: bool) -> i32 {
    let func = if replace { "sql_replace" } else { "sql_insert" };
    match db_at(args, 2) {
        Ok(db) => {
            let built = structured::insert(
                db.engine(),
                arg(args, 0).unwrap_or(""),
                arg(args, 1).unwrap_or(""),
                replace,
            );
            exec(func, db, built)
        }
        Err(e) => report(func, Err(e)),
    }
}

/// `sql_insert(table, columns, [db_id])`.
fn sql_insert(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    insert_or_replace(args, false)
}

/// `sql_replace(table, columns, [db_id])`.
fn sql_replace(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    insert_or_replace(args, true)
}

/// `sql_delete(table, [filter], [db_id])`.
fn sql_delete(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match db_at(args, 2) {
        Ok(db) => {
            let built = structured::delete(db.engine(), arg(args, 0).unwrap_or(""), arg(args, 1));
            exec("sql_delete", db, built)
        }
        Err(e) => report("sql_delete", Err(e)),
    }
}

fn sql_avp_load(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_load(ctx, state(), args, "sql_avp_load")
}

fn sql_avp_store(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_store(ctx, state(), args, "sql_avp_store")
}

fn sql_avp_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_delete(ctx, state(), args, "sql_avp_delete")
}

const AVP_ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL)
    .or(RouteMask::ONREPLY);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "sqlops",
    params: &[
        ParamSpec::str("db_url").multi(),
        ParamSpec::str("usr_table"),
        ParamSpec::str("db_scheme").multi(),
        ParamSpec::int("use_domain"),
        ParamSpec::int("ps_id_max_buf_len"),
        ParamSpec::int("bigint_to_str"),
        ParamSpec::str("uuid_column"),
        ParamSpec::str("username_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("attribute_column"),
        ParamSpec::str("value_column"),
        ParamSpec::str("type_column"),
    ],
    functions: &[
        FunctionSpec {
            name: "sql_query",
            params: &[p::STR, p::OPT_RAW, p::OPT_ANY],
            routes: AVP_ROUTES,
            handler: sql_query,
        },
        FunctionSpec {
            name: "sql_query_one",
            params: &[p::STR, p::OPT_RAW, p::OPT_ANY],
            routes: RouteMask::ALL,
            handler: sql_query_one,
        },
        FunctionSpec {
            name: "sql_select",
            params: &[
                p::OPT_STR,
                p::STR,
                p::OPT_STR,
                p::OPT_STR,
                p::OPT_RAW,
                p::OPT_ANY,
            ],
            routes: RouteMask::ALL,
            handler: sql_select,
        },
        FunctionSpec {
            name: "sql_select_one",
            params: &[
                p::OPT_STR,
                p::STR,
                p::OPT_STR,
                p::OPT_STR,
                p::OPT_RAW,
                p::OPT_ANY,
            ],
            routes: RouteMask::ALL,
            handler: sql_select_one,
        },
        FunctionSpec {
            name: "sql_update",
            params: &[p::STR, p::STR, p::OPT_STR, p::OPT_ANY],
            routes: RouteMask::ALL,
            handler: sql_update,
        },
        FunctionSpec {
            name: "sql_insert",
            params: &[p::STR, p::STR, p::OPT_ANY],
            routes: RouteMask::ALL,
            handler: sql_insert,
        },
        FunctionSpec {
            name: "sql_replace",
            params: &[p::STR, p::STR, p::OPT_ANY],
            routes: RouteMask::ALL,
            handler: sql_replace,
        },
        FunctionSpec {
            name: "sql_delete",
            params: &[p::STR, p::OPT_STR, p::OPT_ANY],
            routes: RouteMask::ALL,
            handler: sql_delete,
        },
        FunctionSpec {
            name: "sql_avp_load",
            params: &[p::RAW, p::RAW, p::OPT_ANY, p::OPT_STR],
            routes: AVP_ROUTES,
            handler: sql_avp_load,
        },
        FunctionSpec {
            name: "sql_avp_store",
            params: &[p::RAW, p::RAW, p::OPT_ANY],
            routes: AVP_ROUTES,
            handler: sql_avp_store,
        },
        FunctionSpec {
            name: "sql_avp_delete",
            params: &[p::RAW, p::RAW, p::OPT_ANY],
            routes: AVP_ROUTES,
            handler: sql_avp_delete,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls_with_ids() {
        assert_eq!(
            parse_db_url("mysql://u:p@h/db").unwrap(),
            (0, "mysql://u:p@h/db".into())
        );
        assert_eq!(
            parse_db_url(" 1 postgres://u@h2/opensips").unwrap(),
            (1, "postgres://u@h2/opensips".into())
        );
        assert!(parse_db_url("  ").is_err());
    }

    #[test]
    fn db_values_in_script() {
        assert_eq!(script_value(&DbValue::Int(7), Value::Null), Value::Int(7));
        assert_eq!(
            script_value(&DbValue::Int(1 << 40), Value::Null),
            Value::str((1i64 << 40).to_string())
        );
        assert_eq!(
            script_value(&DbValue::Null, Value::str("<null>")),
            Value::str("<null>")
        );
        assert_eq!(db_id(Some(&ArgValue::Str("3".into()))).unwrap(), 3);
        assert_eq!(db_id(None).unwrap(), 0);
        assert!(db_id(Some(&ArgValue::Str("x".into()))).is_err());
    }
}
