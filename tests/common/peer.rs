//! A bare UDP SIP peer for tests that need a next hop answering without sipp: it replies to
//! every request but ACK, copying the headers a response needs.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};

/// The response `status` (`200 OK`) to `req`: its Vias, From, To with `;tag=to_tag`, Call-ID
/// and CSeq.
pub fn reply_to(req: &str, status: &str, to_tag: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in req.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => out.push_str(&format!("{line}\r\n")),
            "to" => out.push_str(&format!("{line};tag={to_tag}\r\n")),
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A thread on `ip` (any free port) answering every request but ACK with `status`.
pub fn udp_answering(ip: &str, status: &'static str, to_tag: &'static str) -> SocketAddr {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65535];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]);
            if req.starts_with("ACK ") {
                continue;
            }
            let _ = s.send_to(reply_to(&req, status, to_tag).as_bytes(), from);
        }
    });
    addr
}
