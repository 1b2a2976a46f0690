//! `save()` and `lookup()` on parsed REGISTERs without sockets, against a memory usrloc.

use std::sync::Arc;

use bytes::Bytes;

use super::flags::{LookupFlags, SaveFlags};
use super::pn::{FL_PN_ON, PnConfig};
use super::save::{ScriptAvps, check_aor_len, deviate, save};
use super::{RegConfig, lookup};
use crate::modules::usrloc::{self, Config, DbMode, Usrloc};
use crate::runtime::{Runtime, Shared, SipCtx};
use crate::sip::Msg;
use crate::transport::ReceiveInfo;

fn ctx(msg: &str) -> Option<SipCtx> {
    let rt = Runtime::load_str("t.cfg", "socket = udp:127.0.0.1:5060\nroute { exit; }\n").unwrap();
    let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
    let info = ReceiveInfo::udp(
        "127.0.0.9:5062".parse().unwrap(),
        "127.0.0.1:5060".parse().unwrap(),
        0,
    );
    let m = Msg::parse(Bytes::from(msg.to_string())).ok()?;
    Some(SipCtx::new(m, info, shared))
}

fn register(user: &str, contact: &str, extra: &str, cseq: u32) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.9:5062;branch=z9hG4bK-{user}-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=1\r\nTo: <sip:{user}@example.com>\r\n\
         Call-ID: cid-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// One test installs the process-wide usrloc; it checks several behaviours in sequence.
