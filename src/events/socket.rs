//! Subscriber sockets: `<transport>:<address>`, the prefix choosing the transport
//! (event_datagram `udp:` / `unix:`, event_stream `tcp:host:port[/method]`, and `http:` POST).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A parsed subscriber socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSocket {
    /// event_datagram over UDP: one JSON-RPC notification per datagram.
    Udp(SocketAddr),
    /// event_datagram over a UNIX datagram socket.
    Unix(PathBuf),
    /// event_stream: JSON-RPC notifications over a kept TCP connection; `method` replaces the
    /// event name as JSON-RPC method when given.
    Tcp {
        addr: SocketAddr,
        method: Option<String>,
    },
    /// JSON-RPC notification as the body of an HTTP/1.1 POST (`http:host:port[/path]`).
    Http {
        addr: SocketAddr,
        host: String,
        path: String,
    },
    /// An `event_route[...]` of the script (internal, not subscribable over MI).
    Route(String),
    /// An in-process subscriber of a module (event_routing's `routing:E_X`), called by the
    /// raiser; internal, not subscribable over MI.
    Hook { module: &'static str, event: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SocketError {
    #[error("couldn't find a protocol to support '{0}'")]
    UnknownProtocol(String),
    #[error("bad address '{0}': {1}")]
    BadAddress(String, String),
}

fn resolve(hostport: &str, full: &str) -> Result<SocketAddr, SocketError> {
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| SocketError::BadAddress(full.into(), "port not specified".into()))?;
    let port: u16 =
        port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
            SocketError::BadAddress(full.into(), format!("malformed port '{port}'"))
        })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(SocketError::BadAddress(full.into(), "host missing".into()));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| SocketError::BadAddress(full.into(), format!("cannot resolve host: {e}")))?
        .next()
        .ok_or_else(|| SocketError::BadAddress(full.into(), "cannot resolve host".into()))
}

impl EventSocket {
    /// Parses `udp:127.0.0.1:9000`, `unix:/run/ev.sock`, `tcp:127.0.0.1:9001/method`,
    /// `http:127.0.0.1:8080/events` (also `http://…`).
    pub fn parse(s: &str) -> Result<Self, SocketError> {
        let (proto, rest) = s
            .split_once(':')
            .ok_or_else(|| SocketError::UnknownProtocol(s.into()))?;
        match proto {
            "udp" => Ok(EventSocket::Udp(resolve(rest, s)?)),
            "unix" => {
                if rest.is_empty() {
                    return Err(SocketError::BadAddress(s.into(), "path missing".into()));
                }
                Ok(EventSocket::Unix(PathBuf::from(rest)))
            }
            "tcp" => {
                let (hp, method) = match rest.split_once('/') {
                    Some((hp, m)) if !m.is_empty() => (hp, Some(m.to_string())),
                    Some((hp, _)) => (hp, None),
                    None => (rest, None),
                };
                Ok(EventSocket::Tcp {
                    addr: resolve(hp, s)?,
                    method,
                })
            }
            "http" => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                let (hp, path) = match rest.find('/') {
                    Some(i) => (&rest[..i], rest[i..].to_string()),
                    None => (rest, "/".to_string()),
                };
                Ok(EventSocket::Http {
                    addr: resolve(hp, s)?,
                    host: hp.to_string(),
                    path,
                })
            }
            _ => Err(SocketError::UnknownProtocol(s.into())),
        }
    }

    /// The transport name (`protocol` in `subscribers_list`).
    pub fn protocol(&self) -> &'static str {
        match self {
            EventSocket::Udp(_) => "udp",
            EventSocket::Unix(_) => "unix",
            EventSocket::Tcp { .. } => "tcp",
            EventSocket::Http { .. } => "http",
            EventSocket::Route(_) => "route",
            EventSocket::Hook { module, .. } => module,
        }
    }

    /// `proto:address` as `subscribers_list` prints it.
    pub fn print(&self) -> String {
        match self {
            EventSocket::Udp(a) => format!("udp:{a}"),
            EventSocket::Unix(p) => format!("unix:{}", p.display()),
            EventSocket::Tcp {
                addr,
                method: Some(m),
            } => format!("tcp:{addr}/{m}"),
            EventSocket::Tcp { addr, method: None } => format!("tcp:{addr}"),
            EventSocket::Http { host, path, .. } => format!("http:{host}{path}"),
            EventSocket::Route(r) => format!("route:{r}"),
            EventSocket::Hook { module, event } => format!("{module}:{event}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_transport() {
        assert_eq!(
            EventSocket::parse("udp:127.0.0.1:9000").unwrap(),
            EventSocket::Udp("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(
            EventSocket::parse("unix:/tmp/x.sock").unwrap().print(),
            "unix:/tmp/x.sock"
        );
        let t = EventSocket::parse("tcp:127.0.0.1:9001/my_method").unwrap();
        assert_eq!(
            t,
            EventSocket::Tcp {
                addr: "127.0.0.1:9001".parse().unwrap(),
                method: Some("my_method".into())
            }
        );
        assert_eq!(t.print(), "tcp:127.0.0.1:9001/my_method");
        let h = EventSocket::parse("http://127.0.0.1:8080/ev").unwrap();
        assert_eq!(h.print(), "http:127.0.0.1:8080/ev");
        assert_eq!(
            EventSocket::parse("http:127.0.0.1:8080").unwrap().print(),
            "http:127.0.0.1:8080/"
        );
        assert_eq!(
            EventSocket::parse("udp:[::1]:9000").unwrap().print(),
            "udp:[::1]:9000"
        );
    }

    #[test]
    fn refuses_bad_sockets() {
        assert!(matches!(
            EventSocket::parse("rabbitmq:x"),
            Err(SocketError::UnknownProtocol(_))
        ));
        assert!(matches!(
            EventSocket::parse("nocolon"),
            Err(SocketError::UnknownProtocol(_))
        ));
        for s in [
            "udp:127.0.0.1",
            "udp:127.0.0.1:0",
            "udp:127.0.0.1:x",
            "udp::9000",
            "unix:",
            "tcp:1.2.3.4:99999",
        ] {
            assert!(
                matches!(EventSocket::parse(s), Err(SocketError::BadAddress(..))),
                "{s}"
            );
        }
    }
}
