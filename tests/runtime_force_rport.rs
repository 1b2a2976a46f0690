//! `force_rport()`: a UDP client whose Via names a port it does not listen on (a NATed phone)
//! gets the script's reply at its source port, stateless and through tm; without the call the
//! reply goes to the Via port and never reaches it.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::osips::Osips;

const SCRIPT: &str = r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "tm.so"
route {
    if ($hdr(X-Force) == "yes")
        force_rport();
    if ($rm == "OPTIONS")
        sl_send_reply(200, "Stateless");
    else
        t_reply(486, "Stateful");
    exit;
}
"#;

/// Sends `method` with a Via naming port 9 from a fresh socket; the final status line that came back.
fn ask(port: u16, method: &str, force: bool) -> Option<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let req = format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{method}{force}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: rport-{method}-{force}-{}\r\nCSeq: 1 {method}\r\nX-Force: {}\r\n\
         Contact: <sip:alice@127.0.0.1:9>\r\nContent-Length: 0\r\n\r\n",
        sock.local_addr().unwrap().port(),
        if force { "yes" } else { "no" }
    );
    sock.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status = text.lines().next()?.to_string();
        if !status.starts_with("SIP/2.0 1") {
            return Some(status);
        }
    }
}

#[test]
fn force_rport_sends_replies_to_the_source_port() {
    let osips = Osips::script(SCRIPT).start();
    assert_eq!(
        ask(osips.port, "OPTIONS", true).as_deref(),
        Some("SIP/2.0 200 Stateless"),
        "{}",
        osips.log()
    );
    assert_eq!(
        ask(osips.port, "INVITE", true).as_deref(),
        Some("SIP/2.0 486 Stateful"),
        "{}",
        osips.log()
    );
    assert_eq!(ask(osips.port, "OPTIONS", false), None, "{}", osips.log());
}