#[test]
fn save_and_lookup_on_parsed_requests() {
    let cfg = Config {
        use_domain: true,
        hash_bits: 2,
        db_mode: DbMode::None,
        ..Config::default()
    };
    usrloc::install(Usrloc::new(cfg, None).unwrap());
    let rc = RegConfig::default();
    let none = SaveFlags::default();
    let run = |msg: &str, flags: &SaveFlags| {
        let m = ctx(msg).expect("parses");
        save(
            &m,
            &rc,
            "location",
            flags,
            &super::aor_of(
                &m.msg
                    .to()
                    .map(|t| String::from_utf8_lossy(t.uri.raw).into_owned())
                    .unwrap_or_default(),
                &rc,
                true,
            )
            .unwrap(),
            ScriptAvps::default(),
        )
    };

    let ok = run(
        &register("a", "<sip:a@127.0.0.2>;q=0.4", "Expires: 120\r\n", 1),
        &none,
    )
    .unwrap();
    assert!(
        ok.headers.contains("<sip:a@127.0.0.2>;q=0.4;expires=120"),
        "{}",
        ok.headers
    );
    let r = run(
        &register("a", "<sip:a@127.0.0.3>", "Expires: 5\r\n", 2),
        &none,
    )
    .unwrap_err();
    assert_eq!((r.code, r.headers.as_str()), (423, "Min-Expires: 60\r\n"));
    let r = run(&register("a", "*", "Expires: 5\r\n", 3), &none).unwrap_err();
    assert_eq!(r.code, 400);
    let few = SaveFlags::parse("max-contacts=1").unwrap();
    let r = run(&register("a", "<sip:a@127.0.0.5>", "", 4), &few).unwrap_err();
    assert_eq!(r.code, 503);
    let force = SaveFlags::parse("max-contacts=1,force-registration").unwrap();
    let ok = run(&register("a", "<sip:a@127.0.0.5>", "", 5), &force).unwrap();
    assert!(
        ok.headers.contains("127.0.0.5") && !ok.headers.contains("127.0.0.2"),
        "{}",
        ok.headers
    );

    // lookup: the best contact becomes the Request-URI, the rest branches.
    run(
        &register(
            "b",
            "<sip:b@127.0.0.6>;q=0.2, <sip:b@127.0.0.7>;q=0.9",
            "",
            1,
        ),
        &none,
    )
    .unwrap();
    let mut m = ctx("MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKx\r\n\
        From: <sip:x@y>;tag=2\r\nTo: <sip:b@example.com>\r\nCall-ID: l1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n").unwrap();
    let ts = lookup::targets("location", "b@example.com").unwrap();
    assert_eq!(
        lookup::apply(&mut m, ts, &LookupFlags::default()),
        lookup::FOUND
    );
    assert_eq!(m.new_ruri.as_deref(), Some("sip:b@127.0.0.7"));
    assert_eq!(m.branches.len(), 1);
    assert_eq!(m.branches[0].uri, "sip:b@127.0.0.6");
    assert_eq!(m.branches[0].q, Some(200));
    assert_eq!(
        lookup::apply(&mut m, vec![], &LookupFlags::default()),
        lookup::NOT_FOUND
    );

    // RFC 8599: a push contact is matched by its PN parameters, not by its URI.
    let pn = RegConfig {
        pn: PnConfig {
            enable: true,
            providers: vec!["apns".into(), "fcm".into()],
            ..PnConfig::default()
        },
        ..RegConfig::default()
    };
    let run_pn = |msg: &str| {
        let m = ctx(msg).expect("parses");
        save(
            &m,
            &pn,
            "location",
            &none,
            "d@example.com",
            ScriptAvps::default(),
        )
    };
    let params = ";pn-provider=apns;pn-prid=TOK;pn-param=ABC.voip";
    let ok = run_pn(&register(
        "d",
        &format!("<sip:d@127.0.0.10:5070{params}>"),
        "",
        1,
    ))
    .unwrap();
    assert!(
        ok.headers
            .contains("Feature-Caps: +sip.pns=\"apns\";+sip.pnsreg=\"130\"\r\n"),
        "{}",
        ok.headers
    );
    // a new address for the same device: the one binding is updated
    let ok = run_pn(&register(
        "d",
        &format!("<sip:d@127.0.0.11:5080{params}>"),
        "",
        2,
    ))
    .unwrap();
    assert!(!ok.headers.contains("127.0.0.10"), "{}", ok.headers);
    let ts = lookup::targets("location", "d@example.com").unwrap();
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].uri, format!("sip:d@127.0.0.11:5080{params}"));
    assert_eq!(ts[0].flags & FL_PN_ON, FL_PN_ON);
    // another device token is another binding
    run_pn(&register(
        "d",
        "<sip:d@127.0.0.11:5080;pn-provider=apns;pn-prid=TOK2;pn-param=ABC.voip>",
        "",
        3,
    ))
    .unwrap();
    assert_eq!(
        lookup::targets("location", "d@example.com").unwrap().len(),
        2
    );
    // without PN support the same URIs are plain contacts, matched by URI
    run(
        &register("e", &format!("<sip:e@127.0.0.10{params}>"), "", 1),
        &none,
    )
    .unwrap();
    run(
        &register("e", &format!("<sip:e@127.0.0.12{params}>"), "", 2),
        &none,
    )
    .unwrap();
    let ts = lookup::targets("location", "e@example.com").unwrap();
    assert_eq!(ts.len(), 2);
    assert!(ts.iter().all(|t| t.flags & FL_PN_ON == 0));
    // an unknown provider, or a missing PN parameter: 555
    let r = run_pn(&register(
        "d",
        "<sip:d@127.0.0.10;pn-provider=webpush;pn-prid=x;pn-param=y>",
        "",
        4,
    ))
    .unwrap_err();
    assert_eq!(
        (r.code, r.reason),
        (555, "Push Notification Service Not Supported")
    );
    let r = run_pn(&register(
        "d",
        "<sip:d@127.0.0.10;pn-provider=apns;pn-prid=x>",
        "",
        5,
    ))
    .unwrap_err();
    assert_eq!(r.code, 555);
    // upstream sends the notifications: matched by PN parameters, never notified by us
    let up = run_pn(&register(
        "d",
        "<sip:d@127.0.0.13;pn-provider=fcm;pn-prid=F;pn-param=G>",
        "Feature-Caps: *;+sip.pns=\"fcm\"\r\n",
        6,
    ))
    .unwrap();
    assert!(!up.headers.contains("Feature-Caps"), "{}", up.headers);
    let ts = lookup::targets("location", "d@example.com").unwrap();
    let fcm = ts
        .iter()
        .find(|t| t.uri.contains("pn-provider=fcm"))
        .unwrap();
    assert_eq!(fcm.flags & FL_PN_ON, 0);
    // a capability query registers a plain contact and is answered with the providers
    let q = run_pn(&register("f", "<sip:f@127.0.0.14;pn-provider>", "", 1)).unwrap();
    assert!(
        q.headers
            .contains("Feature-Caps: +sip.pns=\"apns\"\r\nFeature-Caps: +sip.pns=\"fcm\"\r\n"),
        "{}",
        q.headers
    );

    // No input panics: mutated REGISTERs are refused or saved, never crash.
    let base = register(
        "c",
        "<sip:c@127.0.0.8>;expires=100",
        "Path: <sip:127.0.0.1;lr>\r\n",
        1,
    );
    let flags = SaveFlags::parse("path-strict,max-contacts=3").unwrap();
    let mut seed = 0x2545_f491_u32;
    for _ in 0..2000 {
        let mut b = base.clone().into_bytes();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let i = seed as usize % b.len();
            const BYTES: &[u8] = b"<>;=,*\"@:0123456789abc \r\n\xff";
            b[i] = BYTES[(seed >> 8) as usize % BYTES.len()];
        }
        let text = String::from_utf8_lossy(&b).into_owned();
        if let Some(m) = ctx(&text)
            && let Ok(to) = m.msg.to()
            && let Ok(aor) = super::aor_of(&String::from_utf8_lossy(to.uri.raw), &rc, true)
        {
            let _ = save(&m, &rc, "location", &flags, &aor, ScriptAvps::default());
        }
    }
}

#[test]
fn aor_length_limits() {
    let mut rc = RegConfig::default();
    assert!(check_aor_len("alice@example.com", &rc).is_ok());
    let long_user = format!("{}@example.com", "a".repeat(65));
    assert_eq!(check_aor_len(&long_user, &rc).unwrap_err().code, 500);
    let long_domain = format!("alice@{}", "d".repeat(65));
    assert!(check_aor_len(&long_domain, &rc).is_err());
    rc.max_username_len = 100;
    rc.max_aor_len = 80;
    assert!(check_aor_len(&long_user, &rc).is_ok());
    rc.max_aor_len = 20;
    assert!(check_aor_len(&long_user, &rc).is_err());
}

#[test]
fn expiry_deviation_stays_within_bounds() {
    assert_eq!(deviate(300, 50, 60, 0), 350);
    assert_eq!(deviate(300, -50, 60, 0), 250);
    assert_eq!(deviate(100, -80, 60, 0), 60);
    assert_eq!(deviate(3600, 100, 60, 3600), 3600);
    assert_eq!(deviate(10, -50, 0, 0), 1);
}
