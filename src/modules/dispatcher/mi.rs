//! MI commands: `ds_list`, `ds_set_state`, `ds_reload`, `ds_push_script_attrs` (3.x result shapes).

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::set::{DsState, Sets};

fn running() -> Result<std::sync::Arc<Sets>, MiError> {
    super::sets().ok_or_else(|| MiError::new(500, "dispatcher module not running"))
}

fn partition_ok(p: &MiParams<'_>) -> Result<(), MiError> {
    match p.opt_string("partition")? {
        Some(name) if name != "default" => Err(MiError::new(400, "Partition not found")),
        _ => Ok(()),
    }
}

/// The `ds_list` document; `full` adds weight, priority and description.
pub fn list(sets: &Sets, full: bool) -> Value {
    let sets: Vec<Value> = sets
        .sets
        .iter()
        .map(|s| {
            let dests: Vec<Value> = s
                .dests
                .iter()
                .map(|d| {
                    let mut o = json!({
                        "URI": d.uri,
                        "state": d.state().name(),
                        "first_hit_counter": d.first_hits.load(Ordering::Relaxed),
                    });
                    let m = o.as_object_mut().expect("object");
                    if let Some(sock) = &d.socket {
                        m.insert("socket".into(), json!(sock));
                    }
                    if !d.attrs.is_empty() {
                        m.insert("attr".into(), json!(d.attrs));
                    }
                    let script_attrs = d.script_attrs.lock().clone();
                    if !script_attrs.is_empty() {
                        m.insert("script_attr".into(), json!(script_attrs));
                    }
                    let resolved: Vec<String> = d.addrs.iter().map(|a| a.to_string()).collect();
                    m.insert("resolved_addresses".into(), json!(resolved));
                    if full {
                        m.insert("weight".into(), json!(d.weight));
                        m.insert("priority".into(), json!(d.priority));
                        m.insert("description".into(), json!(d.description));
                    }
                    o
                })
                .collect();
            json!({ "id": s.id, "Destinations": dests })
        })
        .collect();
    json!({ "PARTITIONS": [{ "name": "default", "SETS": sets }] })
}

fn mi_list(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let full = p.has("full");
    let sets = running()?;
    Ok(list(&sets, full))
}

fn mi_set_state(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let sets = running()?;
    let state = p.string("state")?;
    let new = DsState::from_letter(&state)
        .ok_or_else(|| MiError::new(400, format!("Bad state value `{state}`")))?;
    let group = p.string("group")?;
    let group = group.rsplit(':').next().unwrap_or("");
    let setid: i32 = group
        .trim()
        .parse()
        .map_err(|_| MiError::new(400, format!("Bad group value `{group}`")))?;
    let address = p.string("address")?;
    let set = sets
        .set(setid)
        .ok_or_else(|| MiError::new(404, "Destination set not found"))?;
    let d = set
        .dests
        .iter()
        .find(|d| d.uri == address || d.uri.trim_start_matches("sip:") == address)
        .ok_or_else(|| MiError::new(404, "Destination not found"))?;
    super::change_state(setid, d, new);
    crate::mi::ok()
}

fn mi_reload(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let inherit = match p.opt_string("inherit_state")? {
        Some(v) => !v.eq_ignore_ascii_case("n"),
        None => true,
    };
    super::reload(inherit).map_err(|e| MiError::new(500, e))?;
    crate::mi::ok()
}

fn mi_push_script_attrs(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let attrs = p.string("script_attrs")?;
    let address = p.string("address")?;
    let setid = p.int("setid")? as i32;
    // `address` is ip[:port] or a SIP URI.
    let hostport = address
        .trim_start_matches("sips:")
        .trim_start_matches("sip:");
    let (ip, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse().unwrap_or(0)),
        _ => (hostport, 0),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if super::push_script_attrs(&attrs, ip, port, setid) < 0 {
        return Err(MiError::new(404, "Destination not found"));
    }
    crate::mi::ok()
}

pub static MI: &[MiCommand] = &[
    MiCommand {
        name: "ds_list",
        aliases: &["list"],
        help: "lists the destination sets and their states",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_list,
            },
            Recipe {
                params: &["partition"],
                handler: mi_list,
            },
            Recipe {
                params: &["full"],
                handler: mi_list,
            },
            Recipe {
                params: &["full", "partition"],
                handler: mi_list,
            },
        ],
    },
    MiCommand {
        name: "ds_set_state",
        aliases: &["set_state"],
        help: "sets the state of a destination",
        flags: 0,
        recipes: &[Recipe {
            params: &["state", "group", "address"],
            handler: mi_set_state,
        }],
    },
    MiCommand {
        name: "ds_reload",
        aliases: &["reload"],
        help: "reloads the destination sets from the database",
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
            Recipe {
                params: &["inherit_state"],
                handler: mi_reload,
            },
            Recipe {
                params: &["partition", "inherit_state"],
                handler: mi_reload,
            },
        ],
    },
    MiCommand {
        name: "ds_push_script_attrs",
        aliases: &["push_script_attrs"],
        help: "sets the script attributes of a destination",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["script_attrs", "address", "setid"],
                handler: mi_push_script_attrs,
            },
            Recipe {
                params: &["script_attrs", "address", "setid", "partition"],
                handler: mi_push_script_attrs,
            },
        ],
    },
];
