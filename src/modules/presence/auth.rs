//! Authorization changes (OpenSIPS's `update_watchers_status`): after the presentity's rules
//! changed (MI `refresh_watchers URI EVENT 0`), every watcher is decided again; one whose state
//! changed is told (a NOTIFY, or a terminated NOTIFY when now rejected).

use std::sync::Arc;

use super::store::Watcher;
use super::subs::Status;
use super::{Presence, notify, now};

/// Decides again for each watcher of `pres_uri` for `event`; returns how many changed.
pub fn reauthorize(p: &Arc<Presence>, pres_uri: &str, event: &str) -> usize {
    let Some(ev) = super::search_event(event) else {
        return 0;
    };
    let Some(decide) = ev.auth_status.filter(|_| ev.req_auth) else {
        return 0;
    };
    let mut changed = 0;
    let watchers = p.subs.lock().watchers_of(pres_uri, event);
    for s in watchers {
        let d = decide(pres_uri, &s.watcher_uri());
        if d.status == s.status {
            continue;
        }
        changed += 1;
        if let Some(st) = &p.store {
            let w = Watcher {
                pres_uri,
                user: &s.watcher_user,
                domain: &s.watcher_domain,
                event: ev.name,
            };
            if let Err(e) = st.update_watcher(&w, d.status, &d.reason, now()) {
                tracing::error!("presence: {e}");
            }
        }
        if d.status == Status::Terminated {
            p.delete_subscription(&s.key);
            let mut s = s;
            s.local_cseq += 1;
            s.version += 1;
            let reason = if d.reason.is_empty() {
                "rejected"
            } else {
                &d.reason
            };
            notify::send(p, &s, Some(reason));
            continue;
        }
        let mut updated = s.clone();
        updated.status = d.status;
        updated.reason = d.reason;
        if let Err(e) = p.save_subscription(updated) {
            tracing::error!("presence: {e}");
            continue;
        }
        notify::notify_one(p, &s.key);
    }
    if changed > 0 {
        notify::notify_winfo(p, pres_uri, event);
    }
    changed
}
