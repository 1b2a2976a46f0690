//! OPTIONS probing (OpenSIPS `ds_check_timer` / `ds_options_callback`): one thread pings, every
//! `ds_ping_interval` seconds, the probing destinations (all of them with `ds_probing_mode` 1 or
//! `probe_mode` 1); a 200 or a code of `options_reply_codes` makes a destination active again, a
//! failure or no reply before the next round counts towards `ds_probing_threshold`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::script::module::InitCtx;
use crate::sip::Msg;
use crate::transport::{Destination, ReceiveInfo};

use super::set::DsState;

/// Branch prefix of the probes; their replies come back through `core::local_replies`.
const BRANCH_PREFIX: &str = "z9hG4bKdsping";

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub method: String,
    pub from: String,
    /// Seconds; 0 = no probing.
    pub interval: u64,
    pub threshold: u32,
    /// 1: probe every destination, not only the probing ones.
    pub mode: i64,
    pub max_forwards: u32,
    /// Codes accepted besides 200.
    pub reply_codes: Vec<u16>,
}

impl ProbeConfig {
    pub fn from_params(ctx: &InitCtx<'_>) -> Result<ProbeConfig, String> {
        use super::super::auth_db::db::{int_param, str_param};
        let nonneg = |name: &str, d: i64| -> Result<i64, String> {
            let v = int_param(ctx, name, d)?;
            if v < 0 {
                return Err(format!("modparam {name}: {v} is negative"));
            }
            Ok(v)
        };
        let codes = str_param(ctx, "options_reply_codes", "");
        let reply_codes = codes
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<u16>()
                    .ok()
                    .filter(|n| (100..700).contains(n))
                    .ok_or_else(|| {
                        format!("modparam options_reply_codes: `{c}` is not a reply code")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProbeConfig {
            method: str_param(ctx, "ds_ping_method", "OPTIONS"),
            from: str_param(ctx, "ds_ping_from", "sip:dispatcher@localhost"),
            interval: nonneg("ds_ping_interval", 10)? as u64,
            threshold: nonneg("ds_probing_threshold", 3)? as u32,
            mode: nonneg("ds_probing_mode", 0)?,
            max_forwards: nonneg("ds_ping_maxfwd", 1)? as u32,
            reply_codes,
        })
    }
}

struct Pending {
    setid: i32,
    uri: String,
    deadline: Instant,
}

static PENDING: Mutex<Option<HashMap<String, Pending>>> = Mutex::new(None);
static CFG: Mutex<Option<ProbeConfig>> = Mutex::new(None);
/// Bumped by `stop`: a thread of an older generation ends.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Starts the prober thread (nothing when `interval` is 0).
pub fn start(cfg: ProbeConfig) {
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    *PENDING.lock() = Some(HashMap::new());
    *CFG.lock() = Some(cfg.clone());
    crate::core::local_replies::register(BRANCH_PREFIX, on_reply);
    if cfg.interval == 0 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ds-prober".into())
        .spawn(move || run(cfg, generation));
    if let Err(e) = spawned {
        tracing::error!("dispatcher: cannot start the prober: {e}");
    }
}

pub fn stop() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

fn run(cfg: ProbeConfig, generation: u64) {
    let interval = Duration::from_secs(cfg.interval);
    let mut next = Instant::now() + interval;
    while GENERATION.load(Ordering::SeqCst) == generation {
        std::thread::sleep(Duration::from_millis(100));
        expire(&cfg, Instant::now());
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + interval;
        ping_round(&cfg, interval);
    }
}

/// Probes not answered by their deadline count as failures.
fn expire(cfg: &ProbeConfig, now: Instant) {
    let gone: Vec<Pending> = {
        let mut p = PENDING.lock();
        let Some(map) = p.as_mut() else { return };
        let keys: Vec<String> = map
            .iter()
            .filter(|(_, v)| v.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter().filter_map(|k| map.remove(&k)).collect()
    };
    for g in gone {
        failed(cfg, g.setid, &g.uri);
    }
}

fn failed(cfg: &ProbeConfig, setid: i32, uri: &str) {
    if let Some(sets) = super::sets()
        && let Some(d) = sets.find(setid, uri)
    {
        super::note_failure(setid, d, cfg.threshold);
    }
}

fn ping_round(cfg: &ProbeConfig, timeout: Duration) {
    let (Some(sets), Some(core)) = (
        super::sets(),
        crate::runtime::global_shared().and_then(|s| s.core()),
    ) else {
        return;
    };
    let t = core.transport();
    for s in &sets.sets {
        for d in &s.dests {
            let st = d.state();
            let wanted = match st {
                DsState::Probing => true,
                DsState::Active => cfg.mode == 1 || d.always_probe,
                DsState::Inactive | DsState::Disabled => false,
            };
            let Some(&addr) = d.addrs.first() else {
                continue;
            };
            if !wanted {
                continue;
            }
            let forced = d.socket.as_deref().and_then(super::socket_id);
            let Some(sock) = forced.or_else(|| t.pick_socket(d.proto, addr)) else {
                continue;
            };
            let Some(via) = t.via_prefix(sock) else {
                continue;
            };
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let branch = format!("{BRANCH_PREFIX}{n:x}{:08x}", rand::random::<u32>());
            let req = options(cfg, &d.uri, via, &branch, n);
            if let Some(map) = PENDING.lock().as_mut() {
                map.insert(
                    branch,
                    Pending {
                        setid: s.id,
                        uri: d.uri.clone(),
                        deadline: Instant::now() + timeout,
                    },
                );
            }
            let mut dest = Destination::new(d.proto, addr);
            dest.socket = Some(sock);
            if let Err(e) = t.send(&dest, Bytes::from(req)) {
                tracing::debug!("dispatcher: probe to {} not sent: {e}", d.uri);
            }
        }
    }
}

/// The probe request (RFC 3261 §11 OPTIONS).
pub fn options(cfg: &ProbeConfig, uri: &str, via_prefix: &str, branch: &str, n: u64) -> String {
    let m = &cfg.method;
    format!(
        "{m} {uri} SIP/2.0\r\nVia: {via_prefix}{branch}\r\nMax-Forwards: {}\r\n\
         From: <{}>;tag={:08x}\r\nTo: <{uri}>\r\nCall-ID: ds{n:x}-{:08x}@osips\r\n\
         CSeq: 1 {m}\r\nUser-Agent: osips dispatcher\r\nContent-Length: 0\r\n\r\n",
        cfg.max_forwards,
        cfg.from,
        rand::random::<u32>(),
        rand::random::<u32>(),
    )
}

fn on_reply(rpl: &Msg, _info: &ReceiveInfo) {
    let Some(code) = rpl.status() else { return };
    if code < 200 {
        return;
    }
    let Some(branch) = rpl
        .via1()
        .ok()
        .and_then(|v| v.branch().map(|b| String::from_utf8_lossy(b).into_owned()))
    else {
        return;
    };
    let Some(p) = PENDING.lock().as_mut().and_then(|m| m.remove(&branch)) else {
        return;
    };
    let Some(cfg) = CFG.lock().clone() else {
        return;
    };
    if code == 200 || cfg.reply_codes.contains(&code) {
        if let Some(sets) = super::sets()
            && let Some(d) = sets.find(p.setid, &p.uri)
        {
            d.failures.store(0, Ordering::Relaxed);
            if d.state() == DsState::Probing {
                super::change_state(p.setid, d, DsState::Active);
            }
        }
    } else {
        failed(&cfg, p.setid, &p.uri);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_a_valid_options_request() {
        let cfg = ProbeConfig {
            method: "OPTIONS".into(),
            from: "sip:dispatcher@localhost".into(),
            interval: 1,
            threshold: 3,
            mode: 0,
            max_forwards: 1,
            reply_codes: vec![],
        };
        let text = options(
            &cfg,
            "sip:127.0.0.2:5060",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKdspingx",
            7,
        );
        let m = Msg::parse(Bytes::from(text)).unwrap();
        assert_eq!(m.ruri(), b"sip:127.0.0.2:5060");
        assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bKdspingx"[..]));
        assert_eq!(m.max_forwards(), Some(1));
    }
}
