//! presence MI commands: `pres_phtable_list` (publications), `subs_phtable_list`
//! (subscriptions), `refresh_watchers` (notify a presentity's watchers again), `cleanup`.

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::{Presence, clean, notify, now};

fn running() -> Result<std::sync::Arc<Presence>, MiError> {
    super::presence().ok_or_else(|| MiError::new(500, "presence module not running"))
}

fn mi_pres_list(_: &MiParams<'_>) -> MiResult {
    let p = running()?;
    let now = now();
    let list: Vec<Value> = p
        .pres
        .lock()
        .all()
        .map(|x| {
            json!({
                "pres_uri": x.pres_uri(),
                "event": x.event,
                "etag": x.etag,
                "expires": x.expires.saturating_sub(now),
                "sender": x.sender.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(json!({ "Presentities": list }))
}

fn mi_subs_list(_: &MiParams<'_>) -> MiResult {
    let p = running()?;
    let now = now();
    let list: Vec<Value> = p
        .subs
        .lock()
        .map
        .values()
        .map(|s| {
            json!({
                "pres_uri": s.pres_uri,
                "event": s.event,
                "watcher": s.watcher_uri(),
                "to_tag": s.key.to_tag,
                "from_tag": s.key.from_tag,
                "callid": s.key.callid,
                "contact": s.contact,
                "status": s.status.as_str(),
                "expires": s.expires.saturating_sub(now),
                "local_cseq": s.local_cseq,
                "version": s.version,
            })
        })
        .collect();
    Ok(json!({ "Subscriptions": list }))
}

fn mi_refresh(p: &MiParams<'_>) -> MiResult {
    let pr = running()?;
    let uri = p.string("pres_uri")?;
    let event = p.string("event")?;
    if super::search_event(&event).is_none() {
        return Err(MiError::new(400, format!("unknown event {event}")));
    }
    // type 0: the presentity's authorization rules changed; otherwise its published state
    let rules_changed = match p.opt_string("refresh_type")? {
        Some(t) => t.trim() == "0",
        None => false,
    };
    if rules_changed {
        let n = super::auth::reauthorize(&pr, &uri, &event);
        return Ok(json!({ "changed": n }));
    }
    notify::notify_watchers(&pr, &uri, &event, None);
    crate::mi::ok()
}

fn mi_cleanup(_: &MiParams<'_>) -> MiResult {
    clean::cleanup(&running()?);
    crate::mi::ok()
}

pub static MI: &[MiCommand] = &[
    MiCommand {
        name: "pres_phtable_list",
        aliases: &["phtable_list"],
        help: "lists the publications kept in memory",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_pres_list,
        }],
    },
    MiCommand {
        name: "subs_phtable_list",
        aliases: &[],
        help: "lists the subscriptions kept in memory",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_subs_list,
        }],
    },
    MiCommand {
        name: "refresh_watchers",
        aliases: &["refreshWatchers"],
        help: "sends the presentity's state to its watchers again",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["pres_uri", "event"],
                handler: mi_refresh,
            },
            Recipe {
                params: &["pres_uri", "event", "refresh_type"],
                handler: mi_refresh,
            },
        ],
    },
    MiCommand {
        name: "cleanup",
        aliases: &[],
        help: "removes ended publications and subscriptions now",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_cleanup,
        }],
    },
];
