//! rtpproxy end to end: sipp caller → osips (stateless `forward()`, `record_route()`,
//! `rtpproxy_offer` / `rtpproxy_answer` / `rtpproxy_unforce`) → sipp callee.
//!
//! Why a fake RTPProxy: Debian 12 has no `rtpproxy` package (`apt-cache policy rtpproxy` finds
//! nothing) and no other RTPProxy implementation is installable here, so these tests run an
//! in-process server speaking the RTPProxy control protocol over UDP: it answers `V` / `VF`,
//! allocates a port for each `U`, answers `L` only for a call it knows (port 0 otherwise, as
//! RTPProxy does), forgets the call on `D`, and records every command. The tests check the
//! commands osips sends (encoding checked by unit tests in src/modules/rtpproxy/command.rs too)
//! and the SDP the sipp parties receive. Media relaying itself is tested against the real
//! rtpengine daemon in tests/rtpengine_sipp.rs.

mod common;
mod rr_support;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::scenario;
use rr_support::{Osips, Sipp, eregs};

/// The fake RTPProxy: a UDP control socket on 127.0.0.1 answering from `base_port` upwards.
struct FakeRtpproxy {
    port: u16,
    commands: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeRtpproxy {
    fn start(base_port: u16) -> FakeRtpproxy {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, halt) = (commands.clone(), stop.clone());
        std::thread::spawn(move || {
            // (call-id, tag) → port
            let mut sessions: HashMap<(String, String), u16> = HashMap::new();
            let mut next = base_port;
            let mut buf = [0u8; 4096];
            while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let Some((cookie, cmd)) = text.split_once(' ') else {
                    continue;
                };
                log.lock().unwrap().push(cmd.to_string());
                let args: Vec<&str> = cmd.split_whitespace().collect();
                let tag = |i: usize| {
                    args.get(i)
                        .map(|t| t.split(';').next().unwrap().to_string())
                };
                let reply = match args.first().map(|c| c.chars().next().unwrap()) {
                    Some('V') if args[0] == "VF" => "1".to_string(),
                    Some('V') => "20040107".to_string(),
                    Some('U') if args.len() >= 5 => {
                        let key = (args[1].to_string(), tag(4).unwrap());
                        let p = *sessions.entry(key).or_insert_with(|| {
                            next += 2;
                            next
                        });
                        format!("{p} 127.0.0.1")
                    }
                    Some('L') if args.len() >= 5 => {
                        if sessions.keys().any(|(c, _)| c == args[1]) {
                            let key = (args[1].to_string(), tag(4).unwrap());
                            let p = *sessions.entry(key).or_insert_with(|| {
                                next += 2;
                                next
                            });
                            format!("{p} 127.0.0.1")
                        } else {
                            "0".to_string()
                        }
                    }
                    Some('D') if args.len() >= 3 => {
                        sessions.retain(|(c, _), _| c != args[1]);
                        "0".to_string()
                    }
                    _ => "E1".to_string(),
                };
                let _ = sock.send_to(format!("{cookie} {reply}\n").as_bytes(), from);
            }
        });
        FakeRtpproxy {
            port,
            commands,
            stop,
        }
    }

    fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

impl Drop for FakeRtpproxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn script(socks: &str, callee_port: u16) -> String {
    format!(
        "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"textops.so\"\n\
loadmodule \"rtpproxy.so\"\n\
modparam(\"rtpproxy\", \"rtpproxy_sock\", \"{socks}\")\n\
modparam(\"rtpproxy\", \"rtpproxy_timeout\", \"0.3\")\nmodparam(\"rtpproxy\", \"rtpproxy_retr\", 2)\n\
route {{\n\
  if (has_totag()) {{\n\
    if (loose_route()) {{\n\
      if (is_method(\"BYE\")) {{ rtpproxy_unforce(); }}\n\
      forward();\n\
      exit;\n\
    }}\n\
    sl_send_reply(404, \"Not here\");\n\
    exit;\n\
  }}\n\
  record_route();\n\
  if (is_method(\"INVITE\")) {{\n\
    if (!rtpproxy_offer(\"ro\", \"\", 0, $var(rtpp))) {{ sl_send_reply(503, \"No relay\"); exit; }}\n\
    append_hf(\"X-RTPP: $var(rtpp)\\r\\n\");\n\
  }}\n\
  $ru = \"sip:bob@127.0.0.1:{callee_port}\";\n\
  forward();\n\
}}\n\
onreply_route {{\n\
  if (has_body(\"application/sdp\")) {{ rtpproxy_answer(\"r\"); }}\n\
}}\n"
    )
}

