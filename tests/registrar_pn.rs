//! RFC 8599 push notifications end to end with sipp on loopback (the OpenSIPS "SIP Push
//! Notification" flow): a device registers with pn-provider / pn-prid / pn-param; an INVITE to
//! it makes `lookup()` create the transaction, subscribe (event_routing, no script route) to
//! the device's re-registration, raise E_UL_CONTACT_REFRESH and return 2 (1 when a plain
//! contact of the AOR is relayed meanwhile); the event reaches the "push gateway" (a UDP
//! socket of the test, subscribed with `subscribe_event`) and the script's event_route; the
//! device re-registers from a new address with the same PN parameters, which updates the one
//! binding, and the INVITE is injected towards it without the PN parameters in its
//! Request-URI. Also the refresh timer, `osips -C` with the pn_* modparams and a bad
//! `pn_providers`.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use common::osips::Osips;
use common::scenario;
use common::sipp::{self, Run, Sipp};
use serde_json::{Value, json};

const HEAD: &str = r#"
socket = udp:127.0.0.1:@PORT@
udp_workers = 3
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "event_routing.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
modparam("tm", "fr_timeout", 3)
modparam("tm", "fr_inv_timeout", 8)
modparam("registrar", "pn_enable", 1)
modparam("registrar", "pn_providers", "apns, fcm")
modparam("registrar", "pn_ct_match_params", "pn-provider, pn-prid, pn-param")
modparam("registrar", "pn_refresh_timeout", 8)
"#;

const STARTUP_ROUTE: &str = r#"
startup_route {
    # the push gateway: it turns the event into an APNs / FCM request
    subscribe_event("E_UL_CONTACT_REFRESH", "udp:127.0.0.1:@PUSH@");
}
"#;

const EVENT_ROUTE: &str = r#"
event_route[E_UL_CONTACT_REFRESH] {
    xlog("PN: wake up $param(aor) $param(uri) for $param(reason) $param(req_callid)\n");
}
"#;

const ROUTES: &str = r#"
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) { t_relay(); exit; }
    if (is_method("CANCEL")) { t_relay(); exit; }
    if (!is_method("INVITE")) { sl_send_reply(404, "Not Here"); exit; }
    lookup("location");
    switch ($rc) {
    case 1:
        xlog("PN: relaying to $ru\n");
        t_relay();
        exit;
    case 2:
        # only push notifications were started: lookup() made the transaction wait for the
        # device, no t_relay() (OpenSIPS registrar docs)
        xlog("PN: waiting for $rU\n");
        exit;
    default:
        sl_send_reply(404, "Not Found");
        exit;
    }
}
"#;

/// Nothing about push notifications in the request route: lookup() and t_relay() only.
const MINIMAL_ROUTES: &str = r#"
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    if (has_totag()) { t_relay(); exit; }
    lookup("location");
    if ($rc == 1) t_relay();
}
"#;

/// The whole script around the request `route`: the push gateway's subscription and the
/// event_route.
fn script(route: &str) -> String {
    format!("{HEAD}{STARTUP_ROUTE}{route}{EVENT_ROUTE}")
}

const PN: &str = ";pn-provider=apns;pn-prid=DEVTOKEN1;pn-param=ABCD.com.example.voip";

fn start(push_port: u16) -> Osips {
    start_with(push_port, &script(ROUTES))
}

fn start_with(push_port: u16, script: &str) -> Osips {
    Osips::script(script)
        .vars(&[("@PUSH@", push_port.to_string())])
        .start()
}

/// The device registers `contact` (its PN parameters appended); the 200 OK must advertise
/// push support for apns.
fn register_device(o: &Osips, contact_port: u16, what: &str) -> Sipp {
    register_device_for(o, contact_port, 300, what)
}

fn register_device_for(o: &Osips, contact_port: u16, expires: u32, what: &str) -> Sipp {
    let contact = format!("<sip:dev@127.0.0.1:{contact_port}{PN}>");
    let xml = scenario::register(
        &format!("sip:127.0.0.1:{}", o.port),
        "sip:dev@127.0.0.1",
        &contact,
        expires,
        200,
    );
    // the Feature-Caps of RFC 8599 §5.2 in the 200 OK
    let fcaps = scenario::expect(
        200,
        false,
        Some(r"Feature-Caps: \+sip\.pns=.apns.;\+sip\.pnsreg=.130."),
        "fc",
    );
    let xml = xml.replacen(&scenario::expect(200, false, None, ""), &fcaps, 1);
    assert!(xml.contains("Feature-Caps"), "{xml}");
    let xml = xml.replacen("</scenario>", "", 1);
    let xml = format!("{xml}<Reference variables=\"fc\"/>\n</scenario>\n");
    Run::new(what, &xml)
        .towards_port(o.port)
        .timeout(20)
        .start()
}

