//! The UDP exchange rtpengine's ng protocol and rtpproxy's control protocol share: a command
//! prefixed with a cookie, sent `retries` times, each waiting `timeout` for the datagram that
//! echoes the cookie (replies to earlier, timed-out commands carry another one).

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

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

/// The reply body after `cookie` and one space; None when the datagram is for another command.
pub fn strip_cookie<'a>(pkt: &'a [u8], cookie: &str) -> Option<&'a [u8]> {
    let rest = pkt.strip_prefix(cookie.as_bytes())?;
    rest.strip_prefix(b" ")
}

/// Sends `pkt` (`<cookie> <command>`) on the connected `sock` and hands the body of the reply
/// that echoes `cookie` to `reply`; the error says why nothing came back.
pub fn exchange<R>(
    sock: &UdpSocket,
    pkt: &[u8],
    cookie: &str,
    retries: u32,
    timeout: Duration,
    reply: impl FnOnce(&[u8]) -> R,
) -> Result<R, String> {
    let mut buf = vec![0u8; 65536];
    let mut last = String::from("timeout");
    for _ in 0..retries.max(1) {
        if let Err(e) = sock.send(pkt) {
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
                    if let Some(body) = strip_cookie(&buf[..n], cookie) {
                        return Ok(reply(body));
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
    Err(last)
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
}
