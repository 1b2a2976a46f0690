//! Where responses go (RFC 3261 §18.2.2 with RFC 3581 rport), and the received / rport parameters
//! a server writes into the top Via of a request it receives (RFC 3261 §18.2.1, RFC 3581 §4).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::sip::scan::eq_ic;
use crate::sip::{EditError, Msg, Via};
use crate::transport::{Destination, Proto, ReceiveInfo};

fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(host).ok()?;
    s.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Resolves a Via host (IP, or a name through the system resolver, RFC 3263 §5 simplified to A/AAAA).
fn resolve(host: &[u8], port: u16) -> Option<SocketAddr> {
    if let Some(ip) = parse_ip(host) {
        return Some(SocketAddr::new(ip, port));
    }
    let name = std::str::from_utf8(host).ok()?;
    (name, port).to_socket_addrs().ok()?.next()
}

/// The transport named in a Via (`SIP/2.0/TCP` → TCP); `None` for ones we do not speak (SCTP).
pub fn via_proto(via: &Via<'_>) -> Option<Proto> {
    std::str::from_utf8(via.transport)
        .ok()
        .and_then(Proto::from_token)
}

/// Where to send a response whose next hop is `via` (the top Via after our own was removed):
/// `maddr`, else `received` with `rport` (or the sent-by port), else the sent-by address. Stream
/// transports use a connection open to that address when there is one.
pub fn response_destination(via: &Via<'_>) -> Option<Destination> {
    let proto = via_proto(via)?;
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(proto.default_port()),
    };
    let addr = if let Some(maddr) = via.maddr().filter(|_| proto == Proto::Udp) {
        resolve(maddr, via.port.unwrap_or(proto.default_port()))?
    } else if let Some(ip) = via.received().and_then(parse_ip) {
        SocketAddr::new(ip, port)
    } else {
        resolve(via.host, port)?
    };
    Some(Destination::new(proto, addr))
}

/// Where to send our own response to a request received as `info` with top Via `via`.
pub fn reply_destination(via: &Via<'_>, info: &ReceiveInfo) -> Destination {
    if info.proto.is_stream() {
        return Destination::reply_to(info);
    }
    let to = if via.rport().is_some() || info.force_rport {
        info.src
    } else if let Some(m) = via
        .maddr()
        .and_then(|m| resolve(m, via.port.unwrap_or(5060)))
    {
        m
    } else {
        SocketAddr::new(info.src.ip(), via.port.unwrap_or(5060))
    };
    Destination {
        addr: to,
        ..Destination::reply_to(info)
    }
}

/// The `;received=..;rport=..` text to add to a top Via for a request from `info`, if any:
/// `received` when the sent-by host is not the source IP (always when rport is asked for),
/// `rport` filled in when asked for, and on stream transports always so that responses find the
/// connection again. Returns (params to append, whether an empty `rport` must be filled in).
pub fn received_params(via: &Via<'_>, info: &ReceiveInfo) -> (String, bool) {
    let src_ip = info.src.ip();
    let rport = via.rport();
    let wants_rport = rport.is_some() || info.proto.is_stream() || info.force_rport;
    let sent_by_is_src = parse_ip(via.host) == Some(src_ip);
    let mut out = String::new();
    if (!sent_by_is_src || wants_rport) && via.received().is_none() {
        let ip = match src_ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        out.push_str(";received=");
        out.push_str(&ip);
    }
    let fill_rport = matches!(rport, Some(None));
    if rport.is_none() && wants_rport {
        out.push_str(&format!(";rport={}", info.src.port()));
    }
    (out, fill_rport)
}

/// The edits that write received / rport into a top Via (see [`received_params`]), computed from
/// the parsed Via so that the caller parses it only once.
#[derive(Debug)]
pub struct ReceivedEdit {
    /// Where `=port` goes: right after an empty `rport` name.
    rport_at: Option<usize>,
    /// The end of the top Via value, where new parameters go.
    params_at: usize,
    params: String,
    port: u16,
}

impl ReceivedEdit {
    /// `None` when the top Via needs nothing (or is not in the message buffer).
    pub fn new(msg: &Msg, via: &Via<'_>, info: &ReceiveInfo) -> Option<ReceivedEdit> {
        let (params, fill_rport) = received_params(via, info);
        if params.is_empty() && !fill_rport {
            return None;
        }
        let rport_at = if fill_rport {
            via.params
                .iter()
                .find(|p| eq_ic(p.name, b"rport"))
                .and_then(|p| msg.range_of(p.name))
                .map(|r| r.end)
        } else {
            None
        };
        let params_at = msg.range_of(via.raw)?.end;
        Some(ReceivedEdit {
            rport_at,
            params_at,
            params,
            port: info.src.port(),
        })
    }

    pub fn apply(self, msg: &mut Msg) -> Result<(), EditError> {
        if let Some(at) = self.rport_at {
            msg.insert(at, format!("={}", self.port).as_bytes())?;
        }
        if !self.params.is_empty() {
            msg.insert(self.params_at, self.params.as_bytes())?;
        }
        Ok(())
    }
}

