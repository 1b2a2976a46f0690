//! The EBR subscriptions (`ebr_data.c`): per event, the script processings waiting for it, each
//! with its filters and its expiry. A `notify_on_event` subscription may fire any number of times
//! until it expires; a `wait_for_event` one fires once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use parking_lot::Mutex;

use crate::events::EventParams;

use super::filter::{self, Filter};

/// Live subscriptions of one event, at most; more are refused.
pub const MAX_PER_EVENT: usize = 100_000;

/// What a matching event does.
pub enum Kind<N> {
    /// `notify_on_event`: hand `N` (the route to run and its context) to the notifier.
    Notify(N),
    /// `wait_for_event`: wake the waiting processing with the event's attributes.
    Wait(SyncSender<EventParams>),
}

pub struct Subscription<N> {
    pub id: u64,
    pub filters: Vec<Filter>,
    pub expires: Instant,
    pub kind: Kind<N>,
}

impl<N> Subscription<N> {
    pub fn new(filters: Vec<Filter>, expires: Instant, kind: Kind<N>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Subscription {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            filters,
            expires,
            kind,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too many subscriptions to {0} (limit {MAX_PER_EVENT})")]
pub struct TooMany(pub String);

/// Subscriptions by event name (compared without case, as OpenSIPS looks EBR events up).
pub struct Table<N> {
    events: Mutex<HashMap<String, Vec<Subscription<N>>>>,
}

impl<N> Default for Table<N> {
    fn default() -> Self {
        Table {
            events: Mutex::new(HashMap::new()),
        }
    }
}

fn key(event: &str) -> String {
    event.to_ascii_uppercase()
}

impl<N: Clone> Table<N> {
    /// Adds a subscription (expired ones of the event are dropped first); returns its id.
    pub fn add(&self, event: &str, sub: Subscription<N>, now: Instant) -> Result<u64, TooMany> {
        let mut evs = self.events.lock();
        let subs = evs.entry(key(event)).or_default();
        subs.retain(|s| s.expires >= now);
        if subs.len() >= MAX_PER_EVENT {
            return Err(TooMany(event.to_string()));
        }
        let id = sub.id;
        subs.push(sub);
        Ok(id)
    }

    /// Removes one subscription (a `wait_for_event` that timed out); false if it is gone.
    pub fn remove(&self, event: &str, id: u64) -> bool {
        let mut evs = self.events.lock();
        let Some(subs) = evs.get_mut(&key(event)) else {
            return false;
        };
        let before = subs.len();
        subs.retain(|s| s.id != id);
        subs.len() != before
    }

    /// Live subscriptions of `event` at `now`.
    pub fn live(&self, event: &str, now: Instant) -> usize {
        self.events
            .lock()
            .get(&key(event))
            .map_or(0, |s| s.iter().filter(|s| s.expires >= now).count())
    }

    /// `event` was raised with `params` at `now`: drops the expired subscriptions, wakes the
    /// matching waiters (and forgets them), and returns the matching notifications, newest
    /// subscription first. Never blocks: it runs in the raising thread.
    pub fn raised(&self, event: &str, params: &EventParams, now: Instant) -> Vec<N> {
        let mut evs = self.events.lock();
        let Some(subs) = evs.get_mut(&key(event)) else {
            return Vec::new();
        };
        subs.retain(|s| s.expires >= now);
        let mut out = Vec::new();
        let mut fired = Vec::new();
        for s in subs.iter().rev() {
            if !filter::matches(&s.filters, params) {
                continue;
            }
            match &s.kind {
                Kind::Notify(n) => out.push(n.clone()),
                Kind::Wait(tx) => {
                    // a waiter that gave up has no receiver any more: nothing to do
                    let _ = tx.try_send(params.clone());
                    fired.push(s.id);
                }
            }
        }
        if !fired.is_empty() {
            subs.retain(|s| !fired.contains(&s.id));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn filters(list: &[&str]) -> Vec<Filter> {
        list.iter().map(|f| Filter::parse(f).unwrap()).collect()
    }

    fn contact(aor: &str) -> EventParams {
        EventParams::new()
            .with("aor", aor)
            .with("uri", format!("sip:{aor}@127.0.0.2"))
    }

    #[test]
    fn notify_subscriptions_fire_until_they_expire() {
        let t = Table::default();
        let now = Instant::now();
        let sub = Subscription::new(
            filters(&["aor=bob"]),
            now + Duration::from_secs(20),
            Kind::Notify("inject"),
        );
        t.add("E_UL_CONTACT_INSERT", sub, now).unwrap();
        assert_eq!(
            t.raised("E_UL_CONTACT_INSERT", &contact("bob"), now),
            ["inject"]
        );
        // again: a notification subscription is not consumed; names compare without case
        assert_eq!(
            t.raised(
                "e_ul_contact_insert",
                &contact("bob"),
                now + Duration::from_secs(5)
            ),
            ["inject"]
        );
        // the filter holds
        assert!(
            t.raised("E_UL_CONTACT_INSERT", &contact("carol"), now)
                .is_empty()
        );
        // other events see nothing
        assert!(t.raised("E_UL_AOR_INSERT", &contact("bob"), now).is_empty());
        // after the timeout it is gone
        let later = now + Duration::from_secs(21);
        assert!(
            t.raised("E_UL_CONTACT_INSERT", &contact("bob"), later)
                .is_empty()
        );
        assert_eq!(t.live("E_UL_CONTACT_INSERT", now), 0);
    }

    #[test]
    fn expired_subscriptions_are_dropped_on_add() {
        let t = Table::default();
        let now = Instant::now();
        for secs in [1, 2, 30] {
            let sub = Subscription::new(
                Vec::new(),
                now + Duration::from_secs(secs),
                Kind::Notify(secs),
            );
            t.add("E_X", sub, now).unwrap();
        }
        assert_eq!(t.live("E_X", now), 3);
        let sub = Subscription::new(Vec::new(), now + Duration::from_secs(60), Kind::Notify(60));
        t.add("E_X", sub, now + Duration::from_secs(10)).unwrap();
        assert_eq!(t.live("E_X", now), 2);
        assert_eq!(
            t.raised("E_X", &EventParams::new(), now + Duration::from_secs(10)),
            [60, 30]
        );
    }

    #[test]
    fn waits_fire_once_and_can_be_withdrawn() {
        let t: Table<()> = Table::default();
        let now = Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let sub = Subscription::new(
            filters(&["aor=bob*"]),
            now + Duration::from_secs(5),
            Kind::Wait(tx),
        );
        t.add("E_UL_AOR_INSERT", sub, now).unwrap();
        assert!(
            t.raised("E_UL_AOR_INSERT", &contact("alice"), now)
                .is_empty()
        );
        assert!(rx.try_recv().is_err());
        t.raised("E_UL_AOR_INSERT", &contact("bobby"), now);
        let got = rx.try_recv().unwrap();
        assert_eq!(
            got.get("aor"),
            Some(&crate::events::EvValue::Str("bobby".into()))
        );
        assert_eq!(t.live("E_UL_AOR_INSERT", now), 0);
        // withdrawing a live one
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let sub = Subscription::new(Vec::new(), now + Duration::from_secs(5), Kind::Wait(tx));
        let id = t.add("E_UL_AOR_INSERT", sub, now).unwrap();
        assert!(t.remove("E_UL_AOR_INSERT", id));
        assert!(!t.remove("E_UL_AOR_INSERT", id));
    }
}
