//! lookup() flags on real traffic: `branch` (r) replaces the AORs in the branches by their contacts,
//! `u/regexp/` / `ua-filtering=/regexp/` (with `i` / `case-insensitive`) keeps only contacts whose User-Agent matches. The script answers
//! with the resulting Request-URI and first branch in the reason phrase. `is_ip_registered` and
//! `remove_ip_port` find and drop contacts by address.

mod registrar_support;

use registrar_support::{HEAD, Osips, Reg, common, register};

const ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
modparam("registrar", "expires_max_deviation", 50)
route {
    if (is_method("REGISTER")) {
        if ($tU == "relay") {
            add_sock_hdr("X-Sock");
            $du = $hdr(X-Registrar);
            forward();
            exit;
        }
        save("location");
        exit;
    }
    if ($rU == "ipcheck" || $rU == "ipwrong") {
        $avp(ips) = "127.0.0.8";
        $avp(ips) = "127.0.0.2";
        $var(port) = "5070";
        if ($rU == "ipwrong") {
            $var(port) = "5999";
        }
        if (is_ip_registered("location", "sip:alice@example.com", $avp(ips), $var(port))) {
            sl_send_reply(200, "ip-yes");
        } else {
            sl_send_reply(404, "ip-no");
        }
        exit;
    }
    if ($rU == "rmip") {
        if (remove_ip_port("127.0.0.4", 5070, "location")) {
            sl_send_reply(200, "removed");
        } else {
            sl_send_reply(404, "nothing");
        }
        exit;
    }
    if ($rU == "group") {
        $ru = "sip:alice@example.com";
        append_branch("sip:bob@example.com");
        lookup("location", "branch");
    } else if ($rU == "polycom") {
        lookup("location", "ua-filtering=/^polycom/,case-insensitive", "sip:alice@example.com");
    } else if ($rU == "sipp") {
        lookup("location", "u/^SIPP-REGISTRAR/i", "sip:alice@example.com");
    } else {
        lookup("location");
    }
    if ($rc < 0) {
        sl_send_reply(404, "rc=$rc");
        exit;
    }
    sl_send_reply(200, "ru=$ru br=$(branch(uri)[0]) n=$(branch(uri)[*])");
}
"#;

fn ask(o: &Osips, user: &str, code: u16, expect: &str) {
    registrar_support::request_expect(o, "OPTIONS", user, code, Some(expect));
}

#[test]
fn branch_lookup_and_user_agent_filtering() {
    if common::sipp().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    // expires_max_deviation 50: 300 becomes 250..350.
    register(
        &o,
        &Reg {
            expect: vec![r"expires=(2[5-9][0-9]|3[0-4][0-9]|350)[[:space:]]".into()],
            ..Reg::default()
        },
    );
    register(
        &o,
        &Reg {
            user: "bob",
            contact: "<sip:bob@127.0.0.4:5070>".into(),
            ..Reg::default()
        },
    );
    // alice's contact in the R-URI, bob's replaces the AOR branch.
    ask(
        &o,
        "group",
        200,
        r"^SIP/2\.0 200 ru=sip:alice@127\.0\.0\.2:5070 br=sip:bob@127\.0\.0\.4:5070 ",
    );
    // The register scenario's User-Agent is "sipp-registrar-test".
    ask(&o, "polycom", 404, r"^SIP/2\.0 404 rc=-1");
    ask(
        &o,
        "sipp",
        200,
        r"^SIP/2\.0 200 ru=sip:alice@127\.0\.0\.2:5070 ",
    );
}

#[test]
fn contacts_found_and_removed_by_ip_and_port() {
    if common::sipp().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    register(&o, &Reg::default());
    register(
        &o,
        &Reg {
            user: "bob",
            contact: "<sip:bob@127.0.0.4:5070>".into(),
            ..Reg::default()
        },
    );
    ask(&o, "ipcheck", 200, r"^SIP/2\.0 200 ip-yes");
    ask(&o, "ipwrong", 404, r"^SIP/2\.0 404 ip-no");
    ask(
        &o,
        "bob",
        200,
        r"^SIP/2\.0 200 ru=sip:bob@127\.0\.0\.4:5070 ",
    );
    ask(&o, "rmip", 200, r"^SIP/2\.0 200 removed");
    ask(&o, "bob", 404, r"^SIP/2\.0 404 rc=-1");
    ask(&o, "rmip", 404, r"^SIP/2\.0 404 nothing");
    // alice (127.0.0.2) stays.
    ask(
        &o,
        "alice",
        200,
        r"^SIP/2\.0 200 ru=sip:alice@127\.0\.0\.2:5070 ",
    );
}

#[test]
fn add_sock_hdr_names_the_receiving_socket() {
    if common::sipp().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    let port = common::free_udp_port();
    let (u, udir) = registrar_support::uas(
        "127.0.0.2",
        port,
        "REGISTER",
        &[format!(r"X-Sock: udp:127\.0\.0\.1:{}", o.port)],
    );
    register(
        &o,
        &Reg {
            user: "relay",
            headers: vec![format!("X-Registrar: sip:127.0.0.2:{port}")],
            ..Reg::default()
        },
    );
    registrar_support::uas_done(u, &udir, &o);
}
