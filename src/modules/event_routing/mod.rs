//! event_routing (EBR): script processings subscribe to events and are notified when one that
//! matches their filters is raised (OpenSIPS `modules/event_routing`).
//!
//! * `notify_on_event(event, $avp(filters), route, timeout)`: for `timeout` seconds, every
//!   matching raise runs `route` (a request route) with a dummy request, the event's attributes
//!   as `$avp(name)` and the subscriber's transaction reachable by `t_inject_branches` — the
//!   push-notification flow: `t_newtran(); t_wait_for_new_branches(); notify_on_event(
//!   "E_UL_CONTACT_INSERT", $avp(f), "fork_call", 20);` and `t_inject_branches("event")` there.
//! * `wait_for_event(event, $avp(filters), timeout)`: waits for one matching raise, then the
//!   event's attributes are `$avp(name)` of the run; returns 1, or -2 after `timeout` seconds.
//!   osips runs `async(...)` calls synchronously (`script::exec`, `CStmtKind::Async`), so
//!   `async(wait_for_event(...), resume)` blocks the worker the same way and then runs `resume`;
//!   the worker serves no other message meanwhile (OpenSIPS 3.x documents the same blocking
//!   behaviour for the plain `wait_for_event`), nor does any UDP source the kernel hashes to that
//!   worker's socket: create the transaction first (`t_newtran`) so retransmissions are absorbed
//!   afterwards, and keep waits short. In a synchronous `event_route` it would block the raiser.
//!
//! * [`api_notify_on_event`] (OpenSIPS's EBR API for modules): the same subscription with a
//!   Rust callback instead of a route, the attributes packed by the module; registrar's
//!   `lookup()` uses it to inject the branch of a woken push device into the INVITE's
//!   transaction with no script route.
//!
//! Filters are `"key=value"` values of the AVP, the value a shell wildcard pattern ([`filter`]).
//! The module is an in-process subscriber of the event registry (`routing:E_X`, subscribed on
//! first use); matching runs in the raising thread, the routes on the `ebr-notify` thread
//! ([`notify`]).

pub mod filter;
pub mod notify;
pub mod subs;

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use crate::events::EventParams;
use crate::modules::tm::inject::{TxRef, current_tx};
use crate::runtime::core_fns::sip;
use crate::script::ast::RouteKind;
use crate::script::module::p;
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, RouteMask, RunCtx, Value};

use filter::Filter;
use notify::{Action, Job, Target};
pub use notify::{NotifyFn, PackFn};
use subs::{Kind, Subscription, Table};

/// Every EBR subscription of the process.
static TABLE: LazyLock<Table<Target>> = LazyLock::new(Table::default);

/// `wait_for_event` timed out.
pub const TIMED_OUT: i32 = -2;

/// The filters held in the AVP argument; values OpenSIPS discards are logged and skipped.
fn filters(ctx: &RunCtx<'_>, arg: Option<&ArgValue<'_>>) -> Option<Vec<Filter>> {
    let Some(ArgValue::Var(pv)) = arg else {
        return None;
    };
    let Some(name) = pv.inner_literal() else {
        tracing::error!("event_routing: the filter AVP needs a constant name");
        return None;
    };
    let mut out = Vec::new();
    for v in ctx.avps.values(name) {
        let Value::Str(s) = v else {
            tracing::error!(
                "event_routing: filter $avp({name}) value {v:?} is no string, discarded"
            );
            continue;
        };
        match Filter::parse(s) {
            Ok(f) => out.push(f),
            Err(e) => tracing::error!("event_routing: filter <{}>: {e}, discarded", &**s),
        }
    }
    Some(out)
}

fn timeout(arg: Option<&ArgValue<'_>>, func: &str) -> Option<Duration> {
    match arg.and_then(ArgValue::int) {
        Some(t) if t >= 0 => Some(Duration::from_secs(t as u64)),
        other => {
            tracing::error!("{func}: bad timeout {other:?}");
            None
        }
    }
}

