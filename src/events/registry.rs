//! The event registry (OpenSIPS `evi/event_interface.c`): published events, their subscribers
//! with expiry, and raising.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use super::delivery::{EventHook, Raised, RouteHandler, SharedRouteHandler, Sink, SinkStats};
use super::params::EventParams;
use super::socket::{EventSocket, SocketError};

/// Index of an event in publication order (`events_list` "id").
pub type EventId = usize;

/// An event as a module exports it: `&'static [EventDef]` in its descriptor.
#[derive(Debug, Clone, Copy)]
pub struct EventDef {
    pub name: &'static str,
    /// Parameter names, in the order the module fills them.
    pub params: &'static [&'static str],
}

/// Default expiry of an MI `event_subscribe` (seconds).
pub const DEFAULT_EXPIRE: u32 = 3600;

/// How long a subscription lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Script `subscribe_event()` without expire, `event_route`.
    Never,
    /// Seconds from the (re)subscription; 0 removes the subscription.
    Secs(u32),
}

/// A subscriber as `subscribers_list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberInfo {
    pub socket: String,
    pub protocol: &'static str,
    /// `None` = never expires.
    pub expire: Option<u32>,
    /// Seconds left; `None` when it never expires.
    pub ttl: Option<u64>,
}

/// How an `event_route` runs (`event_route[E_X, sync|async]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMode {
    /// In the thread that raises the event, before `raise` returns (the default).
    Sync,
    /// On the subscriber's delivery worker; the raiser does not wait.
    Async,
}

/// How one subscriber gets its events.
enum Delivery {
    /// Queued to the subscriber's worker thread.
    Queued(Sink),
    /// The route handler called by the raiser itself (sync `event_route`).
    Inline(Arc<SinkStats>),
    /// A module's in-process subscriber, called by the raiser.
    Hook(EventHook, Arc<SinkStats>),
}

impl Delivery {
    fn stats(&self) -> &Arc<SinkStats> {
        match self {
            Delivery::Queued(s) => &s.stats,
            Delivery::Inline(st) | Delivery::Hook(_, st) => st,
        }
    }
}

struct Subscriber {
    socket: EventSocket,
    expiry: Expiry,
    since: u64,
    delivery: Delivery,
}

impl Subscriber {
    fn expired(&self, now: u64) -> bool {
        match self.expiry {
            Expiry::Never => false,
            Expiry::Secs(e) => self.since + (e as u64) < now,
        }
    }
    fn info(&self, now: u64) -> SubscriberInfo {
        let (expire, ttl) = match self.expiry {
            Expiry::Never => (None, None),
            Expiry::Secs(e) => (Some(e), Some((self.since + e as u64).saturating_sub(now))),
        };
        SubscriberInfo {
            socket: self.socket.print(),
            protocol: self.socket.protocol(),
            expire,
            ttl,
        }
    }
}

/// A published event.
pub struct Event {
    pub id: EventId,
    pub name: String,
    pub params: Vec<String>,
    subscribers: Mutex<Vec<Subscriber>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    #[error("event '{0}' is not published")]
    UnknownEvent(String),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("cannot start the delivery worker: {0}")]
    Worker(String),
    #[error("too many subscribers (limit {0})")]
    TooMany(usize),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The registry; one per server, shared by modules, the script and MI.
#[derive(Default)]
pub struct EventRegistry {
    events: RwLock<Vec<Arc<Event>>>,
    route_handler: SharedRouteHandler,
    dropped: AtomicU64,
    /// Serialises subscription changes (the limit check spans every event).
    subscribing: Mutex<()>,
}

/// Subscribers in the whole registry; more are refused (each has a delivery thread).
pub const MAX_SUBSCRIBERS: usize = 1024;

