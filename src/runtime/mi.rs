//! The management interface of a running script: the MI transports the script loads (httpd /
//! mi_http, mi_fifo, mi_datagram, prometheus) served on the transport's tokio runtime, with the
//! core commands reading the runtime's statistics, events, cache and process table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::mi::core::{KillHandler, ReloadHandler};
use crate::mi::servers::{self, MiConfig, MiServers};
use crate::mi::{MiCore, MiRegistry, ProcessGuard, ProcessTable, register_core};
use crate::script::module::ParamValue;
use crate::script::{Registry, Script};
use crate::transport::{Proto, Transport};

use super::Shared;

/// The MI side of a running script; dropping it stops the transports.
pub struct RunningMi {
    pub servers: MiServers,
    pub registry: Arc<MiRegistry>,
    pub procs: Arc<ProcessTable>,
    _workers: Vec<ProcessGuard>,
}

/// The MI transports the script asks for (None when it loads no MI module); errors name the
/// module parameter.
pub fn mi_config(script: &Script) -> Result<Option<MiConfig>, String> {
    let mut cfg = MiConfig::default();
    let mut any = false;
    for m in &script.modules {
        any |= cfg.load_module(&m.name);
    }
    if !any {
        return Ok(None);
    }
    let mut params: Vec<(&String, &String, &[ParamValue])> = Vec::new();
    for (module, mp) in &script.modparams {
        for (name, values) in &mp.0 {
            params.push((module, name, values));
        }
    }
    // socket_name lines keep their order; the HashMaps do not order modules.
    params.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (module, name, values) in params {
        for v in values {
            let text = match v {
                ParamValue::Int(i) => i.to_string(),
                ParamValue::Str(s) => s.clone(),
            };
            cfg.set_modparam(module, name, &text)
                .map_err(|e| format!("modparam(\"{module}\", \"{name}\"): {e}"))?;
        }
    }
    Ok(Some(cfg))
}

/// Starts the transports of `cfg` and registers the core commands on `shared`'s state. `path`:
/// the script file `reload_routes` compiles again.
pub fn start(
    cfg: &MiConfig,
    shared: &Arc<Shared>,
    transport: &Arc<Transport>,
    path: Option<PathBuf>,
) -> Result<RunningMi, String> {
    let procs = Arc::new(ProcessTable::new(shared.settings.log_level));
    let pid = std::process::id() as i64;
    let mut workers = vec![procs.register(pid, "attendant")];
    for l in transport.sockets() {
        let desc = format!("SIP receiver {}", l.def);
        let n = match l.def.proto {
            Proto::Udp => shared.settings.udp_workers,
            _ => 0,
        };
        for _ in 0..n {
            workers.push(procs.register(pid, desc.clone()));
        }
    }
    if transport
        .sockets()
        .iter()
        .any(|l| l.def.proto != Proto::Udp)
    {
        for _ in 0..shared.settings.tcp_workers {
            workers.push(procs.register(pid, "SIP receiver TCP"));
        }
    }
    let registry = Arc::new(MiRegistry::new());
    let core = Arc::new(MiCore::new(
        shared.stats.clone(),
        shared.events.clone(),
        shared.cache.clone(),
        procs.clone(),
    ));
    core.set_kill_handler(kill_handler());
    core.set_reload_handler(reload_handler(shared, path));
    register_core(&registry, core).map_err(|e| format!("MI core commands: {e}"))?;
    for m in &shared.script().modules {
        if let Some(d) = m.descriptor {
            registry
                .register_module(d.name, d.mi_commands)
                .map_err(|e| format!("MI commands of {}: {e}", d.name))?;
        }
    }
    let servers = servers::start(
        cfg,
        transport.rt_handle(),
        registry.clone(),
        Some(shared.stats.clone()),
        procs.clone(),
    )
    .map_err(|e| e.to_string())?;
    Ok(RunningMi {
        servers,
        registry,
        procs,
        _workers: workers,
    })
}

/// `kill`: SIGTERM to this process shortly after, so the reply leaves first; `osips` then shuts
/// down as on any SIGTERM.
fn kill_handler() -> KillHandler {
    Arc::new(|| {
        tracing::info!("kill requested over MI: shutting down");
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM);
        });
    })
}

/// `reload_routes`: compiles the script file again; errors refuse the reload and the running
/// script keeps going; a good script replaces the routes for the next messages. Global parameters
/// (sockets, workers) and modparams keep their start-up values, as in OpenSIPS.
fn reload_handler(shared: &Arc<Shared>, path: Option<PathBuf>) -> ReloadHandler {
    let weak = Arc::downgrade(shared);
    Arc::new(move || {
        let Some(path) = &path else {
            return Err(vec!["the script was not read from a file".to_string()]);
        };
        let Some(shared) = weak.upgrade() else {
            return Err(vec!["the runtime is stopping".to_string()]);
        };
        let checked = crate::script::check_file(path, &Registry::builtin()).map_err(|e| vec![e])?;
        if checked.has_errors() {
            return Err(checked.render().lines().map(str::to_string).collect());
        }
        let Some(script) = checked.script else {
            return Err(vec![format!("{}: no script", path.display())]);
        };
        tracing::info!("reload_routes: routes of {} reloaded", path.display());
        let old = shared.script();
        let new: &'static Script = Box::leak(Box::new(script));
        shared.swap_script(new);
        super::event_route::sync_routes(&shared.events, Some(old), new);
        Ok(())
    })
}
