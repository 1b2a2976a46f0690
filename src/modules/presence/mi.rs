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

/// Shell-style wildcard match (`*` any run, `?` one character), as the MI filters take.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn mi_subs_list(params: &MiParams<'_>) -> MiResult {
    let p = running()?;
    let now = now();
    let from = params.opt_string("from")?;
    let to = params.opt_string("to")?;
    let list: Vec<Value> = p
        .subs
        .lock()
        .map
        .values()
        .filter(|s| {
            from.as_deref()
                .is_none_or(|f| wildcard(f, &s.watcher_uri()))
        })
        .filter(|s| to.as_deref().is_none_or(|t| wildcard(t, &s.pres_uri)))
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
        help: "lists the subscriptions kept in memory (From / To URI wildcards)",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_subs_list,
            },
            Recipe {
                params: &["from"],
                handler: mi_subs_list,
            },
            Recipe {
                params: &["from", "to"],
                handler: mi_subs_list,
            },
        ],
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

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        assert!(wildcard("*", ""));
        assert!(wildcard("sip:*@example.com", "sip:bob@example.com"));
        assert!(!wildcard("sip:*@example.com", "sip:bob@example.org"));
        assert!(wildcard("sip:b?b@*", "sip:bob@x"));
        assert!(!wildcard("sip:b?b@*", "sip:bb@x"));
        assert!(wildcard("*a*b*", "xxaybz"));
        assert!(!wildcard("abc", "abcd"));
        assert!(wildcard("sip:bob@127.0.0.1", "sip:bob@127.0.0.1"));
    }
}
