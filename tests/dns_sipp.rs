//! `forward()` to a name: osips finds the sipp UAS through NAPTR → SRV → A records that a real
//! DNS server (dnsmasq on loopback) serves, pointed at by `OSIPS_DNS_SERVERS`.

mod common;
mod dns_support;
mod rr_support;

use dns_support::{Dnsmasq, host, naptr, srv};
use rr_support::{Osips, relay_once};

const SCRIPT: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\nloadmodule \"sl.so\"\n\
route {\n  if ($rU == \"byparam\") { forward(\"sip:svc.example.test\"); exit; }\n  forward();\n}\n";

#[test]
fn forward_to_a_name_reaches_the_srv_target() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let Some(dns) = Dnsmasq::start(&[
        naptr(
            "svc.example.test",
            10,
            10,
            "SIP+D2U",
            "_sip._udp.svc.example.test",
        ),
        srv(
            "_sip._udp.svc.example.test",
            "uas.example.test",
            uas_port,
            10,
            0,
        ),
        srv(
            "_sip._udp.ruri.example.test",
            "uas.example.test",
            uas_port,
            10,
            0,
        ),
        host("uas.example.test", "127.0.0.1"),
    ]) else {
        return;
    };
    let port = common::free_udp_port();
    let o = Osips::start(SCRIPT, port, &[("OSIPS_DNS_SERVERS", dns.env_value())]);
    // forward("sip:svc.example.test"): NAPTR, SRV, A.
    relay_once(
        &o,
        "MESSAGE byparam",
        uas_port,
        &["^MESSAGE sip:byparam@127\\.0\\.0\\.1"],
        "MESSAGE sip:byparam@127.0.0.1:[remote_port]",
        "",
        &[],
    );
    // forward() on a Request-URI whose host is a name with only SRV records.
    relay_once(
        &o,
        "MESSAGE to ruri.example.test",
        uas_port,
        &["^MESSAGE sip:bob@ruri\\.example\\.test SIP"],
        "MESSAGE sip:bob@ruri.example.test",
        "",
        &[],
    );
}

/// RFC 3263 failover in tm: the first SRV target never answers; when the final-response timer
/// fires with nothing received, t_relay's branch goes to the next target and the request
/// completes there.
#[test]
fn t_relay_fails_over_to_the_next_srv_target() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    // Nothing listens on this port of 127.0.0.2.
    let dead = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let Some(dns) = Dnsmasq::start(&[
        srv(
            "_sip._udp.pool.example.test",
            "dead.example.test",
            dead_port,
            10,
            0,
        ),
        srv(
            "_sip._udp.pool.example.test",
            "live.example.test",
            uas_port,
            20,
            0,
        ),
        host("dead.example.test", "127.0.0.2"),
        host("live.example.test", "127.0.0.1"),
    ]) else {
        return;
    };
    let port = common::free_udp_port();
    let script = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\nloadmodule \"tm.so\"\n\
                  loadmodule \"sl.so\"\nmodparam(\"tm\", \"fr_timeout\", 1)\n\
                  route {\n  $du = \"sip:pool.example.test\";\n  t_relay();\n}\n";
    let o = Osips::start(script, port, &[("OSIPS_DNS_SERVERS", dns.env_value())]);
    relay_once(
        &o,
        "MESSAGE through the pool",
        uas_port,
        &["^MESSAGE sip:pooled@127\\.0\\.0\\.1"],
        "MESSAGE sip:pooled@127.0.0.1:[remote_port]",
        "",
        &[],
    );
    assert!(o.log().contains("failing over to"), "{}", o.log());
}

/// RFC 3263 §4.3: a 503 from the first SRV target sends the request to the next one.
#[test]
fn t_relay_fails_over_on_503() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let busy_port =
        common::peer::udp_answering("127.0.0.2", "503 Service Unavailable", "busy").port();
    let Some(dns) = Dnsmasq::start(&[
        srv(
            "_sip._udp.busy.example.test",
            "busy.example.test",
            busy_port,
            10,
            0,
        ),
        srv(
            "_sip._udp.busy.example.test",
            "live.example.test",
            uas_port,
            20,
            0,
        ),
        host("busy.example.test", "127.0.0.2"),
        host("live.example.test", "127.0.0.1"),
    ]) else {
        return;
    };
    let port = common::free_udp_port();
    let script = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\nloadmodule \"tm.so\"\n\
                  loadmodule \"sl.so\"\n\
                  route {\n  $du = \"sip:busy.example.test\";\n  t_relay();\n}\n";
    let o = Osips::start(script, port, &[("OSIPS_DNS_SERVERS", dns.env_value())]);
    relay_once(
        &o,
        "MESSAGE past a 503",
        uas_port,
        &["^MESSAGE sip:again@127\\.0\\.0\\.1"],
        "MESSAGE sip:again@127.0.0.1:[remote_port]",
        "",
        &[],
    );
    assert!(o.log().contains("503 from"), "{}", o.log());
}
