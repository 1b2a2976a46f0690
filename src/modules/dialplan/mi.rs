//! The dialplan MI commands: `dp_reload [partition]`, `dp_translate dpid input [partition]`,
//! `dp_show_partition [partition]`.

use std::sync::Arc;

use serde_json::json;

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::{PARTITIONS, Partition, partition, translate};

fn mi_reload(p: &MiParams<'_>) -> MiResult {
    let wanted = p.opt_string("partition")?;
    let parts: Vec<Arc<Partition>> = match &wanted {
        Some(n) => vec![
            partition(Some(n))
                .ok_or_else(|| MiError::new(400, format!("Unknown partition {n}")))?,
        ],
        None => PARTITIONS.read().values().cloned().collect(),
    };
    if parts.is_empty() {
        return Err(MiError::new(500, "dialplan module not running"));
    }
    for part in parts {
        part.reload().map_err(|e| MiError::new(500, e))?;
    }
    crate::mi::ok()
}

fn mi_translate(p: &MiParams<'_>) -> MiResult {
    let dpid = p.int("dpid")?;
    let input = p.string("input")?;
    let part = p.opt_string("partition")?;
    // No message here: variables in repl_exp read as empty (as in OpenSIPS).
    match translate(part.as_deref(), dpid, &input, &mut |_| String::new()) {
        Ok(Some(t)) => Ok(json!({
            "Output": t.output.unwrap_or_default(),
            "ATTRIBUTES": t.attrs,
        })),
        Ok(None) => Err(MiError::new(404, "No translation")),
        Err(e) => Err(MiError::new(400, e)),
    }
}

fn mi_show_partition(p: &MiParams<'_>) -> MiResult {
    let wanted = p.opt_string("partition")?;
    let parts = PARTITIONS.read();
    let list: Vec<serde_json::Value> = parts
        .values()
        .filter(|part| wanted.as_deref().is_none_or(|w| w == part.name))
        .map(|part| {
            let rules = part.rules.read().clone();
            json!({
                "name": part.name,
                "table": part.table,
                "db_url": part.db.url().redacted(),
                "dpids": rules.dpids(),
                "rules": rules.rule_count(),
            })
        })
        .collect();
    if list.is_empty() {
        return Err(MiError::new(404, "No such partition"));
    }
    Ok(json!({ "Partitions": list }))
}

pub static MI: &[MiCommand] = &[
    MiCommand {
        name: "dp_reload",
        aliases: &[],
        help: "reloads the dialplan rules from the database",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_reload,
            },
            Recipe {
                params: &["partition"],
                handler: mi_reload,
            },
        ],
    },
    MiCommand {
        name: "dp_translate",
        aliases: &[],
        help: "translates an input string with a dialplan",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["dpid", "input"],
                handler: mi_translate,
            },
            Recipe {
                params: &["dpid", "input", "partition"],
                handler: mi_translate,
            },
        ],
    },
    MiCommand {
        name: "dp_show_partition",
        aliases: &["dp_show_partiton"],
        help: "shows the dialplan partitions",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_show_partition,
            },
            Recipe {
                params: &["partition"],
                handler: mi_show_partition,
            },
        ],
    },
];
