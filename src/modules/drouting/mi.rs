//! MI commands: `dr_reload`, `dr_gw_status`, `dr_carrier_status` (3.x result shapes).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::data::{GwState, RoutingData};

fn running() -> Result<Arc<RoutingData>, MiError> {
    super::data().ok_or_else(|| MiError::new(500, "drouting module not running"))
}

fn partition_ok(p: &MiParams<'_>) -> Result<(), MiError> {
    match p.opt_string("partition_name")? {
        Some(name) if name != "default" => Err(MiError::new(400, "Partition not found")),
        _ => Ok(()),
    }
}

/// `status` 0 disables, 1 enables, 2 puts the gateway in the probing state.
fn new_state(p: &MiParams<'_>) -> Result<Option<GwState>, MiError> {
    match p.opt_int("status")? {
        None => Ok(None),
        Some(0) => Ok(Some(GwState::Inactive)),
        Some(1) => Ok(Some(GwState::Active)),
        Some(2) => Ok(Some(GwState::Probing)),
        Some(v) => Err(MiError::new(400, format!("Bad status value `{v}`"))),
    }
}

fn mi_reload(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    super::reload().map_err(|e| MiError::new(500, e))?;
    crate::mi::ok()
}

fn mi_gw_status(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let d = running()?;
    let Some(id) = p.opt_string("gw_id")? else {
        let gws: Vec<Value> = d
            .gateways
            .iter()
            .map(|g| json!({ "ID": g.id, "IP": g.address, "State": g.state().name() }))
            .collect();
        return Ok(json!({ "Gateways": gws }));
    };
    let g = d
        .gateway(&id)
        .ok_or_else(|| MiError::new(404, "Destination ID not found"))?;
    match new_state(p)? {
        None => Ok(json!({ "State": g.state().name() })),
        Some(s) => {
            super::change_state(g, s);
            crate::mi::ok()
        }
    }
}

fn mi_carrier_status(p: &MiParams<'_>) -> MiResult {
    partition_ok(p)?;
    let d = running()?;
    let Some(id) = p.opt_string("carrier_id")? else {
        let crs: Vec<Value> = d
            .carriers
            .iter()
            .map(|c| json!({ "ID": c.id, "Enabled": c.state() == GwState::Active }))
            .collect();
        return Ok(json!({ "Carriers": crs }));
    };
    let c = d
        .carrier(&id)
        .ok_or_else(|| MiError::new(404, "Carrier ID not found"))?;
    match new_state(p)? {
        None => Ok(json!({ "Enabled": c.state() == GwState::Active })),
        Some(s) => {
            c.set_state(s);
            crate::mi::ok()
        }
    }
}

pub static MI: &[MiCommand] = &[
    MiCommand {
        name: "dr_reload",
        aliases: &[],
        help: "reloads the drouting tables",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_reload,
            },
            Recipe {
                params: &["partition_name"],
                handler: mi_reload,
            },
        ],
    },
    MiCommand {
        name: "dr_gw_status",
        aliases: &[],
        help: "lists the gateways, shows or sets the state of one",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_gw_status,
            },
            Recipe {
                params: &["gw_id"],
                handler: mi_gw_status,
            },
            Recipe {
                params: &["gw_id", "status"],
                handler: mi_gw_status,
            },
            Recipe {
                params: &["partition_name"],
                handler: mi_gw_status,
            },
            Recipe {
                params: &["partition_name", "gw_id"],
                handler: mi_gw_status,
            },
            Recipe {
                params: &["partition_name", "gw_id", "status"],
                handler: mi_gw_status,
            },
        ],
    },
    MiCommand {
        name: "dr_carrier_status",
        aliases: &[],
        help: "lists the carriers, shows or sets the state of one",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_carrier_status,
            },
            Recipe {
                params: &["carrier_id"],
                handler: mi_carrier_status,
            },
            Recipe {
                params: &["carrier_id", "status"],
                handler: mi_carrier_status,
            },
            Recipe {
                params: &["partition_name", "carrier_id"],
                handler: mi_carrier_status,
            },
            Recipe {
                params: &["partition_name", "carrier_id", "status"],
                handler: mi_carrier_status,
            },
        ],
    },
];
