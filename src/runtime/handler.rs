//! [`ScriptHandler`]: the core's request handler that runs the script. Requests run the main
//! `route`; replies run the global `onreply_route`. Implicit actions (OpenSIPS §10 item 9): a
//! request route that neither forwards nor replies discards the request; a reply is relayed
//! unless the reply route drops a provisional reply. When tm is loaded it sees every reply after
//! the global `onreply_route` and may consume it; tm also runs failure / onreply / branch routes
//! later, outside the request's run, through [`run_route`].

use std::cell::RefCell;
use std::sync::Arc;

use crate::core::{Action, RequestHandler, ResponseAction};
use crate::script::ast::RouteKind;
use crate::script::exec::{Interpreter, RunOutcome};
use crate::script::vars::{AvpStore, VarStore};
use crate::script::{RunCtx, Script};
use crate::sip::Msg;
use crate::transport::ReceiveInfo;

use super::Shared;
use super::msgctx::SipCtx;

/// What each worker keeps between messages: `$var` values and a reusable interpreter.
struct Worker {
    vars: VarStore,
    avps: AvpStore,
    interp: Option<(u64, Interpreter<'static>)>,
}

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker {
        vars: VarStore::default(),
        avps: AvpStore::default(),
        interp: None,
    });
}

/// Runs the script on the messages the core hands over.
pub struct ScriptHandler {
    shared: Arc<Shared>,
}

impl ScriptHandler {
    pub fn new(shared: Arc<Shared>) -> ScriptHandler {
        if shared.script().is_loaded("tm") {
            // Its statistics exist from the start.
            crate::modules::tm::tm(&shared);
        }
        ScriptHandler { shared }
    }

    /// Runs route `index` of `script` on `sc`; returns whether the route ran `drop`.
    fn run(&self, script: &'static Script, sc: &mut SipCtx, index: usize) -> bool {
        run_route(script, sc, index).dropped
    }
}

fn run_with(
    w: &mut Worker,
    script: &'static Script,
    sc: &mut SipCtx,
    index: usize,
    avps: Option<&mut AvpStore>,
) -> RunOutcome {
    match avps {
        Some(a) => {
            std::mem::swap(&mut w.avps, a);
            let out = run_in(w, script, sc, index);
            std::mem::swap(&mut w.avps, a);
            out
        }
        None => {
            w.avps.clear();
            run_in(w, script, sc, index)
        }
    }
}

fn run_in(w: &mut Worker, script: &'static Script, sc: &mut SipCtx, index: usize) -> RunOutcome {
    let interp = match &mut w.interp {
        Some((id, i)) if *id == script.id => i,
        slot => &mut slot.insert((script.id, Interpreter::new(script))).1,
    };
    let shared = sc.shared.clone();
    let mut ctx = RunCtx {
        route: RouteKind::Request,
        vars: &mut w.vars,
        avps: &mut w.avps,
        shv: &shared.shv,
        msg: Some(sc as &mut dyn crate::script::MessageAccess),
        params: Vec::new(),
        returns: Vec::new(),
        last_rc: 1,
        err: None,
    };
    interp.run_route(&mut ctx, index)
}

/// Runs route `index` (any kind: failure, onreply, branch...) of `script` on `sc`, on this
/// thread. Callable from inside another route's run (a branch_route from `t_relay`): the nested
/// run gets its own interpreter and `$var` store.
pub fn run_route(script: &'static Script, sc: &mut SipCtx, index: usize) -> RunOutcome {
    run_route_avps(script, sc, index, None)
}

/// [`run_route`] with the `$avp` values of a transaction: the route sees `avps` and leaves its
/// changes there (failure and branch routes see the AVPs of the request route, as in OpenSIPS).
pub fn run_route_avps(
    script: &'static Script,
    sc: &mut SipCtx,
    index: usize,
    avps: Option<&mut AvpStore>,
) -> RunOutcome {
    WORKER.with(|w| match w.try_borrow_mut() {
        Ok(mut w) => run_with(&mut w, script, sc, index, avps),
        Err(_) => {
            let mut nested = Worker {
                vars: VarStore::default(),
                avps: AvpStore::default(),
                interp: None,
            };
            run_with(&mut nested, script, sc, index, avps)
        }
    })
}

impl ScriptHandler {
    /// `exec_msg_threshold`: a slow script run is logged and raises E_CORE_THRESHOLD
    /// (`source`, `time` in µs, `extra`: the request line), as OpenSIPS's core does.
    fn check_threshold(&self, took: std::time::Duration, limit: std::time::Duration, msg: &Msg) {
        if took <= limit {
            return;
        }
        let line = String::from_utf8_lossy(msg.start_line()).into_owned();
        let us = took.as_micros() as i64;
        tracing::warn!("script run took {us} us (exec_msg_threshold): {line}");
        let params = crate::events::EventParams::new()
            .with("source", "msg processing")
            .with("time", us)
            .with("extra", line);
        self.shared.events.raise_by_name("E_CORE_THRESHOLD", params);
    }
}

impl RequestHandler for ScriptHandler {
    fn on_request(&self, req: &mut Msg, info: &ReceiveInfo) -> Action {
        let script = self.shared.script();
        let Some(main) = script.route_index(RouteKind::Request, None) else {
            return Action::Drop;
        };
        let mut sc = SipCtx::new(req.clone(), info.clone(), self.shared.clone());
        let threshold = self.shared.settings.exec_msg_threshold;
        let t0 = (!threshold.is_zero()).then(std::time::Instant::now);
        if self.run(script, &mut sc, main) {
            self.shared.core_stats.drop_requests.inc();
        }
        if let Some(t0) = t0 {
            self.check_threshold(t0.elapsed(), threshold, &sc.msg);
        }
        let SipCtx {
            mut msg,
            new_ruri,
            forward,
            rr,
            info: rcv,
            ..
        } = sc;
        let Some(mut dest) = forward else {
            *req = msg;
            return Action::Drop;
        };
        // The Record-Route names the socket the request leaves on: pick it here, as the core would.
        if let Some(core) = self.shared.core() {
            let t = core.transport();
            let socket = dest
                .socket
                .filter(|&s| t.socket(s).is_some_and(|d| d.proto == dest.proto))
                .or_else(|| t.pick_socket(dest.proto, dest.addr));
            if let Some(s) = socket {
                dest.socket = Some(s);
                if let Err(e) = crate::modules::rr::finish(&rr, &rcv, &mut msg, t, s) {
                    tracing::error!("cannot add Record-Route: {e}");
                }
            }
        }
        *req = msg;
        if let Some(u) = new_ruri
            && let Err(e) = req.set_ruri(u.as_bytes())
        {
            tracing::error!("cannot rewrite the Request-URI to {u}: {e}");
            return Action::Drop;
        }
        Action::Forward(dest)
    }

    fn on_response(&self, rpl: &mut Msg, info: &ReceiveInfo) -> ResponseAction {
        let script = self.shared.script();
        if let Some(index) = script.route_index(RouteKind::OnReply, None) {
            let mut sc = SipCtx::new(rpl.clone(), info.clone(), self.shared.clone());
            let dropped = self.run(script, &mut sc, index);
            *rpl = sc.msg;
            if dropped && rpl.status().is_some_and(|c| c < 200) {
                return ResponseAction::Drop;
            }
        }
        if script.is_loaded("tm") {
            return crate::modules::tm::on_reply(&self.shared, rpl, info);
        }
        ResponseAction::Relay
    }
}
