//! dialog statistics (`active_dialogs`, `early_dialogs`, `processed_dialogs`,
//! `expired_dialogs`, `failed_dialogs`) and the `E_DLG_STATE_CHANGED` event, both moved by
//! every state change.

use crate::events::{EventDef, EventParams};
use crate::stats::StatDef;

use super::dlg::{Dialog, End, State};

pub static STATS: [StatDef; 5] = [
    StatDef::gauge("active_dialogs"),
    StatDef::gauge("early_dialogs"),
    StatDef::counter("processed_dialogs"),
    StatDef::counter("expired_dialogs"),
    StatDef::counter("failed_dialogs"),
];

pub static EVENTS: [EventDef; 1] = [EventDef {
    name: "E_DLG_STATE_CHANGED",
    params: &[
        "id",
        "db_id",
        "callid",
        "from_tag",
        "to_tag",
        "old_state",
        "new_state",
    ],
}];

fn stat(shared: &crate::runtime::Shared, name: &str, up: bool) {
    if let Some(s) = shared.stats.get(&format!("dialog:{name}")) {
        if up { s.inc() } else { s.dec() }
    }
}

/// Moves `d` to `new` (`why` when it ends), counting and raising the event.
pub fn transition(d: &mut Dialog, new: State, why: Option<End>) {
    let old = d.state;
    if old == new {
        return;
    }
    d.state = new;
    let Some(shared) = crate::runtime::global_shared() else {
        return;
    };
    let s = &shared;
    if old == State::Early {
        stat(s, "early_dialogs", false);
    }
    if old == State::Confirmed || old == State::ConfirmedNoAck {
        stat(s, "active_dialogs", false);
    }
    match new {
        State::Unconfirmed => stat(s, "processed_dialogs", true),
        State::Early => stat(s, "early_dialogs", true),
        State::Confirmed | State::ConfirmedNoAck => stat(s, "active_dialogs", true),
        State::Deleted => match why {
            Some(End::Timeout) => stat(s, "expired_dialogs", true),
            Some(End::Failed) => stat(s, "failed_dialogs", true),
            _ => {}
        },
    }
    let p = EventParams::new()
        .with("id", d.id.to_string())
        .with("db_id", d.id.to_string())
        .with("callid", d.callid.as_str())
        .with("from_tag", d.from_tag.as_str())
        .with("to_tag", d.to_tag.as_str())
        .with("old_state", old as i64)
        .with("new_state", new as i64);
    shared.events.raise_by_name("E_DLG_STATE_CHANGED", p);
}
