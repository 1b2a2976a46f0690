//! A blocking MI client speaking to OpenSIPS or osips over HTTP, FIFO or datagram, as
//! python-opensips does (for osipsctl and the tests).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::error::MiError;

/// Where the MI server listens.
#[derive(Debug, Clone)]
pub enum MiTarget {
    /// `http://host:port/path`
    Http {
        addr: SocketAddr,
        path: String,
    },
    Fifo {
        fifo: PathBuf,
        reply_dir: PathBuf,
    },
    Udp(SocketAddr),
    Unix(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("MI transport: {0}")]
    Io(#[from] std::io::Error),
    #[error("MI reply is not JSON-RPC: {0}")]
    BadReply(String),
    #[error("MI error {0}")]
    Mi(MiError),
}

/// The request text python-opensips sends (`params` `{}` when there are none).
pub fn request_text(method: &str, params: &Value, id: &str) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

/// The `result` of a reply, or its error.
pub fn parse_reply(text: &str) -> Result<Value, ClientError> {
    let v: Value =
        serde_json::from_str(text.trim()).map_err(|_| ClientError::BadReply(text.to_string()))?;
    if let Some(e) = v.get("error") {
        let code = e.get("code").and_then(Value::as_i64).unwrap_or(500) as i32;
        let msg = e.get("message").and_then(Value::as_str).unwrap_or_default();
        let mut err = MiError::new(code, msg);
        err.data = e.get("data").and_then(Value::as_str).map(str::to_string);
        return Err(ClientError::Mi(err));
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| ClientError::BadReply(text.to_string()))
}

fn unique() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        t.as_secs(),
        t.subsec_nanos()
    )
}

/// Runs `method` with `params` (array, object, or `{}`), waiting up to `timeout`.
pub fn call(
    target: &MiTarget,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, ClientError> {
    let body = request_text(method, &params, &(std::process::id() % 32768).to_string());
    let text = exchange(target, &body, timeout)?;
    parse_reply(&text)
}

/// Sends a raw request text and returns the raw reply text.
pub fn exchange(target: &MiTarget, body: &str, timeout: Duration) -> Result<String, ClientError> {
    match target {
        MiTarget::Http { addr, path } => {
            let (status, reply) = http_post(addr, path, body.as_bytes(), timeout)?;
            if status == 202 {
                return Ok(String::new());
            }
            Ok(reply)
        }
        MiTarget::Udp(addr) => {
            let s = UdpSocket::bind(if addr.is_ipv4() {
                "127.0.0.1:0"
            } else {
                "[::1]:0"
            })?;
            s.set_read_timeout(Some(timeout))?;
            s.send_to(body.as_bytes(), addr)?;
            let mut buf = vec![0u8; 65536];
            let n = s.recv(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        }
        MiTarget::Unix(path) => {
            let me = std::env::temp_dir().join(format!("osips_mi_reply_{}", unique()));
            let s = UnixDatagram::bind(&me)?;
            let r = (|| {
                s.set_read_timeout(Some(timeout))?;
                s.send_to(body.as_bytes(), path)?;
                let mut buf = vec![0u8; 65536];
                let n = s.recv(&mut buf)?;
                Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
            })();
            let _ = std::fs::remove_file(&me);
            r
        }
        MiTarget::Fifo { fifo, reply_dir } => fifo_exchange(fifo, reply_dir, body, timeout),
    }
}

fn fifo_exchange(
    fifo: &PathBuf,
    reply_dir: &std::path::Path,
    body: &str,
    timeout: Duration,
) -> Result<String, ClientError> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    let name = format!("osips_fifo_reply_{}", unique());
    let reply_path = reply_dir.join(&name);
    nix::unistd::mkfifo(&reply_path, Mode::from_bits_truncate(0o600))
        .map_err(std::io::Error::from)?;
    let r = (|| -> Result<String, ClientError> {
        // open our end first (non-blocking) so the server finds a reader
        let rfd = open(
            &reply_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        let mut w = std::fs::OpenOptions::new().write(true).open(fifo)?;
        w.write_all(format!(":{name}:{body}").as_bytes())?;
        drop(w);
        let mut file = std::fs::File::from(rfd);
        let deadline = std::time::Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        let mut got_writer = false;
        loop {
            match file.read(&mut buf) {
                Ok(0) if got_writer => break,
                Ok(0) => {}
                Ok(n) => {
                    got_writer = true;
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => got_writer = true,
                Err(e) => return Err(e.into()),
            }
            if std::time::Instant::now() > deadline {
                return Err(
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "no MI FIFO reply").into(),
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    })();
    let _ = std::fs::remove_file(&reply_path);
    r
}

/// A minimal HTTP/1.1 POST; returns the status and the body.
pub fn http_post(
    addr: &SocketAddr,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_http_response(&raw)
}

/// Status and body of a raw `Connection: close` HTTP/1.1 response.
pub fn parse_http_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {head}")))?;
    Ok((status, body.to_string()))
}