const FROM_CALLER: &str = "From: sipp <sip:alice@[local_ip]:[local_port]>;tag=caller1";

/// Caller: INVITE with media at 127.0.0.2:4000, checks the answer, ACK, BYE.
fn caller(checks: &[&str]) -> String {
    let (eregs, vars) = eregs(checks);
    let offer = scenario::sdp("alice", "127.0.0.2", 4000, "");
    let mut s = scenario::invite_to(
        "sip:bob@127.0.0.1:[remote_port]",
        "sipp <sip:alice@[local_ip]:[local_port]>;tag=caller1",
        "<sip:bob@127.0.0.1>",
        "<sip:alice@[local_ip]:[local_port]>",
        Some(&offer),
    );
    s += &scenario::recv_with("response=\"200\" rrs=\"true\"", &eregs);
    s += &scenario::routed("ACK", FROM_CALLER, "[last_To:]", 1, false);
    s += "  <pause milliseconds=\"100\"/>\n";
    s += &scenario::routed("BYE", FROM_CALLER, "[last_To:]", 2, true);
    s += "  <recv response=\"200\"/>\n";
    scenario::wrap("rtpproxy caller", &s, &[vars])
}

/// Callee: checks the offer, answers with media at 127.0.0.3:5000, takes ACK and BYE.
fn callee(checks: &[&str]) -> String {
    let (eregs, vars) = eregs(checks);
    let answer = scenario::sdp("bob", "127.0.0.3", 5000, "");
    let mut s = scenario::recv_with("request=\"INVITE\" rrs=\"true\"", &eregs);
    s += &scenario::answer(
        "callee1",
        "<sip:bob@[local_ip]:[local_port]>",
        Some(&answer),
    );
    s += "  <recv request=\"ACK\"/>\n  <recv request=\"BYE\"/>\n";
    s += &scenario::ok_to_last();
    scenario::wrap("rtpproxy callee", &s, &[vars])
}

/// Runs one call through osips with `socks`; returns the osips log.
fn call(socks: &str, fake: &FakeRtpproxy) -> String {
    let callee_port = common::free_udp_port();
    let port = common::free_port();
    let o = Osips::start(&script(socks, callee_port), port, &[]);
    let used = format!("X-RTPP: udp:127\\.0\\.0\\.1:{}", fake.port);
    let b = Sipp::uas(
        "callee",
        &callee(&[
            "c=IN IP4 127\\.0\\.0\\.1",
            "o=alice 1 1 IN IP4 127\\.0\\.0\\.1",
            "m=audio 4100[02468] RTP/AVP 0",
            "a=nortpproxy:yes",
            "!127\\.0\\.0\\.2",
            &used,
        ]),
        callee_port,
        false,
    );
    let a = Sipp::run(
        "caller",
        &caller(&[
            "c=IN IP4 127\\.0\\.0\\.1",
            "m=audio 4100[02468] RTP/AVP 0",
            "!c=IN IP4 127\\.0\\.0\\.3",
        ]),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{port}")),
    );
    a.done(&o);
    b.done(&o);
    o.log()
}

#[test]
fn offer_answer_and_unforce_speak_the_control_protocol() {
    if common::sipp().is_none() {
        return;
    }
    let fake = FakeRtpproxy::start(41000);
    call(&format!("udp:127.0.0.1:{}", fake.port), &fake);
    let cmds = fake.commands();
    assert_eq!(cmds[0], "V", "{cmds:?}");
    assert_eq!(cmds[1], "VF 20050322", "{cmds:?}");
    let u = cmds
        .iter()
        .find(|c| c.starts_with('U'))
        .expect("a U command");
    let call_id = u.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(
        *u,
        format!("U {call_id} 127.0.0.2 4000 caller1;1"),
        "{cmds:?}"
    );
    assert!(
        cmds.contains(&format!("L {call_id} 127.0.0.3 5000 caller1;1 callee1;1")),
        "{cmds:?}"
    );
    assert!(
        cmds.contains(&format!("D {call_id} caller1 callee1")),
        "{cmds:?}"
    );
}

#[test]
fn a_dead_rtpproxy_is_skipped() {
    if common::sipp().is_none() {
        return;
    }
    let fake = FakeRtpproxy::start(41000);
    let dead = common::free_udp_port();
    let log = call(
        &format!("udp:127.0.0.1:{dead}=1000 udp:127.0.0.1:{}", fake.port),
        &fake,
    );
    assert!(
        log.contains(&format!("<udp:127.0.0.1:{dead}> does not respond")),
        "{log}"
    );
    assert!(fake.commands().iter().any(|c| c.starts_with('U')));
}
