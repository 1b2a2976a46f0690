//! Keep-alives for registered contacts behind NAT (OpenSIPS nathelper `natping`): every
//! `natping_interval` seconds one thread walks usrloc; a contact with the usrloc `nat_bflag`
//! (or every contact unless `ping_nated_only`) gets 4 zero bytes over UDP, or a SIP request
//! (`sipping_method` from `sipping_from`) when it has `sipping_bflag`. A contact with
//! `remove_on_timeout_bflag` that leaves `max_pings_lost` SIP pings unanswered for
//! `ping_threshold` seconds each is removed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::sip::{Msg, Uri};
use crate::transport::{Destination, Proto, ReceiveInfo};

use super::natflags::is_private_ip;

const BRANCH_PREFIX: &str = "z9hG4bKnhping";
/// The UDP keep-alive OpenSIPS sends.
const KEEPALIVE: [u8; 4] = [0, 0, 0, 0];

#[derive(Debug, Clone)]
pub struct PingConfig {
    /// Seconds; 0 = off.
    pub interval: u64,
    pub nated_only: bool,
    pub sipping_bflag: Option<String>,
    pub remove_bflag: Option<String>,
    pub method: String,
    pub from: String,
    /// Seconds a SIP ping may go unanswered.
    pub threshold: u64,
    pub max_lost: u32,
    pub tcp: bool,
    /// Replies with these codes do not count as answers (`sipping_ignore_rpl_codes`).
    pub ignore_codes: Vec<u16>,
}

/// `nh_enable_ping`.
pub static ENABLED: AtomicBool = AtomicBool::new(true);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);

struct Pending {
    domain: String,
    aor: String,
    contact_id: u64,
    remove: bool,
    deadline: Instant,
}

#[derive(Default)]
struct Book {
    pending: HashMap<String, Pending>,
    /// Unanswered SIP pings in a row, by contact id.
    lost: HashMap<u64, u32>,
}

static BOOK: Mutex<Option<Book>> = Mutex::new(None);
static IGNORED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

pub fn start(cfg: PingConfig) {
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    *BOOK.lock() = Some(Book::default());
    *IGNORED.lock() = cfg.ignore_codes.clone();
    crate::core::local_replies::register(BRANCH_PREFIX, on_reply);
    if cfg.interval == 0 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("nh-pinger".into())
        .spawn(move || run(cfg, generation));
    if let Err(e) = spawned {
        tracing::error!("nathelper: cannot start the pinger: {e}");
    }
}

pub fn stop() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

fn run(cfg: PingConfig, generation: u64) {
    let interval = Duration::from_secs(cfg.interval);
    let mut next = Instant::now() + interval;
    while GENERATION.load(Ordering::SeqCst) == generation {
        std::thread::sleep(Duration::from_millis(100));
        expire(&cfg, Instant::now());
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + interval;
        if ENABLED.load(Ordering::Relaxed) {
            round(&cfg);
        }
    }
}

/// Bit of a branch flag named in a modparam, as the running script numbered it.
fn bflag_bit(name: Option<&str>) -> Option<u32> {
    let name = name?;
    let shared = crate::runtime::global_shared()?;
    let id = shared.script().flags.branch_id(name)?;
    Some(1u32 << id)
}

struct Target {
    domain: String,
    aor: String,
    contact_id: u64,
    uri: String,
    addr: SocketAddr,
    proto: Proto,
    sip: bool,
    remove: bool,
}

/// Where a contact is reached: its `received`, else the Contact URI; only IP literals.
fn address(contact: &str, received: Option<&str>) -> Option<(SocketAddr, Proto)> {
    let text = received.unwrap_or(contact);
    let u = Uri::parse(text.as_bytes()).ok()?;
    let proto = u
        .param(b"transport")
        .and_then(|t| Proto::from_token(&String::from_utf8_lossy(t)))
        .unwrap_or(Proto::Udp);
    let host = String::from_utf8_lossy(u.host);
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some((
        SocketAddr::new(ip, u.port.unwrap_or(proto.default_port())),
        proto,
    ))
}

fn targets(cfg: &PingConfig) -> Vec<Target> {
    let Some(ul) = crate::modules::usrloc::usrloc() else {
        return Vec::new();
    };
    let nat = bflag_bit(ul.config().nat_bflag.as_deref());
    let sipping = bflag_bit(cfg.sipping_bflag.as_deref());
    let remove = bflag_bit(cfg.remove_bflag.as_deref());
    let has = |flags: u32, bit: Option<u32>| bit.is_some_and(|b| flags & b != 0);
    let mut out = Vec::new();
    for d in ul.domains() {
        d.for_each(|r| {
            for c in &r.contacts {
                if cfg.nated_only && !has(c.cflags, nat) {
                    continue;
                }
                let Some((addr, proto)) = address(c.contact(), c.received()) else {
                    continue;
                };
                // A private address is only reachable through the NAT's public one (received).
                if is_private_ip(addr.ip(), true) || (proto != Proto::Udp && !cfg.tcp) {
                    continue;
                }
                out.push(Target {
                    domain: d.name().to_string(),
                    aor: r.aor.to_string(),
                    contact_id: c.contact_id,
                    uri: c.contact().to_string(),
                    addr,
                    proto,
                    sip: has(c.cflags, sipping),
                    remove: has(c.cflags, remove),
                });
            }
        });
    }
    out
}

