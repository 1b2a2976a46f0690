//! xcap: the `xcap` table of XCAP documents (pres-rules, resource lists, pidf-manipulation)
//! for the modules that read them (presence_xml). `db_url`, `xcap_table`.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, Value};
use crate::modules::auth_db::db;
use crate::script::module::InitCtx;
use crate::script::{ModuleDescriptor, ParamSpec};

/// `xcap.doc_type` values (OpenSIPS's xcap document types).
pub mod doc_type {
    pub const RESOURCE_LISTS: i64 = 1;
    pub const PRES_RULES: i64 = 2;
    pub const RLS_SERVICES: i64 = 3;
    pub const PIDF_MANIPULATION: i64 = 4;
}

struct Xcap {
    db: Arc<Db>,
    select: String,
}

static XCAP: RwLock<Option<Xcap>> = RwLock::new(None);

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    if ctx.params.get("db_url").is_none() {
        tracing::warn!("xcap: no db_url: no XCAP document will be found");
        *XCAP.write() = None;
        return Ok(());
    }
    let handle = db::open(ctx)?;
    let table = db::str_param(ctx, "xcap_table", "xcap");
    crate::modules::presence::store::check_version(&handle, &table, "xcap")?;
    let select = format!(
        "SELECT doc FROM {} WHERE username = ? AND domain = ? AND doc_type = ?",
        db::ident(&handle, "xcap_table", &table)?
    );
    *XCAP.write() = Some(Xcap { db: handle, select });
    Ok(())
}

/// The document of `doc_type` that `user@domain` stored, if any.
pub fn get_doc(user: &str, domain: &str, doc_type: i64) -> Result<Option<Vec<u8>>, String> {
    let x = XCAP.read();
    let Some(x) = x.as_ref() else { return Ok(None) };
    let row =
        x.db.query_opt(
            &x.select,
            &[
                Value::Text(user.to_string()),
                Value::Text(domain.to_string()),
                Value::Int(doc_type),
            ],
        )
        .map_err(|e| format!("xcap: {e}"))?;
    Ok(row.and_then(|r| match r.get(0) {
        Value::Null => None,
        Value::Blob(b) => Some(b.clone()),
        other => other.to_text().map(String::into_bytes),
    }))
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "xcap",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("xcap_table"),
        ParamSpec::int("integrated_xcap_server"),
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
