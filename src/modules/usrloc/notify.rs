//! The usrloc events (OpenSIPS `ul_evi.c`, published from `crate::events::USRLOC_EVENTS`):
//! E_UL_AOR_INSERT / DELETE and E_UL_CONTACT_INSERT / UPDATE / DELETE, with OpenSIPS's
//! parameter names, and E_UL_CONTACT_REFRESH (RFC 8599 push contacts: raised by registrar's
//! `lookup()` through [`Notify::refresh`], with OpenSIPS's extra `reason` and `req_callid`).

use std::sync::Arc;

use crate::events::{EventId, EventParams, EventRegistry, USRLOC_EVENTS};

use super::contact::Ucontact;

/// The events, in the order of [`AorEvent`] and [`ContactEvent`].
const NAMES: [&str; 6] = [
    "E_UL_AOR_INSERT",
    "E_UL_AOR_DELETE",
    "E_UL_CONTACT_INSERT",
    "E_UL_CONTACT_UPDATE",
    "E_UL_CONTACT_DELETE",
    "E_UL_CONTACT_REFRESH",
];

const REFRESH: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AorEvent {
    Insert = 0,
    Delete = 1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactEvent {
    Insert = 2,
    Update = 3,
    Delete = 4,
}

/// Where usrloc raises its events; without a registry (unit tests) nothing is raised.
#[derive(Default)]
pub struct Notify {
    registry: Option<Arc<EventRegistry>>,
    ids: [Option<EventId>; 6],
}

impl Notify {
    /// Publishes the events (again: publishing is idempotent) and keeps their ids.
    pub fn new(registry: Option<Arc<EventRegistry>>) -> Notify {
        let mut ids = [None; 6];
        if let Some(r) = &registry {
            r.publish_all(USRLOC_EVENTS);
            for (i, name) in NAMES.iter().enumerate() {
                ids[i] = r.id(name);
            }
        }
        Notify { registry, ids }
    }

    fn live(&self, i: usize) -> Option<(&EventRegistry, EventId)> {
        let r = self.registry.as_deref()?;
        let id = self.ids[i]?;
        r.has_subscribers(id).then_some((r, id))
    }

    pub fn aor(&self, ev: AorEvent, domain: &str, aor: &str) {
        if let Some((r, id)) = self.live(ev as usize) {
            r.raise(
                id,
                EventParams::new().with("domain", domain).with("aor", aor),
            );
        }
    }

    pub fn contact(&self, ev: ContactEvent, domain: &str, aor: &str, c: &Ucontact) {
        if let Some((r, id)) = self.live(ev as usize) {
            r.raise(id, contact_params(domain, aor, c));
        }
    }

    /// E_UL_CONTACT_REFRESH: `c` must be woken up by a push notification; `reason` is
    /// OpenSIPS's `ini-<METHOD>` / `mid-<METHOD>`, `req_callid` the Call-ID of the request that
    /// needs the device. Returns false when nobody listens.
    pub fn refresh(
        &self,
        domain: &str,
        aor: &str,
        c: &Ucontact,
        reason: &str,
        req_callid: &str,
    ) -> bool {
        let Some((r, id)) = self.live(REFRESH) else {
            return false;
        };
        let p = contact_params(domain, aor, c)
            .with("reason", reason)
            .with("req_callid", req_callid);
        r.raise(id, p);
        true
    }
}

fn contact_params(domain: &str, aor: &str, c: &Ucontact) -> EventParams {
    let q = if c.q < 0 { 10 } else { i64::from(c.q) / 100 };
    EventParams::new()
        .with("domain", domain)
        .with("aor", aor)
        .with("uri", c.contact())
        .with("received", c.received())
        .with("path", c.path())
        .with("qval", q)
        .with("user_agent", c.user_agent())
        .with("socket", c.socket())
        .with("bflags", c.cflags)
        .with("expires", c.expires)
        .with("callid", c.callid())
        .with("cseq", c.cseq)
        .with("attr", c.attr())
        .with("latency", 0i64)
        .with("shtag", None::<&str>)
}
