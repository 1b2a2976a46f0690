//! Via header values (RFC 3261 §20.42, RFC 3581 rport, RFC 5923 alias).

use super::error::HeaderError;
use super::params::Params;
use super::scan::{eq_letters, is_lws, is_token, parse_u16, parse_u32, trim, trim_start, unquote};
use super::uri::{HostKind, host_kind, split_hostport};

/// One Via value (a Via header line may hold several, comma-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The value as received (from the protocol name to the last parameter).
    pub raw: &'a [u8],
    /// `SIP`
    pub protocol: &'a [u8],
    /// `2.0`
    pub version: &'a [u8],
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, ... as written.
    pub transport: &'a [u8],
    /// sent-by host (IPv6 references keep their brackets).
    pub host: &'a [u8],
    pub host_kind: HostKind,
    pub port: Option<u16>,
    pub params: Params<'a>,
    branch: Option<&'a [u8]>,
    received: Option<&'a [u8]>,
    rport: Option<Option<u16>>,
}

fn token(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().position(|&b| !is_token(b)).unwrap_or(s.len());
    (&s[..n], &s[n..])
}

/// `SIP/2.0/` in any letter case, as one word compare: OR-ing 0x20 into the three letter bytes
/// lowercases them and maps no other byte onto `s`, `i` or `p`.
#[inline]
fn is_sip20_prefix(s: &[u8]) -> bool {
    let mut w = [0; 8];
    w.copy_from_slice(s);
    u64::from_le_bytes(w) | 0x20_2020 == u64::from_le_bytes(*b"sip/2.0/")
}

fn slash(s: &[u8]) -> Result<&[u8], HeaderError> {
    let s = trim_start(s);
    match s.first() {
        Some(b'/') => Ok(trim_start(&s[1..])),
        _ => Err(HeaderError::new("bad Via sent-protocol")),
    }
}

impl<'a> Via<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Via<'a>, HeaderError> {
        let raw = trim(raw);
        // The usual `SIP/2.0/` prefix gives what the token and slash steps would.
        let (protocol, version, s) = if raw.len() > 8 && is_sip20_prefix(&raw[..8]) {
            (&raw[..3], &raw[4..7], &raw[8..])
        } else {
            let (protocol, s) = token(raw);
            let s = slash(s)?;
            let (version, s) = token(s);
            (protocol, version, slash(s)?)
        };
        let (transport, s) = token(s);
        if protocol.is_empty() || version.is_empty() || transport.is_empty() {
            return Err(HeaderError::new("bad Via sent-protocol"));
        }
        if !s.first().is_some_and(|&b| is_lws(b)) {
            return Err(HeaderError::new("bad Via sent-by"));
        }
        let s = trim_start(s);
        let semi = super::scan::find_byte(b';', s).unwrap_or(s.len());
        let sent_by = trim(&s[..semi]);
        let (host, port) = split_sent_by(sent_by)?;
        let params = Params::new(&s[semi..]);
        let (mut branch, mut received, mut rport) = (None, None, None);
        let mut bad = None;
        let ok = params.scan(|name, value| match name.len() {
            6 if eq_letters(name, b"branch") => branch = branch.or(value),
            8 if eq_letters(name, b"received") => received = received.or(value),
            5 if eq_letters(name, b"rport") => match value.map(parse_u16) {
                None => rport = Some(None),
                Some(Some(p)) => rport = Some(Some(p)),
                Some(None) => bad = Some("bad Via rport"),
            },
            3 if eq_letters(name, b"ttl") && value.and_then(parse_u32).is_none_or(|t| t > 255) => {
                bad = Some("bad Via ttl")
            }
            _ => {}
        });
        if !ok {
            return Err(HeaderError::new("bad Via parameter"));
        }
        if let Some(why) = bad {
            return Err(HeaderError::new(why));
        }
        Ok(Via {
            raw,
            protocol,
            version,
            transport,
            host,
            host_kind: host_kind(host)?,
            port,
            params,
            branch: branch.map(unquote),
            received: received.map(unquote),
            rport,
        })
    }

    pub fn branch(&self) -> Option<&'a [u8]> {
        self.branch
    }

    pub fn received(&self) -> Option<&'a [u8]> {
        self.received
    }

    /// `None`: no rport; `Some(None)`: `;rport` without value; `Some(Some(port))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.value(b"maddr")
    }

    pub fn ttl(&self) -> Option<u8> {
        self.params
            .value(b"ttl")
            .and_then(parse_u32)
            .and_then(|t| u8::try_from(t).ok())
    }

    /// RFC 5923 `;alias` (connection reuse requested).
    pub fn alias(&self) -> bool {
        self.params.has(b"alias")
    }

    /// True when the branch has the RFC 3261 magic cookie followed by an identifier
    /// (a bare `z9hG4bK` falls back to RFC 2543 matching, RFC 4475 §3.2.1).
    pub fn branch_is_rfc3261(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > 7 && b.starts_with(b"z9hG4bK"))
    }
}

