//! A real DNS server for the tests: dnsmasq (Debian `dnsmasq-base`) on a free loopback port,
//! answering only from the records the test gives (`--srv-host`, `--naptr-record`, `--host-record`)
//! and NXDOMAIN for every other name under `.test`. Missing dnsmasq fails the test when `CI` or
//! `OSIPS_REQUIRE_SERVERS` is set (the convention of `tests/common`), and skips it otherwise.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use osips::dns::{DnsConfig, client};

fn required() -> bool {
    let set = |k: &str| {
        std::env::var(k)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false)
    };
    set("CI") || set("OSIPS_REQUIRE_SERVERS")
}

/// Path of dnsmasq; fails the test when it is missing in CI.
pub fn dnsmasq_path() -> Option<String> {
    for p in ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"] {
        if std::path::Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    if required() {
        panic!("dnsmasq is required: install Debian's dnsmasq-base (scripts/test.sh does)");
    }
    eprintln!("skipping: dnsmasq is not installed");
    None
}

/// A running dnsmasq; killed when dropped.
pub struct Dnsmasq {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl Dnsmasq {
    /// Starts dnsmasq with `records` (each a whole option, e.g. `--host-record=a.test,127.0.0.2`).
    /// Answers carry TTL 300 so the cache can be seen at work.
    pub fn start(records: &[String]) -> Option<Dnsmasq> {
        let bin = dnsmasq_path()?;
        for _ in 0..10 {
            let port = UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&bin)
                .args([
                    "--keep-in-foreground",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--pid-file",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--local=/test/",
                    "--local-ttl=300",
                    "--neg-ttl=5",
                ])
                .arg(format!("--port={port}"))
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("dnsmasq starts");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let cfg = DnsConfig {
                servers: vec![addr],
                timeout: Duration::from_millis(200),
                attempts: 1,
                ..DnsConfig::default()
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken: try another
                }
                if client::query(&cfg, "ready.test", hickory_proto::rr::RecordType::A).is_ok() {
                    return Some(Dnsmasq {
                        child: Some(child),
                        addr,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start");
    }

    /// `OSIPS_DNS_SERVERS` value for this server.
    pub fn env_value(&self) -> String {
        self.addr.to_string()
    }

    /// A resolver configuration asking only this server.
    pub fn config(&self) -> DnsConfig {
        DnsConfig {
            servers: vec![self.addr],
            timeout: Duration::from_millis(500),
            attempts: 1,
            ..DnsConfig::default()
        }
    }

    /// Stops the server (the port stays unanswered).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn host(name: &str, ip: &str) -> String {
    format!("--host-record={name},{ip}")
}

pub fn srv(service: &str, target: &str, port: u16, priority: u16, weight: u16) -> String {
    format!("--srv-host={service},{target},{port},{priority},{weight}")
}

pub fn naptr(name: &str, order: u16, pref: u16, service: &str, replacement: &str) -> String {
    format!("--naptr-record={name},{order},{pref},s,{service},,{replacement}")
}
