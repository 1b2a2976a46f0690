//! The MI commands of a relay module, `<module>_show` (its sets and the state of their nodes)
//! and `<module>_enable url|all 0|1`, from what [`Relay`] says of the module.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe, ok};

use super::Set;

/// A relay module's running instances, as its MI commands see them.
pub trait Relay: Send + Sync + Sized + 'static {
    type Ctl;
    /// `rtpengine_show` and its help.
    const SHOW: (&'static str, &'static str);
    /// `rtpengine_enable` and its help.
    const ENABLE: (&'static str, &'static str);
    /// The error of a command that comes before `init` (`rtpengine not initialised`).
    const NOT_INITIALISED: &'static str;
    /// The error of `*_enable` for an unknown URL (`RTPEngine not found`).
    const NOT_FOUND: &'static str;

    /// The running module's instances (None before `init`).
    fn running() -> Option<Arc<Self>>;
    fn sets(&self) -> &[Set<Self::Ctl>];

    /// The module's MI commands, for its descriptor.
    const MI_COMMANDS: &'static [MiCommand] = &[
        MiCommand {
            name: Self::SHOW.0,
            aliases: &[],
            help: Self::SHOW.1,
            flags: 0,
            recipes: &[Recipe {
                params: &[],
                handler: show::<Self>,
            }],
        },
        MiCommand {
            name: Self::ENABLE.0,
            aliases: &[],
            help: Self::ENABLE.1,
            flags: 0,
            recipes: &[Recipe {
                params: &["url", "enable"],
                handler: enable::<Self>,
            }],
        },
    ];
}

fn running<R: Relay>() -> Result<Arc<R>, MiError> {
    R::running().ok_or_else(|| MiError::new(500, R::NOT_INITIALISED))
}

fn show<R: Relay>(_: &MiParams<'_>) -> MiResult {
    let r = running::<R>()?;
    let sets: Vec<Value> = r
        .sets()
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

fn enable<R: Relay>(p: &MiParams<'_>) -> MiResult {
    let url = p.string("url")?;
    let on = p.int("enable")? != 0;
    let r = running::<R>()?;
    let mut found = false;
    for n in r.sets().iter().flat_map(|s| s.nodes.iter()) {
        if n.url == url || url == "all" {
            n.set_enabled(on);
            found = true;
        }
    }
    if !found {
        return Err(MiError::new(404, R::NOT_FOUND));
    }
    ok()
}
