//! The management interface of a running `osips -f script`: the script loads mi_http, mi_fifo and
//! mi_datagram; sipp sends real traffic and the MI (our client and the real opensips-cli) reads
//! the core statistics, answers the core commands and stops the process with `kill`.

mod common;
mod opensips_cli_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use osips::mi::client::{MiTarget, call};
use serde_json::{Value, json};

const SCRIPT: &str = r#"
socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
loadmodule "mi_fifo.so"
loadmodule "mi_datagram.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
modparam("mi_fifo", "fifo_name", "@DIR@/osips_fifo")
modparam("mi_fifo", "reply_dir", "@DIR@/")
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:@MIUDP@")
route {
    sl_send_reply(200, "OK");
    exit;
}
"#;

/// A running `osips` (the common launcher) with its MI endpoints; SIGTERM when dropped.
struct Osips {
    inner: common::osips::Osips,
    sip_port: u16,
    udp: SocketAddr,
}

impl Osips {
    fn start() -> Osips {
        let mi_udp = common::free_udp_port();
        let inner = common::osips::Osips::script(SCRIPT)
            .port(common::free_udp_port())
            .var("@MIUDP@", mi_udp)
            .start();
        Osips {
            sip_port: inner.port,
            udp: SocketAddr::from(([127, 0, 0, 1], mi_udp)),
            inner,
        }
    }

    fn fifo(&self) -> PathBuf {
        self.dir.path().join("osips_fifo")
    }

    fn targets(&self) -> Vec<(&'static str, MiTarget)> {
        vec![
            (
                "http",
                MiTarget::Http {
                    addr: self.http,
                    path: "/mi".into(),
                },
            ),
            (
                "fifo",
                MiTarget::Fifo {
                    fifo: self.fifo(),
                    reply_dir: self.dir.path().to_path_buf(),
                },
            ),
            ("datagram", MiTarget::Udp(self.udp)),
        ]
    }

    fn mi(&self, t: &MiTarget, method: &str, params: Value) -> Value {
        call(t, method, params, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("MI {method}: {e}\n--- osips log ---\n{}", self.log()))
    }
}

