//! Running notification routes (`handle_ebr_ipc`): OpenSIPS hands the job over IPC to a process
//! and runs the route there with a dummy request, the event's attributes as `$avp(name)` and the
//! subscriber's transaction as remote transaction. Here one `ebr-notify` thread runs them in
//! order: never in the raising thread, which may hold its locks (usrloc raises with the record
//! locked, and a notification route may well `lookup` that record).

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::events::{EvValue, EventParams};
use crate::modules::tm::inject::{TxRef, with_remote_tx};
use crate::runtime::{Shared, SipCtx};
use crate::script::vars::AvpStore;
use crate::script::{Script, Value};
use crate::sip::Msg;
use crate::transport::ReceiveInfo;

/// A module's handler of a notification (OpenSIPS `ebr_notify_cb`): the subscriber's
/// transaction, if it still exists, and the event's attributes as AVPs.
pub type NotifyFn = Arc<dyn Fn(Option<&TxRef>, &AvpStore) + Send + Sync>;

/// A module's packing of the event's attributes into AVPs (OpenSIPS `ebr_pack_params_cb`),
/// instead of [`avps_of`].
pub type PackFn = fn(&EventParams) -> Vec<(String, Value)>;

/// What a notification does.
#[derive(Clone)]
pub enum Action {
    /// `notify_on_event` from the script: run this route (index in `script.routes`).
    Route {
        script: &'static Script,
        route: usize,
    },
    /// The module API ([`super::api_notify_on_event`]): call `notify`.
    Func {
        pack: Option<PackFn>,
        notify: NotifyFn,
    },
}

/// What a `notify_on_event` subscription runs, and for which transaction.
#[derive(Clone)]
pub struct Target {
    pub action: Action,
    /// The subscriber's transaction, for `t_inject_branches`.
    pub tx: Option<TxRef>,
}

/// One notification to run.
pub struct Job {
    pub target: Target,
    pub event: String,
    pub params: Arc<EventParams>,
}

/// OpenSIPS's dummy request of routes that have no SIP message.
const DUMMY: &[u8] = b"DUMMY sip:user@domain.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKebrdummy\r\n\
From: <sip:user@domain.com>;tag=ebr\r\n\
To: <sip:user@domain.com>\r\n\
Call-ID: ebr-dummy\r\n\
CSeq: 1 DUMMY\r\n\
Content-Length: 0\r\n\r\n";

fn dummy_ctx(shared: Arc<Shared>) -> Option<SipCtx> {
    let msg = Msg::parse(Bytes::from_static(DUMMY)).ok()?;
    let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let info = ReceiveInfo::udp(nowhere, nowhere, 0);
    Some(SipCtx::new(msg, info, shared))
}

/// An event attribute as the script sees it in `$avp(name)`.
pub fn avp_value(v: &EvValue) -> Option<Value> {
    match v {
        EvValue::Int(i) => Some(match i32::try_from(*i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::str(i.to_string()),
        }),
        EvValue::Str(s) => Some(Value::str(s.clone())),
        // OpenSIPS makes no AVP of a null attribute
        EvValue::Null => None,
    }
}

/// The named attributes of an event, as AVP name and value.
pub fn avps_of(params: &EventParams) -> Vec<(String, Value)> {
    params
        .iter()
        .filter_map(|(n, v)| Some((n?.to_string(), avp_value(v)?)))
        .collect()
}

fn run(job: Job) {
    let Target { action, tx } = job.target;
    let list = match &action {
        Action::Func {
            pack: Some(pack), ..
        } => pack(&job.params),
        _ => avps_of(&job.params),
    };
    let mut avps = AvpStore::default();
    for (n, v) in list {
        avps.push(&n, v);
    }
    tracing::debug!(event = %job.event, "event_routing: running a notification");
    match action {
        Action::Func { notify, .. } => notify(tx.as_ref(), &avps),
        Action::Route { script, route } => {
            let Some(shared) = crate::runtime::global_shared() else {
                return;
            };
            let Some(mut sc) = dummy_ctx(shared) else {
                tracing::error!("event_routing: cannot build the dummy request");
                return;
            };
            with_remote_tx(tx, || {
                crate::runtime::handler::run_route_avps(script, &mut sc, route, Some(&mut avps))
            });
        }
    }
}

/// Queues `job` for the notifier thread (started on first use).
pub fn submit(job: Job) {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    let q = QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let started = std::thread::Builder::new()
            .name("ebr-notify".into())
            .spawn(move || {
                for job in rx {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job))).is_err()
                    {
                        tracing::error!("event_routing: a notification route panicked");
                    }
                }
            });
        match started {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::error!("event_routing: cannot start the notifier thread: {e}");
                None
            }
        }
    });
    if let Some(q) = q
        && q.send(job).is_err()
    {
        tracing::error!("event_routing: the notifier thread is gone");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_become_avps() {
        let p = EventParams::new()
            .with("aor", "bob")
            .with("qval", 10i64)
            .with("expires", 9_999_999_999i64)
            .with("shtag", EvValue::Null);
        let avps = avps_of(&p);
        assert_eq!(
            avps,
            [
                ("aor".to_string(), Value::str("bob")),
                ("qval".to_string(), Value::Int(10)),
                ("expires".to_string(), Value::str("9999999999")),
            ]
        );
        assert!(Msg::parse(Bytes::from_static(DUMMY)).is_ok());
    }
}
