//! Without -F / -D, osips goes to the background as OpenSIPS does: the command returns once the
//! proxy is up (exit 0), or with the start-up failure's exit code.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

fn script(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("bg.cfg");
    std::fs::write(
        &path,
        format!(
            "socket = udp:127.0.0.1:{port}\nloadmodule \"sl.so\"\n\
             route {{ sl_send_reply(200, \"Background\"); exit; }}\n"
        ),
    )
    .unwrap();
    path
}

/// Running (a zombie waiting for whoever adopted it counts as stopped).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn runs_in_the_background_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_udp_port();
    let cfg = script(dir.path(), port);
    let pidfile = dir.path().join("osips.pid");
    let out = Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-f", cfg.to_str().unwrap(), "-P", pidfile.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("running in the background"), "{stderr}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid), "the background osips is running");

    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let me = ua.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:bg@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbg1\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:bg@127.0.0.1>\r\nCall-ID: bg-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 2048];
    let n = ua.recv(&mut buf);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let n = n.expect("the background osips answers");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 Background"));
    let t0 = Instant::now();
    while alive(pid) && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "SIGTERM stops the background osips");
    assert!(!pidfile.exists(), "the pid file is removed on exit");
}

#[test]
fn a_start_up_failure_is_the_commands_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = script(dir.path(), common::free_udp_port());
    let out = Command::new(env!("CARGO_BIN_EXE_osips"))
        .args([
            "-f",
            cfg.to_str().unwrap(),
            "-P",
            "/nonexistent-dir/osips.pid",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("-P /nonexistent-dir/osips.pid"), "{stderr}");
}