impl std::ops::Deref for Osips {
    type Target = common::osips::Osips;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Osips {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

const OPTIONS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options">
  <send>
    <![CDATA[
      OPTIONS sip:ping@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:ping@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

/// Sends `n` OPTIONS with sipp and waits for their 200s.
fn send_options(o: &Osips, n: usize) {
    common::sipp::Run::new(&format!("{n} OPTIONS"), OPTIONS)
        .towards_port(o.sip_port)
        .calls(n)
        .args(&["-r", "50"])
        .timeout(10)
        .done(&o.inner);
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    osips::mi::client::parse_http_response(&raw).unwrap()
}

#[test]
fn statistics_count_the_traffic_sipp_sends() {
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start();
    let http = &o.targets()[0].1;
    let before = o.mi(
        http,
        "get_statistics",
        json!({"statistics": ["rcv_requests"]}),
    );
    assert_eq!(before, json!({"core:rcv_requests": 0}));
    send_options(&o, 5);
    for (name, t) in o.targets() {
        let v = o.mi(
            &t,
            "get_statistics",
            json!({"statistics": ["rcv_requests"]}),
        );
        assert_eq!(v, json!({"core:rcv_requests": 5}), "over {name}");
    }
    let all = o.mi(http, "get_statistics", json!({"statistics": ["all"]}));
    assert_eq!(all["core:fwd_requests"], 0, "{all}");
    assert_eq!(all["core:drop_requests"], 0, "{all}");
    assert_eq!(all["core:rcv_replies"], 0, "{all}");
    // the Prometheus endpoint shows the same figure
    let (status, text) = http_get(o.http, "/metrics");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.lines().any(|l| l == "opensips_core_rcv_requests 5"),
        "{text}"
    );
}

#[test]
fn core_commands_answer_over_http_fifo_and_datagram() {
    let o = Osips::start();
    for (name, t) in o.targets() {
        let which = o.mi(&t, "which", json!({}));
        assert!(
            which
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "reload_routes"),
            "{name}: {which}"
        );
        let up = o.mi(&t, "uptime", json!({}));
        assert!(
            up["Up time"].as_str().unwrap().ends_with("[sec]"),
            "{name}: {up}"
        );
        let v = o.mi(&t, "version", json!({}));
        assert!(
            v["Server"].as_str().unwrap().contains("osips"),
            "{name}: {v}"
        );
        let ps = o.mi(&t, "ps", json!({}));
        let types: Vec<&str> = ps["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Type"].as_str().unwrap())
            .collect();
        let receivers = types
            .iter()
            .filter(|t| t.starts_with("SIP receiver udp:127.0.0.1:"))
            .count();
        assert_eq!(receivers, 2, "{name}: {types:?}");
        assert!(types.contains(&"MI FIFO"), "{name}: {types:?}");
        assert!(
            types.iter().any(|t| t.starts_with("HTTPD")),
            "{name}: {types:?}"
        );
    }
}

#[test]
fn kill_over_mi_stops_the_process() {
    let mut o = Osips::start();
    let t = MiTarget::Udp(o.udp);
    assert_eq!(o.mi(&t, "kill", json!({})), json!("OK"));
    let st = o.wait_exit();
    assert!(st.success(), "{st}\n{}", o.log());
    assert!(o.log().contains("stopped"), "{}", o.log());
    assert!(!o.fifo().exists(), "the FIFO is removed on shutdown");
}

const CLI_COMMON: &str = "[default]\nlog_level: WARNING\noutput_type: pretty-print\nprompt_emptyline_repeat_cmd: False\n";

#[test]
fn opensips_cli_drives_the_running_osips() {
    let Some(cli) = opensips_cli_support::opensips_cli() else {
        return;
    };
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start();
    send_options(&o, 3);
    let home = o.dir.path();
    let http = format!(
        "{CLI_COMMON}communication_type: http\nurl: http://{}/mi\n",
        o.http
    );
    let fifo = format!(
        "{CLI_COMMON}communication_type: fifo\nfifo_file: {f}\nfifo_file_fallback: {f}\nfifo_reply_dir: {d}\n",
        f = o.fifo().display(),
        d = home.display()
    );
    for cfg in [http, fifo] {
        let up = opensips_cli_support::run(&cli, home, &cfg, &["uptime"]);
        assert!(up["Up time"].as_str().unwrap().ends_with("[sec]"), "{up}");
        let all = opensips_cli_support::run(&cli, home, &cfg, &["get_statistics", "all"]);
        assert_eq!(all["core:rcv_requests"], 3, "{all}");
        assert!(all.get("core:bad_msg_hdr").is_some(), "{all}");
    }
}

/// Sends one OPTIONS over UDP; the status code of the reply.
fn options_status(o: &Osips, call_id: &str) -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = s.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:ping@127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-{call_id}\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        p = o.sip_port
    );
    s.send_to(req.as_bytes(), ("127.0.0.1", o.sip_port))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).expect("a reply");
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn reload_routes_swaps_a_good_script_and_refuses_a_bad_one() {
    let o = Osips::start();
    let http = &o.targets()[0].1;
    assert_eq!(options_status(&o, "r1"), 200);
    let path = o.dir.path().join("osips.cfg");
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replace(
        "sl_send_reply(200, \"OK\");",
        "sl_send_reply(486, \"Busy\")",
    );
    std::fs::write(&path, &bad).unwrap();
    let e = call(http, "reload_routes", json!({}), Duration::from_secs(5)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("reload failed"), "{msg}");
    assert!(msg.contains("osips.cfg"), "the errors name the file: {msg}");
    assert_eq!(options_status(&o, "r2"), 200, "the running script goes on");
    let good = text.replace(
        "sl_send_reply(200, \"OK\");",
        "sl_send_reply(486, \"Busy\");",
    );
    std::fs::write(&path, &good).unwrap();
    assert_eq!(o.mi(http, "reload_routes", json!({})), json!("OK"));
    assert_eq!(options_status(&o, "r3"), 486);
}

#[test]
fn malformed_messages_count_as_bad_msg_hdr() {
    let o = Osips::start();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(
        b"OPTIONS sip:x SIP/2.0\r\nVia: broken\r\nCSeq: x\r\n\r\n",
        ("127.0.0.1", o.sip_port),
    )
    .unwrap();
    let http = &o.targets()[0].1;
    let start = Instant::now();
    loop {
        let v = o.mi(
            http,
            "get_statistics",
            json!({"statistics": ["bad_msg_hdr"]}),
        );
        if v == json!({"core:bad_msg_hdr": 1}) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{v}");
        std::thread::sleep(Duration::from_millis(30));
    }
    let v = o.mi(
        http,
        "get_statistics",
        json!({"statistics": ["rcv_requests"]}),
    );
    assert_eq!(v, json!({"core:rcv_requests": 0}));
}
