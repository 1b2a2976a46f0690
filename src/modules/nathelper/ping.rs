//! Keep-alives for registered contacts behind NAT (OpenSIPS nathelper `natping`): every
//! `natping_interval` seconds one thread walks usrloc; a contact with the usrloc `nat_bflag`
//! (or every contact unless `ping_nated_only`) gets 4 zero bytes over UDP, or a SIP request
//! (`sipping_method` from `sipping_from`) when it has `sipping_bflag`. A contact with
//! `remove_on_timeout_bflag` that leaves `max_pings_lost` SIP pings unanswered for
//! `ping_threshold` seconds each is removed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::modules::probe::{Answer, ProbeConfig, Prober, Target};
use crate::sip::Uri;
use crate::transport::Proto;

use super::natflags::is_private_ip;

/// The UDP keep-alive OpenSIPS sends.
const KEEPALIVE: [u8; 4] = [0, 0, 0, 0];

#[derive(Debug, Clone)]
pub struct PingConfig {
    /// `natping_interval`, `sipping_method`, `sipping_from`, `ping_threshold` (the timeout)
    /// and `sipping_ignore_rpl_codes`.
    pub probe: ProbeConfig,
    pub nated_only: bool,
    pub sipping_bflag: Option<String>,
    pub remove_bflag: Option<String>,
    pub max_lost: u32,
    pub tcp: bool,
}

/// `nh_enable_ping`.
pub static ENABLED: AtomicBool = AtomicBool::new(true);

/// The contact a SIP ping went to.
struct Key {
    domain: String,
    aor: String,
    contact_id: u64,
    remove: bool,
}

static PROBER: Prober<Key> =
    Prober::new("nathelper", "z9hG4bKnhping", targets, outcome).signed("nh", None);
static CFG: Mutex<Option<PingConfig>> = Mutex::new(None);
/// Unanswered SIP pings in a row, by contact id.
static LOST: Mutex<Option<HashMap<u64, u32>>> = Mutex::new(None);

pub fn start(cfg: PingConfig) {
    *LOST.lock() = Some(HashMap::new());
    *CFG.lock() = Some(cfg.clone());
    PROBER.start(cfg.probe);
}

pub fn stop() {
    PROBER.stop();
}

/// Bit of a branch flag named in a modparam, as the running script numbered it.
fn bflag_bit(name: Option<&str>) -> Option<u32> {
    let name = name?;
    let shared = crate::runtime::global_shared()?;
    let id = shared.script().flags.branch_id(name)?;
    Some(1u32 << id)
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

fn targets() -> Vec<Target<Key>> {
    let Some(cfg) = CFG.lock().clone() else {
        return Vec::new();
    };
    let Some(ul) = crate::modules::usrloc::usrloc() else {
        return Vec::new();
    };
    if !ENABLED.load(Ordering::Relaxed) {
        return Vec::new();
    }
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
                    key: Key {
                        domain: d.name().to_string(),
                        aor: r.aor.to_string(),
                        contact_id: c.contact_id,
                        remove: has(c.cflags, remove),
                    },
                    uri: c.contact().to_string(),
                    proto,
                    addr,
                    socket: None,
                    raw: (!has(c.cflags, sipping)).then_some(&KEEPALIVE[..]),
                });
            }
        });
    }
    out
}

/// An answered ping clears the contact's count; one more lost ping removes a contact with
/// `remove_on_timeout_bflag` after `max_pings_lost` of them.
fn outcome(key: Key, answer: Answer) {
    let max_lost = CFG.lock().as_ref().map_or(1, |c| c.max_lost.max(1));
    let doomed = {
        let mut g = LOST.lock();
        let Some(lost) = g.as_mut() else { return };
        if answer != Answer::Silent {
            lost.remove(&key.contact_id);
            return;
        }
        let n = lost.entry(key.contact_id).or_insert(0);
        *n += 1;
        let doomed = key.remove && *n >= max_lost;
        if doomed {
            lost.remove(&key.contact_id);
        }
        doomed
    };
    if doomed {
        remove_contact(&key);
    }
}

fn remove_contact(p: &Key) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Msg;

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
        let cfg = crate::modules::probe::test_config("sip:pinger@127.0.0.1", 70);
        let t = PROBER.request(
            &cfg,
            "sip:a@127.0.0.2:5070",
            "SIP/2.0/UDP 127.0.0.1:5060;branch=",
            "z9hG4bKnhpingx",
            1,
        );
        let m = Msg::parse(bytes::Bytes::from(t)).unwrap();
        assert_eq!(m.ruri(), b"sip:a@127.0.0.2:5070");
        assert_eq!(m.from().unwrap().uri.raw, b"sip:pinger@127.0.0.1");
        assert!(m.header(crate::sip::HdrId::UserAgent).is_none());
    }
}
