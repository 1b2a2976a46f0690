//! event_routing end to end with sipp on loopback: the push-notification flow (an INVITE to a
//! user not registered waits with `t_wait_for_new_branches`; `notify_on_event` on
//! E_UL_CONTACT_INSERT runs a route that `t_inject_branches("event")` when the callee
//! registers), its timeout, the filter keeping other users' registrations out, `async(
//! wait_for_event(...))`, and `osips -C` on scripts using the functions.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::osips::Osips;
use common::scenario::{self, Check, RURI, TO_SERVICE, ack_final, invite};
use common::sipp::{self, Run, Sipp, Transport};

const SCRIPT: &str = r#"
socket = udp:127.0.0.1:@PORT@
socket = tcp:127.0.0.1:@TCP@
udp_workers = 3
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "event_routing.so"
modparam("tm", "fr_timeout", 3)
modparam("tm", "fr_inv_timeout", 4)

route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) { t_relay(); exit; }
    if (is_method("CANCEL")) { t_relay(); exit; }
    if (is_method("OPTIONS") && $rU == "waiter") {
        # the transaction absorbs the retransmissions while the worker waits
        t_newtran();
        $avp(f) = "aor=dave";
        async(wait_for_event("E_UL_CONTACT_INSERT", $avp(f), 3), waited);
    }
    if (!is_method("INVITE")) { sl_send_reply(404, "Not Here"); exit; }
    t_newtran();
    t_wait_for_new_branches();
    $avp(filter) = "aor=" + $rU;
    $avp(filter) = "domain=loc*";
    if (!notify_on_event("E_UL_CONTACT_INSERT", $avp(filter), "fork_call", 20))
        xlog("EBR: subscription failed\n");
    if (lookup("location")) t_relay();
    exit;
}

route[fork_call] {
    xlog("EBR: $avp(aor) registered $avp(uri)\n");
    $var(flags) = "";
    if ($avp(aor) == "last") $var(flags) = "l";
    if ($avp(aor) == "pick") $var(flags) = "cancel";
    if (t_inject_branches("event", $var(flags))) xlog("EBR: injected $avp(uri)\n");
}

route[waited] {
    if ($rc == 1) {
        t_reply(200, "Registered $avp(uri)");
    } else {
        t_reply(408, "No Registration $rc");
    }
}
"#;

/// osips and its TCP port.
fn start() -> (Osips, u16) {
    let tcp = common::free_tcp_port();
    (
        Osips::script(SCRIPT)
            .vars(&[("@TCP@", tcp.to_string())])
            .start(),
        tcp,
    )
}

/// A REGISTER of `user` at osips over UDP, after `delay_ms`, with the contact on
/// `contact_port`.
fn register_later(o: &Osips, user: &str, contact_port: u16, delay_ms: u32) -> Sipp {
    register_over(o, o.port, Transport::Udp, user, contact_port, delay_ms)
}

fn register_over(
    o: &Osips,
    port: u16,
    transport: Transport,
    user: &str,
    contact_port: u16,
    delay_ms: u32,
) -> Sipp {
    let aor = format!("sip:{user}@127.0.0.1");
    let contact = format!("<sip:{user}@127.0.0.1:{contact_port}>");
    let xml = scenario::register(
        &format!("sip:127.0.0.1:{}", o.port),
        &aor,
        &contact,
        60,
        200,
    )
    .replacen(
        "<send",
        &format!("<pause milliseconds=\"{delay_ms}\"/>\n  <send"),
        1,
    );
    Run::new(&format!("{user} registers"), &xml)
        .transport(transport)
        .towards_port(port)
        .timeout(20)
        .start()
}

/// The caller's INVITE to `user`, ended by osips with `code`.
fn call_failed(o: &Osips, user: &str, code: u16) -> Sipp {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += &format!(
        r#"<recv response="100" optional="true"/>
<recv response="{code}"/>"#
    );
    s += &ack_final();
    Run::new("caller", &scenario::wrap("ebr", &s, &[]))
        .towards_port(o.port)
        .service(user)
        .timeout(20)
        .done(o)
}

#[test]
fn a_registration_during_the_call_is_injected_and_answers() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _) = start();
    let callee_port = common::free_udp_port();
    let callee = Run::new("callee", &scenario::uas_answer("ebr", 100, false))
        .port(callee_port)
        .timeout(20)
        .uas();
    let reg = register_later(&o, "bob", callee_port, 1000);
    let caller = sipp::call_answered(&o, "ebr", "bob", 20);
    reg.success(&o);
    let callee = callee.success(&o);
    assert_eq!(callee.received("INVITE"), 1);
    assert_eq!(caller.received("SIP/2.0 200"), 2, "INVITE and BYE answered");
    let log = o.log();
    assert!(
        log.contains(&format!("EBR: injected sip:bob@127.0.0.1:{callee_port}")),
        "{log}"
    );
}

#[test]
fn without_a_registration_the_call_times_out() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _) = start();
    let t0 = std::time::Instant::now();
    let caller = call_failed(&o, "nobody", 408);
    // the phony branch holds the INVITE for fr_inv_timeout
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(caller.received("SIP/2.0 408"), 1);
    assert!(!o.log().contains("EBR: "), "{}", o.log());
}

#[test]
fn another_users_registration_is_not_injected() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _) = start();
    // carol's contact: a plain socket that must stay silent
    let carol = UdpSocket::bind("127.0.0.1:0").unwrap();
    let carol_port = carol.local_addr().unwrap().port();
    let reg = register_later(&o, "carol", carol_port, 500);
    let caller = call_failed(&o, "bob", 408);
    reg.success(&o);
    assert_eq!(caller.received("SIP/2.0 408"), 1);
    carol.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    assert!(carol.recv_from(&mut buf).is_err(), "carol got a request");
    let log = o.log();
    assert!(!log.contains("EBR: "), "{log}");
}

