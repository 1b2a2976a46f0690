//! `reg_fetch_contacts` / `$ulc` / `reg_free_contacts` on real traffic: sipp registers two
//! contacts, then an OPTIONS makes the script fetch them and answer with their fields in the
//! reason phrase. `attr_avp`, `allow_dup_cseq`, `max_contact_len` and usrloc's `ul_add_key` /
//! `ul_get_key` / `ul_del_key` on the same traffic.

mod registrar_support;

use registrar_support::{HEAD, Osips, Reg, common, register};

const ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (!reg_fetch_contacts("location", "sip:$rU@example.com", "p")) {
        sl_send_reply(404, "none");
        exit;
    }
    $var(r) = "n=" + $ulc(p=>count) + " aor=" + $ulc(p=>aor) + " first=" + $ulc(p=>addr)
        + " second=" + $(ulc(p=>addr)[1]) + " q1=" + $(ulc(p=>q)[1])
        + " cseq=" + $ulc(p=>cseq) + " ua=" + $ulc(p=>user_agent)
        + " inst=" + $(ulc(p=>sip_instance)[-1]) + " cid=" + $ulc(p=>callid);
    reg_free_contacts("p");
    if ($ulc(p=>count) == NULL) {
        $var(r) = $var(r) + " freed";
    }
    sl_send_reply(200, "$var(r)");
}
"#;

fn options(o: &Osips, user: &str, code: u16, expect: &str) {
    registrar_support::request_expect(o, "OPTIONS", user, code, Some(expect));
}

#[test]
fn fetched_contacts_are_readable_field_by_field() {
    if common::sipp().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.2:5070>;q=0.9".into(),
            call_id: Some("fetch-1"),
            cseq: 4,
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            contact: "<sip:alice@127.0.0.3:5070>;q=0.4;+sip.instance=\"<urn:uuid:fe7c4>\"".into(),
            call_id: Some("fetch-2"),
            ..Reg::default()
        },
    );
    options(
        &o,
        "alice",
        200,
        r"^SIP/2\.0 200 n=2 aor=alice@example\.com first=sip:alice@127\.0\.0\.2:5070 second=sip:alice@127\.0\.0\.3:5070 q1=0\.4 cseq=4 ua=sipp-registrar-test inst=urn:uuid:fe7c4 cid=fetch-1 freed",
    );
    options(&o, "nobody", 404, "none");
}

const ATTR_ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
modparam("registrar", "attr_avp", "$avp(attr)")
modparam("registrar", "allow_dup_cseq", 1)
modparam("registrar", "max_contact_len", 40)
route {
    if (is_method("REGISTER")) {
        $avp(attr) = "vip-" + $tU;
        save("location");
        exit;
    }
    if ($rU == "kv") {
        ul_add_key("location", "sip:alice@example.com", "tier", "gold");
        ul_get_key("location", "alice@example.com", "tier", $var(t));
        ul_del_key("location", "alice@example.com", "tier");
        if (!ul_get_key("location", "alice@example.com", "tier", $var(u))) {
            $var(u) = "gone";
        }
        if (!ul_add_key("location", "nobody@example.com", "k", "v")) {
            $var(n) = "refused";
        }
        sl_send_reply(200, "kv=$var(t) $var(u) $var(n)");
        exit;
    }
    if (is_registered("location", "sip:$rU@example.com")) {
        sl_send_reply(200, "attr=$avp(attr)");
        exit;
    }
    sl_send_reply(404, "unregistered");
}
"#;

#[test]
fn attr_avp_duplicate_cseq_and_contact_length() {
    if common::sipp().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ATTR_ROUTES}"));
    register(
        &o,
        &Reg {
            call_id: Some("dup-cseq"),
            cseq: 4,
            ..Reg::default()
        },
    );
    // The same Call-ID and CSeq again updates the binding (allow_dup_cseq).
    register(
        &o,
        &Reg {
            call_id: Some("dup-cseq"),
            cseq: 4,
            expires: Some(600),
            expect: vec![r"<sip:alice@127\.0\.0\.2:5070>;expires=(600|599)".into()],
            ..Reg::default()
        },
    );
    options(&o, "alice", 200, r"^SIP/2\.0 200 attr=vip-alice");
    options(&o, "bob", 404, "unregistered");
    options(&o, "kv", 200, r"^SIP/2\.0 200 kv=gold gone refused");
    register(
        &o,
        &Reg {
            user: "bob",
            contact: "<sip:bob-with-a-long-name@127.0.0.2:5070;transport=udp>".into(),
            code: 400,
            expect: vec!["P-Registrar-Error: Contact/received too long".into()],
            ..Reg::default()
        },
    );
}