/// Makes sure the module hears `event` (OpenSIPS `init_ebr_event`).
fn hook(event: &str) -> bool {
    let Some(shared) = crate::runtime::global_shared() else {
        tracing::error!("event_routing: the event interface is not running");
        return false;
    };
    let h = Arc::new(|name: &str, params: &EventParams| raised(name, params));
    match shared.events.subscribe_hook(event, "routing", h) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("event_routing: event <{event}> not available: {e}");
            false
        }
    }
}

/// The hook: called by whoever raises an event the module listens to.
fn raised(name: &str, params: &EventParams) {
    let fired = TABLE.raised(name, params, Instant::now());
    if fired.is_empty() {
        return;
    }
    let params = Arc::new(params.clone());
    for target in fired {
        notify::submit(Job {
            target,
            event: name.to_string(),
            params: params.clone(),
        });
    }
}

/// `notify_on_event(event, $avp(filters), route, timeout)`.
pub fn notify_on_event(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(event) = args.first().and_then(ArgValue::str) else {
        return -1;
    };
    let Some(filters) = filters(ctx, args.get(1)) else {
        return -1;
    };
    let Some(ArgValue::Route(_, route)) = args.get(2) else {
        return -1;
    };
    let Some(timeout) = timeout(args.get(3), "notify_on_event") else {
        return -1;
    };
    let (script, tx) = match sip(ctx) {
        Some(m) => (m.shared.script(), current_tx(m)),
        None => match crate::runtime::global_shared() {
            Some(s) => (s.script(), None),
            None => return -1,
        },
    };
    if !hook(event) {
        return -1;
    }
    let target = Target {
        action: Action::Route {
            script,
            route: *route,
        },
        tx,
    };
    match subscribe(event, filters, target, timeout) {
        Ok(_) => 1,
        Err(e) => {
            tracing::error!("notify_on_event: {e}");
            -1
        }
    }
}

/// OpenSIPS EBR API `notify_on_event`, for modules: for `timeout`, every raise of `event`
/// matching `filters` calls `notify` (on the notifier thread, never the raiser's) with `tx`
/// and the event's attributes as AVPs, packed by `pack` when given. No script route is
/// involved: registrar's lookup injects the branch of a woken push device this way. Returns
/// the subscription's id.
pub fn api_notify_on_event(
    event: &str,
    filters: Vec<Filter>,
    pack: Option<PackFn>,
    notify: NotifyFn,
    timeout: Duration,
    tx: Option<TxRef>,
) -> Result<u64, String> {
    if !hook(event) {
        return Err(format!("event <{event}> is not available"));
    }
    subscribe(event, filters, func_target(pack, notify, tx), timeout)
}

fn func_target(pack: Option<PackFn>, notify: NotifyFn, tx: Option<TxRef>) -> Target {
    Target {
        action: Action::Func { pack, notify },
        tx,
    }
}

/// Adds a notify subscription of `target` to `event`, alive for `timeout` from now.
fn subscribe(
    event: &str,
    filters: Vec<Filter>,
    target: Target,
    timeout: Duration,
) -> Result<u64, String> {
    let now = Instant::now();
    let sub = Subscription::new(filters, now + timeout, Kind::Notify(target));
    TABLE.add(event, sub, now).map_err(|e| e.to_string())
}

/// `wait_for_event(event, $avp(filters), timeout)`: 1 with the event's attributes pushed as
/// `$avp(name)`, -2 on timeout, -1 on error.
pub fn wait_for_event(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(event) = args.first().and_then(ArgValue::str) else {
        return -1;
    };
    let Some(filters) = filters(ctx, args.get(1)) else {
        return -1;
    };
    let Some(timeout) = timeout(args.get(2), "wait_for_event") else {
        return -1;
    };
    if !hook(event) {
        return -1;
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let now = Instant::now();
    let sub = Subscription::new(filters, now + timeout, Kind::Wait(tx));
    let id = match TABLE.add(event, sub, now) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!("wait_for_event: {e}");
            return -1;
        }
    };
    match rx.recv_timeout(timeout) {
        Ok(params) => {
            for (n, v) in notify::avps_of(&params) {
                ctx.avps.push(&n, v);
            }
            1
        }
        Err(_) => {
            TABLE.remove(event, id);
            TIMED_OUT
        }
    }
}