/// `host [ SWS ":" SWS port ]`.
fn split_sent_by(s: &[u8]) -> Result<(&[u8], Option<u16>), HeaderError> {
    if s.first() == Some(&b'[') {
        let end = super::scan::find_byte(b']', s).ok_or(HeaderError::new("bad Via sent-by"))?;
        let rest = trim(&s[end + 1..]);
        let port = match rest {
            [] => None,
            [b':', p @ ..] => Some(parse_u16(trim(p)).ok_or(HeaderError::new("bad Via port"))?),
            _ => return Err(HeaderError::new("bad Via sent-by")),
        };
        return Ok((&s[..=end], port));
    }
    match super::scan::find_byte(b':', s) {
        Some(c) => {
            let host = trim(&s[..c]);
            let port = parse_u16(trim(&s[c + 1..])).ok_or(HeaderError::new("bad Via port"))?;
            if host.is_empty() {
                return Err(HeaderError::new("bad Via sent-by"));
            }
            Ok((host, Some(port)))
        }
        None => {
            if s.iter().any(|&b| is_lws(b)) {
                return Err(HeaderError::new("bad Via sent-by"));
            }
            split_hostport(s).map_err(|_| HeaderError::new("bad Via sent-by"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_via_with_params() {
        let v = Via::parse(b"SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.1;alias;ttl=16;maddr=224.2.0.1").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"pc33.atlanta.com");
        assert_eq!(v.port, Some(5066));
        assert_eq!(v.branch(), Some(&b"z9hG4bK776asdhds"[..]));
        assert!(v.branch_is_rfc3261());
        assert_eq!(v.rport(), Some(Some(5060)));
        assert_eq!(v.received(), Some(&b"192.0.2.1"[..]));
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert_eq!(v.ttl(), Some(16));
        assert!(v.alias());
    }

    #[test]
    fn sip20_prefix_is_case_insensitive_and_exact() {
        assert!(is_sip20_prefix(b"SIP/2.0/"));
        assert!(is_sip20_prefix(b"sIp/2.0/"));
        for other in [
            b"SIQ/2.0/",
            b"SIP/2.1/",
            b"SIP 2.0/",
            b"SIP/2.0 ",
            b"\x13IP/2.0/",
        ] {
            assert!(
                !is_sip20_prefix(other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        let v = Via::parse(b"sip/2.0/udp h.example;branch=z9hG4bK1").unwrap();
        assert_eq!(
            (v.protocol, v.version, v.transport),
            (&b"sip"[..], &b"2.0"[..], &b"udp"[..])
        );
    }

    #[test]
    fn allows_lws_in_sent_protocol_and_ipv6() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.version, b"2.0");
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.2");
        let v6 = Via::parse(b"SIP/2.0/TCP [2001:db8::9:1]:5070;rport").unwrap();
        assert_eq!(v6.host_kind, HostKind::Ipv6);
        assert_eq!(v6.port, Some(5070));
        assert_eq!(v6.rport(), Some(None));
    }

    #[test]
    fn rejects_bad_vias() {
        for bad in [
            &b"SIP/2.0/UDP"[..],
            b"SIP/2.0 host",
            b"SIP/2.0/UDP host;;",
            b"SIP/2.0/UDP host:70000",
            b"SIP/2.0/UDP host;ttl=300",
            b"SIP/2.0/UDP a b",
        ] {
            assert!(Via::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
