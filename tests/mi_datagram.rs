//! MI over UDP and UNIX datagrams.

mod mi_support;

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use mi_support::{Options, TIMEOUT, start, start_with};
use osips::mi::client::{self, MiTarget};
use osips::mi::{MiCommand, MiParams, MiRegistry, MiResult, Recipe};
use serde_json::{Value, json};

fn udp_exchange(h: &mi_support::Harness, body: &[u8], wait: Duration) -> Option<Value> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(body, h.udp).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.recv(&mut buf).ok()?;
    Some(serde_json::from_slice(&buf[..n]).unwrap())
}

#[test]
fn udp_requests_and_errors() {
    let h = start();
    let v = udp_exchange(
        &h,
        br#"{"jsonrpc":"2.0","method":"uptime","id":"9"}"#,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(v["id"], "9");
    assert!(v["result"]["Now"].is_string());
    let v = udp_exchange(&h, b"\x00\xffnot json", TIMEOUT).unwrap();
    assert_eq!(v["error"]["code"], -32700);
    let v = udp_exchange(
        &h,
        br#"{"jsonrpc":"2.0","method":"get_statistics","params":{"stats":["all"]},"id":1}"#,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(v["error"]["code"], -32602);
    // a notification gets no datagram back
    assert!(
        udp_exchange(
            &h,
            br#"{"jsonrpc":"2.0","method":"uptime"}"#,
            Duration::from_millis(500)
        )
        .is_none()
    );
}

#[test]
fn unix_socket_requests() {
    let h = start();
    let r = client::call(
        &MiTarget::Unix(h.unix.clone()),
        "get_statistics",
        json!([["core:rcv_requests"]]),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(r, json!({"core:rcv_requests": 0}));
    // an unbound sender gets nothing back but does not disturb the server
    let anon = UnixDatagram::unbound().unwrap();
    anon.send_to(br#"{"jsonrpc":"2.0","method":"uptime","id":1}"#, &h.unix)
        .unwrap();
    let r = client::call(&MiTarget::Unix(h.unix.clone()), "pwd", json!({}), TIMEOUT).unwrap();
    assert!(r["WD"].is_string());
}

fn big(_: &MiParams<'_>) -> MiResult {
    Ok(Value::from("x".repeat(70_000)))
}
static BIG: &[MiCommand] = &[MiCommand {
    name: "big_reply",
    aliases: &[],
    help: "",
    flags: 0,
    recipes: &[Recipe {
        params: &[],
        handler: big,
    }],
}];

fn add_big(r: &MiRegistry) {
    r.register_module("test", BIG).unwrap();
}

#[test]
fn reply_too_large_for_a_datagram_is_an_error() {
    let h = start_with(Options {
        extra: Some(add_big),
        ..Options::default()
    });
    let v = udp_exchange(
        &h,
        br#"{"jsonrpc":"2.0","method":"big_reply","id":4}"#,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(v["error"]["code"], -32000);
    assert_eq!(v["id"], 4);
    // the same command is fine over HTTP
    let r = client::call(&h.http_target(), "big_reply", json!({}), TIMEOUT).unwrap();
    assert_eq!(r.as_str().unwrap().len(), 70_000);
}