const NOTIFY_ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::ONREPLY)
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::EVENT);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "event_routing",
    functions: &[
        FunctionSpec {
            name: "notify_on_event",
            params: &[p::STATIC, p::AVP, p::route(RouteKind::Request), p::INT],
            routes: NOTIFY_ROUTES,
            handler: notify_on_event,
        },
        FunctionSpec {
            name: "wait_for_event",
            params: &[p::STATIC, p::AVP, p::INT],
            routes: RouteMask::ALL,
            handler: wait_for_event,
        },
    ],
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn trim_uri(params: &EventParams) -> Vec<(String, Value)> {
        notify::avps_of(params)
            .into_iter()
            .map(|(n, v)| match (n.as_str(), v.as_str()) {
                ("uri", Some(u)) => {
                    let u = u.split(";pn-").next().unwrap_or_default().to_string();
                    (n, Value::str(u))
                }
                _ => (n, v),
            })
            .collect()
    }

    fn contact(uri: &str) -> EventParams {
        EventParams::new().with("aor", "dev").with("uri", uri)
    }

    #[test]
    fn module_subscriptions_call_back_with_packed_attributes() {
        const EV: &str = "E_TEST_EBR_API_NOTIFY";
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let notify: NotifyFn = Arc::new(
            move |t: Option<&TxRef>, avps: &crate::script::vars::AvpStore| {
                let uri = avps.get("uri", 0).as_str().map(|s| s.into_owned());
                let _ = tx.lock().unwrap().send((t.is_some(), uri));
            },
        );
        let filters = vec![
            Filter::uri_param("uri", "pn-provider", "apns"),
            Filter::uri_param("uri", "pn-prid", "TOKEN"),
        ];
        let target = func_target(Some(trim_uri), notify, None);
        subscribe(EV, filters, target, Duration::from_millis(600)).unwrap();
        assert_eq!(TABLE.live(EV, Instant::now()), 1);
        let wait = Duration::from_secs(5);
        // another device: nothing
        raised(
            EV,
            &contact("sip:dev@127.0.0.8:7000;pn-provider=apns;pn-prid=OTHER"),
        );
        // the device, from a new address: called with the packed (trimmed) URI
        raised(
            EV,
            &contact("sip:dev@127.0.0.9:7001;pn-provider=apns;pn-prid=TOKEN"),
        );
        assert_eq!(
            rx.recv_timeout(wait).unwrap(),
            (false, Some("sip:dev@127.0.0.9:7001".to_string()))
        );
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        // not consumed: a second re-registration is notified too
        raised(
            EV,
            &contact("sip:dev@127.0.0.9:7002;pn-provider=apns;pn-prid=TOKEN"),
        );
        assert_eq!(
            rx.recv_timeout(wait).unwrap().1.as_deref(),
            Some("sip:dev@127.0.0.9:7002")
        );
        // after the timeout it is gone
        std::thread::sleep(Duration::from_millis(700));
        raised(
            EV,
            &contact("sip:dev@127.0.0.9:7003;pn-provider=apns;pn-prid=TOKEN"),
        );
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert_eq!(TABLE.live(EV, Instant::now()), 0);
    }

    #[test]
    fn without_packing_the_attributes_are_passed_as_they_are() {
        const EV: &str = "E_TEST_EBR_API_PLAIN";
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let notify: NotifyFn = Arc::new(
            move |_: Option<&TxRef>, avps: &crate::script::vars::AvpStore| {
                let _ = tx
                    .lock()
                    .unwrap()
                    .send(avps.get("uri", 0).as_str().map(|s| s.into_owned()));
            },
        );
        let target = func_target(None, notify, None);
        subscribe(EV, Vec::new(), target, Duration::from_secs(5)).unwrap();
        let uri = "sip:dev@127.0.0.9:7001;pn-provider=apns;pn-prid=TOKEN";
        raised(EV, &contact(uri));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap().as_deref(),
            Some(uri)
        );
    }
}
