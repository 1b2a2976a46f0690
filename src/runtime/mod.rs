//! The proxy runtime: loads and compiles a script, reads its global parameters, binds its sockets
//! through the core and runs the script's routes on every message ([`ScriptHandler`]).
//!
//! Entry point: [`Runtime::load`] (or [`Runtime::load_str`]) then [`Runtime::start`].

pub mod core_fns;
pub mod daemon;
pub mod default_db;
#[cfg(test)]
mod error_route_tests;
pub mod event_route;
pub mod handler;
pub mod log;
pub mod mi;
pub mod msgctx;
pub mod parsed;
pub mod script_routes;
pub mod settings;
#[cfg(test)]
mod tests;
pub mod tls_settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use crate::cache::LocalCache;
use crate::core::Core;
use crate::events::EventRegistry;
use crate::script::vars::SharedVars;
use crate::script::{Checked, Registry, Script};
use crate::stats::{CoreStats, Stats};
use crate::transport::SocketDef;

pub use handler::ScriptHandler;
pub use msgctx::{Branch, SipCtx};
pub use settings::Settings;

/// The script shipped inside the binary: what `osips` runs without `-f`.
pub const DEFAULT_SCRIPT: &str = include_str!("default.cfg");

/// State shared by every worker of one running script.
pub struct Shared {
    /// The compiled script; leaked so workers can keep an interpreter borrowing it, swapped by
    /// `reload_routes`.
    script: AtomicPtr<Script>,
    pub settings: Settings,
    core: OnceLock<Weak<Core>>,
    /// `cache_store` / `cache_fetch` with the `local` system.
    pub cache: Arc<LocalCache>,
    /// `$shv(name)`.
    pub shv: SharedVars,
    /// Unix time the runtime started (`$TS`).
    pub started_at: u64,
    /// The statistics registry (`get_statistics`, `/metrics`) and the `core:` handles.
    pub stats: Arc<Stats>,
    pub core_stats: CoreStats,
    pub events: Arc<EventRegistry>,
}

static CURRENT: Mutex<Option<Weak<Shared>>> = Mutex::new(None);

/// The running script's shared state, for routes without a message (startup, timer).
pub fn global_shared() -> Option<Arc<Shared>> {
    CURRENT.lock().as_ref().and_then(Weak::upgrade)
}

impl Shared {
    pub fn new(script: &'static Script, settings: Settings, started_at: u64) -> Shared {
        let (stats, core_stats) = Stats::with_core();
        Shared {
            script: AtomicPtr::new(script as *const Script as *mut Script),
            settings,
            core: OnceLock::new(),
            cache: Arc::new(LocalCache::new()),
            shv: SharedVars::default(),
            started_at,
            stats,
            core_stats,
            events: EventRegistry::with_core(),
        }
    }

    /// The script the workers run now.
    pub fn script(&self) -> &'static Script {
        // SAFETY: the pointer always comes from a leaked `&'static Script` (`new`, `swap_script`).
        unsafe { &*self.script.load(Ordering::Acquire) }
    }

    /// Makes the workers run `script` from their next message on (the old one stays leaked:
    /// a worker may still be running it).
    pub fn swap_script(&self, script: &'static Script) {
        self.script
            .store(script as *const Script as *mut Script, Ordering::Release);
    }

    pub fn core(&self) -> Option<Arc<Core>> {
        self.core.get().and_then(Weak::upgrade)
    }

    /// `myself`: one of our socket addresses (with its port when given) or an `alias=`.
    /// Whether `host` (any of our ports) is local, as OpenSIPS's `is_myself(host)` without a port.
    pub fn is_myself_any_port(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        self.core()
            .is_some_and(|c| c.transport().is_local_any_port(bare.as_bytes()))
            || self
                .settings
                .aliases
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(bare))
    }

    /// Whether `host:port` is local; no port means the default port, as in a URI.
    pub fn is_myself(&self, host: &str, port: Option<u16>) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(core) = self.core()
            && core.transport().is_local(None, bare, port)
        {
            return true;
        }
        self.settings.aliases.iter().any(|(h, p)| {
            h.eq_ignore_ascii_case(bare) && (port.is_none() || p.is_none() || *p == port)
        })
    }
}