impl EventRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with OpenSIPS's core events published.
    pub fn with_core() -> Arc<Self> {
        let r = Arc::new(Self::new());
        r.publish_all(super::core_events::CORE_EVENTS);
        r
    }

    /// Publishes an event (or returns its id if already published).
    pub fn publish(&self, name: &str, params: &[&str]) -> EventId {
        let mut evs = self.events.write();
        if let Some(e) = evs.iter().find(|e| e.name == name) {
            return e.id;
        }
        let id = evs.len();
        evs.push(Arc::new(Event {
            id,
            name: name.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
            subscribers: Mutex::new(Vec::new()),
        }));
        id
    }

    /// Publishes a module's exported events; returns their ids in order.
    pub fn publish_all(&self, defs: &[EventDef]) -> Vec<EventId> {
        defs.iter()
            .map(|d| self.publish(d.name, d.params))
            .collect()
    }

    pub fn id(&self, name: &str) -> Option<EventId> {
        self.events
            .read()
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.id)
    }

    pub fn event(&self, name: &str) -> Option<Arc<Event>> {
        self.events.read().iter().find(|e| e.name == name).cloned()
    }

    fn by_id(&self, id: EventId) -> Option<Arc<Event>> {
        self.events.read().get(id).cloned()
    }

    /// `(name, id)` of every published event.
    pub fn list(&self) -> Vec<(String, EventId)> {
        self.events
            .read()
            .iter()
            .map(|e| (e.name.clone(), e.id))
            .collect()
    }

    /// Sets what runs `route:` subscribers (the script engine's event_route dispatcher); it may
    /// be set or replaced (script reload) after the routes subscribed.
    pub fn set_route_handler(&self, h: RouteHandler) {
        *self.route_handler.write() = Some(h);
    }

    /// Removes the script's `event_route[event]` subscription (before a reload drops the route).
    pub fn unsubscribe_route(&self, event: &str) -> bool {
        let Some(ev) = self.event(event) else {
            return false;
        };
        let mut subs = ev.subscribers.lock();
        let before = subs.len();
        subs.retain(|s| !matches!(&s.socket, EventSocket::Route(r) if r == event));
        subs.len() != before
    }

    fn subscriber_count(&self) -> usize {
        self.events
            .read()
            .iter()
            .map(|e| e.subscribers.lock().len())
            .sum()
    }

    /// Subscribes `socket` (`udp:…`, `unix:…`, `tcp:…`, `http:…`) to `event`. Subscribing the same
    /// socket again refreshes it; `Expiry::Secs(0)` removes it.
    pub fn subscribe(
        &self,
        event: &str,
        socket: &str,
        expiry: Expiry,
    ) -> Result<(), SubscribeError> {
        let sock = EventSocket::parse(socket)?;
        self.subscribe_socket(event, sock, expiry, RouteMode::Async)
    }

    /// Subscribes the script's `event_route[event]`; subscribing again changes the mode.
    pub fn subscribe_route(&self, event: &str, mode: RouteMode) -> Result<(), SubscribeError> {
        let sock = EventSocket::Route(event.to_string());
        if let Some(ev) = self.event(event) {
            let mut subs = ev.subscribers.lock();
            let inline = mode == RouteMode::Sync;
            if let Some(i) = subs.iter().position(|s| s.socket == sock) {
                if matches!(subs[i].delivery, Delivery::Inline(_)) == inline {
                    return Ok(());
                }
                subs.remove(i);
            }
        }
        self.subscribe_socket(event, sock, Expiry::Never, mode)
    }

    /// The mode of the script's `event_route[event]` subscription, if there is one.
    pub fn route_mode(&self, event: &str) -> Option<RouteMode> {
        let ev = self.event(event)?;
        let subs = ev.subscribers.lock();
        subs.iter()
            .find(|s| matches!(&s.socket, EventSocket::Route(r) if r == event))
            .map(|s| match s.delivery {
                Delivery::Queued(_) => RouteMode::Async,
                _ => RouteMode::Sync,
            })
    }

    /// Subscribes a module's in-process `hook` to `event` for good (`module:event` in
    /// `subscribers_list`); subscribing again keeps the first hook. The hook runs in the raising
    /// thread, which may hold its locks (usrloc's record): it must only hand the event over.
    pub fn subscribe_hook(
        &self,
        event: &str,
        module: &'static str,
        hook: EventHook,
    ) -> Result<(), SubscribeError> {
        let _serial = self.subscribing.lock();
        let ev = self
            .event(event)
            .ok_or_else(|| SubscribeError::UnknownEvent(event.to_string()))?;
        let sock = EventSocket::Hook {
            module,
            event: ev.name.clone(),
        };
        let mut subs = ev.subscribers.lock();
        if !subs.iter().any(|s| s.socket == sock) {
            subs.insert(
                0,
                Subscriber {
                    socket: sock,
                    expiry: Expiry::Never,
                    since: now(),
                    delivery: Delivery::Hook(hook, Arc::new(SinkStats::default())),
                },
            );
        }
        Ok(())
    }

    fn subscribe_socket(
        &self,
        event: &str,
        sock: EventSocket,
        expiry: Expiry,
        mode: RouteMode,
    ) -> Result<(), SubscribeError> {
        let _serial = self.subscribing.lock();
        let ev = self
            .event(event)
            .ok_or_else(|| SubscribeError::UnknownEvent(event.to_string()))?;
        let mut subs = ev.subscribers.lock();
        let t = now();
        if let Some(i) = subs.iter().position(|s| s.socket == sock) {
            if expiry == Expiry::Secs(0) {
                subs.remove(i);
            } else {
                subs[i].since = t;
                subs[i].expiry = expiry;
            }
            return Ok(());
        }
        if expiry == Expiry::Secs(0) {
            return Ok(());
        }
        drop(subs);
        if self.subscriber_count() >= MAX_SUBSCRIBERS {
            return Err(SubscribeError::TooMany(MAX_SUBSCRIBERS));
        }
        let mut subs = ev.subscribers.lock();
        let is_route = matches!(sock, EventSocket::Route(_));
        let delivery = if is_route && mode == RouteMode::Sync {
            Delivery::Inline(Arc::new(SinkStats::default()))
        } else {
            let route = is_route.then(|| self.route_handler.clone());
            Delivery::Queued(
                Sink::spawn(sock.clone(), route)
                    .map_err(|e| SubscribeError::Worker(e.to_string()))?,
            )
        };
        // newest first, as OpenSIPS links them
        subs.insert(
            0,
            Subscriber {
                socket: sock,
                expiry,
                since: t,
                delivery,
            },
        );
        Ok(())
    }

    /// Removes a subscription; false if it did not exist.
    pub fn unsubscribe(&self, event: &str, socket: &str) -> bool {
        let (Some(ev), Ok(sock)) = (self.event(event), EventSocket::parse(socket)) else {
            return false;
        };
        let mut subs = ev.subscribers.lock();
        let before = subs.len();
        subs.retain(|s| s.socket != sock);
        subs.len() != before
    }

    /// True if raising `id` would reach someone (`evi_probe_event`); callers skip building the
    /// parameters otherwise.
    pub fn has_subscribers(&self, id: EventId) -> bool {
        self.by_id(id).is_some_and(|e| {
            let t = now();
            e.subscribers.lock().iter().any(|s| !s.expired(t))
        })
    }

    /// Raises an event: queues it to every live subscriber without blocking, then runs the
    /// synchronous `event_route` (if any) in this thread. Returns how many subscribers got it.
    pub fn raise(&self, id: EventId, params: EventParams) -> usize {
        let Some(ev) = self.by_id(id) else { return 0 };
        let mut subs = ev.subscribers.lock();
        let t = now();
        subs.retain(|s| !s.expired(t));
        if subs.is_empty() {
            return 0;
        }
        let raised = Arc::new(Raised {
            name: ev.name.clone(),
            params,
        });
        let mut queued = 0;
        let mut inline = Vec::new();
        let mut hooks = Vec::new();
        for s in subs.iter() {
            match &s.delivery {
                Delivery::Queued(sink) if sink.offer(&raised) => queued += 1,
                Delivery::Queued(_) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Delivery::Inline(st) => inline.push(st.clone()),
                Delivery::Hook(h, st) => hooks.push((h.clone(), st.clone())),
            }
        }
        // The route may raise events itself (this one too): the lock is not held while it runs.
        drop(subs);
        for (h, st) in hooks {
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                h(&raised.name, &raised.params)
            }))
            .is_ok();
            let counter = if ok { &st.sent } else { &st.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            queued += usize::from(ok);
        }
        // cloned out of the lock: a reload may replace the handler while a route runs
        let handler = self.route_handler.read().clone();
        for st in inline {
            let ok = match &handler {
                Some(h) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    h(&raised.name, &raised.params)
                }))
                .is_ok(),
                None => false,
            };
            let counter = if ok { &st.sent } else { &st.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            queued += usize::from(ok);
        }
        queued
    }

    /// Raises by name; `None` if the event is not published.
    pub fn raise_by_name(&self, name: &str, params: EventParams) -> Option<usize> {
        self.id(name).map(|id| self.raise(id, params))
    }

    /// Events dropped because a subscriber's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Subscribers of an event (expired ones pruned).
    pub fn subscribers(&self, event: &str) -> Option<Vec<SubscriberInfo>> {
        let ev = self.event(event)?;
        let t = now();
        let mut subs = ev.subscribers.lock();
        subs.retain(|s| !s.expired(t));
        Some(subs.iter().map(|s| s.info(t)).collect())
    }

    /// Delivery counters of one subscriber.
    pub fn subscriber_stats(&self, event: &str, socket: &str) -> Option<Arc<SinkStats>> {
        let ev = self.event(event)?;
        let sock = EventSocket::parse(socket).ok()?;
        let subs = ev.subscribers.lock();
        subs.iter()
            .find(|s| s.socket == sock)
            .map(|s| s.delivery.stats().clone())
    }

    /// Subscriber of `event` matching `socket`, as `subscribers_list event socket` prints it.
    pub fn subscriber(&self, event: &str, socket: &str) -> Option<SubscriberInfo> {
        let sock = EventSocket::parse(socket).ok()?;
        let print = sock.print();
        self.subscribers(event)?
            .into_iter()
            .find(|s| s.socket == print)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn publish_ids_are_stable() {
        let r = EventRegistry::with_core();
        let first = r.list();
        assert_eq!(first[0], ("E_CORE_THRESHOLD".to_string(), 0));
        let id = r.publish("E_MY", &["a"]);
        assert_eq!(r.publish("E_MY", &[]), id);
        assert_eq!(r.id("E_MY"), Some(id));
        assert_eq!(r.id("e_my"), None);
    }

    #[test]
    fn subscribe_refresh_unsubscribe() {
        let r = EventRegistry::with_core();
        let id = r.publish("E_X", &[]);
        assert!(!r.has_subscribers(id));
        r.subscribe("E_X", "udp:127.0.0.1:9", Expiry::Secs(DEFAULT_EXPIRE))
            .unwrap();
        r.subscribe("E_X", "udp:127.0.0.1:9", Expiry::Secs(60))
            .unwrap();
        let subs = r.subscribers("E_X").unwrap();
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].expire, Some(60));
        assert!(subs[0].ttl.unwrap() <= 60);
        assert!(r.has_subscribers(id));
        r.subscribe("E_X", "udp:127.0.0.1:9", Expiry::Secs(0))
            .unwrap();
        assert!(r.subscribers("E_X").unwrap().is_empty());
        assert_eq!(
            r.subscribe("E_NOPE", "udp:127.0.0.1:9", Expiry::Never),
            Err(SubscribeError::UnknownEvent("E_NOPE".into()))
        );
        assert!(matches!(
            r.subscribe("E_X", "foo:bar", Expiry::Never),
            Err(SubscribeError::Socket(_))
        ));
    }

    #[test]
    fn raise_reaches_udp_listener() {
        let l = UdpSocket::bind("127.0.0.1:0").unwrap();
        l.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let r = EventRegistry::with_core();
        let id = r.publish("E_TEST", &["a"]);
        r.subscribe(
            "E_TEST",
            &format!("udp:{}", l.local_addr().unwrap()),
            Expiry::Never,
        )
        .unwrap();
        assert_eq!(r.raise(id, EventParams::new().with("a", 1i64)), 1);
        let mut buf = [0u8; 2048];
        let n = l.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            br#"{"jsonrpc":"2.0","method":"E_TEST","params":{"a":1}}"#
        );
    }

    #[test]
    fn route_subscribers_run_the_handler() {
        let r = EventRegistry::with_core();
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        r.set_route_handler(Arc::new(move |name: &str, p: &EventParams| {
            let _ = tx.lock().send((name.to_string(), p.get("aor").cloned()));
        }));
        let id = r.publish("E_UL_AOR_INSERT", &["domain", "aor"]);
        r.subscribe_route("E_UL_AOR_INSERT", RouteMode::Async)
            .unwrap();
        r.raise(
            id,
            EventParams::new()
                .with("domain", "location")
                .with("aor", "alice"),
        );
        let (n, aor) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(n, "E_UL_AOR_INSERT");
        assert_eq!(aor, Some(super::super::EvValue::Str("alice".into())));
    }
}

