//! Probing of the destinations (`probing_interval`, `probing_method`, `probing_from`,
//! `probing_reply_codes`): `probe_mode` 1 probes a disabled destination and enables it again
//! when it answers; 2 probes always and also disables a destination that stops answering.
//! A destination disabled through the MI stays disabled until the MI enables it. [`Prober`]
//! is the generic part, drouting probes its gateways with it too.

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

/// One destination to probe; `key` comes back to the outcome hook.
pub struct Target {
    pub key: String,
    pub uri: String,
    pub proto: crate::transport::Proto,
    pub addr: std::net::SocketAddr,
    pub socket: Option<crate::transport::SocketId>,
}

struct Pending {
    key: String,
    deadline: Instant,
}

/// A prober thread of one module: every `interval` it sends the probe to what `targets`
/// returns; `outcome(key, alive)` hears of each answer, or of its absence by the next round.
pub struct Prober {
    name: &'static str,
    branch_prefix: &'static str,
    targets: fn() -> Vec<Target>,
    outcome: fn(&str, bool),
    pending: Mutex<Option<HashMap<String, Pending>>>,
    cfg: Mutex<Option<ProbeConfig>>,
    generation: AtomicU64,
    seq: AtomicU64,
}

impl Prober {
    pub const fn new(
        name: &'static str,
        branch_prefix: &'static str,
        targets: fn() -> Vec<Target>,
        outcome: fn(&str, bool),
    ) -> Prober {
        Prober {
            name,
            branch_prefix,
            targets,
            outcome,
            pending: Mutex::new(None),
            cfg: Mutex::new(None),
            generation: AtomicU64::new(0),
            seq: AtomicU64::new(0),
        }
    }

    /// Starts the thread (nothing when `interval` is 0); `on_reply` hands replies whose branch
    /// starts with the prober's prefix to [`Prober::reply`].
    pub fn start(
        &'static self,
        cfg: ProbeConfig,
        on_reply: crate::core::local_replies::LocalReplyFn,
    ) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self.pending.lock() = Some(HashMap::new());
        *self.cfg.lock() = Some(cfg.clone());
        crate::core::local_replies::register(self.branch_prefix, on_reply);
        if cfg.interval == 0 {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name(format!("{}-prober", self.name))
            .spawn(move || self.run(cfg, generation));
        if let Err(e) = spawned {
            tracing::error!("{}: cannot start the prober: {e}", self.name);
        }
    }

    pub fn stop(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn run(&self, cfg: ProbeConfig, generation: u64) {
        let interval = Duration::from_secs(cfg.interval);
        let mut next = Instant::now() + interval;
        while self.generation.load(Ordering::SeqCst) == generation {
            std::thread::sleep(Duration::from_millis(100));
            self.expire(Instant::now());
            if Instant::now() < next {
                continue;
            }
            next = Instant::now() + interval;
            self.round(&cfg, interval);
        }
    }

    fn expire(&self, now: Instant) {
        let gone: Vec<Pending> = {
            let mut p = self.pending.lock();
            let Some(map) = p.as_mut() else { return };
            let keys: Vec<String> = map
                .iter()
                .filter(|(_, v)| v.deadline <= now)
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter().filter_map(|k| map.remove(&k)).collect()
        };
        for g in gone {
            (self.outcome)(&g.key, false);
        }
    }

    fn round(&self, cfg: &ProbeConfig, timeout: Duration) {
        let Some(core) = crate::runtime::global_shared().and_then(|s| s.core()) else {
            return;
        };
        let t = core.transport();
        for target in (self.targets)() {
            let Some(sock) = target
                .socket
                .or_else(|| t.pick_socket(target.proto, target.addr))
            else {
                continue;
            };
            let Some(via) = t.via_prefix(sock) else {
                continue;
            };
            let n = self.seq.fetch_add(1, Ordering::Relaxed);
            let branch = format!("{}{n:x}{:08x}", self.branch_prefix, rand::random::<u32>());
            let req = request(cfg, &target.uri, via, &branch, n);
            if let Some(map) = self.pending.lock().as_mut() {
                map.insert(
                    branch,
                    Pending {
                        key: target.key.clone(),
                        deadline: Instant::now() + timeout,
                    },
                );
            }
            let mut dest = Destination::new(target.proto, target.addr);
            dest.socket = Some(sock);
            if let Err(e) = t.send(&dest, Bytes::from(req)) {
                tracing::debug!("{}: probe to {} not sent: {e}", self.name, target.uri);
            }
        }
    }

    /// A final reply to one of the probes.
    pub fn reply(&self, rpl: &Msg) {
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
        let Some(p) = self.pending.lock().as_mut().and_then(|m| m.remove(&branch)) else {
            return;
        };
        let alive = code == 200
            || self
                .cfg
                .lock()
                .as_ref()
                .is_some_and(|c| c.reply_codes.contains(&code));
        (self.outcome)(&p.key, alive);
    }
}

static PROBER: Prober = Prober::new("load_balancer", BRANCH_PREFIX, targets, outcome);

pub fn start(cfg: ProbeConfig) {
    PROBER.start(cfg, on_reply);
}

pub fn stop() {
    PROBER.stop();
}

fn on_reply(rpl: &Msg, _info: &ReceiveInfo) {
    PROBER.reply(rpl);
}

/// probe_mode 2: every destination not disabled through the MI; 1: the disabled ones.
fn targets() -> Vec<Target> {
    let Some(data) = super::data() else {
        return Vec::new();
    };
    data.dests
        .iter()
        .filter(|d| match d.probe_mode {
            2 => !d.admin_disabled(),
            1 => !d.enabled() && !d.admin_disabled(),
            _ => false,
        })
        .filter_map(|d| {
            Some(Target {
                key: format!("{}|{}", d.id, d.uri),
                uri: d.uri.clone(),
                proto: d.dest.proto,
                addr: *d.dest.addrs.first()?,
                socket: None,
            })
        })
        .collect()
}

/// The same destination (id and URI) in the data in use now.
fn outcome(key: &str, alive: bool) {
    let Some((id, uri)) = key.split_once('|') else {
        return;
    };
    let Some(data) = super::data() else { return };
    let Some(d) = id
        .parse()
        .ok()
        .and_then(|id| data.by_id(id))
        .filter(|d| d.uri == uri)
    else {
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
