//! The database of a module (auth_db, domain, alias_db, group, permissions, uri): its `db_url`
//! modparam, else the osipsctlrc default (`DBENGINE`, `DB_PATH`...), one shared handle per URL.
//! Names that go into SQL text (tables, columns) are checked and quoted here; values are always
//! parameters.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::db::sql::check_name;
use crate::db::{Db, DbUrl};
use crate::script::module::{InitCtx, ParamValue};

static HANDLES: Mutex<Option<HashMap<String, Arc<Db>>>> = Mutex::new(None);

/// A string modparam, or `default`.
pub fn str_param(ctx: &InitCtx<'_>, name: &str, default: &str) -> String {
    match ctx.params.get(name) {
        Some(ParamValue::Str(s)) => s.clone(),
        Some(ParamValue::Int(i)) => i.to_string(),
        None => default.to_string(),
    }
}

/// An integer modparam, or `default`; a string that is not a number is an error naming it.
pub fn int_param(ctx: &InitCtx<'_>, name: &str, default: i64) -> Result<i64, String> {
    match ctx.params.get(name) {
        None => Ok(default),
        Some(ParamValue::Int(i)) => Ok(*i),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("modparam {name}: `{s}` is not a number")),
    }
}

/// A table or column name from a modparam or a script argument, checked and quoted.
pub fn ident(db: &Db, what: &str, name: &str) -> Result<String, String> {
    check_name(what, name).map_err(|e| e.to_string())?;
    Ok(db.engine().quote(name))
}

/// The URL a module uses: `db_url`, else the rc file's database.
pub fn url_of(ctx: &InitCtx<'_>) -> Result<DbUrl, String> {
    match ctx.params.get("db_url") {
        Some(ParamValue::Str(u)) if !u.trim().is_empty() => {
            DbUrl::parse(u.trim()).map_err(|e| format!("modparam db_url: {e}"))
        }
        _ => {
            let rc = crate::ctlrc::Rc::load(None).map_err(|e| format!("osipsctlrc: {e}"))?;
            rc.db_url()
                .map_err(|e| format!("no db_url and the osipsctlrc database is unusable: {e}"))
        }
    }
}

/// Connects (or reuses the connection) to the module's database.
pub fn open(ctx: &InitCtx<'_>) -> Result<Arc<Db>, String> {
    let url = url_of(ctx)?;
    let key = url.to_url_string();
    let mut h = HANDLES.lock();
    let map = h.get_or_insert_with(HashMap::new);
    if let Some(db) = map.get(&key) {
        return Ok(db.clone());
    }
    let db = Arc::new(Db::connect(&url).map_err(|e| format!("database {}: {e}", url.redacted()))?);
    map.insert(key, db.clone());
    Ok(db)
}
