//! error_route end to end: `osips` runs a script whose main route reads `$fU`; a request whose
//! From header does not parse runs error_route, which answers with
//! `sl_send_reply($err.rcode, $err.rreason)` (OpenSIPS: 400 "bad header"), over real UDP.

mod common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SCRIPT: &str = r#"socket = udp:127.0.0.1:@PORT@
loadmodule "sl.so"

route {
    if ($fU == "bob") {
        sl_send_reply(200, "Hello bob");
        exit;
    }
    sl_send_reply(403, "Not bob");
    exit;
}

error_route {
    xlog("L_ERR", "error_route: class=$err.class level=$err.level info=$err.info\n");
    sl_send_reply($err.rcode, $err.rreason);
    exit;
}
"#;

fn start() -> (
    Proxy,
    u16,
    std::sync::mpsc::Receiver<String>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_udp_port();
    let cfg = dir.path().join("error_route.cfg");
    std::fs::write(&cfg, SCRIPT.replace("@PORT@", &port.to_string())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-f", cfg.to_str().unwrap(), "-F", "-E"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Proxy(child), port, rx, dir)
}

fn wait_for(rx: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100))
            && l.contains(what)
        {
            return l;
        }
    }
    panic!("osips never logged `{what}`");
}

/// Sends an OPTIONS with `from` as the From header value; returns the reply's status line.
fn options(port: u16, from: &str) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let me = ua.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:alice@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch=z9hG4bKer{}\r\n\
         From: {from}\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: er-{}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        me.port(),
        me.port()
    );
    ua.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = ua.recv(&mut buf).expect("osips answers");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_request_with_a_bad_from_header_is_answered_by_error_route() {
    let (_proxy, port, rx, _dir) = start();
    wait_for(&rx, "listening on");
    assert_eq!(
        options(port, "<sip:bob@127.0.0.1>;tag=1"),
        "SIP/2.0 200 Hello bob"
    );
    assert_eq!(
        options(port, "<sip:carol@127.0.0.1>;tag=1"),
        "SIP/2.0 403 Not bob"
    );
    // The From value does not parse: reading $fU sets $err and runs error_route.
    assert_eq!(options(port, "<sip:bob@"), "SIP/2.0 400 bad header");
    let logged = wait_for(&rx, "error_route:");
    assert!(
        logged.contains("class=1 level=3 info=error parsing From header"),
        "{logged}"
    );
    // The next good request is not affected by the previous error.
    assert_eq!(
        options(port, "<sip:bob@127.0.0.1>;tag=2"),
        "SIP/2.0 200 Hello bob"
    );
}
