//! NOTIFY requests (RFC 6665 §4.2.2): sent in the subscription's dialog through tm, along the
//! route set the SUBSCRIBE's Record-Route made, carrying the presentity's current state.

use std::sync::Arc;

use crate::modules::tm;

use super::event::EventPackage;
use super::subs::{DialogKey, Status, Subscription};
use super::{Presence, now};

/// What a watcher is told about its subscription: the `Subscription-State` value.
pub fn subscription_state(
    s: &Subscription,
    offset: u32,
    terminated: Option<&str>,
    now: u64,
) -> String {
    match terminated {
        Some(reason) => format!("terminated;reason={reason}"),
        None if s.status == Status::Terminated => {
            let reason = if s.reason.is_empty() {
                "rejected"
            } else {
                &s.reason
            };
            format!("terminated;reason={reason}")
        }
        None => {
            let left = s.expires.saturating_sub(now).saturating_sub(offset as u64);
            format!("{};expires={left}", s.status.as_str())
        }
    }
}

/// The state notified to an active watcher: the live publications (merged by the package when
/// several), else the package's offline document when `notify_offline_body` is set.
pub fn current_body(p: &Presence, ev: &EventPackage, pres_uri: &str) -> Option<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = ev
        .stored_state
        .and_then(|f| f(pres_uri))
        .into_iter()
        .collect();
    let live = p.pres.lock().current(pres_uri, ev.name, now());
    bodies.extend(live.into_iter().map(|x| x.body));
    match bodies.len() {
        0 => match ev.offline_body {
            Some(f) if p.cfg.notify_offline_body => Some(f(pres_uri)),
            _ => None,
        },
        1 => bodies.pop(),
        _ => {
            let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            ev.aggregate
                .and_then(|agg| agg(pres_uri, &refs))
                .or_else(|| bodies.pop())
        }
    }
}

/// The NOTIFY's text (top Via a placeholder tm replaces), its Request-URI and its next hop.
pub fn build(
    s: &Subscription,
    ev: &EventPackage,
    state: &str,
    body: Option<&[u8]>,
) -> (String, String, Option<String>) {
    let mut h = format!(
        "From: <{}>;tag={}\r\nTo: <{}>;tag={}\r\nCall-ID: {}\r\nCSeq: {} NOTIFY\r\n",
        s.pres_uri,
        s.key.to_tag,
        s.watcher_uri(),
        s.key.from_tag,
        s.key.callid,
        s.local_cseq
    );
    let routes = s.routes();
    for r in &routes {
        h.push_str(&format!("Route: {r}\r\n"));
    }
    h.push_str(&format!("Contact: <{}>\r\n", s.local_contact));
    if s.event_id.is_empty() {
        h.push_str(&format!("Event: {}\r\n", s.event));
    } else {
        h.push_str(&format!("Event: {};id={}\r\n", s.event, s.event_id));
    }
    h.push_str(&format!("Subscription-State: {state}\r\n"));
    let body = body.map(String::from_utf8_lossy);
    if body.is_some() {
        h.push_str(&format!("Content-Type: {}\r\n", ev.content_type));
    }
    let text = tm::mi::build_uac_request("NOTIFY", &s.contact, &h, body.as_deref());
    let dst = routes.first().map(|r| {
        let inner = r
            .trim()
            .trim_start_matches(|c| c != '<')
            .trim_start_matches('<');
        inner.split('>').next().unwrap_or(inner).to_string()
    });
    (text, s.contact.clone(), dst)
}

/// Sends one NOTIFY for `s` (whose `local_cseq` is already this NOTIFY's); `terminated`: the
/// reason of a subscription that ends with it.
pub fn send(p: &Arc<Presence>, s: &Subscription, terminated: Option<&str>) {
    let Some(ev) = super::search_event(&s.event) else {
        tracing::error!("presence: no event package `{}` to notify", s.event);
        return;
    };
    let body = match (s.status, ev.winfo_of) {
        (Status::Active, Some(watched)) => Some(super::winfo::body(p, s, watched)),
        (Status::Active, None) => current_body(p, &ev, &s.pres_uri),
        _ => None,
    };
    let state = subscription_state(s, p.cfg.expires_offset, terminated, now());
    let (text, ruri, dst) = build(s, &ev, &state, body.as_deref());
    let Some(shared) = crate::runtime::global_shared() else {
        tracing::error!("presence: the proxy is not running, NOTIFY to {ruri} not sent");
        return;
    };
    let weak = Arc::downgrade(p);
    let key = s.key.clone();
    let ends = terminated.is_some();
    let done = Box::new(move |code: u16, _| {
        tracing::debug!("presence: NOTIFY for {} answered {code}", key.callid);
        let Some(p) = weak.upgrade() else { return };
        // RFC 6665 §4.2.2: a 481 ends the subscription, as does no answer at all.
        if !ends && (code == 481 || (code == 408 && p.cfg.end_sub_on_timeout)) {
            tracing::info!(
                "presence: watcher answered the NOTIFY with {code}: subscription {} removed",
                key.callid
            );
            p.delete_subscription(&key);
        }
    });
    if let Err(e) = tm::send_request(&shared, text, &ruri, dst, done) {
        tracing::error!("presence: cannot send NOTIFY to {ruri}: {e}");
    }
}

