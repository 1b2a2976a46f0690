//! registrar and usrloc on real traffic: sipp registers against `osips -f script`, the 200 OK
//! lists the bindings, refusals carry the right codes, and lookup sends requests to a sipp UAS
//! on the registered contact (stateless `forward()`). The MI (HTTP) shows the table.

mod opensips_cli_support;
mod registrar_support;

use std::net::UdpSocket;
use std::time::Duration;

use registrar_support::{
    HEAD, Osips, Reg, common, register, register_from, request, uas, uas_done,
};
use serde_json::json;

const ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
modparam("registrar", "received_avp", "$avp(rcv)")
route {
    if (is_method("REGISTER")) {
        if ($hdr(X-Nat) == "yes") {
            $avp(rcv) = "sip:" + $si + ":" + $sp;
        }
        if ($tU == "strict") {
            save("location", "path-strict");
            exit;
        }
        if ($tU == "few") {
            save("location", "max-contacts=2");
            exit;
        }
        save("location", "path-lazy");
        exit;
    }
    lookup("location", "method-filtering");
    switch ($rc) {
        case -1:
            sl_send_reply(404, "Not Found");
            exit;
        case -2:
            sl_send_reply(405, "Method Not Allowed");
            exit;
    }
    if ($(branch(uri)[0]) != NULL) {
        append_hf("X-Branch: $(branch(uri)[0])\r\n");
    }
    forward();
}
"#;

fn start() -> (Osips, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    (o, dir)
}

#[test]
fn register_reregister_and_deregister() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    register(
        &o,
        &Reg {
            call_id: Some("cid-a"),
            expect: vec![
                r"Contact: <sip:alice@127\.0\.0\.2:5070>;expires=(300|299)".into(),
                "Server: osips".into(),
            ],
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.3:5070>;q=0.5".into(),
            call_id: Some("cid-b"),
            expect: vec![
                r"<sip:alice@127\.0\.0\.2:5070>;expires=".into(),
                r"<sip:alice@127\.0\.0\.3:5070>;q=0\.5;expires=".into(),
            ],
            ..Reg::default()
        },
    );
    let v = o
        .mi("ul_show_contact", json!(["location", "alice@example.com"]))
        .unwrap();
    let cs = v["Contacts"].as_array().unwrap();
    assert_eq!(cs.len(), 2, "{v}");
    assert_eq!(v["AOR"], "alice@example.com");
    let b = cs
        .iter()
        .find(|c| c["Contact"] == "sip:alice@127.0.0.3:5070")
        .unwrap();
    assert_eq!(b["Q"], "0.5");
    assert_eq!(b["Callid"], "cid-b");
    assert_eq!(b["User-agent"], "sipp-registrar-test");
    assert!(b["Expires"].as_i64().unwrap() > 290, "{b}");
    assert!(b["Socket"].as_str().unwrap().starts_with("udp:127.0.0.1:"));

    // Re-register with a higher CSeq: refreshed, still two bindings.
    register(
        &o,
        &Reg {
            call_id: Some("cid-a"),
            cseq: 2,
            expires: Some(600),
            expect: vec![r"<sip:alice@127\.0\.0\.2:5070>;expires=(600|599)".into()],
            ..Reg::default()
        },
    );
    // De-register one binding.
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.3:5070>".into(),
            call_id: Some("cid-b"),
            cseq: 2,
            expires: Some(0),
            expect: vec![r"<sip:alice@127\.0\.0\.2:5070>".into()],
            refuse: vec![r"127\.0\.0\.3".into()],
            ..Reg::default()
        },
    );
    // `*` needs Expires: 0.
    register(
        &o,
        &Reg {
            contact: "*".into(),
            expires: Some(300),
            code: 400,
            expect: vec!["P-Registrar-Error: \\* used in contact and expires is not zero".into()],
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: "*".into(),
            expires: Some(0),
            refuse: vec!["Contact:".into()],
            ..Reg::default()
        },
    );
    let e = o
        .mi("ul_show_contact", json!(["location", "alice@example.com"]))
        .unwrap_err();
    assert!(e.contains("AOR not found"), "{e}");
    let stats = o.mi("get_statistics", json!([["registrar:"]])).unwrap();
    let text = stats.to_string();
    assert!(text.contains("\"registrar:accepted_regs\":5"), "{text}");
    assert!(text.contains("\"registrar:rejected_regs\":1"), "{text}");
}

