//! The cached `address` table: (group, ip/mask, port, proto, pattern, context_info) rows and the
//! match `check_address` makes.

use std::net::IpAddr;

use regex::Regex;

/// One row of the address table.
#[derive(Debug, Clone)]
pub struct AddressRule {
    pub grp: u32,
    pub ip: IpAddr,
    /// Prefix length (32 / 128 = one host).
    pub mask: u8,
    /// 0 = any port.
    pub port: u16,
    /// Lower-case protocol, "any" for all.
    pub proto: String,
    /// Shell-style pattern the caller's string must match (None: no condition).
    pub pattern: Option<String>,
    pattern_re: Option<Regex>,
    pub context_info: Option<String>,
}

impl AddressRule {
    /// Checks one row; errors name the bad field.
    pub fn new(
        grp: i64,
        ip: &str,
        mask: i64,
        port: i64,
        proto: &str,
        pattern: Option<String>,
        context_info: Option<String>,
    ) -> Result<AddressRule, String> {
        let ip: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("ip `{ip}` is not an IPv4 or IPv6 address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if !(0..=max).contains(&mask) {
            return Err(format!("mask {mask} is not 0..{max} for {ip}"));
        }
        let grp = u32::try_from(grp).map_err(|_| format!("grp {grp} is not 0..4294967295"))?;
        let port = u16::try_from(port).map_err(|_| format!("port {port} is not 0..65535"))?;
        let proto = match proto.trim().to_ascii_lowercase().as_str() {
            "" | "any" => "any".to_string(),
            p @ ("udp" | "tcp" | "tls" | "sctp" | "ws" | "wss" | "none") => p.to_string(),
            other => {
                return Err(format!(
                    "proto `{other}` is not any, udp, tcp, tls, sctp, ws or wss"
                ));
            }
        };
        let pattern = pattern.filter(|p| !p.is_empty());
        let pattern_re = match &pattern {
            Some(p) => Some(glob(p).map_err(|e| format!("pattern `{p}`: {e}"))?),
            None => None,
        };
        Ok(AddressRule {
            grp,
            ip,
            mask: mask as u8,
            port,
            proto,
            pattern,
            pattern_re,
            context_info,
        })
    }

    fn ip_matches(&self, ip: IpAddr) -> bool {
        let ip = match (self.ip, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.ip, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), self.mask),
            (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), self.mask),
            _ => false,
        }
    }

    /// Whether (ip, port, proto, pattern) of a request matches this row (group aside).
    pub fn matches(&self, ip: IpAddr, port: u16, proto: &str, pattern: Option<&str>) -> bool {
        self.ip_matches(ip)
            && (self.port == 0 || port == 0 || self.port == port)
            && (self.proto == "any"
                || proto.eq_ignore_ascii_case("any")
                || self.proto.eq_ignore_ascii_case(proto))
            && match &self.pattern_re {
                None => true,
                Some(re) => pattern.is_some_and(|p| re.is_match(p)),
            }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let m = 0xffu8 << (8 - rest);
    a[full] & m == b[full] & m
}

/// A shell wildcard (`*`, `?`, `[...]`, `[!...]`) as an anchored regex.
pub fn glob(p: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re)
}

/// The table in memory.
#[derive(Debug, Default)]
pub struct AddressTable {
    pub rules: Vec<AddressRule>,
}

impl AddressTable {
    /// The first row of `grp` (0 = any group) matching; its context_info.
    pub fn check(
        &self,
        grp: u32,
        ip: IpAddr,
        port: u16,
        proto: &str,
        pattern: Option<&str>,
    ) -> Option<&AddressRule> {
        self.rules
            .iter()
            .find(|r| (grp == 0 || r.grp == grp) && r.matches(ip, port, proto, pattern))
    }