/// Counts one more NOTIFY in `key`'s dialog and sends it.
pub fn notify_one(p: &Arc<Presence>, key: &DialogKey) {
    let s = p.subs.lock().next_notify(key);
    if let Some(s) = s {
        if p.cfg.fallback2db
            && let Some(st) = &p.store
            && let Err(e) = st.save_subscription(&s)
        {
            tracing::error!("presence: {e}");
        }
        send(p, &s, None);
    }
}

/// Tells every active watcher of `pres_uri` for `event` the new state (after a PUBLISH), but
/// not `sender` (handle_publish's sender_uri). With fallback2db the watchers another server
/// keeps in the shared database are told too, their dialog's CSeq counted there.
pub fn notify_watchers(p: &Arc<Presence>, pres_uri: &str, event: &str, sender: Option<&str>) {
    let skip = |w: &Subscription| {
        w.status != Status::Active || sender.is_some_and(|u| u == w.contact || u == w.watcher_uri())
    };
    let watchers = p.subs.lock().watchers_of(pres_uri, event);
    for w in &watchers {
        if !skip(w) {
            notify_one(p, &w.key);
        }
    }
    if !p.cfg.fallback2db {
        return;
    }
    let Some(st) = &p.store else { return };
    let rows = match st.subscriptions_to(pres_uri, event) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!("presence: {e}");
            return;
        }
    };
    let now = now();
    for mut w in rows {
        if w.expires < now || skip(&w) || watchers.iter().any(|m| m.key == w.key) {
            continue;
        }
        w.local_cseq += 1;
        w.version += 1;
        if let Err(e) = st.save_subscription(&w) {
            tracing::error!("presence: {e}");
            continue;
        }
        send(p, &w, None);
    }
}

/// Tells the watcher-info subscribers of `pres_uri` that its `event` watchers changed.
pub fn notify_winfo(p: &Arc<Presence>, pres_uri: &str, event: &str) {
    for w in super::event::winfo_packages_of(event) {
        notify_watchers(p, pres_uri, w.name, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub() -> Subscription {
        Subscription {
            key: DialogKey {
                callid: "c1".into(),
                to_tag: "tt".into(),
                from_tag: "ft".into(),
            },
            pres_uri: "sip:alice@example.com".into(),
            event: "presence".into(),
            event_id: String::new(),
            watcher_user: "bob".into(),
            watcher_domain: "example.com".into(),
            to_user: "alice".into(),
            to_domain: "example.com".into(),
            local_cseq: 3,
            remote_cseq: 1,
            contact: "sip:bob@127.0.0.1:5070".into(),
            record_route: "<sip:127.0.0.2;lr>, <sip:127.0.0.3;lr>".into(),
            expires: 1000,
            status: Status::Active,
            reason: String::new(),
            version: 0,
            socket_info: "udp:127.0.0.1:5060".into(),
            local_contact: "sip:presence@127.0.0.1:5060".into(),
            dirty: false,
        }
    }

    fn package() -> EventPackage {
        EventPackage {
            name: "presence",
            content_type: "application/pidf+xml",
            default_expires: 3600,
            req_auth: false,
            publishable: true,
            winfo_of: None,
            check_body: |_| Ok(()),
            aggregate: None,
            auth_status: None,
            offline_body: None,
            stored_state: None,
        }
    }

    #[test]
    fn states() {
        let mut s = sub();
        assert_eq!(subscription_state(&s, 0, None, 400), "active;expires=600");
        assert_eq!(subscription_state(&s, 10, None, 400), "active;expires=590");
        assert_eq!(subscription_state(&s, 0, None, 2000), "active;expires=0");
        assert_eq!(
            subscription_state(&s, 0, Some("timeout"), 400),
            "terminated;reason=timeout"
        );
        s.status = Status::Pending;
        assert_eq!(subscription_state(&s, 0, None, 900), "pending;expires=100");
        s.status = Status::Terminated;
        assert_eq!(
            subscription_state(&s, 0, None, 900),
            "terminated;reason=rejected"
        );
    }

    #[test]
    fn notify_request_in_the_dialog() {
        let (text, ruri, dst) = build(&sub(), &package(), "active;expires=5", Some(b"<x/>"));
        assert_eq!(ruri, "sip:bob@127.0.0.1:5070");
        assert_eq!(dst.as_deref(), Some("sip:127.0.0.2;lr"));
        let msg = crate::sip::Msg::parse(bytes::Bytes::from(text.clone())).unwrap();
        assert_eq!(msg.method_bytes(), b"NOTIFY");
        assert_eq!(msg.from_tag(), Some(&b"tt"[..]));
        assert_eq!(msg.to_tag(), Some(&b"ft"[..]));
        assert_eq!(msg.routes().count(), 2);
        assert_eq!(msg.event(), Some(&b"presence"[..]));
        assert_eq!(msg.body(), b"<x/>");
        assert!(text.contains("CSeq: 3 NOTIFY\r\n"));
        assert!(text.contains("Subscription-State: active;expires=5\r\n"));
        assert!(text.contains("Content-Type: application/pidf+xml\r\n"));
        assert!(text.contains("Contact: <sip:presence@127.0.0.1:5060>\r\n"));
        let mut s = sub();
        s.record_route.clear();
        s.event_id = "7".into();
        let (text, _, dst) = build(&s, &package(), "pending;expires=5", None);
        assert_eq!(dst, None);
        assert!(text.contains("Event: presence;id=7\r\n"));
        assert!(!text.contains("Content-Type"));
    }
}
