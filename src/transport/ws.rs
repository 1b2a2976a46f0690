//! SIP over WebSocket (RFC 7118): the `sip` sub-protocol, one SIP message per WebSocket message.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::Transport;
use super::info::{ReceiveInfo, SocketId};
use super::socket::Proto;

/// Accepts the upgrade only when the client offers the `sip` sub-protocol, and selects it.
// The signature is tungstenite's handshake callback; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
pub(super) fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offers_sip = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        let mut e = ErrorResponse::new(Some("the `sip` WebSocket sub-protocol is required".into()));
        *e.status_mut() = StatusCode::BAD_REQUEST;
        return Err(e);
    }
    resp.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transport,
    proto: Proto,
    socket: SocketId,
    peer: SocketAddr,
    local: SocketAddr,
    stream: S,
    tx: UnboundedSender<Bytes>,
    rx: UnboundedReceiver<Bytes>,
) -> io::Result<()> {
    let mut cfg = WebSocketConfig::default();
    cfg.max_message_size = Some(t.cfg.max_message);
    cfg.max_frame_size = Some(t.cfg.max_message);
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(cfg));
    let ws = match tokio::time::timeout(t.cfg.connect_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
    };
    let conn = t.conns.insert(proto, peer, socket, tx);
    let id = conn.id;
    drop(conn);
    let info = ReceiveInfo {
        proto,
        src: peer,
        local,
        socket,
        conn: Some(id),
        force_rport: false,
    };
    pump(t, ws, info, rx).await
}

/// The client side (osips connects to a WebSocket server, RFC 7118 §4.1): the upgrade offering
/// the `sip` sub-protocol, then the same message loop as for accepted connections. `conn` is
/// already in the connection table with its queue `rx`.
pub(super) async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transport,
    conn: std::sync::Arc<super::conn::Conn>,
    local: SocketAddr,
    stream: S,
    rx: UnboundedReceiver<Bytes>,
) -> io::Result<()> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let scheme = if conn.proto == Proto::Wss {
        "wss"
    } else {
        "ws"
    };
    let mut req = format!("{scheme}://{}/", conn.peer)
        .into_client_request()
        .map_err(io::Error::other)?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let mut cfg = WebSocketConfig::default();
    cfg.max_message_size = Some(t.cfg.max_message);
    cfg.max_frame_size = Some(t.cfg.max_message);
    let handshake = tokio_tungstenite::client_async_with_config(req, stream, Some(cfg));
    let (ws, resp) = match tokio::time::timeout(t.cfg.connect_timeout, handshake).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
    };
    let sip = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("sip"));
    if !sip {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the WebSocket server did not select the `sip` sub-protocol",
        ));
    }
    let info = ReceiveInfo {
        proto: conn.proto,
        src: conn.peer,
        local,
        socket: conn.socket,
        conn: Some(conn.id),
        force_rport: false,
    };
    drop(conn);
    pump(t, ws, info, rx).await
}

/// Delivers received messages and sends queued ones until close, error or idle timeout.
async fn pump<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transport,
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    info: ReceiveInfo,
    mut rx: UnboundedReceiver<Bytes>,
) -> io::Result<()> {
    let id = info.conn.unwrap_or_default();
    let mut deadline = Instant::now() + t.cfg.idle_timeout;
    let res = loop {
        tokio::select! {
            m = ws.next() => {
                let data: Bytes = match m {
                    None | Some(Ok(Message::Close(_))) => break Ok(()),
                    Some(Err(e)) => break Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                    Some(Ok(Message::Text(s))) => s.into(),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(_)) => { deadline = Instant::now() + t.cfg.idle_timeout; continue }
                };
                deadline = Instant::now() + t.cfg.idle_timeout;
                if !data.iter().all(|&b| b == b'\r' || b == b'\n') {
                    t.deliver(data, info.clone());
                }
            }
            out = rx.recv() => {
                let Some(data) = out else { break Ok(()) };
                // RFC 7118 §5.1: text frames for UTF-8 messages, binary frames otherwise.
                let msg = if std::str::from_utf8(&data).is_ok() {
                    Utf8Bytes::try_from(data).map(Message::Text).map_err(io::Error::other)?
                } else {
                    Message::Binary(data)
                };
                if let Err(e) = ws.send(msg).await {
                    break Err(io::Error::other(e));
                }
                deadline = Instant::now() + t.cfg.idle_timeout;
            }
            _ = sleep_until(deadline) => break Ok(()),
        }
    };
    t.conns.remove(id);
    let _ = ws.close(None).await;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocols: Option<&str>) -> Request {
        let mut b = Request::builder().uri("/");
        if let Some(p) = protocols {
            b = b.header("Sec-WebSocket-Protocol", p);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn selects_the_sip_subprotocol() {
        let r = negotiate(&req(Some("chat, SIP")), Response::new(())).unwrap();
        assert_eq!(r.headers()["Sec-WebSocket-Protocol"], "sip");
    }

    #[test]
    fn refuses_clients_without_sip() {
        assert!(negotiate(&req(None), Response::new(())).is_err());
        assert!(negotiate(&req(Some("chat")), Response::new(())).is_err());
    }
}