    /// The group of the first row matching `ip` (any port, proto, no pattern row).
    pub fn source_group(&self, ip: IpAddr, port: u16, proto: &str) -> Option<u32> {
        self.rules
            .iter()
            .find(|r| r.pattern.is_none() && r.matches(ip, port, proto, None))
            .map(|r| r.grp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        grp: i64,
        ip: &str,
        mask: i64,
        port: i64,
        proto: &str,
        pat: Option<&str>,
    ) -> AddressRule {
        AddressRule::new(
            grp,
            ip,
            mask,
            port,
            proto,
            pat.map(str::to_string),
            Some(format!("{ip}/{mask}")),
        )
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn masks_ports_protocols() {
        let t = AddressTable {
            rules: vec![
                rule(1, "127.0.0.0", 24, 0, "any", None),
                rule(2, "127.0.1.7", 32, 5070, "udp", None),
                rule(3, "10.1.0.0", 14, 0, "tcp", None),
                rule(4, "::1", 128, 0, "any", None),
                rule(5, "2001:db8::", 33, 0, "any", None),
            ],
        };
        assert_eq!(
            t.check(1, ip("127.0.0.200"), 1, "udp", None).unwrap().grp,
            1
        );
        assert!(t.check(1, ip("127.0.1.1"), 1, "udp", None).is_none());
        assert!(t.check(2, ip("127.0.1.7"), 5070, "udp", None).is_some());
        assert!(t.check(2, ip("127.0.1.7"), 5071, "udp", None).is_none());
        assert!(
            t.check(2, ip("127.0.1.7"), 0, "udp", None).is_some(),
            "port 0 = any"
        );
        assert!(t.check(2, ip("127.0.1.7"), 5070, "tcp", None).is_none());
        assert!(t.check(2, ip("127.0.1.7"), 5070, "any", None).is_some());
        assert!(
            t.check(3, ip("10.3.255.1"), 1, "tcp", None).is_some(),
            "/14"
        );
        assert!(t.check(3, ip("10.4.0.1"), 1, "tcp", None).is_none());
        assert!(
            t.check(0, ip("127.0.1.7"), 5070, "udp", None).is_some(),
            "group 0"
        );
        assert!(t.check(4, ip("::1"), 1, "udp", None).is_some());
        assert!(t.check(5, ip("2001:db8:7fff::1"), 1, "udp", None).is_some());
        assert!(t.check(5, ip("2001:db8:8000::1"), 1, "udp", None).is_none());
        assert!(
            t.check(1, ip("::ffff:127.0.0.9"), 1, "udp", None).is_some(),
            "v4-mapped"
        );
        assert_eq!(t.source_group(ip("127.0.1.7"), 5070, "udp"), Some(2));
        assert_eq!(t.source_group(ip("192.0.2.1"), 5070, "udp"), None);
    }

    #[test]
    fn patterns() {
        let t = AddressTable {
            rules: vec![rule(
                1,
                "127.0.0.1",
                32,
                0,
                "any",
                Some("sip:*@tenant-[ab].test"),
            )],
        };
        let a = ip("127.0.0.1");
        assert!(
            t.check(1, a, 0, "any", Some("sip:x@tenant-a.test"))
                .is_some()
        );
        assert!(
            t.check(1, a, 0, "any", Some("sip:x@tenant-c.test"))
                .is_none()
        );
        assert!(
            t.check(1, a, 0, "any", None).is_none(),
            "a pattern row needs a pattern"
        );
        assert!(glob("a?c").unwrap().is_match("abc"));
        assert!(!glob("a.c").unwrap().is_match("abc"));
        assert!(glob("[!x]y").unwrap().is_match("zy"));
    }

    #[test]
    fn bad_rows_are_refused() {
        assert!(AddressRule::new(1, "300.1.1.1", 32, 0, "any", None, None).is_err());
        assert!(AddressRule::new(1, "127.0.0.1", 33, 0, "any", None, None).is_err());
        assert!(AddressRule::new(1, "127.0.0.1", 32, 70000, "any", None, None).is_err());
        assert!(AddressRule::new(1, "127.0.0.1", 32, 0, "carrier-pigeon", None, None).is_err());
        assert!(AddressRule::new(-1, "127.0.0.1", 32, 0, "any", None, None).is_err());
    }
}
