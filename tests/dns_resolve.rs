//! RFC 3263 server location against a real DNS server (dnsmasq on loopback): NAPTR → SRV → A
//! chains, SRV priority and weight, port or transport given, failover order and the cache.

mod dns_support;

use dns_support::{Dnsmasq, host, naptr, srv};
use osips::dns::{DnsError, Resolver, SipTarget};
use osips::transport::Proto;

fn addrs(r: &Resolver, t: &SipTarget) -> Vec<(Proto, String)> {
    r.locate(t)
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
        .iter()
        .map(|t| (t.proto, t.addr.to_string()))
        .collect()
}

fn name(h: &str) -> SipTarget {
    SipTarget::new(h, None, None)
}

#[test]
fn naptr_srv_a_chain_in_naptr_order() {
    let Some(d) = Dnsmasq::start(&[
        naptr(
            "svc.example.test",
            20,
            10,
            "SIP+D2U",
            "_sip._udp.svc.example.test",
        ),
        naptr(
            "svc.example.test",
            10,
            10,
            "SIP+D2T",
            "_sip._tcp.svc.example.test",
        ),
        // Not a SIP service: ignored.
        naptr(
            "svc.example.test",
            5,
            10,
            "E2U+sip",
            "_x._y.svc.example.test",
        ),
        srv("_sip._udp.svc.example.test", "u1.example.test", 5071, 10, 0),
        srv("_sip._tcp.svc.example.test", "t1.example.test", 5072, 10, 0),
        host("u1.example.test", "127.0.0.21"),
        host("t1.example.test", "127.0.0.22"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    assert_eq!(
        addrs(&r, &name("svc.example.test")),
        vec![
            (Proto::Tcp, "127.0.0.22:5072".to_string()),
            (Proto::Udp, "127.0.0.21:5071".to_string()),
        ]
    );
    // NAPTR + two SRV + two A.
    assert_eq!(r.queries_sent(), 5);
}

#[test]
fn without_naptr_srv_of_each_transport_then_a() {
    let Some(d) = Dnsmasq::start(&[
        srv(
            "_sip._udp.nonaptr.example.test",
            "u.example.test",
            5081,
            1,
            0,
        ),
        host("u.example.test", "127.0.0.23"),
        host("plain.example.test", "127.0.0.24"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    assert_eq!(
        addrs(&r, &name("nonaptr.example.test")),
        vec![(Proto::Udp, "127.0.0.23:5081".to_string())]
    );
    // No NAPTR, no SRV: the A record on the default port over UDP.
    assert_eq!(
        addrs(&r, &name("plain.example.test")),
        vec![(Proto::Udp, "127.0.0.24:5060".to_string())]
    );
    // dns_try_naptr = 0: the NAPTR is not even asked.
    let mut cfg = d.config();
    cfg.try_naptr = false;
    let r = Resolver::new(cfg);
    addrs(&r, &name("nonaptr.example.test"));
    assert_eq!(r.queries_sent(), 4, "three SRV and one A, no NAPTR");
}

#[test]
fn srv_priority_then_weight() {
    let Some(d) = Dnsmasq::start(&[
        srv(
            "_sip._udp.w.example.test",
            "heavy.example.test",
            5001,
            10,
            90,
        ),
        srv(
            "_sip._udp.w.example.test",
            "light.example.test",
            5002,
            10,
            10,
        ),
        srv(
            "_sip._udp.w.example.test",
            "backup.example.test",
            5003,
            20,
            50,
        ),
        host("heavy.example.test", "127.0.0.31"),
        host("light.example.test", "127.0.0.32"),
        host("backup.example.test", "127.0.0.33"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    let t = SipTarget::new("w.example.test", None, Some(Proto::Udp));
    let runs = 400;
    let mut heavy_first = 0;
    for _ in 0..runs {
        let got = addrs(&r, &t);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].1, "127.0.0.33:5003", "priority 20 comes last");
        if got[0].1 == "127.0.0.31:5001" {
            heavy_first += 1;
        } else {
            assert_eq!(got[0].1, "127.0.0.32:5002");
        }
    }
    // Weight 90 against 10: expected 360 of 400; the band is many standard deviations wide.
    assert!(
        (300..runs).contains(&heavy_first),
        "heavy first {heavy_first}/{runs}"
    );
}

#[test]
fn port_given_means_a_only_and_transport_given_means_srv() {
    let Some(d) = Dnsmasq::start(&[
        naptr(
            "both.example.test",
            10,
            10,
            "SIP+D2T",
            "_sip._tcp.both.example.test",
        ),
        srv("_sip._tcp.both.example.test", "t.example.test", 5090, 1, 0),
        srv("_sip._udp.both.example.test", "u.example.test", 5091, 1, 0),
        host("t.example.test", "127.0.0.41"),
        host("u.example.test", "127.0.0.42"),
        host("both.example.test", "127.0.0.43"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    assert_eq!(
        addrs(&r, &SipTarget::new("both.example.test", Some(5099), None)),
        vec![(Proto::Udp, "127.0.0.43:5099".to_string())]
    );
    assert_eq!(r.queries_sent(), 1, "only the A record");
    assert_eq!(
        addrs(
            &r,
            &SipTarget::new("both.example.test", Some(5098), Some(Proto::Tcp))
        ),
        vec![(Proto::Tcp, "127.0.0.43:5098".to_string())]
    );
    assert_eq!(
        addrs(
            &r,
            &SipTarget::new("both.example.test", None, Some(Proto::Udp))
        ),
        vec![(Proto::Udp, "127.0.0.42:5091".to_string())]
    );
    assert_eq!(r.queries_sent(), 3, "one SRV and its A more; no NAPTR");
}

#[test]
fn failover_list_skips_dead_srv_targets_and_keeps_order() {
    let Some(d) = Dnsmasq::start(&[
        srv(
            "_sip._udp.fo.example.test",
            "first.example.test",
            6001,
            1,
            0,
        ),
        // No address for this one: skipped, the list goes on.
        srv(
            "_sip._udp.fo.example.test",
            "ghost.example.test",
            6002,
            2,
            0,
        ),
        srv(
            "_sip._udp.fo.example.test",
            "third.example.test",
            6003,
            3,
            0,
        ),
        host("first.example.test", "127.0.0.51"),
        host("third.example.test", "127.0.0.53"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    assert_eq!(
        addrs(&r, &name("fo.example.test")),
        vec![
            (Proto::Udp, "127.0.0.51:6001".to_string()),
            (Proto::Udp, "127.0.0.53:6003".to_string()),
        ]
    );
    let mut cfg = d.config();
    cfg.failover = false;
    let r = Resolver::new(cfg);
    assert_eq!(addrs(&r, &name("fo.example.test")).len(), 1);
    match r.locate(&name("nothing.example.test")) {
        Err(DnsError::NotFound(h)) => assert_eq!(h, "nothing.example.test"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn ipv6_only_when_asked() {
    let Some(d) = Dnsmasq::start(&[host("dual.example.test", "127.0.0.61,::1")]) else {
        return;
    };
    let t = SipTarget::new("dual.example.test", Some(5060), None);
    let r = Resolver::new(d.config());
    assert_eq!(
        addrs(&r, &t),
        vec![(Proto::Udp, "127.0.0.61:5060".to_string())]
    );
    let mut cfg = d.config();
    cfg.try_ipv6 = true;
    let r = Resolver::new(cfg);
    assert_eq!(
        addrs(&r, &t),
        vec![
            (Proto::Udp, "127.0.0.61:5060".to_string()),
            (Proto::Udp, "[::1]:5060".to_string()),
        ]
    );
}

#[test]
fn second_resolution_comes_from_the_cache() {
    let Some(mut d) = Dnsmasq::start(&[
        naptr(
            "c.example.test",
            10,
            10,
            "SIP+D2U",
            "_sip._udp.c.example.test",
        ),
        srv(
            "_sip._udp.c.example.test",
            "cached.example.test",
            5111,
            1,
            0,
        ),
        host("cached.example.test", "127.0.0.71"),
    ]) else {
        return;
    };
    let r = Resolver::new(d.config());
    let first = addrs(&r, &name("c.example.test"));
    let sent = r.queries_sent();
    d.stop();
    assert_eq!(addrs(&r, &name("c.example.test")), first);
    assert_eq!(r.queries_sent(), sent, "no query for a cached answer");
    // A name never asked needs the (stopped) server: a clear error, no panic.
    let e = r.locate(&name("other.example.test")).unwrap_err();
    assert!(e.to_string().contains("no DNS server answered"), "{e}");
    // Emptied cache: the stopped server is needed again.
    r.cache().clear();
    assert!(r.locate(&name("c.example.test")).is_err());
}
