//! The script's side of the Event Interface on a running `osips`: a REGISTER through registrar
//! `save` raises E_UL_AOR_INSERT / E_UL_CONTACT_INSERT, which run `event_route` blocks (sync and
//! async) reading `$param(...)`, reach an external UDP subscriber as JSON-RPC notifications, and
//! `raise_event()` from the script reaches both a route and a subscriber. Core events raised over
//! MI run their routes too.

mod registrar_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use registrar_support::{HEAD, Osips, Reg, common, register};
use serde_json::{Value, json};

const ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
route {
    if (is_method("REGISTER")) {
        save("location");
        $avp(names) = "user";
        $avp(vals) = $tU;
        $avp(names) = "ua";
        $avp(vals) = $ua;
        raise_event("E_SCRIPT_REGISTER", $avp(names), $avp(vals));
        raise_event("E_SCRIPT_POSITIONAL", $avp(vals));
        exit;
    }
    sl_send_reply(404, "Not Here");
}

event_route[E_UL_CONTACT_INSERT] {
    cache_store("local", "contact:$param(aor)", "$param(uri)");
    xlog("L_NOTICE", "event contact insert aor=$param(aor) domain=$param(domain) expires=$param(expires)\n");
}

event_route[E_UL_AOR_INSERT, async] {
    cache_store("local", "aor:$param(aor)", "$param(domain)");
}

event_route[E_SCRIPT_REGISTER] {
    cache_store("local", "script:$param(user)", "$param(ua)");
}

event_route[E_SCRIPT_POSITIONAL] {
    cache_store("local", "positional", "$param(1)|$param(2)|$param(3)");
}

event_route[E_CORE_THRESHOLD] {
    cache_store("local", "threshold", "$param(source)/$param(extra)");
}
"#;

fn start() -> (Osips, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{ROUTES}"));
    (o, dir)
}

