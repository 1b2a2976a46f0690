//! MI commands: `rtpproxy_show` (the sets and their nodes) and `rtpproxy_enable url 0|1`.

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe, ok};

use super::proxies;

fn show(_: &MiParams<'_>) -> MiResult {
    let e = proxies().ok_or_else(|| MiError::new(500, "rtpproxy not initialised"))?;
    let sets: Vec<Value> = e
        .sets
        .iter()
        .map(|s| {
            let nodes: Vec<Value> = s
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    json!({
                        "node": n.url,
                        "index": i,
                        "disabled": u8::from(n.disabled()),
                        "weight": n.weight,
                        "recheck_ticks": n.recheck_in(),
                    })
                })
                .collect();
            json!({ "id": s.id, "nodes": nodes })
        })
        .collect();
    Ok(json!({ "Sets": sets }))
}

fn enable(p: &MiParams<'_>) -> MiResult {
    let url = p.string("url")?;
    let on = p.int("enable")? != 0;
    let e = proxies().ok_or_else(|| MiError::new(500, "rtpproxy not initialised"))?;
    let mut found = false;
    for n in e.sets.iter().flat_map(|s| s.nodes.iter()) {
        if n.url == url || url == "all" {
            n.set_enabled(on);
            found = true;
        }
    }
    if !found {
        return Err(MiError::new(404, "RTPProxy not found"));
    }
    ok()
}

pub static COMMANDS: &[MiCommand] = &[
    MiCommand {
        name: "rtpproxy_show",
        aliases: &[],
        help: "list the rtpproxy sets and the state of their nodes",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: show,
        }],
    },
    MiCommand {
        name: "rtpproxy_enable",
        aliases: &[],
        help: "enable (1) or disable (0) an rtpproxy node by its URL, or `all`",
        flags: 0,
        recipes: &[Recipe {
            params: &["url", "enable"],
            handler: enable,
        }],
    },
];
