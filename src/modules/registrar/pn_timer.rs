//! The refresh timer of push contacts (OpenSIPS usrloc `ul-refresh-timer`): a push contact
//! whose device has not re-registered `pn_trigger_interval` seconds before it expires gets one
//! E_UL_CONTACT_REFRESH (reason `reg-refresh`), so the script pushes the device into
//! refreshing its binding. A re-registration moves the expiry and re-arms the timer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::modules::usrloc;

use super::pn::FL_PN_ON;

/// OpenSIPS's reason for a timer-driven refresh.
pub const REASON: &str = "reg-refresh";

/// Bumped by every start: an older timer thread sees it and ends.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// A push contact as the timer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub domain: String,
    pub aor: String,
    pub contact_id: u64,
    pub flags: u32,
    pub expires: i64,
}

/// The contacts due a refresh event at `now`; `raised` remembers the expiry each was raised
/// for (one event per binding period) and forgets contacts that are gone.
pub fn due(
    contacts: Vec<Watched>,
    now: i64,
    trigger_interval: u32,
    raised: &mut HashMap<(String, u64), i64>,
) -> Vec<Watched> {
    let mut seen = HashMap::with_capacity(raised.len());
    let mut out = Vec::new();
    for c in contacts {
        if c.flags & FL_PN_ON == 0 || c.expires == 0 || c.expires <= now {
            continue;
        }
        let key = (c.domain.clone(), c.contact_id);
        if let Some(&e) = raised.get(&key) {
            seen.insert(key.clone(), e);
        }
        if now < c.expires - i64::from(trigger_interval) || seen.get(&key) == Some(&c.expires) {
            continue;
        }
        seen.insert(key, c.expires);
        out.push(c);
    }
    *raised = seen;
    out
}

fn watched() -> Vec<Watched> {
    let Some(ul) = usrloc::usrloc() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in ul.domains() {
        d.for_each(|r| {
            for c in r.contacts.iter().filter(|c| c.flags & FL_PN_ON != 0) {
                out.push(Watched {
                    domain: d.name().to_string(),
                    aor: r.aor.to_string(),
                    contact_id: c.contact_id,
                    flags: c.flags,
                    expires: c.expires,
                });
            }
        });
    }
    out
}

/// Starts the once-a-second check on a thread of its own (the events run script routes).
pub fn start(trigger_interval: u32) {
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let spawned = std::thread::Builder::new()
        .name("pn-refresh".into())
        .spawn(move || {
            let mut raised = HashMap::new();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                if GENERATION.load(Ordering::SeqCst) != generation {
                    return;
                }
                let now = usrloc::now();
                for c in due(watched(), now, trigger_interval, &mut raised) {
                    let Ok(dom) = usrloc::domain(&c.domain) else {
                        continue;
                    };
                    if let Err(e) = dom.raise_refresh(&c.aor, c.contact_id, REASON, "") {
                        tracing::error!("registrar: refresh event for {}: {e}", c.aor);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("registrar: cannot start the push contact refresh timer: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: u64, flags: u32, expires: i64) -> Watched {
        Watched {
            domain: "location".into(),
            aor: "dev".into(),
            contact_id: id,
            flags,
            expires,
        }
    }

    #[test]
    fn one_event_per_binding_period() {
        let mut raised = HashMap::new();
        let cts = || vec![w(1, FL_PN_ON, 1000), w(2, 0, 1000), w(3, FL_PN_ON, 0)];
        // 120 s before expiry: not yet
        assert!(due(cts(), 879, 120, &mut raised).is_empty());
        let d = due(cts(), 880, 120, &mut raised);
        assert_eq!(d.iter().map(|c| c.contact_id).collect::<Vec<_>>(), [1]);
        // raised once only
        assert!(due(cts(), 881, 120, &mut raised).is_empty());
        // the device re-registered: a new period
        let again = vec![w(1, FL_PN_ON, 1300)];
        assert!(due(again.clone(), 900, 120, &mut raised).is_empty());
        assert_eq!(due(again, 1180, 120, &mut raised).len(), 1);
        // expired or gone contacts are forgotten
        assert!(due(vec![w(1, FL_PN_ON, 1300)], 1300, 120, &mut raised).is_empty());
        assert!(raised.is_empty());
    }
}