/// Writes received / rport into the top Via of a received request (see [`received_params`]).
pub fn mark_received(msg: &mut Msg, info: &ReceiveInfo) -> Result<(), EditError> {
    let edit = match msg.via1() {
        Ok(via) => ReceivedEdit::new(msg, &via, info),
        Err(_) => None,
    };
    match edit {
        Some(e) => e.apply(msg),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        Via::parse(s.as_bytes()).unwrap()
    }

    fn info(proto: Proto, src: &str) -> ReceiveInfo {
        ReceiveInfo {
            proto,
            src: src.parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            socket: 0,
            conn: Some(7).filter(|_| proto.is_stream()),
            force_rport: false,
        }
    }

    #[test]
    fn response_goes_to_received_and_rport() {
        let v = via("SIP/2.0/UDP host.example;received=127.0.0.2;rport=4000;branch=z9hG4bKx");
        assert_eq!(
            response_destination(&v).unwrap().addr,
            "127.0.0.2:4000".parse().unwrap()
        );
        let v = via("SIP/2.0/UDP 127.0.0.3:5070;received=127.0.0.2;branch=z9hG4bKx");
        assert_eq!(
            response_destination(&v).unwrap().addr,
            "127.0.0.2:5070".parse().unwrap()
        );
        let v = via("SIP/2.0/TCP [::1]:5071;branch=z9hG4bKx");
        let d = response_destination(&v).unwrap();
        assert_eq!(
            (d.proto, d.addr),
            (Proto::Tcp, "[::1]:5071".parse().unwrap())
        );
        let v = via("SIP/2.0/TLS 127.0.0.4;branch=z9hG4bKx");
        assert_eq!(response_destination(&v).unwrap().addr.port(), 5061);
        let v = via("SIP/2.0/UDP 127.0.0.4;maddr=127.0.0.9;branch=z9hG4bKx");
        assert_eq!(
            response_destination(&v).unwrap().addr,
            "127.0.0.9:5060".parse().unwrap()
        );
        assert!(response_destination(&via("SIP/2.0/SCTP 127.0.0.4;branch=z")).is_none());
    }

    #[test]
    fn our_replies_follow_rport_or_sent_by_port() {
        let i = info(Proto::Udp, "127.0.0.5:40000");
        let d = reply_destination(&via("SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bKx"), &i);
        assert_eq!(d.addr, "127.0.0.5:40000".parse().unwrap());
        let d = reply_destination(&via("SIP/2.0/UDP h.example:5070;branch=z9hG4bKx"), &i);
        assert_eq!(d.addr, "127.0.0.5:5070".parse().unwrap());
        let t = info(Proto::Tcp, "127.0.0.5:40001");
        let d = reply_destination(&via("SIP/2.0/TCP 127.0.0.5:5070;branch=z9hG4bKx"), &t);
        assert_eq!((d.addr, d.conn), (t.src, Some(7)));
    }

    #[test]
    fn force_rport_acts_as_if_the_via_had_rport() {
        let mut i = info(Proto::Udp, "127.0.0.5:40000");
        i.force_rport = true;
        let v = via("SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKx");
        assert_eq!(reply_destination(&v, &i).addr, i.src);
        assert_eq!(
            received_params(&v, &i),
            (";received=127.0.0.5;rport=40000".into(), false)
        );
    }

    #[test]
    fn received_only_when_needed() {
        let i = info(Proto::Udp, "127.0.0.5:40000");
        let v = via("SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKx");
        assert_eq!(received_params(&v, &i), (String::new(), false));
        let v = via("SIP/2.0/UDP pc.example:5070;branch=z9hG4bKx");
        assert_eq!(
            received_params(&v, &i),
            (";received=127.0.0.5".into(), false)
        );
        let v = via("SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bKx");
        assert_eq!(
            received_params(&v, &i),
            (";received=127.0.0.5".into(), true)
        );
        let t = info(Proto::Tcp, "[::1]:40001");
        let v = via("SIP/2.0/TCP [::1]:5070;branch=z9hG4bKx");
        assert_eq!(
            received_params(&v, &t),
            (";received=[::1];rport=40001".into(), false)
        );
    }

    #[test]
    fn mark_received_edits_the_top_via() {
        let raw = "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bKx, SIP/2.0/UDP 127.0.0.6;branch=z9hG4bKy\r\n\
                   From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
                   Content-Length: 0\r\n\r\n";
        let mut m = Msg::parse(bytes::Bytes::from(raw)).unwrap();
        mark_received(&mut m, &info(Proto::Udp, "127.0.0.5:40000")).unwrap();
        let out = String::from_utf8(m.serialise()).unwrap();
        assert!(
            out.contains("Via: SIP/2.0/UDP 127.0.0.5:5070;rport=40000;branch=z9hG4bKx;received=127.0.0.5, SIP/2.0/UDP 127.0.0.6;"),
            "{out}"
        );
    }
}
