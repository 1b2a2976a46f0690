//! Events OpenSIPS's core publishes (`evi/evi_core.c`), and the parameter names of well-known
//! module events so modules raise them with OpenSIPS's names.

use super::registry::EventDef;

pub const E_CORE_THRESHOLD: EventDef = EventDef {
    name: "E_CORE_THRESHOLD",
    params: &["source", "time", "extra"],
};
pub const E_CORE_SHM_THRESHOLD: EventDef = EventDef {
    name: "E_CORE_SHM_THRESHOLD",
    params: &["usage", "threshold", "used", "size"],
};
pub const E_CORE_PKG_THRESHOLD: EventDef = EventDef {
    name: "E_CORE_PKG_THRESHOLD",
    params: &["usage", "threshold", "used", "size", "pid"],
};
pub const E_CORE_PROC_AUTO_SCALE: EventDef = EventDef {
    name: "E_CORE_PROC_AUTO_SCALE",
    params: &[
        "group_type",
        "group_filter",
        "group_load",
        "scale",
        "process_id",
        "pid",
    ],
};
pub const E_CORE_TCP_DISCONNECT: EventDef = EventDef {
    name: "E_CORE_TCP_DISCONNECT",
    params: &["src_ip", "src_port", "dst_ip", "dst_port", "proto"],
};
pub const E_CORE_SR_STATUS_CHANGED: EventDef = EventDef {
    name: "E_CORE_SR_STATUS_CHANGED",
    params: &["group", "identifier", "status", "details", "old_status"],
};
pub const E_CORE_LOG: EventDef = EventDef {
    name: "E_CORE_LOG",
    params: &[
        "time", "pid", "level", "module", "function", "prefix", "message",
    ],
};

/// Published at start, in this order (ids 0, 1, …).
pub const CORE_EVENTS: &[EventDef] = &[
    E_CORE_THRESHOLD,
    E_CORE_SHM_THRESHOLD,
    E_CORE_PKG_THRESHOLD,
    E_CORE_PROC_AUTO_SCALE,
    E_CORE_TCP_DISCONNECT,
    E_CORE_SR_STATUS_CHANGED,
    E_CORE_LOG,
];

/// usrloc's contact event parameters (`E_UL_CONTACT_INSERT` / `_UPDATE` / `_DELETE` / `_REFRESH`).
pub const UL_CONTACT_PARAMS: &[&str] = &[
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

/// The events usrloc exports; the usrloc module puts this in its descriptor.
pub const USRLOC_EVENTS: &[EventDef] = &[
    EventDef {
        name: "E_UL_AOR_INSERT",
        params: &["domain", "aor"],
    },
    EventDef {
        name: "E_UL_AOR_DELETE",
        params: &["domain", "aor"],
    },
    EventDef {
        name: "E_UL_CONTACT_INSERT",
        params: UL_CONTACT_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_DELETE",
        params: UL_CONTACT_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_UPDATE",
        params: UL_CONTACT_PARAMS,
    },
    EventDef {
        name: "E_UL_CONTACT_REFRESH",
        params: UL_CONTACT_PARAMS,
    },
];

/// dispatcher's destination state event.
pub const E_DISPATCHER_STATUS: EventDef = EventDef {
    name: "E_DISPATCHER_STATUS",
    params: &["partition", "group", "address", "status"],
};
