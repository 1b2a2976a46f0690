//! RFC 3263 server location for SIP URIs: NAPTR → SRV → A/AAAA when neither transport nor port
//! is known, SRV when the transport is, A/AAAA when the port is, IP addresses as they are. The
//! result is the ordered list of [`Target`]s, so a sender can fail over to the next one.
//!
//! Queries go to the servers of `/etc/resolv.conf` (or `OSIPS_DNS_SERVERS`), from the calling
//! worker thread, and answers are cached for their TTL ([`cache::DnsCache`]).

pub mod cache;
pub mod client;
pub mod conf;
pub mod srv;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use hickory_proto::rr::RecordType;

use crate::transport::Proto;

pub use cache::{DnsCache, Rr};
pub use client::QueryError;
pub use conf::{DnsConfig, SERVERS_ENV};

/// What a SIP URI says about where to send: the host (or `maddr`), and port / transport if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTarget {
    pub host: String,
    pub port: Option<u16>,
    /// `;transport=` (or the proto of a `proto:host` hop); None = let DNS choose.
    pub proto: Option<Proto>,
    /// A `sips:` URI: only TLS (or WSS) targets.
    pub secure: bool,
}

impl SipTarget {
    pub fn new(host: impl Into<String>, port: Option<u16>, proto: Option<Proto>) -> SipTarget {
        SipTarget {
            host: host.into(),
            port,
            proto,
            secure: false,
        }
    }
}

/// One place to send to, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub proto: Proto,
    pub addr: SocketAddr,
    /// The host name the address belongs to (the SRV target, or the URI host).
    pub host: String,
}

/// Why no target was found.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DnsError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0} has no address in DNS")]
    NotFound(String),
}

/// A resolver with its cache.
pub struct Resolver {
    cfg: DnsConfig,
    cache: DnsCache,
    queries: AtomicU64,
}

fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// NAPTR service field → transport (RFC 3263 §4.1, RFC 7118 §5).
fn naptr_proto(service: &str) -> Option<(Proto, bool)> {
    Some(match service {
        "SIP+D2U" => (Proto::Udp, false),
        "SIP+D2T" => (Proto::Tcp, false),
        "SIPS+D2T" => (Proto::Tls, true),
        "SIP+D2W" => (Proto::Ws, false),
        "SIPS+D2W" => (Proto::Wss, true),
        _ => return None,
    })
}

/// The SRV owner prefix for a transport.
fn srv_prefix(proto: Proto) -> &'static str {
    match proto {
        Proto::Udp => "_sip._udp.",
        Proto::Tcp => "_sip._tcp.",
        Proto::Tls => "_sips._tcp.",
        Proto::Ws => "_sip._ws.",
        Proto::Wss => "_sips._ws.",
    }
}

struct SrvRec {
    priority: u16,
    weight: u16,
    port: u16,
    target: String,
}

impl srv::Weighted for SrvRec {
    fn priority(&self) -> u16 {
        self.priority
    }
    fn weight(&self) -> u16 {
        self.weight
    }
}

