//! Stateless forwarding driven by real sipp (Debian `sip-tester`): sipp UAC → osips core → sipp UAS
//! over UDP and TCP, and the core's own 483 / 482 replies.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use osips::core::{Action, Core};
use osips::transport::{Destination, Proto, SocketDef, TransportConfig};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transport")
        .join(name)
}

/// A core listening on UDP and TCP 127.0.0.1 (ephemeral ports) that forwards every request to `to`.
fn start_core(to: Option<(Proto, std::net::SocketAddr)>) -> Arc<Core> {
    let cfg = TransportConfig {
        sockets: vec![
            "udp:127.0.0.1:0".parse::<SocketDef>().unwrap(),
            "tcp:127.0.0.1:0".parse::<SocketDef>().unwrap(),
        ],
        ..TransportConfig::default()
    };
    let handler = move |_req: &mut osips::sip::Msg, info: &osips::transport::ReceiveInfo| match to {
        Some((proto, addr)) => Action::Forward(Destination::new(proto, addr)),
        None => Action::Forward(Destination::new(info.proto, info.local)),
    };
    Core::start(cfg, Box::new(handler)).expect("core starts")
}

fn port_of(core: &Core, proto: Proto) -> u16 {
    core.transport()
        .sockets()
        .iter()
        .find(|s| s.def.proto == proto)
        .unwrap()
        .def
        .addr
        .port()
}

fn sipp_cmd(sipp: &str, args: &[&str]) -> Command {
    let mut c = Command::new(sipp);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn wait(mut child: Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `calls` calls of uac.xml through the core to uas.xml over `proto` ("u1" or "t1").
fn calls_through_proxy(proto: Proto, sipp_transport: &str, calls: u32) {
    let Some(sipp) = common::sipp() else { return };
    let uas_port = match proto {
        Proto::Udp => common::free_udp_port(),
        _ => common::free_tcp_port(),
    };
    let uas_addr: std::net::SocketAddr = ([127, 0, 0, 1], uas_port).into();
    let core = start_core(Some((proto, uas_addr)));
    let proxy = format!("127.0.0.1:{}", port_of(&core, proto));
    let n = calls.to_string();
    let dir = tempfile::tempdir().unwrap();
    let uas = sipp_cmd(
        &sipp,
        &[
            "-sf",
            fixture("uas.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &uas_port.to_string(),
            "-t",
            sipp_transport,
            "-m",
            &n,
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            dir.path().join("uas_err.log").to_str().unwrap(),
        ],
    )
    .spawn()
    .expect("sipp UAS starts");
    std::thread::sleep(Duration::from_millis(300));
    let uac_port = match proto {
        Proto::Udp => common::free_udp_port(),
        _ => common::free_tcp_port(),
    };
    let uac = sipp_cmd(
        &sipp,
        &[
            &proxy,
            "-sf",
            fixture("uac.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port.to_string(),
            "-t",
            sipp_transport,
            "-m",
            &n,
            "-r",
            "20",
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            dir.path().join("uac_err.log").to_str().unwrap(),
        ],
    )
    .spawn()
    .expect("sipp UAC starts");
    let uac_status = wait(uac, Duration::from_secs(40), "sipp UAC");
    let uas_status = wait(uas, Duration::from_secs(10), "sipp UAS");
    let log = |f: &str| {
        let l = std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
        l.chars().take(3000).collect::<String>()
    };
    assert!(
        uac_status.success() && uas_status.success(),
        "sipp failed (uac {uac_status}, uas {uas_status})\nUAC errors:\n{}\nUAS errors:\n{}",
        log("uac_err.log"),
        log("uas_err.log")
    );
    let s = core.stats();
    // INVITE, ACK, BYE per call; 180, 200, 200 back (retransmissions may add more).
    assert!(s.forwarded_requests.load(Ordering::Relaxed) >= 3 * calls as u64);
    assert!(s.forwarded_responses.load(Ordering::Relaxed) >= 3 * calls as u64);
    assert_eq!(s.malformed.load(Ordering::Relaxed), 0);
    core.shutdown();
}

#[test]
fn sipp_calls_through_stateless_proxy_over_udp() {
    calls_through_proxy(Proto::Udp, "u1", 20);
}

#[test]
fn sipp_calls_through_stateless_proxy_over_tcp() {
    calls_through_proxy(Proto::Tcp, "t1", 20);
}

/// Runs options_reply.xml against a core and expects `code`.
fn options_reply(core: &Core, max_forwards: u8, code: u16) {
    let Some(sipp) = common::sipp() else { return };
    let dir = tempfile::tempdir().unwrap();
    let scenario = std::fs::read_to_string(fixture("options_reply.xml"))
        .unwrap()
        .replace("@MF@", &max_forwards.to_string())
        .replace("@CODE@", &code.to_string());
    let sf = dir.path().join("options.xml");
    std::fs::write(&sf, scenario).unwrap();
    let proxy = format!("127.0.0.1:{}", port_of(core, Proto::Udp));
    let uac = sipp_cmd(
        &sipp,
        &[
            &proxy,
            "-sf",
            sf.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &common::free_udp_port().to_string(),
            "-m",
            "3",
            "-r",
            "10",
            "-timeout",
            "15s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            dir.path().join("err.log").to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    let st = wait(uac, Duration::from_secs(25), "sipp UAC");
    let err = std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default();
    let err: String = err.chars().take(3000).collect();
    assert!(st.success(), "expected {code}; sipp {st}\n{err}");
}

#[test]
fn max_forwards_zero_gets_483() {
    let unused: std::net::SocketAddr = ([127, 0, 0, 1], common::free_udp_port()).into();
    let core = start_core(Some((Proto::Udp, unused)));
    options_reply(&core, 0, 483);
    assert_eq!(core.stats().forwarded_requests.load(Ordering::Relaxed), 0);
    core.shutdown();
}

#[test]
fn request_forwarded_to_itself_gets_482() {
    // The handler sends every request back to the socket it came in on: the second pass finds our
    // own Via with the same loop hash.
    let core = start_core(None);
    options_reply(&core, 70, 482);
    assert!(core.stats().forwarded_requests.load(Ordering::Relaxed) >= 3);
    core.shutdown();
}
