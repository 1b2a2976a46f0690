//! RTPProxy instances (`rtpproxy_sock`: `[set ==] udp:host:port[|adv_ip][=weight] unix:/path
//! ...`), selection by Call-ID hash and weight as OpenSIPS `select_rtpp_node` does, failover
//! with `rtpproxy_disable_tout`, and sending one command (UDP with a cookie, or a UNIX stream).

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::modules::relay_nodes::{self, udp};

/// Where a node listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Udp(SocketAddr),
    Unix(PathBuf),
}

/// How the module reaches one proxy.
#[derive(Debug)]
pub struct Ctl {
    pub target: Target,
    /// `|adv_ip`: the address to put in the SDP instead of the one the proxy returns.
    pub adv_ip: Option<String>,
}

/// One rtpproxy control socket; `url` is as written, without weight and advertised address.
pub type Node = relay_nodes::Node<Ctl>;
/// A numbered group of rtpproxy nodes.
pub type Set = relay_nodes::Set<Ctl>;

pub fn parse_node(text: &str) -> Result<Node, String> {
    let (rest, weight) = relay_nodes::split_weight(text, "rtpproxy")?;
    let (url, adv_ip) = match rest.split_once('|') {
        Some((u, a)) if !a.is_empty() => (u, Some(a.to_string())),
        Some(_) => {
            return Err(format!(
                "rtpproxy socket `{text}`: empty advertised address"
            ));
        }
        None => (rest, None),
    };
    let target = if let Some(p) = url.strip_prefix("unix:") {
        if p.is_empty() {
            return Err(format!("rtpproxy socket `{text}`: no path"));
        }
        Target::Unix(PathBuf::from(p))
    } else {
        Target::Udp(relay_nodes::udp_addr(url).ok_or_else(|| {
            format!(
                "rtpproxy socket `{text}`: expected udp:host:port, udp6:[addr]:port or unix:/path"
            )
        })?)
    };
    Ok(Node::new(url, weight, Ctl { target, adv_ip }))
}

/// Checks the proxy's protocol version once after each failure (`V`, then `VF 20050322`).
pub fn verify(n: &Node, retries: u32, timeout: Duration) -> Result<(), String> {
    if n.checked() {
        return Ok(());
    }
    let v = n.ctl.send("V", retries, timeout)?;
    if v.trim() != super::command::BASE_VERSION {
        return Err(format!("unsupported protocol version `{}`", v.trim()));
    }
    let cap = n.ctl.send(
        &format!("VF {}", super::command::REQUIRED_CAP),
        retries,
        timeout,
    )?;
    if cap.trim() != "1" {
        return Err(format!(
            "proxy lacks capability {}",
            super::command::REQUIRED_CAP
        ));
    }
    n.set_checked();
    Ok(())
}

impl Ctl {
    /// Sends one command and returns the reply without the cookie.
    pub fn send(&self, cmd: &str, retries: u32, timeout: Duration) -> Result<String, String> {
        match &self.target {
            Target::Udp(a) => send_udp(*a, cmd, retries, timeout),
            Target::Unix(p) => send_unix(p, cmd, timeout),
        }
    }
}

fn send_udp(
    addr: SocketAddr,
    cmd: &str,
    retries: u32,
    timeout: Duration,
) -> Result<String, String> {
    let local = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    sock.connect(addr).map_err(|e| e.to_string())?;
    let cookie = udp::cookie();
    let pkt = format!("{cookie} {cmd}");
    udp::exchange(&sock, pkt.as_bytes(), &cookie, retries, timeout, |r| {
        String::from_utf8_lossy(r).trim_end().to_string()
    })
}

/// UNIX stream sockets carry one command per connection, without a cookie.
fn send_unix(path: &PathBuf, cmd: &str, timeout: Duration) -> Result<String, String> {
    let mut s = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    s.write_all(format!("{cmd}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.ends_with(b"\n") {
                    break;
                }
            }
            Err(e) if buf.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
    }
    if buf.is_empty() {
        return Err("no reply".into());
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

pub fn parse_sets(values: &[String]) -> Result<Vec<Set>, String> {
    relay_nodes::parse_sets("rtpproxy_sock", values, parse_node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_socket_forms() {
        let sets = parse_sets(&[
            "udp:127.0.0.1:7722|127.0.0.9=3 unix:/run/rtpproxy.sock".into(),
            "2 == 127.0.0.1:7723 udp6:[::1]:7724".into(),
        ])
        .unwrap();
        assert_eq!(sets.len(), 2);
        let n = &sets[0].nodes[0];
        assert_eq!(n.url, "udp:127.0.0.1:7722");
        assert_eq!(n.weight, 3);
        assert_eq!(n.ctl.adv_ip.as_deref(), Some("127.0.0.9"));
        assert_eq!(n.ctl.target, Target::Udp("127.0.0.1:7722".parse().unwrap()));
        assert_eq!(
            sets[0].nodes[1].ctl.target,
            Target::Unix("/run/rtpproxy.sock".into())
        );
        assert_eq!(sets[1].id, 2);
        assert_eq!(
            sets[1].nodes[1].ctl.target,
            Target::Udp("[::1]:7724".parse().unwrap())
        );
        for bad in [
            "udp:127.0.0.1:1=w",
            "x == udp:127.0.0.1:1",
            "unix:",
            "udp:127.0.0.1",
            "1 ==",
        ] {
            assert!(parse_sets(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn selection_skips_failed_nodes() {
        let s = parse_sets(&["udp:127.0.0.1:1 udp:127.0.0.1:2".into()])
            .unwrap()
            .remove(0);
        let first = s.select(b"call", &[]).unwrap();
        assert_eq!(s.select(b"call", &[first]), Some(1 - first));
        s.nodes[first].fail(Duration::from_secs(30));
        assert_eq!(s.select(b"call", &[]), Some(1 - first));
        s.nodes[1 - first].set_enabled(false);
        assert_eq!(s.select(b"call", &[]), None);
    }

    #[test]
    fn unix_stream_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rtpp.sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut b = [0u8; 64];
            let n = c.read(&mut b).unwrap();
            assert_eq!(&b[..n], b"V\n");
            c.write_all(b"20040107\n").unwrap();
        });
        let n = parse_node(&format!("unix:{}", path.display())).unwrap();
        assert_eq!(
            n.ctl.send("V", 1, Duration::from_secs(2)).unwrap(),
            "20040107"
        );
        t.join().unwrap();
    }
}