#[test]
fn flag_l_ends_the_wait_with_the_injected_branch() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _) = start();
    let busy_port = common::free_udp_port();
    let busy = Run::new("busy callee", &scenario::uas_busy("ebr", false))
        .port(busy_port)
        .timeout(20)
        .uas();
    let reg = register_later(&o, "last", busy_port, 500);
    let t0 = std::time::Instant::now();
    let caller = call_failed(&o, "last", 486);
    // without "l" the phony branch would hold the 486 until fr_inv_timeout (4 s)
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    reg.success(&o);
    busy.success(&o);
    assert_eq!(caller.received("SIP/2.0 486"), 1);
}

#[test]
fn flag_cancel_replaces_the_ringing_branch() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _) = start();
    let (first, second) = (common::free_udp_port(), common::free_udp_port());
    // the first contact rings and wants the CANCEL within 2.2 s (fr_inv_timeout would send it
    // only after 4 s)
    let ringing = Run::new(
        "first contact",
        &scenario::uas_ring_until_cancel("ebr", Some(2200)),
    )
    .port(first)
    .timeout(20)
    .uas();
    // the second contact rings long: only the "cancel" flag ends the first one early
    let answers = Run::new("second contact", &scenario::uas_answer("ebr", 2500, false))
        .port(second)
        .timeout(20)
        .uas();
    let reg1 = register_later(&o, "pick", first, 300);
    let reg2 = register_later(&o, "pick", second, 1000);
    let caller = sipp::call_answered(&o, "ebr", "pick", 20);
    reg1.success(&o);
    reg2.success(&o);
    let ringing = ringing.success(&o);
    answers.success(&o);
    assert_eq!(ringing.received("CANCEL"), 1);
    assert_eq!(caller.received("SIP/2.0 487"), 0, "the 487 stays here");
}

/// An OPTIONS to `waiter` expecting `code` (and `re` in the reply when given).
fn waiter(o: &Osips, code: u16, re: Option<&str>) -> Sipp {
    let hdrs = vec![
        "From: <sip:alice@127.0.0.1>;tag=[pid]T[call_number]".to_string(),
        "To: <sip:waiter@127.0.0.1>".to_string(),
        "CSeq: 1 OPTIONS".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    let checks: Vec<Check<'_>> = re.into_iter().map(Check::msg).collect();
    let xml = scenario::uac_request(
        "waiter",
        "OPTIONS sip:waiter@127.0.0.1",
        &hdrs,
        code,
        &checks,
    );
    Run::new("waiter", &xml)
        .towards_port(o.port)
        .timeout(20)
        .start()
}

#[test]
fn async_wait_for_event_resumes_with_the_event_or_times_out() {
    if common::sipp().is_none() {
        return;
    }
    let (o, tcp) = start();
    let dave_port = common::free_udp_port();
    let w = waiter(
        &o,
        200,
        Some(&format!("Registered sip:dave@127.0.0.1:{dave_port}")),
    );
    // Over TCP: the UDP worker waiting is busy, and the kernel hashes each UDP source to one
    // worker, maybe that one.
    let reg = register_over(&o, tcp, Transport::Tcp, "dave", dave_port, 700);
    reg.success(&o);
    w.success(&o);
    // nobody registers: -2 after the 3 s
    let t0 = std::time::Instant::now();
    let w = waiter(&o, 408, Some("No Registration -2"));
    w.success(&o);
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
}

fn check(text: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-C", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_the_functions_and_rejects_wrong_arguments() {
    let head = "loadmodule \"tm.so\"\nloadmodule \"event_routing.so\"\n";
    let good = format!(
        "{head}route {{\n    $avp(f) = \"aor=bob\";\n    notify_on_event(\"E_UL_CONTACT_INSERT\", $avp(f), \"n\", 20);\n    wait_for_event(\"E_UL_AOR_INSERT\", $avp(f), 5);\n    async(wait_for_event(\"E_UL_AOR_INSERT\", $avp(f), 5), n);\n}}\nroute[n] {{\n    t_inject_branches(\"event\", \"cl\");\n}}\n"
    );
    let (ok, err) = check(&good);
    assert!(ok, "{err}");
    // 3 arguments to notify_on_event (line 4), 4 to wait_for_event (line 5)
    let bad = format!(
        "{head}route {{\n  notify_on_event(\"E_UL_CONTACT_INSERT\", $avp(f), \"n\");\n  wait_for_event(\"E_UL_AOR_INSERT\", $avp(f), 5, 6);\n}}\nroute[n] {{ exit; }}\n"
    );
    let (ok, err) = check(&bad);
    assert!(!ok, "{err}");
    assert!(err.contains("<stdin>:4:3"), "{err}");
    assert!(err.contains("<stdin>:5:49"), "{err}");
    assert!(err.contains("notify_on_event"), "{err}");
    assert!(err.contains("wait_for_event"), "{err}");
    // the filter must be an AVP, the route must exist
    let bad = format!("{head}route {{\n  notify_on_event(\"E_X\", $var(f), \"nosuch\", 20);\n}}\n");
    let (ok, err) = check(&bad);
    assert!(!ok, "{err}");
    assert!(err.contains("<stdin>:4:"), "{err}");
    assert!(err.contains("nosuch"), "{err}");
}