/// The one push the gateway receives (the event as JSON).
fn recv_push(gw: &UdpSocket) -> Value {
    let mut buf = [0u8; 65536];
    let n = gw.recv(&mut buf).expect("a push notification request");
    serde_json::from_slice(&buf[..n]).expect("event JSON")
}

fn contacts(o: &Osips) -> Vec<String> {
    let v = o
        .mi("ul_show_contact", json!(["location", "dev"]))
        .expect("ul_show_contact");
    let text = v.to_string();
    text.split("\"Contact\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The push the gateway got for the INVITE to `dev` at `asleep_port`.
fn assert_invite_push(push: &Value, asleep_port: u16) {
    let p = &push["params"];
    assert_eq!(push["method"], "E_UL_CONTACT_REFRESH", "{push}");
    assert_eq!(p["aor"], "dev", "{push}");
    assert_eq!(p["reason"], "ini-INVITE", "{push}");
    let uri = p["uri"].as_str().unwrap_or_default();
    assert!(
        uri.contains("pn-prid=DEVTOKEN1") && uri.contains(&format!(":{asleep_port};")),
        "{push}"
    );
    assert!(
        p["req_callid"].as_str().is_some_and(|c| !c.is_empty()),
        "{push}"
    );
}

/// The device woken by `gw`'s push re-registers at `awake_port` while `caller` runs; the
/// push and the re-registration.
fn push_then_reregister(
    o: &Osips,
    gw: &UdpSocket,
    awake_port: u16,
    caller: impl FnOnce() -> Sipp,
) -> (Sipp, Value, Sipp) {
    std::thread::scope(|s| {
        let gateway = s.spawn(|| {
            let push = recv_push(gw);
            // the push provider wakes the device: it re-registers with the same PN parameters
            let reg = register_device(o, awake_port, "device re-registers");
            (push, reg)
        });
        let caller = caller();
        let (push, reg) = gateway.join().unwrap();
        (caller, push, reg)
    })
}

fn assert_nothing_received(sock: &UdpSocket, what: &str) {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    assert!(sock.recv_from(&mut buf).is_err(), "{what} got a request");
}

/// The push gateway's socket, waiting up to `wait` for a push.
fn push_gateway(wait: Duration) -> UdpSocket {
    let gw = UdpSocket::bind("127.0.0.1:0").unwrap();
    gw.set_read_timeout(Some(wait)).unwrap();
    gw
}

fn port_of(sock: &UdpSocket) -> u16 {
    sock.local_addr().unwrap().port()
}

/// The device registers, then sleeps: nothing answers on its first address (the socket).
fn register_asleep(o: &Osips) -> (UdpSocket, u16) {
    let asleep = UdpSocket::bind("127.0.0.1:0").unwrap();
    let asleep_port = port_of(&asleep);
    register_device(o, asleep_port, "device registers").success(o);
    (asleep, asleep_port)
}

/// The device once woken: it answers the call on `awake_port`.
fn woken_device(awake_port: u16) -> Sipp {
    Run::new("woken device", &scenario::uas_answer("pn", 100, false))
        .port(awake_port)
        .timeout(25)
        .uas()
}

/// `callee` got one INVITE for dev at `port`, its Request-URI without PN parameters.
fn assert_invite_at(callee: &Sipp, port: u16) {
    assert_eq!(
        callee.received(&format!("INVITE sip:dev@127.0.0.1:{port} SIP/2.0")),
        1,
        "{}",
        callee.messages()
    );
}

/// A REGISTER of dev with a plain `contact`, answered `code`.
fn register_plain(o: &Osips, contact: &str, code: u16, what: &str) {
    let xml = scenario::register(
        &format!("sip:127.0.0.1:{}", o.port),
        "sip:dev@127.0.0.1",
        contact,
        300,
        code,
    );
    Run::new(what, &xml)
        .towards_port(o.port)
        .timeout(20)
        .start()
        .success(o);
}

/// `modparam("module", "name", value)` as the script writes it.
fn modparam(module: &str, name: &str, value: &str) -> String {
    format!("modparam(\"{module}\", \"{name}\", {value})")
}

#[test]
fn push_only_aor_with_a_script_that_only_relays() {
    if common::sipp().is_none() {
        return;
    }
    let gw = push_gateway(Duration::from_secs(15));
    let o = start_with(port_of(&gw), &script(MINIMAL_ROUTES));

    let (asleep, asleep_port) = register_asleep(&o);
    assert_eq!(contacts(&o).len(), 1);

    // woken up, it answers on a new address
    let awake_port = common::free_udp_port();
    let callee = woken_device(awake_port);

    let (caller, push, rereg) = push_then_reregister(&o, &gw, awake_port, || {
        sipp::call_answered(&o, "pn", "dev", 25)
    });
    rereg.success(&o);
    let callee = callee.success(&o);

    assert_invite_push(&push, asleep_port);
    // the INVITE reached the new address, its Request-URI without pn-provider / pn-prid /
    // pn-param (the binding keeps them)
    assert_invite_at(&callee, awake_port);
    assert_eq!(caller.received("SIP/2.0 200"), 2, "INVITE and BYE answered");
    assert_nothing_received(&asleep, "the old address");

    // one binding, now at the new address, still with its PN parameters
    let cs = contacts(&o);
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert!(cs[0].contains(&format!(":{awake_port};")), "{cs:?}");
    assert!(cs[0].contains("pn-prid=DEVTOKEN1"), "{cs:?}");

    let log = o.log();
    assert!(log.contains("PN: wake up dev sip:dev@127.0.0.1:"), "{log}");
    assert!(log.contains("for ini-INVITE"), "{log}");
}

#[test]
fn plain_contact_rings_at_once_and_the_woken_push_contact_takes_the_call() {
    if common::sipp().is_none() {
        return;
    }
    let gw = push_gateway(Duration::from_secs(15));
    let o = start(port_of(&gw));

    // a desk phone (plain contact) and a mobile (push contact) share the AOR
    let plain_port = common::free_udp_port();
    register_plain(
        &o,
        &format!("<sip:dev@127.0.0.1:{plain_port}>"),
        200,
        "plain contact registers",
    );
    let (asleep, asleep_port) = register_asleep(&o);
    assert_eq!(contacts(&o).len(), 2);

    let desk = Run::new(
        "desk phone",
        &scenario::uas_ring_until_cancel("plain", None),
    )
    .port(plain_port)
    .timeout(25)
    .uas();
    let awake_port = common::free_udp_port();
    let mobile = woken_device(awake_port);

    let (caller, push, rereg) = push_then_reregister(&o, &gw, awake_port, || {
        sipp::call_answered(&o, "pn", "dev", 25)
    });
    rereg.success(&o);
    let mobile = mobile.success(&o);
    let desk = desk.success(&o);

    assert_invite_push(&push, asleep_port);
    // the desk phone got the INVITE at once (lookup returned 1, t_relay) and was cancelled
    assert_invite_at(&desk, plain_port);
    assert_eq!(desk.received("CANCEL "), 1, "{}", desk.messages());
    assert!(caller.received("SIP/2.0 180") >= 1, "{}", caller.messages());
    // the mobile got it once woken, without the PN parameters
    assert_invite_at(&mobile, awake_port);
    assert_eq!(caller.received("SIP/2.0 200"), 2, "INVITE and BYE answered");
    assert_nothing_received(&asleep, "the old address");
    let log = o.log();
    assert!(
        log.contains(&format!("PN: relaying to sip:dev@127.0.0.1:{plain_port}")),
        "{log}"
    );
    assert!(!log.contains("PN: waiting for"), "{log}");
}

#[test]
fn no_re_registration_in_time_fails_the_call() {
    if common::sipp().is_none() {
        return;
    }
    let gw = push_gateway(Duration::from_secs(15));
    // the device has 2 s to re-register; the INVITE waits 4 s for new branches
    let refresh = |v: &str| modparam("registrar", "pn_refresh_timeout", v);
    let script = script(ROUTES)
        .replace(
            &modparam("tm", "fr_inv_timeout", "8"),
            &modparam("tm", "fr_inv_timeout", "4"),
        )
        .replace(&refresh("8"), &refresh("2"));
    assert!(script.contains(&refresh("2")));
    let o = start_with(port_of(&gw), &script);
    let (asleep, asleep_port) = register_asleep(&o);

    // the device wakes up too late: after pn_refresh_timeout, before the INVITE gives up
    let late = UdpSocket::bind("127.0.0.1:0").unwrap();
    let late_port = port_of(&late);
    let caller = Run::new("caller", &scenario::uac_expect("pn", 408))
        .towards_port(o.port)
        .service("dev")
        .timeout(25)
        .start();
    let push = recv_push(&gw);
    std::thread::sleep(Duration::from_millis(2600));
    register_device(&o, late_port, "late re-registration").success(&o);
    let caller = caller.success(&o);

    assert_invite_push(&push, asleep_port);
    assert_eq!(caller.received("SIP/2.0 408"), 1, "{}", caller.messages());
    std::thread::sleep(Duration::from_millis(300));
    assert_nothing_received(&late, "the late device");
    assert_nothing_received(&asleep, "the old address");
    assert!(o.log().contains("PN: waiting for dev"), "{}", o.log());
}

#[test]
fn a_new_address_with_the_same_pn_params_updates_the_one_binding() {
    if common::sipp().is_none() {
        return;
    }
    let gw = UdpSocket::bind("127.0.0.1:0").unwrap();
    let o = start(port_of(&gw));
    for (i, port) in [5071u16, 5072, 5073].into_iter().enumerate() {
        register_device(&o, port, &format!("register #{i}")).success(&o);
        let cs = contacts(&o);
        assert_eq!(cs.len(), 1, "{cs:?}");
        assert!(cs[0].contains(&format!("127.0.0.1:{port};")), "{cs:?}");
    }
    // a non-PN contact of the same AOR is matched by URI as usual
    register_plain(&o, "<sip:dev@127.0.0.1:5074>", 200, "plain contact");
    assert_eq!(contacts(&o).len(), 2);
    // an unsupported provider is refused with 555
    register_plain(
        &o,
        "<sip:dev@127.0.0.1:5075;pn-provider=webpush;pn-prid=x;pn-param=y>",
        555,
        "unsupported provider",
    );
    assert_eq!(contacts(&o).len(), 2);
}

#[test]
fn a_binding_not_refreshed_in_time_gets_one_push() {
    if common::sipp().is_none() {
        return;
    }
    let gw = push_gateway(Duration::from_secs(6));
    // 60 s bindings, the refresh event 58 s before expiry: 2 s after each registration
    let o = start_with(
        port_of(&gw),
        &script(ROUTES).replace(
            &modparam("registrar", "pn_refresh_timeout", "8"),
            &modparam("registrar", "pn_trigger_interval", "58"),
        ),
    );
    register_device_for(&o, 5071, 60, "device registers").success(&o);
    let push = recv_push(&gw);
    assert_eq!(push["method"], "E_UL_CONTACT_REFRESH", "{push}");
    assert_eq!(push["params"]["reason"], "reg-refresh", "{push}");
    assert!(
        push["params"]["uri"]
            .as_str()
            .is_some_and(|u| u.contains("127.0.0.1:5071;") && u.contains("pn-prid=DEVTOKEN1")),
        "{push}"
    );
    // once per binding period
    gw.set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    let mut buf = [0u8; 65536];
    assert!(
        gw.recv(&mut buf).is_err(),
        "a second push for the same binding"
    );
    // the re-registration re-arms it
    gw.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    register_device_for(&o, 5072, 60, "device re-registers").success(&o);
    let push = recv_push(&gw);
    assert_eq!(push["params"]["reason"], "reg-refresh", "{push}");
    assert!(
        push["params"]["uri"]
            .as_str()
            .is_some_and(|u| u.contains("127.0.0.1:5072;")),
        "{push}"
    );
    assert!(o.log().contains("for reg-refresh"), "{}", o.log());
}

fn check(script: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pn.cfg");
    std::fs::write(&path, script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-C", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_mode_accepts_the_pn_modparams_and_names_a_bad_provider() {
    let script = script(ROUTES)
        .replace("@PORT@", "5060")
        .replace("@HTTP@", "8888")
        .replace("@PUSH@", "9");
    // OpenSIPS documents pn_enable as a boolean: `true` is accepted
    let more = script
        .replace("\"pn_enable\", 1)", "\"pn_enable\", true)")
        .replace(
            "modparam(\"registrar\", \"pn_refresh_timeout\", 8)",
            "modparam(\"registrar\", \"pn_refresh_timeout\", 8)\n\
         modparam(\"registrar\", \"pn_pnsreg_interval\", 140)\n\
         modparam(\"registrar\", \"pn_trigger_interval\", 130)\n\
         modparam(\"registrar\", \"pn_skip_pn_interval\", 10)\n\
         modparam(\"registrar\", \"pn_enable_purr\", 0)",
        );
    let (ok, text) = check(&more);
    assert!(ok, "{text}");

    let bad = script.replace("\"apns, fcm\"", "\"apns, f/cm\"");
    let (ok, text) = check(&bad);
    assert!(!ok, "{text}");
    assert!(
        text.contains("pn_providers") && text.contains("f/cm"),
        "{text}"
    );

    let missing = script.replace(
        "modparam(\"registrar\", \"pn_providers\", \"apns, fcm\")",
        "",
    );
    let (ok, text) = check(&missing);
    assert!(!ok, "{text}");
    assert!(text.contains("pn_providers"), "{text}");
}
