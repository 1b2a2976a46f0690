//! [`ScriptHandler`]: the core's request handler that runs the script. Requests run the main
//! `route`; replies run the global `onreply_route`. Implicit actions (OpenSIPS §10 item 9): a
//! request route that neither forwards nor replies discards the request; a reply is relayed
//! unless the reply route drops a provisional reply.

use std::cell::RefCell;
use std::sync::Arc;

use crate::core::{Action, RequestHandler};
use crate::script::ast::RouteKind;
use crate::script::exec::Interpreter;
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
        ScriptHandler { shared }
    }

    /// Runs route `index` of `script` on `sc`; returns whether the route ran `drop`.
    fn run(&self, script: &'static Script, sc: &mut SipCtx, index: usize) -> bool {
        WORKER.with(|w| {
            let mut w = w.borrow_mut();
            let w = &mut *w;
            w.avps.clear();
            let interp = match &mut w.interp {
                Some((id, i)) if *id == script.id => i,
                slot => &mut slot.insert((script.id, Interpreter::new(script))).1,
            };
            let mut ctx = RunCtx {
                route: RouteKind::Request,
                vars: &mut w.vars,
                avps: &mut w.avps,
                shv: &self.shared.shv,
                msg: Some(sc as &mut dyn crate::script::MessageAccess),
                params: Vec::new(),
                returns: Vec::new(),
                last_rc: 1,
            };
            interp.run_route(&mut ctx, index).dropped
        })
    }
}

impl RequestHandler for ScriptHandler {
    fn on_request(&self, req: &mut Msg, info: &ReceiveInfo) -> Action {
        let script = self.shared.script();
        let Some(main) = script.route_index(RouteKind::Request, None) else {
            return Action::Drop;
        };
        let mut sc = SipCtx::new(req.clone(), info.clone(), self.shared.clone());
        if self.run(script, &mut sc, main) {
            self.shared.core_stats.drop_requests.inc();
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

    fn on_response(&self, rpl: &mut Msg, info: &ReceiveInfo) -> bool {
        let script = self.shared.script();
        let Some(index) = script.route_index(RouteKind::OnReply, None) else {
            return true;
        };
        let mut sc = SipCtx::new(rpl.clone(), info.clone(), self.shared.clone());
        let dropped = self.run(script, &mut sc, index);
        *rpl = sc.msg;
        !(dropped && rpl.status().is_some_and(|c| c < 200))
    }
}
