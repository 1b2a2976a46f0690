//! The usrloc events (OpenSIPS `ul_evi.c`): E_UL_AOR_INSERT / DELETE and
//! E_UL_CONTACT_INSERT / UPDATE / DELETE, with OpenSIPS's parameter names.

use std::sync::Arc;

use crate::events::{EventDef, EventId, EventParams, EventRegistry};

use super::contact::Ucontact;

const AOR_PARAMS: &[&str] = &["domain", "aor"];
const CONTACT_PARAMS: &[&str] = &[
    "domain",
    "aor",
    "uri",
    "received",
    "path",
    "qval",
    "user_agent",
    "socket",
    "bflags",
    "expires",
    "callid",
    "cseq",
    "attr",
    "latency",
    "shtag",
];

pub static EVENTS: &[EventDef] = &[
    EventDef {
        name: "E_UL_AOR_INSERT",
        params: AOR_PARAMS,
    },
    EventDef {
        name: "E_UL_AOR_DELETE",
        params: AOR_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_INSERT",
        params: CONTACT_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_UPDATE",
        params: CONTACT_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_DELETE",
        params: CONTACT_PARAMS,
    },
];

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
    ids: [Option<EventId>; 5],
}

impl Notify {
    /// Publishes the events (again: publishing is idempotent) and keeps their ids.
    pub fn new(registry: Option<Arc<EventRegistry>>) -> Notify {
        let mut ids = [None; 5];
        if let Some(r) = &registry {
            for (i, id) in r.publish_all(EVENTS).into_iter().enumerate() {
                ids[i] = Some(id);
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
        let Some((r, id)) = self.live(ev as usize) else {
            return;
        };
        let q = if c.q < 0 { 10 } else { i64::from(c.q) / 100 };
        let p = EventParams::new()
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
            .with("shtag", None::<&str>);
        r.raise(id, p);
    }
}
