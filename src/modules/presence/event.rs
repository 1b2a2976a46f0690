//! Event packages (RFC 6665 §7): the modules that know a body format (presence_xml for
//! `presence`) register one here; PUBLISH and SUBSCRIBE for any other event get 489 Bad Event.

use std::sync::Arc;

use parking_lot::RwLock;

use super::subs::Status;

/// What the presentity allows a watcher, from its authorization rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDecision {
    pub status: Status,
    /// `reason` of a terminated subscription (`rejected`).
    pub reason: String,
}

/// Merges the bodies of several publications of one presentity (oldest first).
pub type AggregateFn = fn(pres_uri: &str, bodies: &[&[u8]]) -> Option<Vec<u8>>;

/// A presentity's state kept outside PUBLISH, if any.
pub type StoredStateFn = fn(pres_uri: &str) -> Option<Vec<u8>>;

/// One event package and its handlers.
#[derive(Debug)]
pub struct EventPackage {
    /// The Event header token (`presence`).
    pub name: &'static str,
    /// The body type of PUBLISH and NOTIFY (`application/pidf+xml`).
    pub content_type: &'static str,
    /// Expires of a PUBLISH or SUBSCRIBE without one.
    pub default_expires: u32,
    /// Subscriptions need the presentity's authorization (else they are active at once).
    pub req_auth: bool,
    /// PUBLISH may set its state (a watcher-info package's state is made here, not published).
    pub publishable: bool,
    /// This package reports the watchers of that package (RFC 3857 `presence.winfo`).
    pub winfo_of: Option<&'static str>,
    /// Checks a published body; the error is logged and the PUBLISH refused with 400.
    pub check_body: fn(&[u8]) -> Result<(), String>,
    pub aggregate: Option<AggregateFn>,
    /// The decision for a new watcher (`pres_uri`, `watcher` as `sip:user@domain`).
    pub auth_status: Option<fn(pres_uri: &str, watcher: &str) -> AuthDecision>,
    /// The body notified when nothing is published (`notify_offline_body`).
    pub offline_body: Option<fn(pres_uri: &str) -> Vec<u8>>,
    /// State kept outside PUBLISH (presence_xml's pidf-manipulation document), merged as the
    /// oldest publication.
    pub stored_state: Option<StoredStateFn>,
}

static EVENTS: RwLock<Vec<Arc<EventPackage>>> = RwLock::new(Vec::new());

/// Registers (or replaces) an event package.
pub fn add_event(ev: EventPackage) {
    let mut all = EVENTS.write();
    all.retain(|e| !e.name.eq_ignore_ascii_case(ev.name));
    all.push(Arc::new(ev));
}

/// The package of an Event header value's token (parameters already cut off).
pub fn search_event(name: &str) -> Option<Arc<EventPackage>> {
    EVENTS
        .read()
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(name.trim()))
        .cloned()
}

/// The registered packages, comma-separated (for `Allow-Events`).
pub fn event_list() -> String {
    EVENTS
        .read()
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The watcher-info packages that report the watchers of `name`.
pub fn winfo_packages_of(name: &str) -> Vec<Arc<EventPackage>> {
    EVENTS
        .read()
        .iter()
        .filter(|e| e.winfo_of.is_some_and(|w| w.eq_ignore_ascii_case(name)))
        .cloned()
        .collect()
}