#[cfg(test)]
mod route_mode_tests {
    use super::*;

    #[test]
    fn sync_route_runs_before_raise_returns_and_may_raise_again() {
        let r = Arc::new(EventRegistry::new());
        let a = r.publish("E_A", &[]);
        let b = r.publish("E_B", &["n"]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (weak, log) = (Arc::downgrade(&r), seen.clone());
        r.set_route_handler(Arc::new(move |name: &str, p: &EventParams| {
            log.lock().push(name.to_string());
            if name == "E_A"
                && let Some(r) = weak.upgrade()
            {
                r.raise(r.id("E_B").unwrap(), EventParams::new().with("n", 1i64));
            }
            assert!(name != "E_B" || p.get("n").is_some());
        }));
        r.subscribe_route("E_A", RouteMode::Sync).unwrap();
        r.subscribe_route("E_B", RouteMode::Sync).unwrap();
        assert_eq!(r.route_mode("E_A"), Some(RouteMode::Sync));
        assert!(r.has_subscribers(a) && r.has_subscribers(b));
        assert_eq!(r.raise(a, EventParams::new()), 1);
        assert_eq!(*seen.lock(), ["E_A", "E_B"]);
        // switching the mode replaces the subscription
        r.subscribe_route("E_A", RouteMode::Async).unwrap();
        assert_eq!(r.route_mode("E_A"), Some(RouteMode::Async));
        assert_eq!(r.subscribers("E_A").unwrap().len(), 1);
    }

    #[test]
    fn a_panicking_sync_route_is_counted_as_failed() {
        let r = EventRegistry::new();
        let a = r.publish("E_P", &[]);
        r.set_route_handler(Arc::new(|_: &str, _: &EventParams| panic!("boom")));
        r.subscribe_route("E_P", RouteMode::Sync).unwrap();
        assert_eq!(r.raise(a, EventParams::new()), 0);
    }
}

#[cfg(test)]
mod hook_tests {
    use super::*;

