//! Probing of the destinations (`probing_interval`, `probing_method`, `probing_from`,
//! `probing_reply_codes`): `probe_mode` 1 probes a disabled destination and enables it again
//! when it answers; 2 probes always and also disables a destination that stops answering.
//! A destination disabled through the MI stays disabled until the MI enables it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::script::module::InitCtx;
use crate::sip::Msg;
use crate::transport::{Destination, ReceiveInfo};

const BRANCH_PREFIX: &str = "z9hG4bKlbping";

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub method: String,
    pub from: String,
    /// Seconds; 0 = no probing.
    pub interval: u64,
    /// Codes besides 200 that count as alive.
    pub reply_codes: Vec<u16>,
}

impl ProbeConfig {
    pub fn from_params(ctx: &InitCtx<'_>) -> Result<ProbeConfig, String> {
        use crate::modules::auth_db::db::{int_param, str_param};
        let interval = int_param(ctx, "probing_interval", 30)?;
        let reply_codes = str_param(ctx, "probing_reply_codes", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|c| {
                c.parse::<u16>()
                    .ok()
                    .filter(|n| (100..700).contains(n))
                    .ok_or_else(|| format!("modparam probing_reply_codes: `{c}` is not a SIP code"))
            })
            .collect::<Result<_, _>>()?;
        let method = str_param(ctx, "probing_method", "OPTIONS");
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "modparam probing_method: `{method}` is not a SIP method"
            ));
        }
        Ok(ProbeConfig {
            method,
            from: str_param(ctx, "probing_from", "sip:prober@localhost"),
            interval: interval.max(0) as u64,
            reply_codes,
        })
    }
}

struct Pending {
    id: u32,
    uri: String,
    deadline: Instant,
}

static PENDING: Mutex<Option<HashMap<String, Pending>>> = Mutex::new(None);
static CFG: Mutex<Option<ProbeConfig>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);

pub fn start(cfg: ProbeConfig) {
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    *PENDING.lock() = Some(HashMap::new());
    *CFG.lock() = Some(cfg.clone());
    crate::core::local_replies::register(BRANCH_PREFIX, on_reply);
    if cfg.interval == 0 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("lb-prober".into())
        .spawn(move || run(cfg, generation));
    if let Err(e) = spawned {
        tracing::error!("load_balancer: cannot start the prober: {e}");
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
        expire(Instant::now());
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + interval;
        ping_round(&cfg, interval);
    }
}

/// The same destination (id and URI) in the data in use now.
fn outcome(id: u32, uri: &str, alive: bool) {
    let Some(data) = super::data() else { return };
    let Some(d) = data.by_id(id).filter(|d| d.uri == uri) else {
        return;
    };
    if alive {
        if !d.enabled() && !d.admin_disabled() && d.probe_mode != 0 {
            super::set_enabled(d, true);
        }
    } else if d.enabled() && d.probe_mode == 2 {
        super::set_enabled(d, false);
    }
}

fn expire(now: Instant) {
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
        outcome(g.id, &g.uri, false);
    }
}

fn ping_round(cfg: &ProbeConfig, timeout: Duration) {
    let (Some(data), Some(core)) = (
        super::data(),
        crate::runtime::global_shared().and_then(|s| s.core()),
    ) else {
        return;
    };
    let t = core.transport();
    for d in &data.dests {
        let wanted = match d.probe_mode {
            2 => !d.admin_disabled(),
            1 => !d.enabled() && !d.admin_disabled(),
            _ => false,
        };
        let Some(&addr) = d.dest.addrs.first() else {
            continue;
        };
        if !wanted {
            continue;
        }
        let Some(sock) = t.pick_socket(d.dest.proto, addr) else {
            continue;
        };
        let Some(via) = t.via_prefix(sock) else {
            continue;
        };
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let branch = format!("{BRANCH_PREFIX}{n:x}{:08x}", rand::random::<u32>());
        let req = request(cfg, &d.uri, via, &branch, n);
        if let Some(map) = PENDING.lock().as_mut() {
            map.insert(
                branch,
                Pending {
                    id: d.id,
                    uri: d.uri.clone(),
                    deadline: Instant::now() + timeout,
                },
            );
        }
        let mut dest = Destination::new(d.dest.proto, addr);
        dest.socket = Some(sock);
        if let Err(e) = t.send(&dest, Bytes::from(req)) {
            tracing::debug!("load_balancer: probe to {} not sent: {e}", d.uri);
        }
    }
}

/// The probe request (RFC 3261 §11).
fn request(cfg: &ProbeConfig, uri: &str, via_prefix: &str, branch: &str, n: u64) -> String {
    let m = &cfg.method;
    format!(
        "{m} {uri} SIP/2.0\r\nVia: {via_prefix}{branch}\r\nMax-Forwards: 70\r\n\
         From: <{}>;tag={:08x}\r\nTo: <{uri}>\r\nCall-ID: lb{n:x}-{:08x}@osips\r\n\
         CSeq: 1 {m}\r\nUser-Agent: osips load_balancer\r\nContent-Length: 0\r\n\r\n",
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
    let alive = code == 200
        || CFG
            .lock()
            .as_ref()
            .is_some_and(|c| c.reply_codes.contains(&code));
    outcome(p.id, &p.uri, alive);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_a_valid_request() {
        let cfg = ProbeConfig {
            method: "OPTIONS".into(),
            from: "sip:lb@localhost".into(),
            interval: 1,
            reply_codes: vec![],
        };
        let text = request(
            &cfg,
            "sip:127.0.0.2:5060",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKlbpingx",
            7,
        );
        let m = Msg::parse(Bytes::from(text)).unwrap();
        assert_eq!(m.ruri(), b"sip:127.0.0.2:5060");
        assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bKlbpingx"[..]));
    }
}
