//! Event subscriptions over MI and delivery to listeners the test opens: UDP, UNIX datagram,
//! TCP (event_stream) and HTTP POST; a subscriber that never reads does not block raising.

mod mi_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::Duration;

use mi_support::{TIMEOUT, start};
use osips::events::{EventParams, USRLOC_EVENTS};
use osips::mi::MiError;
use osips::mi::client::{self, ClientError};
use serde_json::{Value, json};

fn mi(h: &mi_support::Harness, method: &str, params: Value) -> Result<Value, MiError> {
    match client::call(&h.http_target(), method, params, TIMEOUT) {
        Ok(v) => Ok(v),
        Err(ClientError::Mi(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

fn recv_json(s: &UdpSocket) -> Value {
    let mut buf = [0u8; 65536];
    let n = s.recv(&mut buf).expect("event datagram");
    serde_json::from_slice(&buf[..n]).unwrap()
}

#[test]
fn subscribe_over_mi_and_receive_udp_datagrams() {
    let h = start();
    let ids = h.events.publish_all(USRLOC_EVENTS);
    let l = UdpSocket::bind("127.0.0.1:0").unwrap();
    l.set_read_timeout(Some(TIMEOUT)).unwrap();
    let sock = format!("udp:{}", l.local_addr().unwrap());

    assert_eq!(
        mi(&h, "event_subscribe", json!(["E_UL_CONTACT_INSERT", sock])).unwrap(),
        "OK"
    );
    let subs = mi(&h, "subscribers_list", json!({})).unwrap();
    assert_eq!(
        subs,
        json!({"Events":[{"name":"E_UL_CONTACT_INSERT","id":ids[2],"Subscribers":[{"socket":sock,"expire":3600}]}]})
    );
    let one = mi(
        &h,
        "subscribers_list",
        json!({"event":"E_UL_CONTACT_INSERT","socket":sock}),
    )
    .unwrap();
    assert_eq!(one["Event"]["Subscriber"]["expire"], 3600);

    // a module raises with OpenSIPS's parameter names
    let p = EventParams::new()
        .with("domain", "location")
        .with("aor", "alice@example.com")
        .with("uri", "sip:alice@127.0.0.2:5060")
        .with("qval", -1i64)
        .with("expires", 1_800_000_000i64);
    assert_eq!(h.events.raise(ids[2], p), 1);
    let v = recv_json(&l);
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["method"], "E_UL_CONTACT_INSERT");
    assert_eq!(v["params"]["aor"], "alice@example.com");
    assert_eq!(v["params"]["expires"], 1_800_000_000i64);
    assert!(v.get("id").is_none());

    // MI raise_event: positional array and JSON-object string
    assert_eq!(
        mi(
            &h,
            "raise_event",
            json!(["E_UL_CONTACT_INSERT", ["a", "b"]])
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(recv_json(&l)["params"], json!(["a", "b"]));
    assert_eq!(
        mi(
            &h,
            "raise_event",
            json!({"event":"E_UL_CONTACT_INSERT","params":"{\"aor\":\"bob\",\"n\":2}"})
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(recv_json(&l)["params"], json!({"aor":"bob","n":2}));

    // re-subscribing refreshes with the new expire; expire 0 unsubscribes
    mi(
        &h,
        "event_subscribe",
        json!(["E_UL_CONTACT_INSERT", sock, 60]),
    )
    .unwrap();
    let subs = mi(&h, "subscribers_list", json!(["E_UL_CONTACT_INSERT"])).unwrap();
    assert_eq!(
        subs["Event"]["Subscribers"],
        json!([{"socket":sock,"expire":60}])
    );
    mi(
        &h,
        "event_subscribe",
        json!(["E_UL_CONTACT_INSERT", sock, 0]),
    )
    .unwrap();
    assert_eq!(
        mi(&h, "subscribers_list", json!({})).unwrap(),
        json!({"Events":[]})
    );
    assert_eq!(
        mi(&h, "raise_event", json!(["E_UL_CONTACT_INSERT"])).unwrap_err(),
        MiError::new(480, "Temporarily Unavailable")
    );
}

#[test]
fn mi_event_errors() {
    let h = start();
    assert_eq!(
        mi(&h, "raise_event", json!(["E_NOPE"])).unwrap_err(),
        MiError::new(404, "Event not registered")
    );
    assert_eq!(
        mi(&h, "event_subscribe", json!(["E_NOPE", "udp:127.0.0.1:9"]))
            .unwrap_err()
            .code,
        400
    );
    assert_eq!(
        mi(
            &h,
            "event_subscribe",
            json!(["E_CORE_THRESHOLD", "carrier-pigeon:x"])
        )
        .unwrap_err()
        .code,
        400
    );
    assert_eq!(
        mi(
            &h,
            "event_subscribe",
            json!(["E_CORE_THRESHOLD", "udp:127.0.0.1:9", -1])
        )
        .unwrap_err()
        .code,
        -32602
    );
    assert_eq!(
        mi(&h, "subscribers_list", json!(["E_NOPE"])).unwrap_err(),
        MiError::new(404, "Event not published")
    );
    assert_eq!(
        mi(
            &h,
            "subscribers_list",
            json!(["E_CORE_THRESHOLD", "udp:127.0.0.1:9"])
        )
        .unwrap_err(),
        MiError::new(404, "Subscriber does not exist")
    );
    let list = mi(&h, "events_list", json!({})).unwrap();
    assert_eq!(list["Events"][0], json!({"name":"E_CORE_THRESHOLD","id":0}));
    assert!(
        list["Events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "E_CORE_PKG_THRESHOLD")
    );
}

#[test]
fn unix_tcp_and_http_delivery() {
    let h = start();
    let id = h.events.publish("E_TEST", &["k"]);

    let upath = h.dir.path().join("ev.sock");
    let u = UnixDatagram::bind(&upath).unwrap();
    u.set_read_timeout(Some(TIMEOUT)).unwrap();
    mi(
        &h,
        "event_subscribe",
        json!(["E_TEST", format!("unix:{}", upath.display())]),
    )
    .unwrap();

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    mi(
        &h,
        "event_subscribe",
        json!([
            "E_TEST",
            format!("tcp:{}/my_method", tcp.local_addr().unwrap())
        ]),
    )
    .unwrap();

    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    mi(
        &h,
        "event_subscribe",
        json!([
            "E_TEST",
            format!("http:{}/events", http.local_addr().unwrap())
        ]),
    )
    .unwrap();

    assert_eq!(h.events.raise(id, EventParams::new().with("k", "v")), 3);

    let mut buf = [0u8; 4096];
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        br#"{"jsonrpc":"2.0","method":"E_TEST","params":{"k":"v"}}"#
    );

    let (mut t, _) = tcp.accept().unwrap();
    t.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut de = serde_json::Deserializer::from_reader(&mut t).into_iter::<Value>();
    let v = de.next().unwrap().unwrap();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","method":"my_method","params":{"k":"v"}})
    );

    let (hs, _) = http.accept().unwrap();
    hs.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut r = BufReader::new(hs.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "POST /events HTTP/1.1\r\n");
    let mut len = 0;
    let mut ctype = String::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l == "\r\n" {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if lower.starts_with("content-type:") {
            ctype = lower.trim().to_string();
        }
    }
    assert_eq!(ctype, "content-type: application/json");
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["params"]["k"],
        "v"
    );
    (&hs)
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
}

#[test]
fn subscriber_that_never_reads_does_not_block_raise() {
    let h = start();
    let id = h.events.publish("E_FLOOD", &["data"]);
    // accepts the connection but never reads: its socket buffers fill up
    let stuck = TcpListener::bind("127.0.0.1:0").unwrap();
    let stuck_sock = format!("tcp:{}", stuck.local_addr().unwrap());
    h.events
        .subscribe("E_FLOOD", &stuck_sock, osips::events::Expiry::Never)
        .unwrap();
    let _held = std::thread::spawn(move || {
        let c = stuck.accept();
        std::thread::sleep(Duration::from_secs(60));
        drop(c);
    });
    let l = UdpSocket::bind("127.0.0.1:0").unwrap();
    l.set_read_timeout(Some(TIMEOUT)).unwrap();
    h.events
        .subscribe(
            "E_FLOOD",
            &format!("udp:{}", l.local_addr().unwrap()),
            osips::events::Expiry::Never,
        )
        .unwrap();

    let events = h.events.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let data = "x".repeat(16 * 1024);
        for _ in 0..5000 {
            events.raise(id, EventParams::new().with("data", data.as_str()));
        }
        tx.send(()).unwrap();
    });
    // the raising thread finishes although the stuck subscriber holds ~80 MB of events
    rx.recv_timeout(Duration::from_secs(60))
        .expect("raise blocked on a subscriber that does not read");
    assert!(h.events.dropped() > 0, "a full queue must drop and count");
    let st = h.events.subscriber_stats("E_FLOOD", &stuck_sock).unwrap();
    assert!(st.dropped.load(std::sync::atomic::Ordering::Relaxed) > 0);
    // the healthy subscriber still gets events
    assert_eq!(recv_json(&l)["method"], "E_FLOOD");
}