    #[test]
    fn hooks_run_in_the_raising_thread_once_per_raise() {
        let r = EventRegistry::new();
        let id = r.publish("E_H", &["aor"]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let hook: EventHook = Arc::new(move |name: &str, p: &EventParams| {
            log.lock().push((name.to_string(), p.get("aor").cloned()));
        });
        assert!(!r.has_subscribers(id));
        r.subscribe_hook("E_H", "routing", hook.clone()).unwrap();
        r.subscribe_hook("E_H", "routing", hook).unwrap();
        assert!(r.has_subscribers(id));
        assert_eq!(r.subscribers("E_H").unwrap()[0].socket, "routing:E_H");
        assert_eq!(r.raise(id, EventParams::new().with("aor", "bob")), 1);
        assert_eq!(seen.lock().len(), 1);
        assert!(matches!(
            r.subscribe_hook("E_NONE", "routing", Arc::new(|_: &str, _: &EventParams| {})),
            Err(SubscribeError::UnknownEvent(_))
        ));
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn subscriber_limit_and_route_unsubscribe() {
        let r = EventRegistry::new();
        r.publish("E_A", &[]);
        for port in 1..=MAX_SUBSCRIBERS {
            r.subscribe("E_A", &format!("udp:127.0.0.1:{port}"), Expiry::Never)
                .unwrap();
        }
        assert_eq!(
            r.subscribe("E_A", "udp:127.0.0.1:60000", Expiry::Never),
            Err(SubscribeError::TooMany(MAX_SUBSCRIBERS))
        );
        // refreshing an existing one is still allowed
        r.subscribe("E_A", "udp:127.0.0.1:1", Expiry::Secs(10))
            .unwrap();
        let r = EventRegistry::new();
        r.publish("E_B", &[]);
        r.subscribe_route("E_B", RouteMode::Async).unwrap();
        assert_eq!(r.subscribers("E_B").unwrap()[0].socket, "route:E_B");
        assert!(r.unsubscribe_route("E_B"));
        assert!(r.subscribers("E_B").unwrap().is_empty());
    }
}