#[test]
fn refusals_carry_the_right_codes() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    register(
        &o,
        &Reg {
            expires: Some(10),
            code: 423,
            expect: vec![
                "SIP/2.0 423 Interval Too Brief".into(),
                "Min-Expires: 60".into(),
            ],
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.2>;expires=x".into(),
            code: 400,
            ..Reg::default()
        },
    );
    for (i, code) in [(1, 200), (2, 200), (3, 503)] {
        register(
            &o,
            &Reg {
                user: "few",
                contact: format!("<sip:few@127.0.0.{}:5070>", i + 1),
                code,
                expect: if code == 503 {
                    vec!["P-Registrar-Error: Too many registered contacts".into()]
                } else {
                    vec![]
                },
                ..Reg::default()
            },
        );
    }
    // Path without "Supported: path" under path-strict.
    register(
        &o,
        &Reg {
            user: "strict",
            headers: vec!["Path: <sip:127.0.0.1:5999;lr>".into()],
            code: 420,
            expect: vec!["Unsupported: path".into()],
            ..Reg::default()
        },
    );
    assert!(
        o.mi("ul_show_contact", json!(["location", "strict@example.com"]))
            .is_err()
    );
    let v = o
        .mi("ul_show_contact", json!(["location", "few@example.com"]))
        .unwrap();
    assert_eq!(v["Contacts"].as_array().unwrap().len(), 2);
}

#[test]
fn an_older_cseq_does_not_change_the_binding() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    register(
        &o,
        &Reg {
            user: "carol",
            contact: "<sip:carol@127.0.0.2:5070>".into(),
            call_id: Some("fixed-cid"),
            cseq: 5,
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            user: "carol",
            contact: "<sip:carol@127.0.0.2:5070>".into(),
            call_id: Some("fixed-cid"),
            cseq: 3,
            expires: Some(0),
            expect: vec![r"<sip:carol@127\.0\.0\.2:5070>;expires=".into()],
            ..Reg::default()
        },
    );
    let v = o
        .mi("ul_show_contact", json!(["location", "carol@example.com"]))
        .unwrap();
    assert_eq!(v["Contacts"][0]["Cseq"], 5);
}

#[test]
fn lookup_sends_the_invite_to_the_registered_contact() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let port = common::free_udp_port();
    register(
        &o,
        &Reg {
            contact: format!("<sip:alice@127.0.0.2:{port}>;q=0.9"),
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.3:5070>;q=0.1".into(),
            call_id: Some("second"),
            ..Reg::default()
        },
    );
    let (u, dir) = uas(
        "127.0.0.2",
        port,
        "INVITE",
        &[
            format!(r"^INVITE sip:alice@127\.0\.0\.2:{port} SIP/2\.0"),
            r"X-Branch: sip:alice@127\.0\.0\.3:5070".into(),
        ],
    );
    request(&o, "INVITE", "alice", 200);
    uas_done(u, &dir, &o);
    request(&o, "INVITE", "nobody", 404);

    // Method filtering: a UA that only allows INVITE does not get MESSAGE.
    register(
        &o,
        &Reg {
            user: "dave",
            contact: "<sip:dave@127.0.0.2:5070>".into(),
            headers: vec!["Allow: INVITE, ACK, BYE, CANCEL".into()],
            ..Reg::default()
        },
    );
    request(&o, "MESSAGE", "dave", 405);
}

