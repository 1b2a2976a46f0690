//! The ng control protocol transport: `<cookie> <bencoded dict>` in one UDP datagram, the reply
//! echoing the cookie; `retries` sends, each waiting `timeout` for the reply.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::bencode::Bencode;

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

static SEQ: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// One connected socket per worker and rtpengine address.
    static SOCKS: RefCell<HashMap<SocketAddr, UdpSocket>> = RefCell::new(HashMap::new());
}

/// A cookie unique in this process: `<pid>_<random>_<sequence>` as OpenSIPS makes them.
pub fn cookie() -> String {
    static RAND: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let r = *RAND.get_or_init(|| rand::random::<u32>() % 10000);
    format!(
        "{}_{}_{}",
        std::process::id(),
        r,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
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
    let cookie = cookie();
    let mut pkt = Vec::with_capacity(512);
    pkt.extend_from_slice(cookie.as_bytes());
    pkt.push(b' ');
    dict.encode_into(&mut pkt);
    // Replies to earlier, timed-out commands are still queued: drop them.
    let _ = sock.set_nonblocking(true);
    let mut buf = vec![0u8; 65536];
    while sock.recv(&mut buf).is_ok() {}
    let _ = sock.set_nonblocking(false);
    let mut last = String::from("timeout");
    for _ in 0..retries.max(1) {
        if let Err(e) = sock.send(&pkt) {
            last = e.to_string();
            continue;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = "timeout".into();
                break;
            }
            let _ = sock.set_read_timeout(Some(left));
            match sock.recv(&mut buf) {
                Ok(n) => {
                    if let Some(body) = strip_cookie(&buf[..n], &cookie) {
                        return match Bencode::decode(body) {
                            Ok(d @ Bencode::Dict(_)) => Ok(d),
                            Ok(_) => Err(NgError::BadReply("not a dictionary".into())),
                            Err(e) => Err(NgError::BadReply(e.to_string())),
                        };
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    last = "timeout".into();
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    // ICMP port unreachable and the like: waiting longer will not help.
                    last = e.to_string();
                    std::thread::sleep(timeout.min(Duration::from_millis(50)));
                    break;
                }
            }
        }
    }
    forget(addr);
    Err(NgError::NoAnswer(last))
}

/// The reply body after `cookie` and one space; None when the datagram is for another command.
fn strip_cookie<'a>(pkt: &'a [u8], cookie: &str) -> Option<&'a [u8]> {
    let rest = pkt.strip_prefix(cookie.as_bytes())?;
    rest.strip_prefix(b" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_differ() {
        let (a, b) = (cookie(), cookie());
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}_", std::process::id())));
    }

    #[test]
    fn reply_must_carry_our_cookie() {
        assert_eq!(
            strip_cookie(b"12_3_4 d6:result4:ponge", "12_3_4"),
            Some(&b"d6:result4:ponge"[..])
        );
        assert_eq!(strip_cookie(b"12_3_45 de", "12_3_4"), None);
        assert_eq!(strip_cookie(b"12_3", "12_3_4"), None);
    }

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
