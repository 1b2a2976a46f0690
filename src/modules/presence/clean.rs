//! The module's timer: every `clean_period` the ended subscriptions get a terminated NOTIFY and
//! go, ended publications go and their watchers hear the new state; every `db_update_period`
//! (without fallback2db) changed subscriptions are written to the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Presence, notify, now};

static GENERATION: AtomicU64 = AtomicU64::new(0);

pub fn start(p: &Arc<Presence>) {
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let clean = p.cfg.clean_period;
    let flush = if p.cfg.fallback2db || p.store.is_none() {
        0
    } else {
        p.cfg.db_update_period
    };
    if clean == 0 && flush == 0 {
        return;
    }
    let weak = Arc::downgrade(p);
    let spawned = std::thread::Builder::new()
        .name("presence-timer".into())
        .spawn(move || {
            let every = |s: u64| (s > 0).then(|| Duration::from_secs(s));
            let (clean, flush) = (every(clean), every(flush));
            let (mut next_clean, mut next_flush) = (Instant::now(), Instant::now());
            while GENERATION.load(Ordering::SeqCst) == generation {
                std::thread::sleep(Duration::from_millis(200));
                let Some(p) = weak.upgrade() else { return };
                let t = Instant::now();
                if let Some(c) = clean
                    && t >= next_clean
                {
                    next_clean = t + c;
                    cleanup(&p);
                }
                if let Some(f) = flush
                    && t >= next_flush
                {
                    next_flush = t + f;
                    p.flush();
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("presence: cannot start the timer: {e}");
    }
}

pub fn stop() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// One cleanup round (also MI `cleanup`).
pub fn cleanup(p: &Arc<Presence>) {
    let now = now();
    let ended = p.subs.lock().take_expired(now);
    let mut watched: Vec<(String, String)> = Vec::new();
    for mut s in ended {
        let k = (s.pres_uri.clone(), s.event.clone());
        if !watched.contains(&k) {
            watched.push(k);
        }
        if let Some(st) = &p.store
            && let Err(e) = st.delete_subscription(&s.key)
        {
            tracing::error!("presence: {e}");
        }
        s.local_cseq += 1;
        s.version += 1;
        notify::send(p, &s, Some("timeout"));
    }
    for (uri, ev) in watched {
        notify::notify_winfo(p, &uri, &ev);
    }
    let gone = p.pres.lock().take_expired(now);
    for publ in &gone {
        if let Some(st) = &p.store
            && let Err(e) = st.delete_publication(publ)
        {
            tracing::error!("presence: {e}");
        }
    }
    let mut told: Vec<(String, String)> = Vec::new();
    for publ in gone {
        let k = (publ.pres_uri(), publ.event.clone());
        if !told.contains(&k) {
            notify::notify_watchers(p, &k.0, &k.1, None);
            told.push(k);
        }
    }
    if let Some(st) = &p.store {
        let results = [
            st.delete_expired_publications(now),
            st.delete_expired_subscriptions(now),
            st.delete_old_pending_watchers(
                now.saturating_sub(p.cfg.waiting_subs_daysno as u64 * 86_400),
            ),
        ];
        for r in results {
            if let Err(e) = r {
                tracing::error!("presence: {e}");
            }
        }
    }
}