#[test]
fn nat_received_and_path_are_honoured() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    // NAT: the contact is unreachable; the source address is saved as received.
    let src = common::free_udp_port();
    register_from(
        &o,
        &Reg {
            headers: vec!["X-Nat: yes".into()],
            expect: vec![format!(r#"received="sip:127\.0\.0\.1:{src}""#)],
            ..Reg::behind_nat("bob", 5999)
        },
        src,
    );
    let (u, dir) = uas(
        "127.0.0.1",
        src,
        "INVITE",
        &[r"^INVITE sip:bob@127\.0\.0\.9:5999 SIP/2\.0".into()],
    );
    request(&o, "INVITE", "bob", 200);
    uas_done(u, &dir, &o);

    // Path: echoed to a UA that supports it, and the route of later requests.
    let edge = common::free_udp_port();
    register(
        &o,
        &Reg {
            headers: vec![
                format!("Path: <sip:127.0.0.1:{edge};lr>"),
                "Supported: path".into(),
            ],
            expect: vec![
                format!(r"Path: <sip:127\.0\.0\.1:{edge};lr>"),
                "Supported: path".into(),
            ],
            ..Reg::behind_nat("carol", 5998)
        },
    );
    let (u, dir) = uas(
        "127.0.0.1",
        edge,
        "INVITE",
        &[
            r"^INVITE sip:carol@127\.0\.0\.9:5998 SIP/2\.0".into(),
            format!(r"Route: <sip:127\.0\.0\.1:{edge};lr>"),
        ],
    );
    request(&o, "INVITE", "carol", 200);
    uas_done(u, &dir, &o);
}

#[test]
fn mi_commands_events_and_statistics() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let sock = format!("udp:{}", listener.local_addr().unwrap());
    for ev in ["E_UL_AOR_INSERT", "E_UL_CONTACT_INSERT"] {
        o.mi("event_subscribe", json!([ev, sock])).unwrap();
    }
    register(&o, &Reg::default());
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.len() < 2 {
        let n = listener.recv(&mut buf).expect("event datagram");
        got.push(serde_json::from_slice::<serde_json::Value>(&buf[..n]).unwrap());
    }
    let ins = got
        .iter()
        .find(|e| e["method"] == "E_UL_CONTACT_INSERT")
        .expect("contact insert event");
    assert_eq!(ins["params"]["aor"], "alice@example.com");
    assert_eq!(ins["params"]["uri"], "sip:alice@127.0.0.2:5070");
    assert_eq!(ins["params"]["domain"], "location");
    assert!(got.iter().any(|e| e["method"] == "E_UL_AOR_INSERT"));

    o.mi(
        "ul_add",
        json!({"table_name": "location", "aor": "eve@example.com", "contact": "sip:eve@127.0.0.5",
               "expires": 0, "q": "0.7", "flags": 0, "cflags": 0, "methods": 4294967295u32}),
    )
    .unwrap();
    let v = o
        .mi(
            "usrloc:show_contact",
            json!(["location", "eve@example.com"]),
        )
        .unwrap();
    assert_eq!(v["Contacts"][0]["Expires"], "permanent");
    assert_eq!(v["Contacts"][0]["Q"], "0.7");
    assert_eq!(v["Contacts"][0]["User-agent"], "OpenSIPS MI Server");
    let dump = o.mi("ul_dump", json!({"brief": 1})).unwrap();
    assert_eq!(dump["Domains"][0]["name"], "location");
    assert_eq!(dump["Domains"][0]["AORs"].as_array().unwrap().len(), 2);
    assert!(dump["Domains"][0]["AORs"][0].get("Contacts").is_none());
    let stats = o
        .mi("get_statistics", json!([["usrloc:"]]))
        .unwrap()
        .to_string();
    assert!(stats.contains("\"usrloc:registered_users\":2"), "{stats}");
    assert!(stats.contains("\"usrloc:location-contacts\":2"), "{stats}");

    let e = o
        .mi("ul_show_contact", json!(["nope", "eve@example.com"]))
        .unwrap_err();
    assert!(e.contains("Table not found"), "{e}");
    let e = o
        .mi("ul_show_contact", json!(["location", "eve"]))
        .unwrap_err();
    assert!(e.contains("Domain missing in AOR"), "{e}");
    let e = o
        .mi(
            "ul_rm_contact",
            json!(["location", "eve@example.com", "sip:x@y"]),
        )
        .unwrap_err();
    assert!(e.contains("Contact not found"), "{e}");
    o.mi(
        "ul_rm_contact",
        json!(["location", "eve@example.com", "sip:eve@127.0.0.5"]),
    )
    .unwrap();
    o.mi("ul_rm", json!(["location", "alice@example.com"]))
        .unwrap();
    assert_eq!(o.dumped_aors(), 0);
    let e = o.mi("ul_sync", json!(["location"])).unwrap_err();
    assert!(e.contains("No database"), "{e}");
    let e = o.mi("ul_cluster_sync", json!([])).unwrap_err();
    assert!(e.contains("Clustering not enabled"), "{e}");
}

#[test]
fn opensips_cli_shows_and_removes_contacts() {
    if common::sipp().is_none() {
        return;
    }
    let Some(cli) = opensips_cli_support::opensips_cli() else {
        return;
    };
    let (o, d) = start();
    register(&o, &Reg::default());
    let cfg = format!(
        "[default]\nlog_level: WARNING\noutput_type: pretty-print\nprompt_emptyline_repeat_cmd: False\n\
         communication_type: http\nurl: http://{}/mi\n",
        o.http
    );
    let v = opensips_cli_support::run(
        &cli,
        d.path(),
        &cfg,
        &["ul_show_contact", "location", "alice@example.com"],
    );
    assert_eq!(v["AOR"], "alice@example.com", "{v}");
    assert_eq!(v["Contacts"][0]["Contact"], "sip:alice@127.0.0.2:5070");
    let dump = opensips_cli_support::run(&cli, d.path(), &cfg, &["ul_dump"]);
    assert_eq!(dump["Domains"][0]["AORs"][0]["AOR"], "alice@example.com");
    opensips_cli_support::run(
        &cli,
        d.path(),
        &cfg,
        &["ul_rm", "location", "alice@example.com"],
    );
    assert_eq!(o.dumped_aors(), 0);
}

/// RFC 5626: a new contact of the same instance and reg-id replaces the old binding.
#[test]
fn the_same_instance_replaces_its_binding() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    let inst = r#";+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1"#;
    register(
        &o,
        &Reg {
            contact: format!("<sip:alice@127.0.0.2:5070;ob>{inst}"),
            call_id: Some("boot-1"),
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: format!("<sip:alice@127.0.0.4:6060;ob>{inst}"),
            call_id: Some("boot-2"),
            expect: vec![r"<sip:alice@127\.0\.0\.4:6060;ob>;expires=".into()],
            refuse: vec![r"127\.0\.0\.2".into()],
            ..Reg::default()
        },
    );
    let v = o
        .mi("ul_show_contact", json!(["location", "alice@example.com"]))
        .unwrap();
    let cs = v["Contacts"].as_array().unwrap();
    assert_eq!(cs.len(), 1, "{v}");
    assert_eq!(
        cs[0]["SIP_instance"],
        "urn:uuid:00000000-0000-1000-8000-000A95A0E128"
    );
}
