//! Support shared by the integration tests: real servers, free ports, unique names.
//!
//! `scripts/test.sh` starts PostgreSQL and MariaDB and exports their admin URLs. A test that needs a
//! server calls `pgsql_admin_url()` / `mysql_admin_url()`: when the URL is missing the test fails if
//! `CI` or `OSIPS_REQUIRE_SERVERS` is set, and is skipped (with a message) only on a developer's machine.
#![allow(dead_code)]

pub mod alloc;
pub mod db;
pub mod osips;
pub mod peer;
pub mod scenario;
pub mod sipp;

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether a missing server or tool fails the test (`CI` or `OSIPS_REQUIRE_SERVERS` set).
pub fn servers_required() -> bool {
    let set = |k: &str| std::env::var(k).map(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI").unwrap_or(false) || set("OSIPS_REQUIRE_SERVERS").unwrap_or(false)
}

fn server_url(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if servers_required() => {
            panic!("{what} is required but {var} is not set: run the suite with scripts/test.sh")
        }
        _ => {
            eprintln!("skipping: {var} is not set (run scripts/test.sh to test against {what})");
            None
        }
    }
}

/// `postgres://postgres:PASSWORD@127.0.0.1:PORT` of a server the test may create databases on.
pub fn pgsql_admin_url() -> Option<String> {
    server_url("OSIPS_TEST_PGSQL_URL", "PostgreSQL")
}

/// `mysql://root:PASSWORD@127.0.0.1:PORT` of a server the test may create databases on.
pub fn mysql_admin_url() -> Option<String> {
    server_url("OSIPS_TEST_MYSQL_URL", "MariaDB")
}

/// Path of the sipp binary; fails the test when sipp is missing in CI.
pub fn sipp() -> Option<String> {
    for p in ["/usr/bin/sipp", "/usr/local/bin/sipp"] {
        if std::path::Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    if servers_required() {
        panic!("sipp is required: install Debian's sip-tester (scripts/test.sh does)");
    }
    eprintln!("skipping: sipp is not installed");
    None
}

/// A database name no other test (or test process) uses.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A UDP port free on 127.0.0.1 at the time of the call.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP port free on 127.0.0.1 at the time of the call.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free for both UDP and TCP on 127.0.0.1 (for a SIP listener on both).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `ready` every 100 ms; fails the test with `what` and the server log `log` gives when
/// `limit` passes first.
pub fn wait_until(
    what: &str,
    limit: Duration,
    log: impl Fn() -> String,
    mut ready: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "{what}\n--- osips log ---\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
