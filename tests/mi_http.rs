//! MI over HTTP driven by raw TCP clients: status codes, JSON-RPC errors, limits, slow clients,
//! and the Prometheus endpoint.

mod mi_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mi_support::{TIMEOUT, start};
use osips::mi::client::{http_post, parse_http_response};
use serde_json::{Value, json};

fn raw(addr: std::net::SocketAddr, req: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (status, body) = parse_http_response(&out).unwrap();
    (status, text, body)
}

fn post(h: &mi_support::Harness, path: &str, body: &str) -> (u16, String) {
    http_post(&h.http, path, body.as_bytes(), TIMEOUT).unwrap()
}

#[test]
fn uptime_over_post_mi() {
    let h = start();
    let (status, body) = post(
        &h,
        "/mi",
        r#"{"jsonrpc":"2.0","method":"uptime","id":"101"}"#,
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], "101");
    let up = v["result"]["Up time"].as_str().unwrap();
    assert!(up.ends_with(" [sec]"), "{up}");
    assert!(v["result"]["Now"].as_str().unwrap().len() >= 24);
    let (status, _) = post(&h, "/mi/", r#"{"jsonrpc":"2.0","method":"version","id":1}"#);
    assert_eq!(status, 200);
    let (_, text, _) = raw(h.http, b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 47\r\nConnection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}    ");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
}

#[test]
fn status_codes_as_mi_http() {
    let h = start();
    let (status, text, _) = raw(
        h.http,
        b"GET /mi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405, "{text}");
    let (status, _, _) = raw(
        h.http,
        b"PUT /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    let (status, _) = post(&h, "/mi", "");
    assert_eq!(status, 400);
    let (status, body) = post(&h, "/mi", r#"{"jsonrpc":"2.0","method":"uptime"}"#);
    assert_eq!((status, body.as_str()), (202, ""));
    let (status, _) = post(
        &h,
        "/other",
        r#"{"jsonrpc":"2.0","method":"uptime","id":1}"#,
    );
    assert_eq!(status, 404);
}

#[test]
fn json_rpc_errors_come_back_with_200() {
    let h = start();
    let cases = [
        (
            "{not json",
            json!({"code":-32700,"message":"Parse error"}),
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"1.0","method":"uptime","id":5}"#,
            json!({"code":-32600,"message":"Invalid Request"}),
            json!(5),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"no_such","id":"a"}"#,
            json!({"code":-32601,"message":"Method not found"}),
            json!("a"),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"uptime","params":["x"],"id":"a"}"#,
            json!({"code":-32602,"message":"Invalid params","data":"Too few or too many parameters"}),
            json!("a"),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"which","params":{"cmd":"x"},"id":"a"}"#,
            json!({"code":-32602,"message":"Invalid params","data":"Named parameters do not match"}),
            json!("a"),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"which","params":{"command":"nope"},"id":"a"}"#,
            json!({"code":404,"message":"unknown MI command"}),
            json!("a"),
        ),
    ];
    for (body, err, id) in cases {
        let (status, reply) = post(&h, "/mi", body);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["error"], err, "{body}");
        assert_eq!(v["id"], id, "{body}");
    }
}

#[test]
fn huge_body_is_refused_and_server_keeps_serving() {
    let h = start();
    let big = format!(
        r#"{{"jsonrpc":"2.0","method":"uptime","id":1,"pad":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    let mut s = TcpStream::connect(h.http).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let head = format!(
        "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // the server may close before the whole body is sent
    let _ = s.write_all(big.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (status, body) = parse_http_response(&out).unwrap();
    assert_eq!(status, 413);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], -32600);
    let (status, _) = post(&h, "/mi", r#"{"jsonrpc":"2.0","method":"uptime","id":1}"#);
    assert_eq!(status, 200);
}

#[test]
fn slow_clients_do_not_block_others_and_are_dropped() {
    let h = start();
    // several clients that send half a request and then stall
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(h.http).unwrap();
            s.write_all(b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")
                .unwrap();
            s
        })
        .collect();
    let (status, body) = post(&h, "/mi", r#"{"jsonrpc":"2.0","method":"uptime","id":1}"#);
    assert_eq!(status, 200, "{body}");
    // the idle limit (2 s in the harness) closes the stalled connections
    let started = Instant::now();
    for s in slow.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stalled connections were never closed"
    );
}

#[test]
fn metrics_match_get_statistics() {
    let h = start();
    h.core_stats.rcv_requests.add(17);
    h.core_stats.fwd_replies.add(4);
    let (status, body) = post(
        &h,
        "/mi",
        r#"{"jsonrpc":"2.0","method":"get_statistics","params":[["core:"]],"id":1}"#,
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["core:rcv_requests"], 17);
    let (status, text, metrics) = raw(
        h.http,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{text}");
    assert!(
        metrics.contains("opensips_core_rcv_requests 17\n"),
        "{metrics}"
    );
    assert!(metrics.contains("opensips_core_fwd_replies 4\n"));
    assert!(metrics.contains("# TYPE opensips_core_rcv_requests counter"));
    let (status, _, _) = raw(
        h.http,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
}
