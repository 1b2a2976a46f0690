//! The real rtpengine daemon for the media-relay tests: started on a free ng port on 127.0.0.1
//! with its own RTP port range, userspace only (`--table=-1`), stopped when dropped. Missing
//! rtpengine fails the test when `CI` or `OSIPS_REQUIRE_SERVERS` is set (Debian package
//! `rtpengine-daemon`; scripts/test.sh installs it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osips::modules::rtpengine::{Bencode, ng};

/// Path of the rtpengine daemon; fails in CI when it is missing, else None (test skipped).
pub fn rtpengine_bin() -> Option<String> {
    for p in ["/usr/bin/rtpengine", "/usr/sbin/rtpengine"] {
        if std::path::Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    if super::common::servers_required() {
        panic!("rtpengine is required: install Debian's rtpengine-daemon (scripts/test.sh does)");
    }
    eprintln!("skipping: rtpengine is not installed");
    None
}

/// A running rtpengine.
pub struct Rtpengine {
    child: Child,
    pub ng: SocketAddr,
    pub port_min: u16,
    pub port_max: u16,
    log: Arc<Mutex<String>>,
}

impl Rtpengine {
    /// Starts rtpengine and waits until it answers an ng `ping`.
    pub fn start() -> Option<Rtpengine> {
        let bin = rtpengine_bin()?;
        for _ in 0..5 {
            let ng_port = super::common::free_udp_port();
            let cli_port = super::common::free_tcp_port();
            let http_port = super::common::free_tcp_port();
            // A range of its own, away from the ephemeral ports the tests bind.
            let port_min = 20000 + (rand_u16() % 1500) * 8;
            let port_max = port_min + 59;
            let mut child = Command::new(&bin)
                .args([
                    "--foreground",
                    "--interface=127.0.0.1",
                    &format!("--listen-ng=127.0.0.1:{ng_port}"),
                    &format!("--port-min={port_min}"),
                    &format!("--port-max={port_max}"),
                    &format!("--listen-cli=127.0.0.1:{cli_port}"),
                    &format!("--listen-http=127.0.0.1:{http_port}"),
                    "--table=-1",
                    "--log-stderr",
                    "--log-level=6",
                    "--delete-delay=0",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("rtpengine starts");
            let log = Arc::new(Mutex::new(String::new()));
            let sink = log.clone();
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
            let r = Rtpengine {
                child,
                ng: format!("127.0.0.1:{ng_port}").parse().unwrap(),
                port_min,
                port_max,
                log,
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if r.try_command(&dict(&[("command", "ping")]))
                    .is_some_and(|d| d.get_str("result").as_deref() == Some("pong"))
                {
                    return Some(r);
                }
                if r.log().contains("Failed to") || r.log().contains("Address already in use") {
                    break;
                }
            }
            eprintln!("rtpengine did not start, retrying:\n{}", r.log());
        }
        panic!("rtpengine did not start");
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn try_command(&self, d: &Bencode) -> Option<Bencode> {
        ng::request(self.ng, d, 1, Duration::from_millis(300)).ok()
    }

    /// Sends an ng command and returns the reply.
    pub fn command(&self, d: &Bencode) -> Bencode {
        ng::request(self.ng, d, 3, Duration::from_millis(1000))
            .unwrap_or_else(|e| panic!("rtpengine ng: {e}\n{}", self.log()))
    }

    /// The ng `query` result for a call: "ok" while rtpengine knows it, "error" after delete.
    pub fn query(&self, call_id: &str) -> String {
        let r = self.command(&dict(&[("command", "query"), ("call-id", call_id)]));
        let result = r.get_str("result").unwrap_or_default();
        if result != "ok" {
            eprintln!(
                "query {call_id}: {}",
                r.get_str("error-reason").unwrap_or_default()
            );
        }
        result
    }

    /// Whether `port` is one rtpengine allocates.
    pub fn owns(&self, port: u16) -> bool {
        (self.port_min..=self.port_max).contains(&port)
    }
}

impl Drop for Rtpengine {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(5) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    ((t ^ std::process::id().wrapping_mul(2_654_435_761)) >> 7) as u16
}

/// A dictionary of strings.
pub fn dict(kv: &[(&str, &str)]) -> Bencode {
    let mut d = Bencode::dict();
    for (k, v) in kv {
        d.insert(k, Bencode::str(v));
    }
    d
}

/// One RTP packet (PCMU, 160 bytes of payload) with `seq`.
pub fn rtp_packet(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0xffu8, 160));
    p
}

/// Sends RTP from `from` to `to` until `rx` receives one packet of the same SSRC (at most
/// 3 s); returns what arrived and the address it came from.
pub fn rtp_flows(
    from: &UdpSocket,
    to: SocketAddr,
    rx: &UdpSocket,
    ssrc: u32,
) -> Option<(Vec<u8>, SocketAddr)> {
    rx.set_read_timeout(Some(Duration::from_millis(40)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut seq = 1u16;
    while start.elapsed() < Duration::from_secs(3) {
        from.send_to(&rtp_packet(seq, ssrc), to).unwrap();
        seq += 1;
        while let Ok((n, src)) = rx.recv_from(&mut buf) {
            if n >= 12 && buf[8..12] == ssrc.to_be_bytes() {
                return Some((buf[..n].to_vec(), src));
            }
        }
    }
    None
}

/// Polls for a file sipp's `<exec>` writes and returns its trimmed text.
pub fn wait_file(path: &std::path::Path, secs: u64) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Ok(t) = std::fs::read_to_string(path)
            && t.ends_with('\n')
        {
            return Some(t.trim().to_string());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    None
}

/// A SIP message from its start line and headers (`head`, each line ending in CRLF) and an SDP
/// `body` (none when empty), with Content-Type and Content-Length.
pub fn with_body(head: String, body: &str) -> String {
    if body.is_empty() {
        format!("{head}Content-Length: 0\r\n\r\n")
    } else {
        format!(
            "{head}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}
