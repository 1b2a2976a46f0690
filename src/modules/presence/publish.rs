//! `handle_publish([sender_uri])` (RFC 3903 §6): a PUBLISH without SIP-If-Match makes a
//! publication; with one it refreshes (no body), modifies (a body) or removes (Expires: 0) the
//! publication of that entity tag, or gets 412 when there is none. Watchers hear of changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::events::{EventDef, EventParams};
use crate::runtime::core_fns::sip;
use crate::runtime::msgctx::SipCtx;
use crate::script::{ArgValue, RunCtx};
use crate::sip::Uri;

use super::pres::{Publication, pres_uri};
use super::{Presence, event, notify, now, reply};

/// A PUBLISH refused: the reply to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub headers: String,
}

fn refuse(code: u16, reason: &'static str) -> Refusal {
    Refusal {
        code,
        reason,
        headers: String::new(),
    }
}

fn bad_event() -> Refusal {
    Refusal {
        code: 489,
        reason: "Bad Event",
        headers: format!("Allow-Events: {}\r\n", event::event_list()),
    }
}

/// `423 Interval Too Brief` with `Min-Expires` (RFC 3903 §6 step 5, RFC 6665 §4.2.1.1) when
/// `expires` is non-zero and below `min_expires` (0: no minimum); else `expires` capped at `max`.
pub fn check_expires(expires: u32, min_expires: u32, max: u32) -> Result<u32, Refusal> {
    if expires != 0 && expires < min_expires {
        return Err(Refusal {
            code: 423,
            reason: "Interval Too Brief",
            headers: format!("Min-Expires: {min_expires}\r\n"),
        });
    }
    Ok(expires.min(max))
}

