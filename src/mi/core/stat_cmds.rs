//! get_statistics, list_statistics, reset_statistics, reset_all_statistics (`statistics.c`).

use serde_json::{Map, Value};

use super::{Def, MiCore};
use crate::mi::{MiError, MiParams, MiResult, ok};

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "get_statistics",
        aliases: &[],
        help: "prints the statistics (all, group or one) realtime values.",
        recipes: &[(&["statistics"], get_statistics)],
    },
    Def {
        name: "list_statistics",
        aliases: &[],
        help: "lists all the registered statistics and their types",
        recipes: &[(&[], list_statistics), (&["statistics"], list_statistics)],
    },
    Def {
        name: "reset_statistics",
        aliases: &[],
        help: "resets the value of a statistic variable",
        recipes: &[(&["statistics"], reset_statistics)],
    },
    Def {
        name: "reset_all_statistics",
        aliases: &[],
        help: "resets the value of all the statistic variables",
        recipes: &[(&[], reset_all_statistics)],
    },
];

/// The `statistics` parameter: an array of names (a lone string is taken as one name).
fn selectors(p: &MiParams<'_>) -> Result<Vec<String>, MiError> {
    match p.value("statistics") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        _ => p.string_array("statistics"),
    }
}

fn not_found() -> MiError {
    MiError::new(404, "Statistics Not Found")
}

fn get_statistics(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let sel = selectors(p)?;
    let stats = core.stats.select(&sel, true).ok_or_else(not_found)?;
    let mut m = Map::new();
    for s in stats {
        m.insert(format!("{}:{}", s.group(), s.name()), Value::from(s.get()));
    }
    Ok(Value::Object(m))
}

fn kind(incremental: bool) -> Value {
    Value::from(if incremental {
        "incremental"
    } else {
        "non-incremental"
    })
}

fn list_statistics(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let mut m = Map::new();
    if !p.has("statistics") {
        for s in core.stats.all() {
            m.insert(
                format!("{}:{}", s.group(), s.name()),
                kind(s.is_incremental()),
            );
        }
        return Ok(Value::Object(m));
    }
    let mut found = false;
    for sel in selectors(p)? {
        if sel.len() > 1 && sel.ends_with(':') {
            let Some(group) = core.stats.group(&sel[..sel.len() - 1]) else {
                continue;
            };
            for s in group {
                m.insert(
                    format!("{}:{}", s.group(), s.name()),
                    kind(s.is_incremental()),
                );
            }
        } else {
            let Some(s) = core.stats.get(&sel) else {
                continue;
            };
            // OpenSIPS prints a single statistic without its group
            m.insert(s.name().to_string(), kind(s.is_incremental()));
        }
        found = true;
    }
    if !found {
        return Err(not_found());
    }
    Ok(Value::Object(m))
}

fn reset_statistics(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let mut found = false;
    for sel in selectors(p)? {
        if let Some(s) = core.stats.get(&sel) {
            s.reset();
            found = true;
        }
    }
    if !found {
        return Err(not_found());
    }
    ok()
}

fn reset_all_statistics(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    for s in core.stats.all() {
        s.reset();
    }
    ok()
}
