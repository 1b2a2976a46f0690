//! Asks a running osips to reload what it caches, over its HTTP management interface
//! (`OSIPS_MI_URL`, JSON-RPC 2.0 `POST`). A stand-in until the MI client (`src/mi`) exists:
//! one request on a raw TCP connection with short timeouts.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::error::{Failure, Outcome, exit};
use crate::ctlrc::Rc;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest answer read (a `ds_list` of a big platform fits).
const MAX_ANSWER: u64 = 16 << 20;

/// Why an MI call gave no result.
#[derive(Debug)]
pub enum MiError {
    /// Nothing answered at the URL (refused, timeout, not HTTP).
    Unreachable(String),
    /// osips answered with a JSON-RPC error.
    Command { code: i64, message: String },
}

struct Target {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("OSIPS_MI_URL `{url}` is not an http:// URL"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 host in `{url}`"))?;
        (h.to_string(), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let port = if port.is_empty() {
        80
    } else {
        port.parse()
            .map_err(|_| format!("bad port in OSIPS_MI_URL `{url}`"))?
    };
    Ok(Target { host, port, path })
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        body = &body[eol + 2..];
        if size == 0 || size > body.len() {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// Sends one JSON-RPC request to `url` and returns its `result`.
pub fn call(url: &str, method: &str, params: Json) -> Result<Json, MiError> {
    let t = parse_url(url).map_err(MiError::Unreachable)?;
    let unreachable = |e: &dyn std::fmt::Display| MiError::Unreachable(format!("{url}: {e}"));
    let addrs: Vec<_> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(&e))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut s = stream.ok_or_else(|| match last {
        Some(e) => unreachable(&e),
        None => unreachable(&"no address"),
    })?;
    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
    let _ = s.set_write_timeout(Some(IO_TIMEOUT));
    let body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).to_string();
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        t.path,
        t.host,
        t.port,
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| unreachable(&e))?;
    let mut answer = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| unreachable(&e))?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| unreachable(&"the answer is not HTTP"))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    if !head.starts_with("http/1.") {
        return Err(unreachable(&"the answer is not HTTP"));
    }
    let mut payload = answer[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        payload = decode_chunked(&payload);
    }
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let v: Json = serde_json::from_slice(&payload).map_err(|_| {
        unreachable(&format!(
            "HTTP {status} without a JSON-RPC answer (is this osips's MI?)"
        ))
    })?;
    if let Some(e) = v.get("error") {
        return Err(MiError::Command {
            code: e.get("code").and_then(Json::as_i64).unwrap_or(0),
            message: e
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("error")
                .to_string(),
        });
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| unreachable(&"a JSON-RPC answer with neither result nor error"))
}

/// After a database change: asks osips to run `method` and says what happened, one line.
pub fn after_change(rc: &Rc, what: &str, method: &str) -> String {
    let url = rc.mi_url();
    match call(url, method, json!([])) {
        Ok(_) => format!("osips reloaded {what}"),
        Err(MiError::Unreachable(_)) => {
            format!("no running osips answered at {url}; start it or run the reload later")
        }
        Err(MiError::Command { code, message }) => format!(
            "osips at {url} refused {method} ({code} {message}); the database is changed, reload {what} later"
        ),
    }
}

/// The explicit `... reload` / `dump` commands: the result, or a failure with its exit code.
pub fn command(rc: &Rc, method: &str) -> Outcome<Json> {
    let url = rc.mi_url();
    call(url, method, json!([])).map_err(|e| match e {
        MiError::Unreachable(detail) => Failure::new(
            exit::UNREACHABLE,
            format!("no running osips answered at {url} ({detail})"),
            "start osips with the HTTP MI, or set OSIPS_MI_URL in the rc file",
        ),
        MiError::Command { code, message } => Failure::failed(
            format!("osips refused {method}: {code} {message}"),
            "check that the module is loaded in opensips.cfg",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_are_split() {
        let t = parse_url("http://127.0.0.1:8888/mi").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8888, "/mi")
        );
        let t = parse_url("http://[::1]:9/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        assert!(parse_url("https://h/mi").is_err());
        assert!(parse_url("http://h:x/mi").is_err());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            decode_chunked(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            b"abcde"
        );
    }

    #[test]
    fn closed_port_is_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/mi");
        assert!(matches!(
            call(&url, "uptime", json!([])),
            Err(MiError::Unreachable(_))
        ));
    }

    #[test]
    fn answer_and_error_are_read() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/mi", l.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            for body in [
                r#"{"jsonrpc":"2.0","result":"OK","id":1}"#,
                r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#,
            ] {
                let (mut c, _) = l.accept().unwrap();
                let mut buf = [0u8; 4096];
                let n = c.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(req.starts_with("POST /mi HTTP/1.1\r\n"), "{req}");
                assert!(req.contains(r#""method":"domain_reload""#), "{req}");
                write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        assert_eq!(call(&url, "domain_reload", json!([])).unwrap(), json!("OK"));
        match call(&url, "domain_reload", json!([])) {
            Err(MiError::Command { code, .. }) => assert_eq!(code, -32601),
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
    }
}
