//! `forward()` to a name: osips finds the sipp UAS through NAPTR → SRV → A records that a real
//! DNS server (dnsmasq on loopback) serves, pointed at by `OSIPS_DNS_SERVERS`.

mod common;
mod dns_support;
mod rr_support;

use dns_support::{Dnsmasq, host, naptr, srv};
use rr_support::{Osips, Sipp, uac_once, uas_once};

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
    let uas = Sipp::uas(
        "UAS for forward(name)",
        &uas_once("MESSAGE", &["^MESSAGE sip:byparam@127\\.0\\.0\\.1"]),
        uas_port,
        false,
    );
    let uac = Sipp::run(
        "UAC MESSAGE byparam",
        &uac_once(
            "MESSAGE sip:byparam@127.0.0.1:[remote_port]",
            "MESSAGE",
            "",
            &[],
            200,
        ),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{port}")),
    );
    uac.done(&o);
    uas.done(&o);
    // forward() on a Request-URI whose host is a name with only SRV records.
    let uas = Sipp::uas(
        "UAS for the Request-URI name",
        &uas_once("MESSAGE", &["^MESSAGE sip:bob@ruri\\.example\\.test SIP"]),
        uas_port,
        false,
    );
    let uac = Sipp::run(
        "UAC MESSAGE to ruri.example.test",
        &uac_once("MESSAGE sip:bob@ruri.example.test", "MESSAGE", "", &[], 200),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{port}")),
    );
    uac.done(&o);
    uas.done(&o);
}
