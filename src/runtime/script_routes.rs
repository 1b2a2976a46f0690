//! The routes that run without a SIP message: `startup_route` (once, after the modules are
//! initialised and before the first message is read, as OpenSIPS runs it before forking its
//! workers) and every `timer_route[name, interval]` (each on a thread of its own, every
//! `interval` seconds, so a slow route delays only itself and never the timer wheel).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::script::ast::RouteKind;
use crate::script::exec::Interpreter;
use crate::script::vars::{AvpStore, VarStore};
use crate::script::{RunCtx, Script};

use super::Shared;

/// Runs route `index` of `script` (a startup or timer route) with no message.
fn run(shared: &Shared, script: &Script, kind: RouteKind, index: usize, vars: &mut VarStore) {
    let mut avps = AvpStore::default();
    let mut ctx = RunCtx {
        route: kind,
        vars,
        avps: &mut avps,
        shv: &shared.shv,
        msg: None,
        params: Vec::new(),
        returns: Vec::new(),
        last_rc: 1,
        err: None,
    };
    Interpreter::new(script).run_route(&mut ctx, index);
}

/// Runs the script's `startup_route`, if it has one.
pub fn run_startup(shared: &Shared) {
    let script = shared.script();
    if let Some(index) = script.route_index(RouteKind::Startup, None) {
        run(
            shared,
            script,
            RouteKind::Startup,
            index,
            &mut VarStore::default(),
        );
    }
}

/// Stops the timer route threads when dropped (the running proxy holds it).
pub struct TimerRoutes {
    stop: Arc<AtomicBool>,
}

impl Drop for TimerRoutes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts one thread per `timer_route`. Each tick runs the route of that name in the script that
/// runs at that moment (after `reload_routes`, the new one; a route removed by a reload stops).
pub fn start_timers(shared: &Arc<Shared>) -> TimerRoutes {
    let stop = Arc::new(AtomicBool::new(false));
    for route in shared
        .script()
        .routes
        .iter()
        .filter(|r| r.kind == RouteKind::Timer)
    {
        let (Some(name), Some(interval)) = (route.name.clone(), route.interval) else {
            continue;
        };
        let weak: Weak<Shared> = Arc::downgrade(shared);
        let stop = stop.clone();
        let thread_name = format!("timer_route[{name}]");
        let spawned = std::thread::Builder::new()
            .name(thread_name.clone())
            .spawn(move || {
                let mut vars = VarStore::default();
                let period = Duration::from_secs(interval.max(1) as u64);
                loop {
                    std::thread::sleep(period);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(shared) = weak.upgrade() else { return };
                    let script = shared.script();
                    let Some(index) = script.route_index(RouteKind::Timer, Some(&name)) else {
                        tracing::info!("timer_route[{name}] is gone after a reload; stopping it");
                        return;
                    };
                    run(&shared, script, RouteKind::Timer, index, &mut vars);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start {thread_name}: {e}");
        }
    }
    TimerRoutes { stop }
}
