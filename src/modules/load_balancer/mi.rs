//! MI commands: `lb_reload`, `lb_list`, `lb_status`, `lb_resize` (3.x result shapes).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::data::{LbData, LbDest};

fn running() -> Result<Arc<LbData>, MiError> {
    super::data().ok_or_else(|| MiError::new(500, "load_balancer module not running"))
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn dest<'a>(d: &'a LbData, p: &MiParams<'_>) -> Result<&'a LbDest, MiError> {
    let id = p.int("destination_id")?;
    u32::try_from(id)
        .ok()
        .and_then(|id| d.by_id(id))
        .ok_or_else(|| MiError::new(404, "Destination ID not found"))
}

fn mi_reload(_p: &MiParams<'_>) -> MiResult {
    super::reload().map_err(|e| MiError::new(500, e))?;
    crate::mi::ok()
}

fn mi_list(_p: &MiParams<'_>) -> MiResult {
    let d = running()?;
    let dests: Vec<Value> = d
        .dests
        .iter()
        .map(|x| {
            let res: Vec<Value> = x
                .resources
                .iter()
                .map(|(n, c)| {
                    json!({ "name": n, "max": c.load(Ordering::Relaxed), "load": super::load(x, n) })
                })
                .collect();
            // Probing may enable it again unless the MI disabled it.
            let mut v = json!({
                "uri": x.uri,
                "id": x.id,
                "group": x.group,
                "enabled": yes_no(x.enabled()),
                "auto-reenable": if x.admin_disabled() { "off" } else { "on" },
                "Resources": res,
            });
            with_attrs(&mut v, x);
            v
        })
        .collect();
    Ok(json!({ "Destinations": dests }))
}

/// `attrs` of the destination, when it has some (as OpenSIPS 3.x lists them).
fn with_attrs(v: &mut Value, x: &LbDest) {
    if !x.attrs.is_empty() {
        v["attrs"] = Value::from(x.attrs.as_str());
    }
}

fn mi_status(p: &MiParams<'_>) -> MiResult {
    let d = running()?;
    let x = dest(&d, p)?;
    match p.opt_int("new_status")? {
        None => {
            let mut v = json!({ "enable": yes_no(x.enabled()) });
            with_attrs(&mut v, x);
            Ok(v)
        }
        Some(v @ (0 | 1)) => {
            let was_admin = x.set_admin_disabled(v == 0);
            if super::set_enabled(x, v == 1) || was_admin != (v == 0) {
                let how = if v == 1 {
                    "manually enable"
                } else {
                    "manually disable"
                };
                super::verbose(x, how, "");
            }
            crate::mi::ok()
        }
        Some(v) => Err(MiError::new(400, format!("Bad new_status value `{v}`"))),
    }
}

fn mi_resize(p: &MiParams<'_>) -> MiResult {
    let d = running()?;
    let x = dest(&d, p)?;
    let name = p.string("res_name")?;
    let cap = p.int("new_capacity")?;
    let cap = u32::try_from(cap)
        .map_err(|_| MiError::new(400, format!("Bad new_capacity value `{cap}`")))?;
    let (_, c) = x
        .resources
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| MiError::new(404, "Destination has no such resource"))?;
    c.store(cap, Ordering::Relaxed);
    crate::mi::ok()
}

pub static MI: &[MiCommand] = &[
    MiCommand {
        name: "lb_reload",
        aliases: &[],
        help: "reloads the load_balancer table",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_reload,
        }],
    },
    MiCommand {
        name: "lb_list",
        aliases: &[],
        help: "lists the destinations with the capacity and load of their resources",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_list,
        }],
    },
    MiCommand {
        name: "lb_status",
        aliases: &[],
        help: "shows or sets whether a destination is enabled",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["destination_id"],
                handler: mi_status,
            },
            Recipe {
                params: &["destination_id", "new_status"],
                handler: mi_status,
            },
        ],
    },
    MiCommand {
        name: "lb_resize",
        aliases: &[],
        help: "changes the capacity of a resource of a destination",
        flags: 0,
        recipes: &[Recipe {
            params: &["destination_id", "res_name", "new_capacity"],
            handler: mi_resize,
        }],
    },
];
