//! The core MI commands (OpenSIPS `mi/mi_core.c`, `statistics.c`, `evi/event_interface.c`), with
//! their recipes, result shapes and error replies.
//!
//! They need no SIP runtime: what they read (statistics, events, cache, process table) is passed
//! in [`MiCore`]. `kill` and `reload_routes` call hooks the runtime sets with
//! [`MiCore::set_kill_handler`] and [`MiCore::set_reload_handler`].

mod basic;
mod cache_cmds;
mod event_cmds;
mod stat_cmds;

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;

use super::process::ProcessTable;
use super::registry::{MiDynHandler, MiRegistry, RegCommand, RegRecipe, RegisterError};
use super::{MiParams, MiResult};
use crate::cache::LocalCache;
use crate::events::EventRegistry;
use crate::stats::Stats;

/// What a reload hook returns: `Err` carries the new script's errors.
pub type ReloadHandler = Arc<dyn Fn() -> Result<(), Vec<String>> + Send + Sync>;
pub type KillHandler = Arc<dyn Fn() + Send + Sync>;

/// Shared state of the core commands.
pub struct MiCore {
    pub started: SystemTime,
    pub argv: Vec<String>,
    pub stats: Arc<Stats>,
    pub events: Arc<EventRegistry>,
    pub cache: Arc<LocalCache>,
    pub procs: Arc<ProcessTable>,
    kill: RwLock<Option<KillHandler>>,
    reload: RwLock<Option<ReloadHandler>>,
}

impl MiCore {
    pub fn new(
        stats: Arc<Stats>,
        events: Arc<EventRegistry>,
        cache: Arc<LocalCache>,
        procs: Arc<ProcessTable>,
    ) -> Self {
        MiCore {
            started: SystemTime::now(),
            argv: std::env::args().collect(),
            stats,
            events,
            cache,
            procs,
            kill: RwLock::new(None),
            reload: RwLock::new(None),
        }
    }

    /// What `kill` does; without a handler it sends SIGTERM to this process, as OpenSIPS does.
    pub fn set_kill_handler(&self, h: KillHandler) {
        *self.kill.write() = Some(h);
    }

    /// What `reload_routes` does: check and swap in the new script's routes.
    pub fn set_reload_handler(&self, h: ReloadHandler) {
        *self.reload.write() = Some(h);
    }

    fn kill_handler(&self) -> Option<KillHandler> {
        self.kill.read().clone()
    }

    fn reload_handler(&self) -> Option<ReloadHandler> {
        self.reload.read().clone()
    }
}

type CoreFn = fn(&MiCore, &MiParams<'_>) -> MiResult;

struct Def {
    name: &'static str,
    aliases: &'static [&'static str],
    help: &'static str,
    recipes: &'static [(&'static [&'static str], CoreFn)],
}

fn register_defs(
    reg: &MiRegistry,
    module: &str,
    core: &Arc<MiCore>,
    defs: &[Def],
) -> Result<(), RegisterError> {
    for d in defs {
        let recipes = d
            .recipes
            .iter()
            .map(|(params, f)| {
                let core = core.clone();
                let f = *f;
                let handler: MiDynHandler = Arc::new(move |p: &MiParams<'_>| f(&core, p));
                RegRecipe { params, handler }
            })
            .collect();
        reg.register(RegCommand {
            name: d.name.to_string(),
            module: module.to_string(),
            aliases: d.aliases.iter().map(|a| a.to_string()).collect(),
            help: d.help.to_string(),
            flags: 0,
            recipes,
        })?;
    }
    Ok(())
}

/// Registers the statistics commands (module "statistics") and the core commands (module
/// "core"), in OpenSIPS's order.
pub fn register_core(reg: &MiRegistry, core: Arc<MiCore>) -> Result<(), RegisterError> {
    register_defs(reg, "statistics", &core, stat_cmds::DEFS)?;
    register_defs(reg, "core", &core, basic::DEFS)?;
    register_defs(reg, "core", &core, cache_cmds::DEFS)?;
    register_defs(reg, "core", &core, event_cmds::DEFS)?;
    register_defs(reg, "core", &core, basic::LATE_DEFS)?;
    Ok(())
}
