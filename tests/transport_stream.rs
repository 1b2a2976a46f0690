//! Transport layer on loopback: UDP and TCP over IPv4 and IPv6, stream framing (partial and
//! pipelined reads), CRLF keep-alives, idle timeout, connection reuse and aliases, TLS (with and
//! without client certificates) and WebSocket (ws, wss) with the `sip` sub-protocol.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use osips::transport::{
    Destination, Proto, ReceiveInfo, SocketDef, TlsOptions, Transport, TransportConfig,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transport")
        .join(name)
}

fn msg(call_id: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n\
         From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 MESSAGE\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn tls_options() -> TlsOptions {
    TlsOptions {
        certificate: fixture("server.pem"),
        private_key: fixture("server.key"),
        ca_list: Some(fixture("ca.pem")),
        verify_server: true,
        ..TlsOptions::default()
    }
}

/// A transport on `sockets` whose handler hands every message to the returned channel, and
/// (with `echo`) sends it straight back where it came from.
fn start(
    sockets: &[&str],
    tune: impl FnOnce(&mut TransportConfig),
    echo: bool,
) -> (Arc<Transport>, Receiver<(Bytes, ReceiveInfo)>) {
    let mut cfg = TransportConfig {
        sockets: sockets
            .iter()
            .map(|s| s.parse::<SocketDef>().unwrap())
            .collect(),
        tls: Some(tls_options()),
        ..TransportConfig::default()
    };
    tune(&mut cfg);
    let t = Transport::bind(cfg).expect("transport binds");
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let weak = Arc::downgrade(&t);
    let handler = move |data: Bytes, info: &ReceiveInfo| {
        if echo && let Some(t) = weak.upgrade() {
            t.send(&Destination::reply_to(info), data.clone())
                .expect("echo");
        }
        let _ = tx.lock().unwrap().send((data, info.clone()));
    };
    t.start(Arc::new(handler));
    (t, rx)
}

fn addr(t: &Transport, proto: Proto) -> SocketAddr {
    t.sockets()
        .iter()
        .find(|l| l.def.proto == proto)
        .unwrap()
        .def
        .addr
}

fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn udp_ipv4_and_ipv6_round_trip() {
    let (t, rx) = start(&["udp:127.0.0.1:0", "udp:[::1]:0"], |_| {}, true);
    for (id, l) in t.sockets().iter().enumerate() {
        let ours = l.def.addr;
        let c = UdpSocket::bind(if ours.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        })
        .unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        let m = msg(&format!("udp-{ours}"), "hello");
        c.send_to(m.as_bytes(), ours).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (m.as_bytes(), ours));
        let (data, info) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(data, m.as_bytes());
        assert_eq!(
            (info.proto, info.src, info.local, info.socket, info.conn),
            (Proto::Udp, c.local_addr().unwrap(), ours, id, None)
        );
        // A keep-alive datagram is not a message.
        c.send_to(b"\r\n\r\n", ours).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }
}

