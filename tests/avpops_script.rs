//! avpops from a running script: `is_avp_set`, `avp_copy` (newest / all, delete), `avp_insert`,
//! `avp_delete` (newest / all) and `avp_shuffle` change `$avp`s the way OpenSIPS documents; the
//! route reports what it saw in the reply's reason phrase.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::osips::Osips;

const SCRIPT: &str = r#"log_level=3
socket=udp:127.0.0.1:@PORT@
loadmodule "sl.so"
loadmodule "avpops.so"
route {
    if (is_avp_set("$avp(none)")) { sl_send_reply(500, "none is set"); exit; }
    $avp(a) = "one";
    $avp(a) = "two";
    $avp(a) = "three";
    if (!is_avp_set("$avp(a)")) { sl_send_reply(500, "a is not set"); exit; }
    avp_copy("$avp(a)", "$avp(top)");
    avp_copy("$avp(a)", "$avp(all)/g");
    avp_insert("$avp(all)", "x", 1);
    avp_delete("$avp(a)");
    $var(after_one) = $avp(a);
    avp_copy("$avp(a)", "$avp(moved)/gd");
    avp_shuffle("$avp(all)");
    avp_print();
    sl_send_reply(200, "$avp(top) $var(after_one) $(avp(moved)[0])$(avp(moved)[1]) a=$avp(a) c3=$(avp(all)[3]) c4=$(avp(all)[4])");
    exit;
}
"#;

#[test]
fn avp_functions_change_the_avps_as_opensips_documents() {
    let osips = Osips::script(SCRIPT).start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = sock.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKavp\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n\
         Call-ID: avpops-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(req.as_bytes(), ("127.0.0.1", osips.port))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no reply: {e}\n{}", osips.log()));
    let reply = String::from_utf8_lossy(&buf[..n]);
    let status = reply.lines().next().unwrap();
    assert!(
        status.starts_with("SIP/2.0 200 three two twoone a=<null> c3="),
        "{status}\n{}",
        osips.log()
    );
    // `all` holds the three copies and the inserted "x", shuffled: a fourth value and no fifth.
    assert!(status.ends_with(" c4=<null>"), "{status}");
    assert!(!status.contains("c3=<null>"), "{status}");
}