/// Registers the statistics and events of every loaded module, then runs their `init` hooks
/// with their modparams (in `loadmodule` order), before any socket is bound.
fn init_modules(shared: &Arc<Shared>) -> Result<(), String> {
    let script = shared.script();
    let none = crate::script::module::ModParams::default();
    for m in &script.modules {
        let Some(d) = m.descriptor else { continue };
        shared.stats.register_group(d.name, d.stats);
        shared.events.publish_all(d.events);
        if let Some(init) = d.init {
            let params = script.modparams.get(d.name).unwrap_or(&none);
            init(&crate::script::module::InitCtx { params })
                .map_err(|e| format!("module {}: {e}", d.name))?;
        }
    }
    Ok(())
}

/// Why the runtime did not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The script has errors; the text is the rendered diagnostics.
    #[error("{0}")]
    Script(String),
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}

/// A compiled script with its settings, ready to start.
pub struct Runtime {
    pub script: &'static Script,
    pub settings: Settings,
    /// Warnings of the compilation, rendered.
    pub warnings: String,
    /// The script file, when read from one (`reload_routes` reads it again).
    pub path: Option<PathBuf>,
}

/// A started runtime: dropping it does not stop it, [`Running::shutdown`] does.
pub struct Running {
    pub core: Arc<Core>,
    pub shared: Arc<Shared>,
    /// The MI transports and the process table, when the script loads an MI module.
    pub mi: Option<mi::RunningMi>,
    /// The `timer_route` threads, stopped when the proxy is dropped.
    _timers: script_routes::TimerRoutes,
}

impl Running {
    pub fn shutdown(&self) {
        self.core.shutdown();
        for m in &self.shared.script().modules {
            if let Some(destroy) = m.descriptor.and_then(|d| d.destroy) {
                destroy();
            }
        }
    }

    /// The bound sockets (ports picked by the system included).
    pub fn sockets(&self) -> Vec<SocketDef> {
        self.core
            .transport()
            .sockets()
            .iter()
            .map(|l| l.def.clone())
            .collect()
    }
}

impl Runtime {
    fn from_checked(checked: Checked) -> Result<Runtime, RuntimeError> {
        let rendered = checked.render();
        let failed = checked.has_errors();
        let Some(script) = checked.script.filter(|_| !failed) else {
            return Err(RuntimeError::Script(rendered));
        };
        let settings = Settings::from_script(&script).map_err(RuntimeError::Settings)?;
        Ok(Runtime {
            script: Box::leak(Box::new(script)),
            settings,
            warnings: rendered,
            path: None,
        })
    }

    /// Loads and compiles a script file (with its includes).
    pub fn load(path: &Path) -> Result<Runtime, RuntimeError> {
        let checked =
            crate::script::check_file(path, &Registry::builtin()).map_err(RuntimeError::Script)?;
        let mut rt = Self::from_checked(checked)?;
        rt.path = Some(path.to_path_buf());
        Ok(rt)
    }

    /// Compiles a script given as text (`name` appears in messages).
    pub fn load_str(name: &str, text: &str) -> Result<Runtime, RuntimeError> {
        Self::from_checked(crate::script::check_str(name, text, &Registry::builtin()))
    }

    /// Binds the sockets and starts the workers.
    pub fn start(self) -> Result<Running, RuntimeError> {
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let cfg = self.settings.transport_config();
        let mi_cfg = mi::mi_config(self.script).map_err(RuntimeError::Settings)?;
        let shared = Arc::new(Shared::new(self.script, self.settings, started_at));
        *CURRENT.lock() = Some(Arc::downgrade(&shared));
        init_modules(&shared).map_err(RuntimeError::Settings)?;
        event_route::install(&shared);
        let handler = ScriptHandler::new(shared.clone());
        // The handler must reach the core before the first message arrives.
        let transport = crate::transport::Transport::bind(cfg)?;
        let core = Core::new(transport.clone(), Box::new(handler));
        let _ = shared.core.set(Arc::downgrade(&core));
        core.set_core_stats(shared.core_stats.clone());
        script_routes::run_startup(&shared);
        transport.start(core.clone());
        let timers = script_routes::start_timers(&shared);
        let mi = match mi_cfg {
            Some(c) => match mi::start(&c, &shared, &transport, self.path) {
                Ok(m) => Some(m),
                Err(e) => {
                    core.shutdown();
                    return Err(RuntimeError::Settings(e));
                }
            },
            None => None,
        };
        Ok(Running {
            core,
            shared,
            mi,
            _timers: timers,
        })
    }
}
