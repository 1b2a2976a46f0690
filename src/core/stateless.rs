//! Stateless forwarding (RFC 3261 §16.11): requests get a Max-Forwards decrement, received / rport
//! on the top Via and our own Via with a branch computed from the request; responses lose our Via
//! and go to the next one.

use crate::sip::{EditError, HdrId, Msg, Via};
use crate::transport::{Destination, ReceiveInfo, Transport};

use super::branch::{Branch, BranchHasher};
use super::via_route::{ReceivedEdit, response_destination};

/// Why a request or response was not forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no usable top Via")]
    NoVia,
    #[error("no {0} socket to send from")]
    NoSocket(crate::transport::Proto),
    #[error("the response's top Via is not ours")]
    NotOurVia,
    #[error("the response has no Via to forward to")]
    NoNextHop,
    #[error("cannot edit the message: {0}")]
    Edit(#[from] EditError),
    #[error("send failed: {0}")]
    Send(#[from] std::io::Error),
}

/// The loop-detection inputs of §16.6 step 8 (Request-URI, From, Call-ID, CSeq number,
/// Proxy-Require, Proxy-Authorization, Route), hashed. The To tag is left out so that an ACK
/// to a non-2xx response gets the branch of its INVITE; whole header values stand in for tags,
/// which saves parsing them.
fn loop_hash(hasher: &BranchHasher, msg: &Msg) -> u32 {
    let mut h = hasher.hasher();
    h.part(msg.ruri())
        .part(msg.header(HdrId::From).unwrap_or_default())
        .part(msg.call_id())
        .part(&msg.cseq().num.to_be_bytes());
    for id in [HdrId::ProxyRequire, HdrId::ProxyAuthorization, HdrId::Route] {
        for v in msg.headers_of(id) {
            h.part(v);
        }
    }
    h.finish_loop()
}

/// The branch for our Via on a forwarded request (§16.11): the transaction part hashes the
/// received top branch and sent-by when the branch is RFC 3261 style, else From, Call-ID, CSeq
/// number, Request-URI and the top Via; so retransmissions, the CANCEL and the ACK to a non-2xx
/// get the branch of their INVITE.
pub fn stateless_branch(hasher: &BranchHasher, msg: &Msg, top: &Via<'_>) -> Branch {
    let port = top.port.unwrap_or(0).to_be_bytes();
    let tx = if top.branch_is_rfc3261() {
        hasher.hash(&[top.branch().unwrap_or_default(), top.host, &port])
    } else {
        hasher.hash(&[
            msg.header(HdrId::From).unwrap_or_default(),
            msg.call_id(),
            &msg.cseq().num.to_be_bytes(),
            msg.ruri(),
            top.raw,
        ])
    };
    hasher.branch_of(tx, loop_hash(hasher, msg))
}

/// §16.3 step 4: a Via we wrote whose loop part equals this request's means the request looped
/// (a different loop part is a legitimate spiral).
pub fn is_loop(hasher: &BranchHasher, t: &Transport, msg: &Msg) -> bool {
    // Most requests never passed here: skip parsing their Vias.
    if memchr::memmem::find(msg.as_bytes(), STATELESS_MARK).is_none() {
        return false;
    }
    let mut mine = msg.vias().filter_map(Result::ok).filter(|v| {
        v.branch().and_then(Branch::loop_part_of).is_some()
            && t.is_local_bytes(None, v.host, v.port)
    });
    let Some(first) = mine.next() else {
        return false;
    };
    let expected = BranchHasher::loop_text(loop_hash(hasher, msg));
    std::iter::once(first)
        .chain(mine)
        .any(|v| v.branch().and_then(Branch::loop_part_of) == Some(&expected[..]))
}

const STATELESS_MARK: &[u8] = b"z9hG4bKsl";

/// Decrements Max-Forwards, or adds `Max-Forwards: 70` when missing (§16.6 step 3).
pub fn decrement_max_forwards(msg: &mut Msg) -> Result<(), EditError> {
    let Some(mf) = msg.max_forwards() else {
        return msg.add_header_first("Max-Forwards", b"70");
    };
    let range = msg.header(HdrId::MaxForwards).and_then(|v| msg.range_of(v));
    match range {
        Some(r) => {
            let mut num = [0u8; 3];
            let n = write_u8(&mut num, mf.saturating_sub(1));
            msg.replace(r, &num[..n])
        }
        None => Ok(()),
    }
}

fn write_u8(out: &mut [u8; 3], v: u8) -> usize {
    let digits = [v / 100, v / 10 % 10, v % 10];
    let skip = if v >= 100 {
        0
    } else if v >= 10 {
        1
    } else {
        2
    };
    for (o, d) in out.iter_mut().zip(&digits[skip..]) {
        *o = b'0' + d;
    }
    3 - skip
}

/// Forwards a request received as `info` to `dest`, statelessly. The caller has checked
/// Max-Forwards and loops.
pub fn forward_request(
    t: &Transport,
    hasher: &BranchHasher,
    msg: &mut Msg,
    info: &ReceiveInfo,
    dest: &Destination,
) -> Result<(), ForwardError> {
    let socket = dest
        .socket
        .filter(|&s| t.socket(s).is_some_and(|d| d.proto == dest.proto))
        .or_else(|| t.pick_socket(dest.proto, dest.addr))
        .ok_or(ForwardError::NoSocket(dest.proto))?;
    let (branch, received) = {
        let top = msg.via1().map_err(|_| ForwardError::NoVia)?;
        if info.proto.is_stream() && top.alias() {
            alias_connection(t, &top, info);
        }
        (
            stateless_branch(hasher, msg, &top),
            ReceivedEdit::new(msg, &top, info),
        )
    };
    if let Some(r) = received {
        r.apply(msg)?;
    }
    decrement_max_forwards(msg)?;
    let via = t
        .via_prefix(socket)
        .ok_or(ForwardError::NoSocket(dest.proto))?;
    let mut value = Vec::with_capacity(via.len() + branch.as_bytes().len());
    value.extend_from_slice(via.as_bytes());
    value.extend_from_slice(branch.as_bytes());
    msg.add_via(&value)?;
    let out = msg.to_bytes();
    t.send(
        &Destination {
            socket: Some(socket),
            ..dest.clone()
        },
        out,
    )?;
    Ok(())
}

/// RFC 5923: requests to the sender's sent-by may reuse the connection the request came on.
fn alias_connection(t: &Transport, top: &Via<'_>, info: &ReceiveInfo) {
    let ip = std::str::from_utf8(top.host)
        .ok()
        .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
    if let (Some(conn), Some(ip)) = (info.conn, ip) {
        let port = top.port.unwrap_or(info.proto.default_port());
        t.add_alias(conn, std::net::SocketAddr::new(ip, port));
    }
}

/// Forwards a response: checks the top Via is ours, removes it and sends to the next Via.
pub fn forward_response(t: &Transport, msg: &mut Msg) -> Result<(), ForwardError> {
    let dest = {
        let mut vias = msg.vias();
        let top = vias
            .next()
            .and_then(Result::ok)
            .ok_or(ForwardError::NoVia)?;
        let proto = super::via_route::via_proto(&top);
        if !t.is_local_bytes(proto, top.host, top.port) {
            return Err(ForwardError::NotOurVia);
        }
        let next = vias
            .next()
            .and_then(Result::ok)
            .ok_or(ForwardError::NoNextHop)?;
        response_destination(&next).ok_or(ForwardError::NoNextHop)?
    };
    msg.remove_top_via()?;
    t.send(&dest, msg.to_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Proto, SocketDef, TransportConfig};
    use std::net::UdpSocket;
    use std::sync::Arc;
    use std::time::Duration;

    const REQ: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bKa\r\n\
        Max-Forwards: 70\r\nFrom: <sip:alice@h>;tag=f1\r\nTo: <sip:bob@h>\r\nCall-ID: cid1\r\n\
        CSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n";

    fn transport() -> Arc<Transport> {
        let cfg = TransportConfig {
            sockets: vec![
                "udp:127.0.0.1:0 as proxy.test:5060"
                    .parse::<SocketDef>()
                    .unwrap(),
            ],
            udp_workers: 1,
            ..TransportConfig::default()
        };
        Transport::bind(cfg).unwrap()
    }

    fn info() -> ReceiveInfo {
        ReceiveInfo::udp(
            "127.0.0.5:40000".parse().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
            0,
        )
    }

    fn parse(s: &str) -> Msg {
        Msg::parse(bytes::Bytes::from(s.to_string())).unwrap()
    }

    fn forward(t: &Transport, h: &BranchHasher, raw: &str) -> String {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let dest = Destination::new(Proto::Udp, peer.local_addr().unwrap());
        let mut m = parse(raw);
        forward_request(t, h, &mut m, &info(), &dest).unwrap();
        let mut buf = [0u8; 4096];
        let n = peer.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn forwarded_request_has_our_via_and_one_hop_less() {
        let t = transport();
        let h = BranchHasher::new();
        let out = forward(&t, &h, REQ);
        let m = parse(&out);
        let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(
            (vias[0].host, vias[0].port),
            (&b"proxy.test"[..], Some(5060))
        );
        assert!(Branch::loop_part_of(vias[0].branch().unwrap()).is_some());
        assert_eq!(vias[1].rport(), Some(Some(40000)));
        assert_eq!(vias[1].received(), Some(&b"127.0.0.5"[..]));
        assert_eq!(m.max_forwards(), Some(69));
        // A retransmission gets the same branch; another transaction does not.
        let again = parse(&forward(&t, &h, REQ));
        assert_eq!(again.via1().unwrap().branch(), vias[0].branch());
        let other = parse(&forward(
            &t,
            &h,
            &REQ.replace("branch=z9hG4bKa", "branch=z9hG4bKb"),
        ));
        assert_ne!(other.via1().unwrap().branch(), vias[0].branch());
    }

    #[test]
    fn missing_max_forwards_is_added() {
        let t = transport();
        let out = forward(
            &t,
            &BranchHasher::new(),
            &REQ.replace("Max-Forwards: 70\r\n", ""),
        );
        assert_eq!(parse(&out).max_forwards(), Some(70));
    }

    #[test]
    fn rfc2543_requests_get_a_stable_branch_too() {
        let t = transport();
        let h = BranchHasher::new();
        let old = REQ.replace(";branch=z9hG4bKa", "");
        let a = parse(&forward(&t, &h, &old));
        let b = parse(&forward(&t, &h, &old));
        assert_eq!(a.via1().unwrap().branch(), b.via1().unwrap().branch());
    }

    #[test]
    fn loop_is_detected_but_spiral_is_not() {
        let t = transport();
        let h = BranchHasher::new();
        let once = forward(&t, &h, REQ);
        assert!(!is_loop(&h, &t, &parse(REQ)));
        assert!(
            is_loop(&h, &t, &parse(&once)),
            "same request back again: loop"
        );
        let spiral = once.replace("INVITE sip:bob@127.0.0.1", "INVITE sip:bob-2@127.0.0.1");
        assert!(
            !is_loop(&h, &t, &parse(&spiral)),
            "changed Request-URI: spiral"
        );
    }

    #[test]
    fn response_loses_our_via_and_goes_to_the_next() {
        let t = transport();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let port = peer.local_addr().unwrap().port();
        let rsp = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy.test:5060;branch=z9hG4bKsl1, \
             SIP/2.0/UDP client.test:5070;received=127.0.0.1;rport={port};branch=z9hG4bKa\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             Content-Length: 0\r\n\r\n"
        );
        forward_response(&t, &mut parse(&rsp)).unwrap();
        let mut buf = [0u8; 4096];
        let n = peer.recv(&mut buf).unwrap();
        let out = String::from_utf8(buf[..n].to_vec()).unwrap();
        assert!(
            out.contains("\r\nVia: SIP/2.0/UDP client.test:5070;received"),
            "{out}"
        );
        assert!(!out.contains("proxy.test"));
        let not_ours = rsp.replace("proxy.test:5060", "elsewhere.test:5060");
        assert!(matches!(
            forward_response(&t, &mut parse(&not_ours)),
            Err(ForwardError::NotOurVia)
        ));
        let last = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy.test;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
                    To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(
            forward_response(&t, &mut parse(last)),
            Err(ForwardError::NoNextHop)
        ));
    }
}
