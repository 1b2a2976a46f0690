//! Probing of SIP destinations, shared by dispatcher, load_balancer, drouting and nathelper:
//! one thread per module sends, every `interval` seconds, a request (`OPTIONS` by default) to
//! each target the module lists, and tells the module of the answer, or of its absence once
//! `timeout` has passed. Targets may instead get raw bytes that expect no answer (nathelper's
//! UDP keep-alive). Replies come back through `core::local_replies` by the Via branch prefix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::script::module::InitCtx;
use crate::sip::Msg;
use crate::transport::{Destination, Proto, ReceiveInfo, SocketId};

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub method: String,
    pub from: String,
    /// Seconds between rounds; 0 = no probing.
    pub interval: u64,
    /// How long a probe may go unanswered.
    pub timeout: Duration,
    pub max_forwards: u32,
    /// Codes besides 200 that count as alive.
    pub reply_codes: Vec<u16>,
    /// Replies with these codes are no answer at all.
    pub ignore_codes: Vec<u16>,
}

impl ProbeConfig {
    /// The `probing_*` modparams of load_balancer and drouting (`probing_interval`,
    /// `probing_method`, `probing_from`, `probing_reply_codes`); a probe may go unanswered
    /// until the next round.
    pub fn from_probing_params(ctx: &InitCtx<'_>) -> Result<ProbeConfig, String> {
        use crate::modules::auth_db::db::{int_param, str_param};
        let interval = int_param(ctx, "probing_interval", 30)?.max(0) as u64;
        let method = str_param(ctx, "probing_method", "OPTIONS");
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "modparam probing_method: `{method}` is not a SIP method"
            ));
        }
        Ok(ProbeConfig {
            method,
            from: str_param(ctx, "probing_from", "sip:prober@localhost"),
            interval,
            timeout: Duration::from_secs(interval),
            max_forwards: 70,
            reply_codes: reply_codes(
                "probing_reply_codes",
                &str_param(ctx, "probing_reply_codes", ""),
            )?,
            ignore_codes: Vec::new(),
        })
    }
}

/// OPTIONS from `from` with `max_forwards`, every second, for the tests of the probing modules.
#[cfg(test)]
pub fn test_config(from: &str, max_forwards: u32) -> ProbeConfig {
    ProbeConfig {
        method: "OPTIONS".into(),
        from: from.into(),
        interval: 1,
        timeout: Duration::from_secs(1),
        max_forwards,
        reply_codes: vec![],
        ignore_codes: vec![],
    }
}

/// Parses a comma-separated list of reply codes (`options_reply_codes`).
pub fn reply_codes(param: &str, text: &str) -> Result<Vec<u16>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<u16>()
                .ok()
                .filter(|n| (100..700).contains(n))
                .ok_or_else(|| format!("modparam {param}: `{c}` is not a reply code"))
        })
        .collect()
}

/// What became of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200, or a code of `reply_codes`.
    Alive,
    /// Another final reply.
    Refused(u16),
    /// No final reply before the timeout.
    Silent,
}

/// One destination to probe; `key` comes back to the outcome hook.
pub struct Target<K> {
    pub key: K,
    pub uri: String,
    pub proto: Proto,
    pub addr: SocketAddr,
    /// The socket to send from (None: the transport picks one).
    pub socket: Option<SocketId>,
    /// Sent instead of a SIP request; no answer is expected.
    pub raw: Option<&'static [u8]>,
}

struct Pending<K> {
    key: K,
    deadline: Instant,
}

/// A prober thread of one module: every `interval` it sends the probe to what `targets`
/// returns; `outcome(key, answer)` hears of each answer, or of its absence after `timeout`.
pub struct Prober<K> {
    /// The module, in logs and the thread name.
    name: &'static str,
    branch_prefix: &'static str,
    /// Start of the probes' Call-IDs (`ds` gives `ds1f-0a1b2c3d@osips`).
    call_id_prefix: &'static str,
    user_agent: Option<&'static str>,
    targets: fn() -> Vec<Target<K>>,
    outcome: fn(K, Answer),
    pending: Mutex<Option<HashMap<String, Pending<K>>>>,
    cfg: Mutex<Option<ProbeConfig>>,
    generation: AtomicU64,
    seq: AtomicU64,
}

