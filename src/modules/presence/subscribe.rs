//! `handle_subscribe([force_active])` (RFC 6665 §4.2.1): an initial SUBSCRIBE makes a
//! subscription dialog (200 when active, 202 when it waits for the presentity's
//! authorization), a SUBSCRIBE in the dialog refreshes it or, with Expires: 0, ends it; each is
//! followed by a NOTIFY with the current state.

use crate::runtime::core_fns::sip;
use crate::runtime::msgctx::SipCtx;
use crate::script::{ArgValue, RunCtx};
use crate::sip::Uri;

use super::event::{self, AuthDecision, EventPackage};
use super::publish::{Refusal, check_expires, target};
use super::store::Watcher;
use super::subs::{DialogKey, Status, Subscription};
use super::{Presence, notify, now, reply};

fn refuse(code: u16, reason: &'static str) -> Refusal {
    Refusal {
        code,
        reason,
        headers: String::new(),
    }
}

fn bad_request() -> Refusal {
    refuse(400, "Bad request")
}

fn bad_event() -> Refusal {
    Refusal {
        code: 489,
        reason: "Bad Event",
        headers: format!("Allow-Events: {}\r\n", event::event_list()),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// User and host of a URI (`user@host`, the host lower-cased).
fn user_host(uri: &Uri<'_>) -> (String, String) {
    let user = uri.user.map(crate::sip::unescape).unwrap_or_default();
    (lossy(&user), lossy(uri.host).to_ascii_lowercase())
}

/// Our Contact in the dialog: `server_address`, else `contact_user` at the receiving socket.
pub fn local_contact(p: &Presence, m: &SipCtx) -> String {
    if let Some(a) = &p.cfg.server_address {
        return a.clone();
    }
    let user = if p.cfg.contact_user.is_empty() {
        String::new()
    } else {
        format!("{}@", p.cfg.contact_user)
    };
    let addr = m.info.local;
    let ip = match addr.ip() {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let transport = match m.info.proto {
        crate::transport::Proto::Udp => String::new(),
        other => format!(";transport={}", other.name()),
    };
    format!("sip:{user}{ip}:{}{transport}", addr.port())
}

/// What the SUBSCRIBE asks, read from the request.
struct Request {
    ev: std::sync::Arc<EventPackage>,
    event_id: String,
    expires: u32,
    to_user: String,
    to_domain: String,
    to_tag: Option<String>,
    watcher_user: String,
    watcher_domain: String,
    from_tag: String,
    callid: String,
    cseq: u32,
    contact: String,
    record_route: String,
}

fn read(p: &Presence, m: &SipCtx) -> Result<Request, Refusal> {
    let msg = &m.msg;
    let name = msg.event().ok_or_else(bad_event)?;
    let ev = event::search_event(&lossy(name)).ok_or_else(bad_event)?;
    let event_id = match msg.event_parsed() {
        Some(Ok(e)) => e.params.value(b"id").map(lossy).unwrap_or_default(),
        Some(Err(_)) => return Err(bad_request()),
        None => String::new(),
    };
    let expires = match msg.expires() {
        Some(Ok(e)) => e,
        Some(Err(_)) => return Err(bad_request()),
        None => ev.default_expires,
    };
    let expires = check_expires(expires, p.cfg.min_expires, p.cfg.max_expires_subscribe)?;
    let to = msg.to().map_err(|_| bad_request())?;
    let (to_user, to_domain) = user_host(&to.uri);
    let from = msg.from().map_err(|_| bad_request())?;
    let (watcher_user, watcher_domain) = user_host(&from.uri);
    let from_tag = from.tag().map(lossy).ok_or_else(|| {
        tracing::error!("handle_subscribe: no From tag");
        bad_request()
    })?;
    let callid = lossy(msg.call_id());
    if callid.is_empty() {
        return Err(bad_request());
    }
    let contact = match msg.contact() {
        Some(Ok(c)) => c.addr().map(|a| lossy(a.uri.raw)),
        _ => None,
    }
    .ok_or_else(|| {
        tracing::error!("handle_subscribe: no usable Contact");
        bad_request()
    })?;
    let mut rr = Vec::new();
    for r in msg.record_routes() {
        rr.push(lossy(r.map_err(|_| bad_request())?.raw));
    }
    Ok(Request {
        ev,
        event_id,
        expires,
        to_user,
        to_domain,
        to_tag: to.tag().map(lossy).filter(|t| !t.is_empty()),
        watcher_user,
        watcher_domain,
        from_tag,
        callid,
        cseq: msg.cseq().num,
        contact,
        record_route: rr.join(", "),
    })
}

/// The subscription's state for a new watcher: forced, stored in `watchers`, or decided by
/// the package's rules (and then stored).
fn authorize(
    p: &Presence,
    r: &Request,
    pres_uri: &str,
    force_active: bool,
) -> Result<AuthDecision, Refusal> {
    if !r.ev.req_auth || force_active {
        return Ok(AuthDecision {
            status: Status::Active,
            reason: String::new(),
        });
    }
    let internal = |e: String| {
        tracing::error!("handle_subscribe: {e}");
        refuse(500, "Server Internal Error")
    };
    let w = Watcher {
        pres_uri,
        user: &r.watcher_user,
        domain: &r.watcher_domain,
        event: r.ev.name,
    };
    if let Some(st) = &p.store
        && let Some((status, reason)) = st.watcher_status(&w).map_err(internal)?
    {
        return Ok(AuthDecision { status, reason });
    }
    let watcher = format!("sip:{}@{}", r.watcher_user, r.watcher_domain);
    let d = match r.ev.auth_status {
        Some(f) => f(pres_uri, &watcher),
        None => AuthDecision {
            status: Status::Pending,
            reason: String::new(),
        },
    };
    if let Some(st) = &p.store {
        st.insert_watcher(&w, d.status, &d.reason, now())
            .map_err(internal)?;
    }
    Ok(d)
}

/// A SUBSCRIBE accepted: the reply and what to notify after it.
struct Accepted {
    code: u16,
    expires: u32,
    local_contact: String,
    /// The subscription to notify; `ended`: it is over (Expires: 0, or the presentity rejects
    /// the watcher), notify once more with this reason.
    sub: Subscription,
    ended: Option<String>,
}

fn process(
    p: &Presence,
    m: &SipCtx,
    force_active: bool,
    our_tag: &str,
) -> Result<Accepted, Refusal> {
    let r = read(p, m)?;
    let now = now();
    let internal = |e: String| {
        tracing::error!("handle_subscribe: {e}");
        refuse(500, "Server Internal Error")
    };
    let code = |s: &Subscription| {
        if s.status == Status::Pending {
            202
        } else {
            200
        }
    };
    let Some(to_tag) = r.to_tag.clone() else {
        let (user, domain) = target(m)?;
        let pres_uri = super::pres::pres_uri(&user, &domain);
        let d = authorize(p, &r, &pres_uri, force_active)?;
        let sub = Subscription {
            key: DialogKey {
                callid: r.callid.clone(),
                to_tag: our_tag.to_string(),
                from_tag: r.from_tag.clone(),
            },
            pres_uri,
            event: r.ev.name.to_string(),
            event_id: r.event_id.clone(),
            watcher_user: r.watcher_user.clone(),
            watcher_domain: r.watcher_domain.clone(),
            to_user: r.to_user.clone(),
            to_domain: r.to_domain.clone(),
            local_cseq: 0,
            remote_cseq: r.cseq,
            contact: r.contact.clone(),
            record_route: r.record_route.clone(),
            expires: now + r.expires as u64 + p.cfg.expires_offset as u64,
            status: d.status,
            reason: d.reason,
            version: 0,
            socket_info: format!("{}:{}", m.info.proto.name(), m.info.local),
            local_contact: local_contact(p, m),
            dirty: false,
        };
        let ended = if sub.status == Status::Terminated {
            let reason = if sub.reason.is_empty() {
                "rejected"
            } else {
                &sub.reason
            };
            Some(reason.to_string())
        } else {
            (r.expires == 0).then(|| "timeout".to_string())
        };
        if ended.is_none() {
            if p.subs.lock().map.contains_key(&sub.key) {
                tracing::error!("handle_subscribe: subscription overlapping detected, rejecting");
                return Err(refuse(500, "Server Internal Error"));
            }
            p.save_subscription(sub.clone()).map_err(internal)?;
        }
        return Ok(Accepted {
            code: code(&sub),
            expires: r.expires,
            local_contact: sub.local_contact.clone(),
            ended,
            sub,
        });
    };
    let key = DialogKey {
        callid: r.callid.clone(),
        to_tag,
        from_tag: r.from_tag.clone(),
    };
    let mut stored = p.subs.lock().map.get(&key).cloned();
    if stored.is_none()
        && p.cfg.fallback2db
        && let Some(st) = &p.store
    {
        stored = st.find_subscription(&key).map_err(internal)?;
    }
    let Some(mut sub) = stored.filter(|s| s.event.eq_ignore_ascii_case(r.ev.name)) else {
        return Err(refuse(481, "Subscription does not exist"));
    };
    if r.cseq <= sub.remote_cseq {
        tracing::error!(
            "handle_subscribe: wrong sequence number: received {} - stored {}",
            r.cseq,
            sub.remote_cseq
        );
        return Err(bad_request());
    }
    sub.remote_cseq = r.cseq;
    sub.contact = r.contact;
    if r.expires == 0 {
        p.delete_subscription(&key);
        sub.local_cseq += 1;
        sub.version += 1;
    } else {
        sub.expires = now + r.expires as u64 + p.cfg.expires_offset as u64;
        p.save_subscription(sub.clone()).map_err(internal)?;
    }
    Ok(Accepted {
        code: code(&sub),
        expires: r.expires,
        local_contact: sub.local_contact.clone(),
        ended: (r.expires == 0).then(|| "timeout".to_string()),
        sub,
    })
}

pub fn handle_subscribe(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let force_active = args.first().and_then(ArgValue::int) == Some(1);
    let Some(m) = sip(ctx) else {
        tracing::error!("handle_subscribe: no SIP message in this route");
        return -1;
    };
    let Some(p) = super::presence() else {
        tracing::error!("handle_subscribe: the presence module is not initialized");
        return -1;
    };
    let our_tag = match reply::begin(m) {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    match process(&p, m, force_active, &our_tag) {
        Ok(a) => {
            let headers = format!(
                "Expires: {}\r\nContact: <{}>\r\n",
                a.expires, a.local_contact
            );
            let reason = if a.code == 202 { "Accepted" } else { "OK" };
            reply::send(m, a.code, reason, &headers);
            let (pres_uri, event) = (a.sub.pres_uri.clone(), a.sub.event.clone());
            if let Some(reason) = &a.ended {
                let mut s = a.sub;
                if s.local_cseq == 0 {
                    s.local_cseq = 1;
                }
                notify::send(&p, &s, Some(reason));
            } else {
                notify::notify_one(&p, &a.sub.key);
            }
            notify::notify_winfo(&p, &pres_uri, &event);
            1
        }
        Err(r) => {
            reply::send(m, r.code, r.reason, &r.headers);
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_host_of_uris() {
        let u = Uri::parse(b"sip:Al%69ce@Example.COM:5060;transport=tcp").unwrap();
        assert_eq!(user_host(&u), ("Alice".into(), "example.com".into()));
        let u = Uri::parse(b"sip:example.com").unwrap();
        assert_eq!(user_host(&u), (String::new(), "example.com".into()));
    }
}
