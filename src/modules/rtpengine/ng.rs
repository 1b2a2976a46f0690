//! The ng control protocol transport: `<cookie> <bencoded dict>` in one UDP datagram, the reply
//! echoing the cookie; `retries` sends, each waiting `timeout` for the reply.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use super::bencode::Bencode;
use crate::modules::relay_nodes::udp;

/// Why an ng command got no usable reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NgError {
    /// Nothing (or only unrelated datagrams) came back: the node is down.
    NoAnswer(String),
    /// The reply did not decode as a dictionary.
    BadReply(String),
}

impl std::fmt::Display for NgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NgError::NoAnswer(e) => write!(f, "no answer: {e}"),
            NgError::BadReply(e) => write!(f, "bad reply: {e}"),
        }
    }
}

thread_local! {
    /// One connected socket per worker and rtpengine address.
    static SOCKS: RefCell<HashMap<SocketAddr, UdpSocket>> = RefCell::new(HashMap::new());
}

fn socket_for(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    SOCKS.with(|m| {
        if let Some(s) = m.borrow().get(&addr) {
            return s.try_clone();
        }
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let s = UdpSocket::bind(local)?;
        s.connect(addr)?;
        let c = s.try_clone()?;
        m.borrow_mut().insert(addr, s);
        Ok(c)
    })
}

fn forget(addr: SocketAddr) {
    SOCKS.with(|m| m.borrow_mut().remove(&addr));
}

/// Sends `dict` to `addr` and returns the reply dictionary.
pub fn request(
    addr: SocketAddr,
    dict: &Bencode,
    retries: u32,
    timeout: Duration,
) -> Result<Bencode, NgError> {
    let sock = socket_for(addr).map_err(|e| NgError::NoAnswer(e.to_string()))?;
    let cookie = udp::cookie();
    let mut pkt = Vec::with_capacity(512);
    pkt.extend_from_slice(cookie.as_bytes());
    pkt.push(b' ');
    dict.encode_into(&mut pkt);
    // Replies to earlier, timed-out commands are still queued: drop them.
    let _ = sock.set_nonblocking(true);
    let mut buf = vec![0u8; 65536];
    while sock.recv(&mut buf).is_ok() {}
    let _ = sock.set_nonblocking(false);
    let decoded = udp::exchange(
        &sock,
        &pkt,
        &cookie,
        retries,
        timeout,
        |body| match Bencode::decode(body) {
            Ok(d @ Bencode::Dict(_)) => Ok(d),
            Ok(_) => Err(NgError::BadReply("not a dictionary".into())),
            Err(e) => Err(NgError::BadReply(e.to_string())),
        },
    );
    decoded.unwrap_or_else(|e| {
        forget(addr);
        Err(NgError::NoAnswer(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node answering only the second send: the retry gets the reply; a stale reply with
    /// another cookie is ignored.
    #[test]
    fn retries_and_ignores_foreign_cookies() {
        let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = srv.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let (_, _) = srv.recv_from(&mut buf).unwrap();
            let (n, from) = srv.recv_from(&mut buf).unwrap();
            let text = &buf[..n];
            let sp = text.iter().position(|&b| b == b' ').unwrap();
            let cookie = &text[..sp];
            assert_eq!(&text[sp + 1..], b"d7:command4:pinge");
            srv.send_to(b"other d6:result4:ponge", from).unwrap();
            let mut r = cookie.to_vec();
            r.extend_from_slice(b" d6:result4:ponge");
            srv.send_to(&r, from).unwrap();
        });
        let mut d = Bencode::dict();
        d.insert("command", Bencode::str("ping"));
        let r = request(addr, &d, 3, Duration::from_millis(300)).unwrap();
        assert_eq!(r.get_str("result").as_deref(), Some("pong"));
        t.join().unwrap();
    }

    #[test]
    fn dead_node_is_reported() {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut d = Bencode::dict();
        d.insert("command", Bencode::str("ping"));
        let e = request(port, &d, 2, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, NgError::NoAnswer(_)), "{e:?}");
    }
}
