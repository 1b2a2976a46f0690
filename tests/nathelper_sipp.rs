//! nathelper on real traffic: sipp UAs whose Contact names another address than the one they send
//! from (a NAT simulated on loopback) register through `osips -F -E -f script`; the received
//! address is saved, keep-alives (SIP OPTIONS and 4-byte UDP) reach the UA at its source address,
//! a UA that stops answering is removed, and fix_nated_contact / fix_nated_sdp rewrite what the far
//! side sees. The private address in one Contact and SDP (the only Contact and c= line) is
//! rewritten before anything is sent, and the UAS asserts the rewritten values.

mod registrar_support;

use std::net::UdpSocket;
use std::time::Duration;

use registrar_support::{HEAD, Osips, Reg, common, register_from, sipp, uas, uas_done};
use serde_json::json;

const ROUTES: &str = r#"
loadmodule "nathelper.so"
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "nat_bflag", "NAT")
modparam("registrar", "received_avp", "$avp(rcv)")
modparam("nathelper", "received_avp", "$avp(rcv)")
modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", "SIPPING")
modparam("nathelper", "remove_on_timeout_bflag", "DROP_DEAD")
modparam("nathelper", "sipping_from", "sip:pinger@127.0.0.1")
modparam("nathelper", "ping_threshold", 1)
modparam("nathelper", "max_pings_lost", 2)
route {
    if (is_method("REGISTER")) {
        if (nat_uac_test("diff-ip-src-contact,diff-port-src-contact")) {
            fix_nated_register();
            setbflag("NAT");
            if ($hdr(X-Ping) == "sip") {
                setbflag("SIPPING");
            }
            if ($hdr(X-Drop) == "yes") {
                setbflag("DROP_DEAD");
            }
        }
        save("location");
        exit;
    }
    if (nat_uac_test("private-contact")) {
        fix_nated_contact();
        fix_nated_sdp("rewrite-media-ip");
    }
    $du = "sip:127.0.0.2:" + $hdr(X-Port);
    forward();
}
"#;

fn start() -> (Osips, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    (o, dir)
}

fn contacts(o: &Osips, aor: &str) -> Vec<serde_json::Value> {
    match o.mi("ul_show_contact", json!(["location", aor])) {
        Ok(v) => v["Contacts"].as_array().cloned().unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn fix_nated_register_saves_the_source_as_received() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let src = common::free_udp_port();
    register_from(&o, &Reg::behind_nat("bob", 5999), src);
    let c = contacts(&o, "bob@example.com");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["Contact"], "sip:bob@127.0.0.9:5999");
    assert_eq!(c[0]["Received"], format!("sip:127.0.0.1:{src}"));
    // A UA not behind NAT: no received.
    let src = common::free_udp_port();
    register_from(
        &o,
        &Reg {
            user: "carl",
            contact: format!("<sip:carl@127.0.0.1:{src}>"),
            ..Reg::default()
        },
        src,
    );
    let c = contacts(&o, "carl@example.com");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].get("Received").is_none(), "{c:?}");
}

#[test]
fn sip_pings_reach_the_nated_ua_and_dead_ones_are_removed() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    // Alive: registers from `port`, then answers the pings there.
    let port = common::free_udp_port();
    register_from(
        &o,
        &Reg {
            headers: vec!["X-Ping: sip".into(), "X-Drop: yes".into()],
            ..Reg::behind_nat("alice", 5999)
        },
        port,
    );
    let (mut ua, dir) = common::sipp::options_answerer("127.0.0.1", port);
    let log = dir.path().join("messages.log");
    common::wait_until(
        "no OPTIONS ping reached the NATed UA",
        Duration::from_secs(10),
        || o.log(),
        || {
            std::fs::read_to_string(&log).is_ok_and(|t| {
                t.contains("OPTIONS sip:alice@127.0.0.9:5999 SIP/2.0")
                    && t.contains("From: <sip:pinger@127.0.0.1>")
            })
        },
    );
    // Dead: nobody listens on its source port any more; removed after 2 lost pings.
    let dead = common::free_udp_port();
    register_from(
        &o,
        &Reg {
            headers: vec!["X-Ping: sip".into(), "X-Drop: yes".into()],
            ..Reg::behind_nat("dave", 5998)
        },
        dead,
    );
    assert_eq!(contacts(&o, "dave@example.com").len(), 1);
    common::wait_until(
        "the dead contact stays",
        Duration::from_secs(15),
        || o.log(),
        || contacts(&o, "dave@example.com").is_empty(),
    );
    // The one that answers is kept.
    assert_eq!(contacts(&o, "alice@example.com").len(), 1);
    let _ = ua.kill();
    let _ = ua.wait();
}

#[test]
fn udp_keepalives_reach_the_nated_ua() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let port = common::free_udp_port();
    register_from(&o, &Reg::behind_nat("erin", 5997), port);
    let s = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = s.recv_from(&mut buf).expect("a keep-alive");
    assert_eq!(&buf[..n], &[0, 0, 0, 0]);
    assert_eq!(from.port(), o.port);
}

#[test]
fn fix_nated_contact_and_sdp_rewrite_what_the_far_side_sees() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let far = common::free_udp_port();
    let caller = common::free_udp_port();
    let (u, udir) = uas(
        "127.0.0.2",
        far,
        "INVITE",
        &[
            format!(r"Contact: <sip:caller@127\.0\.0\.1:{caller}>"),
            r"c=IN IP4 127\.0\.0\.1".into(),
            r"a=oldcip:10\.0\.0\.5".into(),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let sdp =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
    let xml = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="nated-caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:far@example.com SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:far@example.com>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@10.0.0.5:5062>
      X-Port: {far}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#
    );
    let sf = dir.path().join("uac.xml");
    std::fs::write(&sf, xml).unwrap();
    let err = dir.path().join("err.log");
    let args: Vec<String> = vec![
        format!("127.0.0.1:{}", o.port),
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        caller.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "15s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ];
    sipp(&args, "NATed INVITE", &o, &err, Duration::from_secs(30));
    uas_done(u, &udir, &o);
}