impl Resolver {
    pub fn new(cfg: DnsConfig) -> Resolver {
        Resolver {
            cfg,
            cache: DnsCache::default(),
            queries: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &DnsConfig {
        &self.cfg
    }

    /// Questions sent to a server so far (cache hits do not count).
    pub fn queries_sent(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub fn cache(&self) -> &DnsCache {
        &self.cache
    }

    /// The records of `name` / `rtype`, from the cache or a server.
    pub fn lookup(&self, name: &str, rtype: RecordType) -> Result<Arc<[Rr]>, QueryError> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(hit) = self.cache.get(&key, rtype, Instant::now()) {
            return Ok(hit);
        }
        self.queries.fetch_add(1, Ordering::Relaxed);
        let answer = client::query(&self.cfg, &key, rtype)?;
        let records: Arc<[Rr]> = answer.records.iter().filter_map(Rr::from_record).collect();
        self.cache
            .put(&key, rtype, records.clone(), answer.ttl, Instant::now());
        Ok(records)
    }

    /// The addresses of `host`: A, then AAAA when `dns_try_ipv6` is set.
    pub fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, QueryError> {
        if let Some(ip) = ip_literal(host) {
            return Ok(vec![ip]);
        }
        if let Some(ips) = self.cfg.hosts.get(&host.to_ascii_lowercase()) {
            let usable: Vec<IpAddr> = ips
                .iter()
                .copied()
                .filter(|ip| ip.is_ipv4() || self.cfg.try_ipv6)
                .collect();
            if !usable.is_empty() {
                return Ok(usable);
            }
        }
        let mut out = Vec::new();
        let v4 = self.lookup(host, RecordType::A);
        if let Ok(recs) = &v4 {
            out.extend(recs.iter().filter_map(|r| match r {
                Rr::Addr(ip) => Some(*ip),
                _ => None,
            }));
        }
        if self.cfg.try_ipv6 {
            match self.lookup(host, RecordType::AAAA) {
                Ok(recs) => out.extend(recs.iter().filter_map(|r| match r {
                    Rr::Addr(ip) => Some(*ip),
                    _ => None,
                })),
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        match v4 {
            Err(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Targets of the SRV records of `name`, in RFC 2782 order (empty when there are none).
    fn srv_targets(&self, name: &str, proto: Proto) -> Result<Vec<Target>, QueryError> {
        let recs = self.lookup(name, RecordType::SRV)?;
        let srvs: Vec<SrvRec> = recs
            .iter()
            .filter_map(|r| match r {
                // "." as target: the service is decidedly not available (RFC 2782).
                Rr::Srv {
                    priority,
                    weight,
                    port,
                    target,
                } if !target.is_empty() => Some(SrvRec {
                    priority: *priority,
                    weight: *weight,
                    port: *port,
                    target: target.clone(),
                }),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for s in srv::order(srvs, &mut rand::rng()) {
            // A target whose address lookup fails is skipped: the next one may work.
            match self.addresses(&s.target) {
                Ok(ips) => out.extend(ips.into_iter().map(|ip| Target {
                    proto,
                    addr: SocketAddr::new(ip, s.port),
                    host: s.target.clone(),
                })),
                Err(e) => tracing::debug!("SRV target {} of {name}: {e}", s.target),
            }
        }
        Ok(out)
    }

    fn a_targets(&self, host: &str, proto: Proto, port: u16) -> Result<Vec<Target>, DnsError> {
        let ips = self.addresses(host)?;
        if ips.is_empty() {
            return Err(DnsError::NotFound(host.to_string()));
        }
        Ok(ips
            .into_iter()
            .map(|ip| Target {
                proto,
                addr: SocketAddr::new(ip, port),
                host: host.to_string(),
            })
            .collect())
    }

    /// NAPTR step (RFC 3263 §4.1): SRV names of the usable records, in order / preference.
    /// A server that does not answer at all ends the search (every further question would wait
    /// as long); an error answer to NAPTR only skips that step.
    fn naptr_services(&self, host: &str, secure: bool) -> Result<Vec<(Proto, String)>, QueryError> {
        let recs = match self.lookup(host, RecordType::NAPTR) {
            Ok(r) => r,
            Err(e @ QueryError::NoAnswer { .. }) => return Err(e),
            Err(e) => {
                tracing::debug!("NAPTR {host}: {e}");
                return Ok(Vec::new());
            }
        };
        let mut usable: Vec<(u16, u16, Proto, String)> = recs
            .iter()
            .filter_map(|r| match r {
                Rr::Naptr {
                    order,
                    preference,
                    flags,
                    services,
                    replacement,
                } if flags == "s" && !replacement.is_empty() => {
                    let (proto, sips) = naptr_proto(services)?;
                    (sips || !secure).then(|| (*order, *preference, proto, replacement.clone()))
                }
                _ => None,
            })
            .collect();
        usable.sort_by_key(|u| (u.0, u.1));
        Ok(usable.into_iter().map(|u| (u.2, u.3)).collect())
    }

    /// RFC 3263 §4: the ordered targets for `t`. With `disable_dns_failover`, only the first.
    pub fn locate(&self, t: &SipTarget) -> Result<Vec<Target>, DnsError> {
        let mut out = self.locate_all(t)?;
        if !self.cfg.failover {
            out.truncate(1);
        }
        Ok(out)
    }

    fn locate_all(&self, t: &SipTarget) -> Result<Vec<Target>, DnsError> {
        let default_proto = if t.secure { Proto::Tls } else { Proto::Udp };
        let host = t.host.trim_end_matches('.');
        if let Some(ip) = ip_literal(host) {
            let proto = t.proto.unwrap_or(default_proto);
            let port = t.port.unwrap_or(proto.default_port());
            return Ok(vec![Target {
                proto,
                addr: SocketAddr::new(ip, port),
                host: host.to_string(),
            }]);
        }
        if let Some(port) = t.port {
            return self.a_targets(host, t.proto.unwrap_or(default_proto), port);
        }
        if let Some(proto) = t.proto {
            let name = format!("{}{host}", srv_prefix(proto));
            let found = self.srv_targets(&name, proto)?;
            if !found.is_empty() {
                return Ok(found);
            }
            return self.a_targets(host, proto, proto.default_port());
        }
        let mut out = Vec::new();
        if self.cfg.try_naptr {
            for (proto, name) in self.naptr_services(host, t.secure)? {
                match self.srv_targets(&name, proto) {
                    Ok(found) => out.extend(found),
                    Err(e @ QueryError::NoAnswer { .. }) => return Err(e.into()),
                    Err(e) => tracing::debug!("NAPTR replacement {name}: {e}"),
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
        let protos: &[Proto] = if t.secure {
            &[Proto::Tls]
        } else {
            &[Proto::Udp, Proto::Tcp, Proto::Tls]
        };
        let mut first_err = None;
        for &proto in protos {
            match self.srv_targets(&format!("{}{host}", srv_prefix(proto)), proto) {
                Ok(found) => out.extend(found),
                Err(e @ QueryError::NoAnswer { .. }) => return Err(e.into()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        match self.a_targets(host, default_proto, default_proto.default_port()) {
            Err(DnsError::NotFound(h)) if first_err.is_some() => Err(first_err
                .map(DnsError::Query)
                .unwrap_or(DnsError::NotFound(h))),
            r => r,
        }
    }
}

static GLOBAL: OnceLock<Resolver> = OnceLock::new();

/// The process's resolver, set up on first use from the system configuration and `params`
/// (the script's numeric core parameters). A bad `OSIPS_DNS_SERVERS` is logged and the system
/// servers are used.
pub fn global(params: impl Fn(&str) -> Option<i64>) -> &'static Resolver {
    GLOBAL.get_or_init(|| {
        let mut cfg = DnsConfig::from_system().unwrap_or_else(|e| {
            tracing::error!("{e}; using /etc/resolv.conf");
            let mut c = DnsConfig::default();
            if let Ok(text) = std::fs::read_to_string("/etc/resolv.conf") {
                conf::apply_resolv_conf(&mut c, &text);
            }
            c
        });
        cfg.apply_params(params);
        Resolver::new(cfg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> Resolver {
        // Nothing listens on this port: any real query would fail, so only cache and literals work.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        drop(sock);
        Resolver::new(DnsConfig {
            servers: vec![addr],
            timeout: std::time::Duration::from_millis(200),
            attempts: 1,
            ..DnsConfig::default()
        })
    }

    fn seed(r: &Resolver, name: &str, rtype: RecordType, recs: Vec<Rr>) {
        r.cache.put(name, rtype, recs.into(), 300, Instant::now());
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Rr {
        Rr::Srv {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    fn a(ip: &str) -> Rr {
        Rr::Addr(ip.parse().unwrap())
    }

    #[test]
    fn ip_literals_need_no_dns() {
        let r = offline();
        let got = r
            .locate(&SipTarget::new("127.0.0.3", None, Some(Proto::Tcp)))
            .unwrap();
        assert_eq!(got[0].addr, "127.0.0.3:5060".parse().unwrap());
        assert_eq!(got[0].proto, Proto::Tcp);
        let got = r
            .locate(&SipTarget {
                secure: true,
                ..SipTarget::new("[::1]", None, None)
            })
            .unwrap();
        assert_eq!(
            (got[0].proto, got[0].addr),
            (Proto::Tls, "[::1]:5061".parse().unwrap())
        );
        assert_eq!(r.queries_sent(), 0);
    }

    #[test]
    fn naptr_then_srv_then_a_from_the_cache() {
        let r = offline();
        seed(
            &r,
            "svc.test",
            RecordType::NAPTR,
            vec![
                Rr::Naptr {
                    order: 20,
                    preference: 0,
                    flags: "s".into(),
                    services: "SIP+D2U".into(),
                    replacement: "_sip._udp.svc.test".into(),
                },
                Rr::Naptr {
                    order: 10,
                    preference: 0,
                    flags: "s".into(),
                    services: "SIP+D2T".into(),
                    replacement: "_sip._tcp.svc.test".into(),
                },
                Rr::Naptr {
                    order: 5,
                    preference: 0,
                    flags: "s".into(),
                    services: "SIP+D2X".into(),
                    replacement: "_sip._x.svc.test".into(),
                },
            ],
        );
        seed(
            &r,
            "_sip._tcp.svc.test",
            RecordType::SRV,
            vec![srv(1, 0, 5070, "b.test")],
        );
        seed(
            &r,
            "_sip._udp.svc.test",
            RecordType::SRV,
            vec![srv(2, 0, 5080, "c.test"), srv(1, 0, 5090, "a.test")],
        );
        seed(&r, "a.test", RecordType::A, vec![a("127.0.0.11")]);
        seed(&r, "b.test", RecordType::A, vec![a("127.0.0.12")]);
        seed(&r, "c.test", RecordType::A, vec![a("127.0.0.13")]);
        let got = r.locate(&SipTarget::new("svc.test", None, None)).unwrap();
        let seen: Vec<(Proto, String)> =
            got.iter().map(|t| (t.proto, t.addr.to_string())).collect();
        assert_eq!(
            seen,
            vec![
                (Proto::Tcp, "127.0.0.12:5070".into()),
                (Proto::Udp, "127.0.0.11:5090".into()),
                (Proto::Udp, "127.0.0.13:5080".into()),
            ]
        );
        assert_eq!(r.queries_sent(), 0);
    }

    #[test]
    fn failover_off_keeps_the_first() {
        let mut r = offline();
        r.cfg.failover = false;
        seed(
            &r,
            "_sip._udp.two.test",
            RecordType::SRV,
            vec![srv(1, 0, 5071, "a.test"), srv(2, 0, 5072, "a.test")],
        );
        seed(&r, "a.test", RecordType::A, vec![a("127.0.0.11")]);
        let got = r
            .locate(&SipTarget::new("two.test", None, Some(Proto::Udp)))
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].addr.port(), 5071);
    }

    #[test]
    fn hosts_file_names_need_no_dns() {
        let mut r = offline();
        r.cfg.hosts = conf::parse_hosts("127.0.0.44 gw.local.test\n::1 gw.local.test\n");
        let got = r
            .locate(&SipTarget::new("GW.local.test", Some(5070), None))
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].addr, "127.0.0.44:5070".parse().unwrap());
        assert_eq!(r.queries_sent(), 0);
    }

    #[test]
    fn unreachable_server_is_an_error_not_a_panic() {
        let r = offline();
        let e = r
            .locate(&SipTarget::new("nowhere.test", Some(5060), None))
            .unwrap_err();
        assert!(e.to_string().contains("no DNS server answered"), "{e}");
        // Without port or transport: the silent server is asked once, not for every step.
        let before = r.queries_sent();
        assert!(
            r.locate(&SipTarget::new("nowhere.test", None, None))
                .is_err()
        );
        assert_eq!(r.queries_sent() - before, 1);
    }
}
