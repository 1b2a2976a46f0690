//! Socket definitions in OpenSIPS `socket=` / `listen=` syntax: `proto:ip:port [as host:port]`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A SIP transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Proto {
    /// Lower-case name as written in `socket=` definitions.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
            Proto::Ws => "ws",
            Proto::Wss => "wss",
        }
    }

    /// The transport token of a Via header (`SIP/2.0/UDP`).
    pub fn via_token(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
            Proto::Ws => "WS",
            Proto::Wss => "WSS",
        }
    }

    /// Parses a Via transport token or socket protocol name, case-insensitively.
    pub fn from_token(s: &str) -> Option<Proto> {
        let p = match s.to_ascii_lowercase().as_str() {
            "udp" => Proto::Udp,
            "tcp" => Proto::Tcp,
            "tls" => Proto::Tls,
            "ws" => Proto::Ws,
            "wss" => Proto::Wss,
            _ => return None,
        };
        Some(p)
    }

    /// Stream transports keep connections and need Content-Length framing.
    pub fn is_stream(self) -> bool {
        self != Proto::Udp
    }

    /// The port used when a URI or Via names none (RFC 3261 §19.1.2, RFC 7118 §5).
    pub fn default_port(self) -> u16 {
        match self {
            Proto::Udp | Proto::Tcp => 5060,
            Proto::Tls => 5061,
            Proto::Ws => 80,
            Proto::Wss => 443,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The address a socket announces in Via / Record-Route instead of its bound one (`as host:port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertised {
    pub host: String,
    pub port: Option<u16>,
}

/// One listening socket: `udp:127.0.0.1:5060`, `tls:[::1]:5061 as sip.example.com:5061`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketDef {
    pub proto: Proto,
    pub addr: SocketAddr,
    pub advertised: Option<Advertised>,
}

/// Why a socket definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid socket definition `{input}`: {reason}")]
pub struct SocketDefError {
    pub input: String,
    pub reason: String,
}

impl SocketDef {
    /// Host (IPv6 in brackets) and port to write into Via sent-by and Record-Route.
    pub fn sent_by(&self) -> (String, u16) {
        match &self.advertised {
            Some(a) => (a.host.clone(), a.port.unwrap_or(self.addr.port())),
            None => (host_string(self.addr.ip()), self.addr.port()),
        }
    }
}

/// An IP as written in a SIP host: IPv6 in brackets.
pub fn host_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]` into host text and optional port.
fn split_host_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let (host, rest) = if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']').ok_or("unterminated `[` in IPv6 address")?;
        (&s[..end + 2], &inner[end + 1..])
    } else {
        match s.rfind(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    let port = match rest {
        "" => None,
        r => {
            let digits = r
                .strip_prefix(':')
                .ok_or_else(|| format!("unexpected `{r}` after host"))?;
            Some(
                digits
                    .parse::<u16>()
                    .map_err(|_| format!("bad port `{digits}`"))?,
            )
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    Ok((host, port))
}

impl FromStr for SocketDef {
    type Err = SocketDefError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| SocketDefError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        let mut words = s.split_whitespace();
        let main = words.next().ok_or_else(|| err("empty".into()))?;
        let advertised = match (words.next(), words.next(), words.next()) {
            (None, _, _) => None,
            (Some(kw), Some(adv), None) if kw.eq_ignore_ascii_case("as") => {
                let (host, port) = split_host_port(adv).map_err(err)?;
                Some(Advertised {
                    host: host.to_string(),
                    port,
                })
            }
            _ => return Err(err("expected `proto:ip:port [as host:port]`".into())),
        };
        let (proto_txt, addr_txt) = main.split_once(':').ok_or_else(|| {
            err("missing protocol (`udp:`, `tcp:`, `tls:`, `ws:`, `wss:`)".into())
        })?;
        let proto = Proto::from_token(proto_txt)
            .ok_or_else(|| err(format!("unknown protocol `{proto_txt}`")))?;
        let (host, port) = split_host_port(addr_txt).map_err(err)?;
        let ip_txt = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = ip_txt
            .parse()
            .map_err(|_| err(format!("`{host}` is not an IP address")))?;
        if host.starts_with('[') != ip.is_ipv6() {
            return Err(err("IPv6 addresses must be written in brackets".into()));
        }
        let port = port.unwrap_or(proto.default_port());
        Ok(SocketDef {
            proto,
            addr: SocketAddr::new(ip, port),
            advertised,
        })
    }
}

impl fmt::Display for SocketDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.proto,
            host_string(self.addr.ip()),
            self.addr.port()
        )?;
        if let Some(a) = &self.advertised {
            write!(f, " as {}", a.host)?;
            if let Some(p) = a.port {
                write!(f, ":{p}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_ipv6() {
        let d: SocketDef = "udp:127.0.0.1:5060".parse().unwrap();
        assert_eq!(d.proto, Proto::Udp);
        assert_eq!(d.addr, "127.0.0.1:5060".parse().unwrap());
        let d: SocketDef = "TLS:[::1]:5071".parse().unwrap();
        assert_eq!(d.proto, Proto::Tls);
        assert_eq!(d.addr, "[::1]:5071".parse().unwrap());
        assert_eq!(d.to_string(), "tls:[::1]:5071");
    }

    #[test]
    fn default_ports_per_protocol() {
        let d: SocketDef = "wss:127.0.0.1".parse().unwrap();
        assert_eq!(d.addr.port(), 443);
        let d: SocketDef = "tls:[::1]".parse().unwrap();
        assert_eq!(d.addr.port(), 5061);
    }

    #[test]
    fn advertised_address() {
        let d: SocketDef = "udp:127.0.0.1:5060 as sip.example.com:5080"
            .parse()
            .unwrap();
        let a = d.advertised.clone().unwrap();
        assert_eq!(a.host, "sip.example.com");
        assert_eq!(a.port, Some(5080));
        assert_eq!(d.sent_by(), ("sip.example.com".to_string(), 5080));
        let d: SocketDef = "ws:127.0.0.1:8080 AS 127.0.0.9".parse().unwrap();
        assert_eq!(d.sent_by(), ("127.0.0.9".to_string(), 8080));
        assert_eq!(d.to_string(), "ws:127.0.0.1:8080 as 127.0.0.9");
    }

    #[test]
    fn rejects_bad_definitions() {
        for bad in [
            "",
            "127.0.0.1:5060",
            "sctp:127.0.0.1:5060",
            "udp:localhost:5060",
            "udp:127.0.0.1:99999",
            "udp:::1:5060",
            "udp:[::1:5060",
            "udp:127.0.0.1:5060 as",
            "udp:127.0.0.1:5060 via x:1",
        ] {
            let e = bad.parse::<SocketDef>().unwrap_err();
            assert_eq!(e.input, bad);
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn ipv6_sent_by_has_brackets() {
        let d: SocketDef = "tcp:[::1]:5060".parse().unwrap();
        assert_eq!(d.sent_by(), ("[::1]".to_string(), 5060));
    }
}
