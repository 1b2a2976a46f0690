//! mi_datagram: one JSON-RPC request per datagram, the reply sent back to the sender, over UDP
//! (`udp:IP:PORT`) or a UNIX datagram socket (a path; the client binds its own socket to get
//! the reply).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{UdpSocket, UnixDatagram};
use tokio::sync::Semaphore;

use super::codec::{handle_text, response};
use super::error::MiError;
use super::registry::MiRegistry;

/// Largest datagram reply (mi_datagram's buffer).
pub const MAX_REPLY: usize = 65457;
/// Requests handled at once; further datagrams wait in the socket buffer.
const PARALLEL: usize = 16;

/// mi_datagram `socket_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatagramSocket {
    Udp(SocketAddr),
    Unix(PathBuf),
}

impl DatagramSocket {
    /// `udp:127.0.0.1:8080` or a UNIX socket path (`unix:` prefix optional).
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("udp:") {
            return rest
                .parse()
                .map(DatagramSocket::Udp)
                .map_err(|e| format!("bad mi_datagram socket_name '{s}': {e}"));
        }
        let path = s.strip_prefix("unix:").unwrap_or(s);
        if path.is_empty() {
            return Err(format!("bad mi_datagram socket_name '{s}'"));
        }
        Ok(DatagramSocket::Unix(PathBuf::from(path)))
    }
}

/// The reply to send for one request, capped to a datagram.
fn reply_for(registry: &MiRegistry, req: &[u8]) -> Option<Vec<u8>> {
    let text = handle_text(registry, req)?;
    if text.len() > MAX_REPLY {
        let id = serde_json::from_slice::<serde_json::Value>(req)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(serde_json::Value::Null);
        let err = MiError::server_error(format!(
            "Reply of {} bytes does not fit in a datagram",
            text.len()
        ));
        return Some(response(Err(err), id).to_string().into_bytes());
    }
    Some(text.into_bytes())
}

/// Serves MI over a bound UDP socket until the task is dropped.
pub async fn serve_udp(sock: UdpSocket, registry: Arc<MiRegistry>) -> io::Result<()> {
    let sock = Arc::new(sock);
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("MI datagram receive failed: {e}");
                continue;
            }
        };
        let req = buf[..n].to_vec();
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (sock, reg) = (sock.clone(), registry.clone());
        tokio::spawn(async move {
            let reply = tokio::task::spawn_blocking(move || reply_for(&reg, &req))
                .await
                .ok()
                .flatten();
            if let Some(r) = reply {
                let _ = sock.send_to(&r, peer).await;
            }
            drop(permit);
        });
    }
}

/// Binds a UNIX datagram socket at `path` (a stale socket file is replaced) with `mode`.
pub fn bind_unix(path: &std::path::Path, mode: u32) -> io::Result<UnixDatagram> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let s = UnixDatagram::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(s)
}

/// Serves MI over a bound UNIX datagram socket until the task is dropped.
pub async fn serve_unix(sock: UnixDatagram, registry: Arc<MiRegistry>) -> io::Result<()> {
    let sock = Arc::new(sock);
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("MI datagram receive failed: {e}");
                continue;
            }
        };
        let Some(peer) = peer.as_pathname().map(|p| p.to_path_buf()) else {
            // an unbound sender cannot get a reply; run it anyway (it may be a notification)
            let reg = registry.clone();
            let req = buf[..n].to_vec();
            tokio::task::spawn_blocking(move || handle_text(&reg, &req));
            continue;
        };
        let req = buf[..n].to_vec();
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (sock, reg) = (sock.clone(), registry.clone());
        tokio::spawn(async move {
            let reply = tokio::task::spawn_blocking(move || reply_for(&reg, &req))
                .await
                .ok()
                .flatten();
            if let Some(r) = reply {
                let _ = sock.send_to(&r, &peer).await;
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names() {
        assert_eq!(
            DatagramSocket::parse("udp:127.0.0.1:8080").unwrap(),
            DatagramSocket::Udp("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            DatagramSocket::parse("/tmp/opensips.sock").unwrap(),
            DatagramSocket::Unix("/tmp/opensips.sock".into())
        );
        assert_eq!(
            DatagramSocket::parse("unix:/tmp/x").unwrap(),
            DatagramSocket::Unix("/tmp/x".into())
        );
        assert!(DatagramSocket::parse("udp:nope").is_err());
        assert!(DatagramSocket::parse("").is_err());
    }
}