impl<K: Send + 'static> Prober<K> {
    pub const fn new(
        name: &'static str,
        branch_prefix: &'static str,
        targets: fn() -> Vec<Target<K>>,
        outcome: fn(K, Answer),
    ) -> Prober<K> {
        Prober {
            name,
            branch_prefix,
            call_id_prefix: "",
            user_agent: None,
            targets,
            outcome,
            pending: Mutex::new(None),
            cfg: Mutex::new(None),
            generation: AtomicU64::new(0),
            seq: AtomicU64::new(0),
        }
    }

    /// The Call-ID prefix and User-Agent of the probes.
    pub const fn signed(
        mut self,
        call_id_prefix: &'static str,
        user_agent: Option<&'static str>,
    ) -> Prober<K> {
        self.call_id_prefix = call_id_prefix;
        self.user_agent = user_agent;
        self
    }

    /// Starts the thread (nothing when `interval` is 0) and takes the replies whose branch
    /// starts with the prober's prefix.
    pub fn start(&'static self, cfg: ProbeConfig) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self.pending.lock() = Some(HashMap::new());
        *self.cfg.lock() = Some(cfg.clone());
        {
            let mut running = RUNNING.write();
            running.retain(|p| p.branch_prefix() != self.branch_prefix);
            running.push(self);
        }
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

    /// Ends the thread (at its next tick).
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
            self.round(&cfg);
        }
    }

    /// Probes not answered by their deadline are `Silent`.
    fn expire(&self, now: Instant) {
        let gone: Vec<Pending<K>> = {
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
            (self.outcome)(g.key, Answer::Silent);
        }
    }

    fn round(&self, cfg: &ProbeConfig) {
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
            let data = match target.raw {
                Some(raw) => Bytes::from_static(raw),
                None => {
                    let Some(via) = t.via_prefix(sock) else {
                        continue;
                    };
                    let n = self.seq.fetch_add(1, Ordering::Relaxed);
                    let branch =
                        format!("{}{n:x}{:08x}", self.branch_prefix, rand::random::<u32>());
                    let req = self.request(cfg, &target.uri, via, &branch, n);
                    if let Some(map) = self.pending.lock().as_mut() {
                        map.insert(
                            branch,
                            Pending {
                                key: target.key,
                                deadline: Instant::now() + cfg.timeout,
                            },
                        );
                    }
                    Bytes::from(req)
                }
            };
            let mut dest = Destination::new(target.proto, target.addr);
            dest.socket = Some(sock);
            if let Err(e) = t.send(&dest, data) {
                tracing::debug!("{}: probe to {} not sent: {e}", self.name, target.uri);
            }
        }
    }

    /// The probe request (RFC 3261 §11).
    pub fn request(
        &self,
        cfg: &ProbeConfig,
        uri: &str,
        via_prefix: &str,
        branch: &str,
        n: u64,
    ) -> String {
        let m = &cfg.method;
        let ua = self
            .user_agent
            .map(|ua| format!("User-Agent: {ua}\r\n"))
            .unwrap_or_default();
        format!(
            "{m} {uri} SIP/2.0\r\nVia: {via_prefix}{branch}\r\nMax-Forwards: {}\r\n\
             From: <{}>;tag={:08x}\r\nTo: <{uri}>\r\nCall-ID: {}{n:x}-{:08x}@osips\r\n\
             CSeq: 1 {m}\r\n{ua}Content-Length: 0\r\n\r\n",
            cfg.max_forwards,
            cfg.from,
            rand::random::<u32>(),
            self.call_id_prefix,
            rand::random::<u32>(),
        )
    }

    /// A reply to one of the probes (provisional ones and ignored codes are passed over).
    fn reply(&self, rpl: &Msg) {
        let Some(code) = rpl.status().filter(|&c| c >= 200) else {
            return;
        };
        let (alive, ignored) = match self.cfg.lock().as_ref() {
            Some(c) => (
                code == 200 || c.reply_codes.contains(&code),
                c.ignore_codes.contains(&code),
            ),
            None => (code == 200, false),
        };
        if ignored {
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
        let answer = if alive {
            Answer::Alive
        } else {
            Answer::Refused(code)
        };
        (self.outcome)(p.key, answer);
    }
}

/// The probers started, for [`on_reply`] to find the one a reply belongs to.
trait Replies: Sync {
    fn branch_prefix(&self) -> &'static str;
    fn reply(&self, rpl: &Msg);
}

impl<K: Send + 'static> Replies for Prober<K> {
    fn branch_prefix(&self) -> &'static str {
        self.branch_prefix
    }

    fn reply(&self, rpl: &Msg) {
        Prober::reply(self, rpl);
    }
}

static RUNNING: RwLock<Vec<&'static dyn Replies>> = RwLock::new(Vec::new());

/// The `core::local_replies` hook of every prober: hands the reply to its prober by branch.
fn on_reply(rpl: &Msg, _info: &ReceiveInfo) {
    let Some(branch) = rpl.via1().ok().and_then(|v| v.branch()) else {
        return;
    };
    let prober = RUNNING
        .read()
        .iter()
        .find(|p| branch.starts_with(p.branch_prefix().as_bytes()))
        .copied();
    if let Some(p) = prober {
        p.reply(rpl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() -> Vec<Target<u32>> {
        Vec::new()
    }

    fn note(_: u32, _: Answer) {}

    static PROBER: Prober<u32> =
        Prober::new("test", "z9hG4bKtestping", nothing, note).signed("t", Some("osips test"));

    #[test]
    fn the_probe_is_a_valid_request() {
        let cfg = test_config("sip:prober@localhost", 1);
        let text = PROBER.request(
            &cfg,
            "sip:127.0.0.2:5060",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKtestpingx",
            7,
        );
        let m = Msg::parse(Bytes::from(text)).unwrap();
        assert_eq!(m.ruri(), b"sip:127.0.0.2:5060");
        assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bKtestpingx"[..]));
        assert_eq!(m.max_forwards(), Some(1));
        assert!(m.call_id().starts_with(b"t7-"));
        assert_eq!(m.from().unwrap().uri.raw, b"sip:prober@localhost");
    }

    #[test]
    fn reply_codes_are_checked() {
        assert_eq!(reply_codes("x", " 404, 501 ,").unwrap(), vec![404, 501]);
        let e = reply_codes("options_reply_codes", "404,42").unwrap_err();
        assert!(e.contains("options_reply_codes") && e.contains("42"), "{e}");
    }
}