/// A new entity tag, unique in this process and unlikely to repeat across restarts.
pub fn new_etag() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "a.{}.{}.{}.{:08x}",
        now(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// A PUBLISH accepted: the reply's headers and the presentity whose state changed.
struct Accepted {
    expires: u32,
    etag: String,
    changed: Option<(String, String)>,
    /// For E_PRESENCE_PUBLISH.
    event: EventParams,
}

/// `E_PRESENCE_PUBLISH`: raised for each PUBLISH accepted.
pub const E_PRESENCE_PUBLISH: EventDef = EventDef {
    name: "E_PRESENCE_PUBLISH",
    params: &[
        "user", "domain", "event", "expires", "etag", "old_etag", "body",
    ],
};

fn event_params(
    user: &str,
    domain: &str,
    ev: &str,
    expires: u32,
    etag: &str,
    old: Option<&str>,
    body: &[u8],
) -> EventParams {
    EventParams::new()
        .with("user", user)
        .with("domain", domain)
        .with("event", ev)
        .with("expires", expires as i64)
        .with("etag", etag)
        .with("old_etag", old.unwrap_or(""))
        .with("body", String::from_utf8_lossy(body).into_owned())
}

/// The Request-URI's user and host (the script's new one when it set `$ru`).
pub fn target(m: &SipCtx) -> Result<(String, String), Refusal> {
    let raw = match &m.new_ruri {
        Some(u) => u.as_bytes().to_vec(),
        None => m.msg.ruri().to_vec(),
    };
    let uri = Uri::parse(&raw).map_err(|_| refuse(400, "Bad request"))?;
    let user = uri.user.map(crate::sip::unescape).unwrap_or_default();
    Ok((
        String::from_utf8_lossy(&user).into_owned(),
        String::from_utf8_lossy(uri.host).to_ascii_lowercase(),
    ))
}

fn process(p: &Presence, m: &SipCtx, sender: Option<&str>) -> Result<Accepted, Refusal> {
    let name = m.msg.event().ok_or_else(bad_event)?;
    let ev = event::search_event(&String::from_utf8_lossy(name))
        .filter(|e| e.publishable)
        .ok_or_else(bad_event)?;
    let if_match = m
        .msg
        .header_by_name("SIP-If-Match")
        .map(|v| String::from_utf8_lossy(v).trim().to_string());
    let expires = match m.msg.expires() {
        Some(Ok(e)) => e,
        Some(Err(_)) => return Err(refuse(400, "Bad request")),
        None => ev.default_expires,
    };
    let expires = check_expires(expires, p.cfg.min_expires, p.cfg.max_expires_publish)?;
    let (user, domain) = target(m)?;
    let body = m.msg.body();
    if body.is_empty() && if_match.is_none() {
        return Err(refuse(400, "Invalid request"));
    }
    if !body.is_empty()
        && let Err(e) = (ev.check_body)(body)
    {
        tracing::error!("handle_publish: {} body refused: {e}", ev.name);
        return Err(refuse(400, "Bad request"));
    }
    if let Some(s) = sender
        && Uri::parse(s.as_bytes()).is_err()
    {
        tracing::error!("handle_publish: bad sender URI `{s}`");
        return Err(refuse(400, "Bad request"));
    }
    let uri = pres_uri(&user, &domain);
    let now = now();
    let internal = |e: String| {
        tracing::error!("handle_publish: {e}");
        refuse(500, "Server Internal Error")
    };
    let Some(old_etag) = if_match else {
        let etag = new_etag();
        let event = event_params(&user, &domain, ev.name, expires, &etag, None, body);
        if expires == 0 {
            // Nothing to keep: a publication that ends as it starts.
            return Ok(Accepted {
                expires,
                etag,
                changed: None,
                event,
            });
        }
        let publ = Publication {
            user,
            domain,
            event: ev.name.to_string(),
            etag: etag.clone(),
            expires: now + expires as u64,
            received: now,
            body: body.to_vec(),
            sender: sender.map(str::to_string),
        };
        if let Some(st) = &p.store {
            st.insert_publication(&publ).map_err(internal)?;
        }
        p.pres.lock().put(publ);
        return Ok(Accepted {
            expires,
            etag,
            changed: Some((uri, ev.name.to_string())),
            event,
        });
    };
    let mut old = p.pres.lock().find(&uri, ev.name, &old_etag).cloned();
    if old.is_none()
        && p.cfg.fallback2db
        && let Some(st) = &p.store
    {
        old = st
            .find_publication(&user, &domain, ev.name, &old_etag)
            .map_err(internal)?;
    }
    let Some(old) = old.filter(|o| o.expires >= now) else {
        return Err(refuse(412, "Conditional request failed"));
    };
    if expires == 0 {
        if let Some(st) = &p.store {
            st.delete_publication(&old).map_err(internal)?;
        }
        p.pres.lock().remove(&uri, ev.name, &old_etag);
        return Ok(Accepted {
            expires: 0,
            event: event_params(&user, &domain, ev.name, 0, &old_etag, Some(&old_etag), body),
            etag: old_etag,
            changed: Some((uri, ev.name.to_string())),
        });
    }
    let modified = !body.is_empty();
    let etag = new_etag();
    let event = event_params(
        &user,
        &domain,
        ev.name,
        expires,
        &etag,
        Some(&old_etag),
        body,
    );
    let publ = Publication {
        etag,
        expires: now + expires as u64,
        received: if modified { now } else { old.received },
        body: if modified {
            body.to_vec()
        } else {
            old.body.clone()
        },
        sender: sender.map(str::to_string).or(old.sender.clone()),
        ..old
    };
    if let Some(st) = &p.store {
        st.update_publication(&old_etag, &publ).map_err(internal)?;
    }
    let etag = publ.etag.clone();
    {
        let mut t = p.pres.lock();
        t.remove(&uri, ev.name, &old_etag);
        t.put(publ);
    }
    Ok(Accepted {
        expires,
        event,
        etag,
        changed: modified.then(|| (uri, ev.name.to_string())),
    })
}

pub fn handle_publish(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let sender = args
        .first()
        .and_then(ArgValue::str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let Some(m) = sip(ctx) else {
        tracing::error!("handle_publish: no SIP message in this route");
        return -1;
    };
    let Some(p) = super::presence() else {
        tracing::error!("handle_publish: the presence module is not initialized");
        return -1;
    };
    if let Err(rc) = reply::begin(m) {
        return rc;
    }
    match process(&p, m, sender.as_deref()) {
        Ok(a) => {
            let headers = format!("Expires: {}\r\nSIP-ETag: {}\r\n", a.expires, a.etag);
            reply::send(m, 200, "OK", &headers);
            m.shared
                .events
                .raise_by_name(E_PRESENCE_PUBLISH.name, a.event);
            if let Some((uri, ev)) = a.changed {
                notify_changed(&p, &uri, &ev, sender.as_deref());
            }
            1
        }
        Err(r) => {
            reply::send(m, r.code, r.reason, &r.headers);
            -1
        }
    }
}

fn notify_changed(p: &Arc<Presence>, uri: &str, ev: &str, sender: Option<&str>) {
    notify::notify_watchers(p, uri, ev, sender);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ() {
        let a = new_etag();
        let b = new_etag();
        assert_ne!(a, b);
        assert!(a.starts_with("a."));
        assert!(a.bytes().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn expires_below_the_minimum_is_too_brief() {
        let r = check_expires(5, 60, 3600).unwrap_err();
        assert_eq!((r.code, r.reason), (423, "Interval Too Brief"));
        assert_eq!(r.headers, "Min-Expires: 60\r\n");
        // Expires: 0 ends the publication or subscription whatever the minimum.
        assert_eq!(check_expires(0, 60, 3600), Ok(0));
        assert_eq!(check_expires(60, 60, 3600), Ok(60));
        assert_eq!(check_expires(7200, 60, 3600), Ok(3600));
        // No minimum set.
        assert_eq!(check_expires(1, 0, 3600), Ok(1));
    }
}
