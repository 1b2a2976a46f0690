//! startup_route runs once before the first message; timer_route[name, interval] runs every
//! interval seconds.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::osips::Osips;

fn options(port: u16) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let me = ua.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:r@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKrt{}\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:r@127.0.0.1>\r\nCall-ID: rt-{}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        me.port(),
        me.port()
    );
    ua.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 2048];
    let n = ua.recv(&mut buf).expect("osips answers");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_slow_script_run_raises_e_core_threshold() {
    let mut o = Osips::script(
        r#"socket = udp:127.0.0.1:@PORT@
exec_msg_threshold = 1
loadmodule "sl.so"

event_route[E_CORE_THRESHOLD] {
    cache_store("local", "threshold", "$param(source): $param(extra)");
    xlog("L_NOTICE", "threshold event stored\n");
}

route {
    $var(i) = 0;
    while ($var(i) < 200) { $var(i) = $var(i) + 1; }
    cache_fetch("local", "threshold", $var(t));
    sl_send_reply(200, "seen=$var(t)");
    exit;
}
"#,
    )
    .port(common::free_udp_port())
    .start();
    options(o.port);
    o.wait_for("threshold event stored");
    let line = options(o.port);
    assert!(
        line.starts_with("SIP/2.0 200 seen=msg processing: OPTIONS sip:r@127.0.0.1:"),
        "{line}"
    );
}

#[test]
fn startup_and_timer_routes_run() {
    let mut o = Osips::script(
        r#"socket = udp:127.0.0.1:@PORT@
loadmodule "sl.so"

startup_route {
    cache_store("local", "boot", "done");
}

timer_route[tick, 1] {
    cache_add("local", "ticks", 1, 0);
    cache_counter_fetch("local", "ticks", $var(t));
    xlog("L_NOTICE", "tick $var(t)\n");
}

route {
    $var(t) = 0;
    cache_fetch("local", "boot", $var(b));
    cache_counter_fetch("local", "ticks", $var(t));
    sl_send_reply(200, "boot=$var(b) ticks=$var(t)");
    exit;
}
"#,
    )
    .port(common::free_udp_port())
    .start();
    // startup_route ran before the first message; no tick yet.
    assert_eq!(options(o.port), "SIP/2.0 200 boot=done ticks=0");
    o.wait_for("tick 2");
    let line = options(o.port);
    let ticks: i32 = line
        .rsplit("ticks=")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.starts_with("SIP/2.0 200 boot=done ticks="), "{line}");
    assert!(ticks >= 2, "{line}");
}