#[test]
fn tcp_partial_and_pipelined_reads() {
    let (t, rx) = start(&["tcp:127.0.0.1:0"], |_| {}, false);
    let mut s = TcpStream::connect(addr(&t, Proto::Tcp)).unwrap();
    let (a, b, c) = (msg("a", "first"), msg("b", ""), msg("c", "split body"));
    s.write_all(format!("{a}{b}").as_bytes()).unwrap();
    let (c1, c2) = c.as_bytes().split_at(c.len() - 7);
    s.write_all(&c1[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(&c1[10..]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(c2).unwrap();
    let got: Vec<Bytes> = (0..3).map(|_| rx.recv_timeout(WAIT).unwrap().0).collect();
    assert_eq!(got, [a.as_bytes(), b.as_bytes(), c.as_bytes()]);
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "exactly three messages"
    );
}

#[test]
fn tcp_keepalive_ping_gets_pong() {
    let (t, rx) = start(&["tcp:127.0.0.1:0"], |_| {}, false);
    let mut s = TcpStream::connect(addr(&t, Proto::Tcp)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    assert_eq!(read_exact(&mut s, 2), b"\r\n");
    // A ping between messages changes nothing about the messages.
    let m = msg("k", "x");
    s.write_all(format!("\r\n\r\n{m}").as_bytes()).unwrap();
    assert_eq!(read_exact(&mut s, 2), b"\r\n");
    assert_eq!(rx.recv_timeout(WAIT).unwrap().0, m.as_bytes());
}

#[test]
fn tcp_idle_connection_is_closed() {
    let (t, _rx) = start(
        &["tcp:127.0.0.1:0"],
        |c| c.idle_timeout = Duration::from_millis(300),
        false,
    );
    let mut s = TcpStream::connect(addr(&t, Proto::Tcp)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).unwrap(), 0, "closed by the idle timeout");
    std::thread::sleep(Duration::from_millis(100));
    assert!(t.connections().is_empty());
}

#[test]
fn tcp_oversized_message_closes_connection() {
    let (t, rx) = start(&["tcp:127.0.0.1:0"], |c| c.max_message = 1000, false);
    let mut s = TcpStream::connect(addr(&t, Proto::Tcp)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(msg("big", &"x".repeat(2000)).as_bytes())
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn tcp_replies_reuse_the_connection_over_ipv4_and_ipv6() {
    let (t, rx) = start(&["tcp:127.0.0.1:0", "tcp:[::1]:0"], |_| {}, true);
    for l in t.sockets() {
        let mut s = TcpStream::connect(l.def.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let m = msg("echo", "body");
        s.write_all(m.as_bytes()).unwrap();
        assert_eq!(read_exact(&mut s, m.len()), m.as_bytes());
        let (_, info) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(info.src, s.local_addr().unwrap());
        assert!(info.conn.is_some());
    }
}

#[test]
fn outbound_tcp_connection_is_reused_and_aliased() {
    let (t, rx) = start(&["tcp:127.0.0.1:0"], |_| {}, false);
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = peer.local_addr().unwrap();
    let (m1, m2) = (msg("o1", "one"), msg("o2", "two"));
    t.send(&Destination::new(Proto::Tcp, to), Bytes::from(m1.clone()))
        .unwrap();
    t.send(&Destination::new(Proto::Tcp, to), Bytes::from(m2.clone()))
        .unwrap();
    let (mut conn, _) = peer.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(
        read_exact(&mut conn, m1.len() + m2.len()),
        format!("{m1}{m2}").as_bytes()
    );
    peer.set_nonblocking(true).unwrap();
    assert!(peer.accept().is_err(), "one connection for both messages");
    // The peer talks back on it; an alias for its Via sent-by then reaches the same connection.
    let back = msg("o3", "back");
    conn.write_all(back.as_bytes()).unwrap();
    let (_, info) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(info.src, to);
    let alias: SocketAddr = "127.0.0.1:5999".parse().unwrap();
    assert!(t.add_alias(info.conn.unwrap(), alias));
    t.send(
        &Destination::new(Proto::Tcp, alias),
        Bytes::from(m1.clone()),
    )
    .unwrap();
    assert_eq!(read_exact(&mut conn, m1.len()), m1.as_bytes());
}

fn client_tls(with_cert: bool) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = if with_cert {
        let certs = vec![CertificateDer::from_pem_file(fixture("client.pem")).unwrap()];
        b.with_client_auth_cert(
            certs,
            PrivateKeyDer::from_pem_file(fixture("client.key")).unwrap(),
        )
        .unwrap()
    } else {
        b.with_no_client_auth()
    };
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Connects over TLS, sends one message, returns what comes back (or the error).
async fn tls_round_trip(to: SocketAddr, with_cert: bool, m: &str) -> std::io::Result<Vec<u8>> {
    let tcp = tokio::net::TcpStream::connect(to).await?;
    let name = ServerName::IpAddress(to.ip().into());
    let mut s = client_tls(with_cert).connect(name, tcp).await?;
    s.write_all(m.as_bytes()).await?;
    let mut buf = vec![0; m.len()];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf)).await??;
    Ok(buf)
}

#[test]
fn tls_round_trip_ipv4_and_ipv6() {
    let (t, rx) = start(&["tls:127.0.0.1:0", "tls:[::1]:0"], |_| {}, true);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for l in t.sockets() {
        let m = msg("tls", "secret");
        let got = rt.block_on(tls_round_trip(l.def.addr, false, &m)).unwrap();
        assert_eq!(got, m.as_bytes());
        assert_eq!(rx.recv_timeout(WAIT).unwrap().1.proto, Proto::Tls);
    }
}

#[test]
fn tls_client_certificate_required() {
    let (t, _rx) = start(
        &["tls:127.0.0.1:0"],
        |c| {
            let tls = c.tls.as_mut().unwrap();
            tls.verify_client = true;
            tls.require_client_cert = true;
        },
        true,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let to = addr(&t, Proto::Tls);
    let m = msg("mtls", "x");
    assert!(
        rt.block_on(tls_round_trip(to, false, &m)).is_err(),
        "no client certificate: refused"
    );
    assert_eq!(
        rt.block_on(tls_round_trip(to, true, &m)).unwrap(),
        m.as_bytes()
    );
}

#[test]
fn outbound_tls_verifies_the_server() {
    let (server, rx) = start(&["tls:127.0.0.1:0"], |_| {}, false);
    let (client, _) = start(&["tls:127.0.0.1:0"], |_| {}, false);
    let m = msg("out-tls", "hi");
    client
        .send(
            &Destination::new(Proto::Tls, addr(&server, Proto::Tls)),
            Bytes::from(m.clone()),
        )
        .unwrap();
    let (data, info) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((data, info.proto), (Bytes::from(m), Proto::Tls));
}

async fn ws_round_trip(
    to: SocketAddr,
    secure: bool,
    protocol: Option<&str>,
    m: &str,
) -> Result<String, String> {
    let scheme = if secure { "wss" } else { "ws" };
    let mut req = format!("{scheme}://{to}/")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(to)
        .await
        .map_err(|e| e.to_string())?;
    if secure {
        let name = ServerName::IpAddress(to.ip().into());
        let tls = client_tls(false)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (ws, resp) = tokio_tungstenite::client_async(req, tls)
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "sip");
        ws_send_recv(ws, m).await
    } else {
        let (ws, resp) = tokio_tungstenite::client_async(req, tcp)
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "sip");
        ws_send_recv(ws, m).await
    }
}

async fn ws_send_recv<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    m: &str,
) -> Result<String, String> {
    ws.send(Message::text(m)).await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => Ok(t.to_string()),
        other => Err(format!("{other:?}")),
    }
}

