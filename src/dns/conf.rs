//! Where the resolver sends its queries and how patiently: `/etc/resolv.conf` (`nameserver`,
//! `options timeout:N attempts:N`), overridden by `OSIPS_DNS_SERVERS=ip[:port][,...]` and by the
//! script's core parameters (`dns_retr_time`, `dns_retr_no`, `dns_servers_no`, `dns_try_ipv6`,
//! `dns_try_naptr`, `disable_dns_failover`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The environment variable naming the DNS servers instead of `/etc/resolv.conf`.
pub const SERVERS_ENV: &str = "OSIPS_DNS_SERVERS";

/// How the resolver works.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// Servers asked in turn.
    pub servers: Vec<SocketAddr>,
    /// Time to wait for one answer (`dns_retr_time`, resolv.conf `timeout`; 5 s).
    pub timeout: Duration,
    /// Rounds over all servers (`dns_retr_no`, resolv.conf `attempts`; 2).
    pub attempts: u32,
    /// Also ask AAAA records (`dns_try_ipv6`).
    pub try_ipv6: bool,
    /// Ask NAPTR before SRV when neither transport nor port is known (`dns_try_naptr`).
    pub try_naptr: bool,
    /// Keep only the first target (`disable_dns_failover`).
    pub failover: bool,
    /// Names of `/etc/hosts` (lower case), looked at before DNS for addresses, as the C library does.
    pub hosts: HashMap<String, Vec<IpAddr>>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            timeout: Duration::from_secs(5),
            attempts: 2,
            try_ipv6: false,
            try_naptr: true,
            failover: true,
            hosts: HashMap::new(),
        }
    }
}

/// Why a server list was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{SERVERS_ENV}: `{entry}` is not an address (write ip, ip:port or [ipv6]:port)")]
pub struct ServersError {
    pub entry: String,
}

/// Parses `127.0.0.1:5353,[::1]:53,10.0.0.1` (port 53 when none is given).
pub fn parse_servers(text: &str) -> Result<Vec<SocketAddr>, ServersError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| ServersError {
                    entry: s.to_string(),
                })
        })
        .collect()
}

/// Applies the text of a resolv.conf to `cfg`: its name servers and timeout / attempts.
pub fn apply_resolv_conf(cfg: &mut DnsConfig, text: &str) {
    let mut servers = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // A scoped IPv6 (`fe80::1%eth0`) is not usable by std sockets: skip it.
                if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                    servers.push(SocketAddr::new(ip, 53));
                }
            }
            Some("options") => {
                for opt in words {
                    if let Some(n) = opt.strip_prefix("timeout:").and_then(|n| n.parse().ok()) {
                        cfg.timeout = Duration::from_secs(u64::max(1, n));
                    } else if let Some(n) =
                        opt.strip_prefix("attempts:").and_then(|n| n.parse().ok())
                    {
                        cfg.attempts = u32::max(1, n);
                    }
                }
            }
            _ => {}
        }
    }
    if !servers.is_empty() {
        cfg.servers = servers;
    }
}

/// The names and addresses of a hosts file (`ip name [aliases...]`, `#` comments).
pub fn parse_hosts(text: &str) -> HashMap<String, Vec<IpAddr>> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        for name in words {
            let ips = map.entry(name.to_ascii_lowercase()).or_default();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    map
}

impl DnsConfig {
    /// The system's configuration: resolv.conf and /etc/hosts, then `OSIPS_DNS_SERVERS` when set.
    pub fn from_system() -> Result<DnsConfig, ServersError> {
        let mut cfg = DnsConfig::default();
        if let Ok(text) = std::fs::read_to_string("/etc/resolv.conf") {
            apply_resolv_conf(&mut cfg, &text);
        }
        if let Ok(text) = std::fs::read_to_string("/etc/hosts") {
            cfg.hosts = parse_hosts(&text);
        }
        if let Ok(v) = std::env::var(SERVERS_ENV)
            && !v.trim().is_empty()
        {
            cfg.servers = parse_servers(&v)?;
        }
        Ok(cfg)
    }

    /// Applies the script's core parameters; `get` reads one numeric global.
    pub fn apply_params(&mut self, get: impl Fn(&str) -> Option<i64>) {
        if let Some(ms) = get("dns_retr_time").filter(|v| *v > 0) {
            // OpenSIPS gives dns_retr_time in seconds.
            self.timeout = Duration::from_secs(ms as u64);
        }
        if let Some(n) = get("dns_retr_no").filter(|v| *v > 0) {
            self.attempts = n as u32;
        }
        if let Some(n) = get("dns_servers_no").filter(|v| *v > 0) {
            self.servers.truncate(n as usize);
        }
        if let Some(v) = get("dns_try_ipv6") {
            self.try_ipv6 = v != 0;
        }
        if let Some(v) = get("dns_try_naptr") {
            self.try_naptr = v != 0;
        }
        if let Some(v) = get("disable_dns_failover") {
            self.failover = v == 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lists() {
        assert_eq!(
            parse_servers("127.0.0.1:5353, [::1]:54,127.0.0.2").unwrap(),
            vec![
                "127.0.0.1:5353".parse().unwrap(),
                "[::1]:54".parse().unwrap(),
                "127.0.0.2:53".parse().unwrap()
            ]
        );
        assert_eq!(
            parse_servers("127.0.0.1:5353,dns.test").unwrap_err().entry,
            "dns.test"
        );
    }

    #[test]
    fn resolv_conf() {
        let mut cfg = DnsConfig::default();
        apply_resolv_conf(
            &mut cfg,
            "# comment\nsearch example.test\nnameserver 127.0.0.9\nnameserver fe80::1%eth0\n\
             nameserver ::1\noptions ndots:2 timeout:1 attempts:3\n",
        );
        assert_eq!(
            cfg.servers,
            vec!["127.0.0.9:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(cfg.timeout, Duration::from_secs(1));
        assert_eq!(cfg.attempts, 3);
    }

    #[test]
    fn hosts_file() {
        let h =
            parse_hosts("127.0.0.1 localhost Me\n# x\n::1 localhost ip6-localhost # c\nbad line\n");
        assert_eq!(
            h["localhost"],
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(h["me"], vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert!(!h.contains_key("bad"));
    }

    #[test]
    fn script_params() {
        let mut cfg = DnsConfig {
            servers: parse_servers("127.0.0.1:5301,127.0.0.1:5302").unwrap(),
            ..DnsConfig::default()
        };
        cfg.apply_params(|n| match n {
            "dns_retr_time" => Some(2),
            "dns_retr_no" => Some(4),
            "dns_try_ipv6" => Some(1),
            "dns_try_naptr" => Some(0),
            "disable_dns_failover" => Some(1),
            "dns_servers_no" => Some(1),
            _ => None,
        });
        assert_eq!(cfg.servers, parse_servers("127.0.0.1:5301").unwrap());
        assert_eq!(cfg.timeout, Duration::from_secs(2));
        assert_eq!(cfg.attempts, 4);
        assert!(cfg.try_ipv6 && !cfg.try_naptr && !cfg.failover);
    }
}
