//! cache_store, cache_fetch, cache_remove (`mi_core.c`, served by the local cache).

use serde_json::json;

use super::{Def, MiCore};
use crate::mi::{MiError, MiParams, MiResult, ok};

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "cache_store",
        aliases: &[],
        help: "stores in a cache system a string value",
        recipes: &[
            (&["system", "attr", "value"], cache_store),
            (&["system", "attr", "value", "expire"], cache_store),
        ],
    },
    Def {
        name: "cache_fetch",
        aliases: &[],
        help: "queries for a cache stored value",
        recipes: &[(&["system", "attr"], cache_fetch)],
    },
    Def {
        name: "cache_remove",
        aliases: &[],
        help: "removes a record from the cache system",
        recipes: &[(&["system", "attr"], cache_remove)],
    },
];

fn non_empty(p: &MiParams<'_>, name: &str, what: &str) -> Result<String, MiError> {
    let v = p.string(name)?;
    if v.is_empty() {
        return Err(MiError::invalid_params(what));
    }
    Ok(v)
}

fn system_attr(p: &MiParams<'_>) -> Result<(String, String), MiError> {
    Ok((
        non_empty(p, "system", "Empty memory cache id")?,
        non_empty(p, "attr", "Empty attribute name")?,
    ))
}

fn cache_store(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let expire = match p.opt_int("expire")? {
        Some(e) if e < 0 => return Err(MiError::invalid_params("Negative expire value")),
        Some(e) => e.min(u32::MAX as i64) as u32,
        None => 0,
    };
    let (system, attr) = system_attr(p)?;
    let value = non_empty(p, "value", "Empty value")?;
    core.cache
        .store(&system, &attr, &value, expire)
        .map_err(|_| MiError::new(500, "Cache store command failed"))?;
    ok()
}

fn cache_fetch(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let (system, attr) = system_attr(p)?;
    match core.cache.fetch(&system, &attr) {
        Err(_) => Err(MiError::new(500, "Cache fetch command failed")),
        Ok(Some(v)) if !v.is_empty() => Ok(json!({ "key": attr, "value": v })),
        Ok(_) => Err(MiError::new(400, "Value not found")),
    }
}

fn cache_remove(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let (system, attr) = system_attr(p)?;
    core.cache
        .remove(&system, &attr)
        .map_err(|_| MiError::new(500, "Cache remove command failed"))?;
    ok()
}