#[test]
fn websocket_ws_and_wss_with_sip_subprotocol() {
    let (t, rx) = start(
        &["ws:127.0.0.1:0", "wss:127.0.0.1:0", "ws:[::1]:0"],
        |_| {},
        true,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    for l in t.sockets() {
        let m = msg(&format!("ws-{}", l.def.proto), "over websocket");
        let secure = l.def.proto == Proto::Wss;
        let got = rt
            .block_on(ws_round_trip(l.def.addr, secure, Some("sip"), &m))
            .unwrap();
        assert_eq!(got, m);
        let (_, info) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(info.proto, l.def.proto);
    }
    let ws = addr(&t, Proto::Ws);
    assert!(
        rt.block_on(ws_round_trip(ws, false, None, "x")).is_err(),
        "no sub-protocol: refused"
    );
    assert!(
        rt.block_on(ws_round_trip(ws, false, Some("chat"), "x"))
            .is_err()
    );
}

/// A WebSocket destination with no connection is dialled as a client (the successful case is in
/// tests/stateless_streams.rs); when nobody listens, the attempt ends and leaves no connection.
#[test]
fn websocket_peers_are_dialled_and_a_failed_dial_leaves_nothing() {
    let (t, _rx) = start(&["ws:127.0.0.1:0"], |_| {}, false);
    let to: SocketAddr = ([127, 0, 0, 1], common::free_tcp_port()).into();
    t.send(&Destination::new(Proto::Ws, to), Bytes::from_static(b"x"))
        .unwrap();
    let t0 = std::time::Instant::now();
    while t.connections().find(Proto::Ws, to).is_some() {
        assert!(t0.elapsed() < WAIT, "the failed dial is still in the table");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tls_socket_without_certificate_is_refused() {
    let cfg = TransportConfig {
        sockets: vec!["tls:127.0.0.1:0".parse().unwrap()],
        ..TransportConfig::default()
    };
    let e = Transport::bind(cfg).err().unwrap().to_string();
    assert!(e.contains("tls:127.0.0.1:0") && e.contains("TLS"), "{e}");
}
