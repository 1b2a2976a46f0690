//! OPTIONS probing (OpenSIPS `ds_check_timer` / `ds_options_callback`) with the shared
//! [`Prober`]: every `ds_ping_interval` seconds it pings the probing destinations (all of them
//! with `ds_probing_mode` 1 or `probe_mode` 1); a 200 or a code of `options_reply_codes` makes
//! a destination active again, a failure or no reply before the next round counts towards
//! `ds_probing_threshold`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crate::modules::probe::{self, Answer, Prober, Target};
use crate::script::module::InitCtx;

use super::set::DsState;

#[derive(Debug, Clone)]
pub struct PingConfig {
    pub probe: probe::ProbeConfig,
    pub threshold: u32,
    /// `ds_probing_mode` 1: probe every destination, not only the probing ones.
    pub all: bool,
}

impl PingConfig {
    pub fn from_params(ctx: &InitCtx<'_>) -> Result<PingConfig, String> {
        use super::super::auth_db::db::{int_param, str_param};
        let nonneg = |name: &str, d: i64| -> Result<i64, String> {
            let v = int_param(ctx, name, d)?;
            if v < 0 {
                return Err(format!("modparam {name}: {v} is negative"));
            }
            Ok(v)
        };
        let interval = nonneg("ds_ping_interval", 10)? as u64;
        Ok(PingConfig {
            probe: probe::ProbeConfig {
                method: str_param(ctx, "ds_ping_method", "OPTIONS"),
                from: str_param(ctx, "ds_ping_from", "sip:dispatcher@localhost"),
                interval,
                timeout: Duration::from_secs(interval),
                max_forwards: nonneg("ds_ping_maxfwd", 1)? as u32,
                reply_codes: probe::reply_codes(
                    "options_reply_codes",
                    &str_param(ctx, "options_reply_codes", ""),
                )?,
                ignore_codes: Vec::new(),
            },
            threshold: nonneg("ds_probing_threshold", 3)? as u32,
            all: nonneg("ds_probing_mode", 0)? == 1,
        })
    }
}

/// The destination a probe went to: set id and URI.
type Key = (i32, String);

static PROBER: Prober<Key> = Prober::new("dispatcher", "z9hG4bKdsping", targets, outcome)
    .signed("ds", Some("osips dispatcher"));
static THRESHOLD: AtomicU32 = AtomicU32::new(3);
static PROBE_ALL: AtomicBool = AtomicBool::new(false);

/// Starts the prober thread (nothing when `interval` is 0).
pub fn start(cfg: PingConfig) {
    THRESHOLD.store(cfg.threshold, Ordering::Relaxed);
    PROBE_ALL.store(cfg.all, Ordering::Relaxed);
    PROBER.start(cfg.probe);
}

pub fn stop() {
    PROBER.stop();
}

fn targets() -> Vec<Target<Key>> {
    let Some(sets) = super::sets() else {
        return Vec::new();
    };
    let all = PROBE_ALL.load(Ordering::Relaxed);
    let mut out = Vec::new();
    for s in &sets.sets {
        for d in &s.dests {
            let wanted = match d.state() {
                DsState::Probing => true,
                DsState::Active => all || d.always_probe,
                DsState::Inactive | DsState::Disabled => false,
            };
            let Some(&addr) = d.addrs.first() else {
                continue;
            };
            if wanted {
                out.push(Target {
                    key: (s.id, d.uri.clone()),
                    uri: d.uri.clone(),
                    proto: d.proto,
                    addr,
                    socket: d.socket.as_deref().and_then(super::socket_id),
                    raw: None,
                });
            }
        }
    }
    out
}

fn outcome((setid, uri): Key, answer: Answer) {
    let Some(sets) = super::sets() else { return };
    let Some(d) = sets.find(setid, &uri) else {
        return;
    };
    if answer == Answer::Alive {
        d.failures.store(0, Ordering::Relaxed);
        if d.state() == DsState::Probing {
            super::change_state(setid, d, DsState::Active);
        }
    } else {
        super::note_failure(setid, d, THRESHOLD.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Msg;

    #[test]
    fn the_probe_is_a_valid_options_request() {
        let cfg = probe::test_config("sip:dispatcher@localhost", 1);
        let text = PROBER.request(
            &cfg,
            "sip:127.0.0.2:5060",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKdspingx",
            7,
        );
        let m = Msg::parse(bytes::Bytes::from(text)).unwrap();
        assert_eq!(m.ruri(), b"sip:127.0.0.2:5060");
        assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bKdspingx"[..]));
        assert_eq!(m.max_forwards(), Some(1));
        assert!(m.call_id().starts_with(b"ds7-"));
    }
}