fn round(cfg: &PingConfig) {
    let Some(core) = crate::runtime::global_shared().and_then(|s| s.core()) else {
        return;
    };
    let t = core.transport();
    for tg in targets(cfg) {
        let Some(sock) = t.pick_socket(tg.proto, tg.addr) else {
            continue;
        };
        let mut dest = Destination::new(tg.proto, tg.addr);
        dest.socket = Some(sock);
        let data = if tg.sip {
            let Some(via) = t.via_prefix(sock) else {
                continue;
            };
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let branch = format!("{BRANCH_PREFIX}{n:x}{:08x}", rand::random::<u32>());
            let req = request(cfg, &tg.uri, via, &branch, n);
            if let Some(b) = BOOK.lock().as_mut() {
                b.pending.insert(
                    branch,
                    Pending {
                        domain: tg.domain.clone(),
                        aor: tg.aor.clone(),
                        contact_id: tg.contact_id,
                        remove: tg.remove,
                        deadline: Instant::now() + Duration::from_secs(cfg.threshold.max(1)),
                    },
                );
            }
            Bytes::from(req)
        } else {
            Bytes::from_static(&KEEPALIVE)
        };
        if let Err(e) = t.send(&dest, data) {
            tracing::debug!("nathelper: ping to {} not sent: {e}", tg.addr);
        }
    }
}

/// The SIP ping (`sipping_method`, OPTIONS by default).
pub fn request(cfg: &PingConfig, uri: &str, via_prefix: &str, branch: &str, n: u64) -> String {
    let m = &cfg.method;
    format!(
        "{m} {uri} SIP/2.0\r\nVia: {via_prefix}{branch}\r\nMax-Forwards: 70\r\n\
         From: <{}>;tag={:08x}\r\nTo: <{uri}>\r\nCall-ID: nh{n:x}-{:08x}@osips\r\n\
         CSeq: 1 {m}\r\nContent-Length: 0\r\n\r\n",
        cfg.from,
        rand::random::<u32>(),
        rand::random::<u32>(),
    )
}

fn expire(cfg: &PingConfig, now: Instant) {
    let mut doomed = Vec::new();
    {
        let mut g = BOOK.lock();
        let Some(b) = g.as_mut() else { return };
        let late: Vec<String> = b
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in late {
            let Some(p) = b.pending.remove(&k) else {
                continue;
            };
            let n = b.lost.entry(p.contact_id).or_insert(0);
            *n += 1;
            if p.remove && *n >= cfg.max_lost.max(1) {
                b.lost.remove(&p.contact_id);
                doomed.push(p);
            }
        }
    }
    for p in doomed {
        remove_contact(&p);
    }
}

fn remove_contact(p: &Pending) {
    let Ok(d) = crate::modules::usrloc::domain(&p.domain) else {
        return;
    };
    let Ok(mut g) = d.lock(&p.aor, true) else {
        return;
    };
    if g.contacts().iter().any(|c| c.contact_id == p.contact_id) {
        match g.delete(p.contact_id) {
            Ok(()) => tracing::info!(
                "nathelper: contact of {} removed: {} pings unanswered",
                p.aor,
                "max_pings_lost"
            ),
            Err(e) => tracing::error!("nathelper: cannot remove a contact of {}: {e}", p.aor),
        }
    }
}

fn on_reply(rpl: &Msg, _info: &ReceiveInfo) {
    let Some(code) = rpl.status().filter(|&c| c >= 200) else {
        return;
    };
    if IGNORED.lock().contains(&code) {
        return;
    }
    let Some(branch) = rpl
        .via1()
        .ok()
        .and_then(|v| v.branch().map(|b| String::from_utf8_lossy(b).into_owned()))
    else {
        return;
    };
    let mut g = BOOK.lock();
    let Some(b) = g.as_mut() else { return };
    if let Some(p) = b.pending.remove(&branch) {
        b.lost.remove(&p.contact_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_goes_to_received_first() {
        let (a, p) = address("sip:a@10.0.0.5:5062", Some("sip:127.0.0.1:40000")).unwrap();
        assert_eq!(a, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(p, Proto::Udp);
        let (a, p) = address("sip:a@127.0.0.3;transport=tcp", None).unwrap();
        assert_eq!(a, "127.0.0.3:5060".parse().unwrap());
        assert_eq!(p, Proto::Tcp);
        assert!(address("sip:a@example.com", None).is_none());
    }

    #[test]
    fn the_sip_ping_parses() {
        let cfg = PingConfig {
            interval: 1,
            nated_only: true,
            sipping_bflag: None,
            remove_bflag: None,
            method: "OPTIONS".into(),
            from: "sip:pinger@127.0.0.1".into(),
            threshold: 3,
            max_lost: 3,
            tcp: false,
            ignore_codes: vec![],
        };
        let t = request(
            &cfg,
            "sip:a@127.0.0.2:5070",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKnhpingx",
            1,
        );
        let m = Msg::parse(Bytes::from(t)).unwrap();
        assert_eq!(m.ruri(), b"sip:a@127.0.0.2:5070");
        assert_eq!(m.from().unwrap().uri.raw, b"sip:pinger@127.0.0.1");
    }
}