/// `cache_fetch local key` over MI, waiting for an async route to have stored it.
fn fetch(o: &Osips, key: &str) -> String {
    let start = Instant::now();
    loop {
        match o.mi("cache_fetch", json!({"system": "local", "attr": key})) {
            Ok(v) => return v["value"].as_str().unwrap().to_string(),
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("{key} never stored: {e}\n--- osips log ---\n{}", o.log())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn listener() -> (UdpSocket, String) {
    let l = UdpSocket::bind("127.0.0.1:0").unwrap();
    l.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let sock = format!("udp:{}", l.local_addr().unwrap());
    (l, sock)
}

fn recv_json(s: &UdpSocket) -> Value {
    let mut buf = [0u8; 65536];
    let n = s.recv(&mut buf).expect("event datagram");
    serde_json::from_slice(&buf[..n]).unwrap()
}

#[test]
fn register_runs_event_routes_and_notifies_subscribers() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start();
    // the routes subscribed themselves; the script's own events were published at start
    let subs = o
        .mi("subscribers_list", json!(["E_UL_CONTACT_INSERT"]))
        .unwrap();
    assert_eq!(
        subs["Event"]["Subscribers"][0]["socket"], "route:E_UL_CONTACT_INSERT",
        "{subs}"
    );
    let (ul, ul_sock) = listener();
    let (sc, sc_sock) = listener();
    assert_eq!(
        o.mi("event_subscribe", json!(["E_UL_CONTACT_INSERT", ul_sock]))
            .unwrap(),
        "OK"
    );
    assert_eq!(
        o.mi("event_subscribe", json!(["E_SCRIPT_REGISTER", sc_sock]))
            .unwrap(),
        "OK"
    );

    register(&o, &Reg::default());

    // sync route: done before the 200 OK left
    assert_eq!(
        o.mi(
            "cache_fetch",
            json!({"system": "local", "attr": "contact:alice@example.com"})
        )
        .unwrap()["value"],
        "sip:alice@127.0.0.2:5070"
    );
    assert!(
        o.log()
            .contains("event contact insert aor=alice@example.com domain=location expires="),
        "{}",
        o.log()
    );
    // async route
    assert_eq!(fetch(&o, "aor:alice@example.com"), "location");
    // raise_event with names and values; and with values only (positional, most recent first)
    assert_eq!(fetch(&o, "script:alice"), "sipp-registrar-test");
    assert_eq!(fetch(&o, "positional"), "sipp-registrar-test|alice|<null>");

    let n = recv_json(&ul);
    assert_eq!(n["jsonrpc"], "2.0");
    assert_eq!(n["method"], "E_UL_CONTACT_INSERT");
    assert_eq!(n["params"]["aor"], "alice@example.com");
    assert_eq!(n["params"]["uri"], "sip:alice@127.0.0.2:5070");
    assert_eq!(n["params"]["domain"], "location");
    assert_eq!(
        n["params"]["callid"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );
    let n = recv_json(&sc);
    assert_eq!(
        n,
        json!({"jsonrpc":"2.0","method":"E_SCRIPT_REGISTER",
               "params":{"ua":"sipp-registrar-test","user":"alice"}})
    );

    // a refresh is no insert: the sync route does not run again
    o.mi(
        "cache_remove",
        json!(["local", "contact:alice@example.com"]),
    )
    .unwrap();
    register(
        &o,
        &Reg {
            cseq: 2,
            ..Reg::default()
        },
    );
    assert!(
        o.mi(
            "cache_fetch",
            json!({"system": "local", "attr": "contact:alice@example.com"})
        )
        .is_err()
    );
}

#[test]
fn core_event_raised_over_mi_runs_its_route() {
    let (o, _d) = start();
    let r = o
        .mi(
            "raise_event",
            json!({"event": "E_CORE_THRESHOLD",
                   "params": {"source": "mi", "time": 5, "extra": "slow"}}),
        )
        .unwrap();
    assert_eq!(r, "OK");
    assert_eq!(fetch(&o, "threshold"), "mi/slow");
    // an event nobody handles is refused as OpenSIPS does
    let e = o
        .mi("raise_event", json!(["E_CORE_PKG_THRESHOLD"]))
        .unwrap_err();
    assert!(e.contains("480"), "{e}");
}

#[test]
fn reload_routes_resubscribes_event_routes() {
    let (o, _d) = start();
    let text = std::fs::read_to_string(&o.script).unwrap();
    let changed = text.replace(
        "event_route[E_CORE_THRESHOLD] {",
        "event_route[E_CORE_SHM_THRESHOLD, async] {",
    );
    std::fs::write(&o.script, changed).unwrap();
    o.mi("reload_routes", json!([])).unwrap();
    let e = o
        .mi("raise_event", json!(["E_CORE_THRESHOLD"]))
        .unwrap_err();
    assert!(e.contains("480"), "the old route is still subscribed: {e}");
    o.mi(
        "raise_event",
        json!({"event": "E_CORE_SHM_THRESHOLD", "params": {"source": "x", "extra": "shm"}}),
    )
    .unwrap();
    assert_eq!(fetch(&o, "threshold"), "x/shm");
}

#[test]
fn script_subscribes_and_raises_with_values_only() {
    if common::sipp().is_none() {
        return;
    }
    let (l, sock) = listener();
    let routes = r#"
route {
    if (is_method("REGISTER")) {
        if (!subscribe_event("E_SCRIPT_SUB", "@SOCK@", 60)) {
            sl_send_reply(500, "No Subscription");
            exit;
        }
        $avp(v) = $tU;
        raise_event("E_SCRIPT_SUB", , $avp(v));
        if (subscribe_event("E_SCRIPT_SUB", "bogus:1.2.3.4")) {
            sl_send_reply(500, "Bogus Subscription Accepted");
            exit;
        }
        save("location");
        exit;
    }
}
"#
    .replace("@SOCK@", &sock);
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{routes}"));
    // published at start, before any raise: an MI client may subscribe to it already
    let events = o.mi("events_list", json!([])).unwrap();
    assert!(events.to_string().contains("\"E_SCRIPT_SUB\""), "{events}");
    register(&o, &Reg::default());
    assert_eq!(
        recv_json(&l),
        json!({"jsonrpc":"2.0","method":"E_SCRIPT_SUB","params":["alice"]})
    );
    let subs = o
        .mi("subscribers_list", json!(["E_SCRIPT_SUB", sock]))
        .unwrap();
    assert_eq!(subs["Event"]["Subscriber"]["expire"], 60, "{subs}");
}

/// An event route that raises its own event stops at the nesting limit; SIP goes on.
#[test]
fn a_route_raising_its_own_event_stops_at_the_nesting_limit() {
    if common::sipp().is_none() {
        return;
    }
    let routes = r#"
route {
    if (is_method("REGISTER")) {
        raise_event("E_SCRIPT_LOOP");
        save("location");
        exit;
    }
}
event_route[E_SCRIPT_LOOP] {
    cache_add("local", "depth", 1, 0);
    raise_event("E_SCRIPT_LOOP");
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let o = Osips::start(dir.path(), &format!("{HEAD}{routes}"));
    register(&o, &Reg::default());
    let depth: u32 = fetch(&o, "depth").parse().unwrap();
    assert_eq!(
        depth,
        osips::runtime::event_route::MAX_NESTING,
        "{}",
        o.log()
    );
    assert!(o.log().contains("nested event routes"), "{}", o.log());
}
