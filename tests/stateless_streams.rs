//! The stateless core over TLS, WebSocket (ws, wss) and IPv6: a client sends OPTIONS to the core,
//! which forwards it to a UDP peer that answers 200; the answer must come back to the client on
//! its connection with only the client's Via left.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use osips::core::{Action, Core};
use osips::transport::{Destination, Proto, ReceiveInfo, SocketDef, TlsOptions, TransportConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transport")
        .join(name)
}

/// A UDP peer on `ip` that answers every request with 200 OK.
fn uas(ip: &str) -> SocketAddr {
    common::peer::udp_answering(ip, "200 OK", "uas")
}

fn start_core(sockets: &[&str], next_hop: SocketAddr) -> Arc<Core> {
    let cfg = TransportConfig {
        sockets: sockets
            .iter()
            .map(|s| s.parse::<SocketDef>().unwrap())
            .collect(),
        tls: Some(TlsOptions {
            certificate: fixture("server.pem"),
            private_key: fixture("server.key"),
            ..TlsOptions::default()
        }),
        ..TransportConfig::default()
    };
    let handler = move |_: &mut osips::sip::Msg, _: &ReceiveInfo| {
        Action::Forward(Destination::new(Proto::Udp, next_hop))
    };
    Core::start(cfg, Box::new(handler)).unwrap()
}

fn options(proto: Proto, from: SocketAddr) -> String {
    let host = match from {
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
        SocketAddr::V4(a) => a.ip().to_string(),
    };
    format!(
        "OPTIONS sip:bob@{host} SIP/2.0\r\nVia: SIP/2.0/{} {host}:{};branch=z9hG4bKclient\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@{host}>;tag=a1\r\nTo: <sip:bob@{host}>\r\n\
         Call-ID: stream-{proto}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        proto.via_token(),
        from.port()
    )
}

fn check_200(rsp: &str, proto: Proto) {
    assert!(rsp.starts_with("SIP/2.0 200 OK\r\n"), "{rsp}");
    let vias: Vec<&str> = rsp.lines().filter(|l| l.starts_with("Via:")).collect();
    assert_eq!(vias.len(), 1, "only the client's Via is left: {rsp}");
    assert!(vias[0].contains("branch=z9hG4bKclient"), "{rsp}");
    assert!(
        vias[0].contains(&format!("SIP/2.0/{}", proto.via_token())),
        "{rsp}"
    );
    assert!(
        vias[0].contains(";received=") && vias[0].contains(";rport="),
        "{rsp}"
    );
    assert!(rsp.contains(&format!("Call-ID: stream-{proto}")));
}

fn socket_of(core: &Core, proto: Proto) -> SocketAddr {
    core.transport()
        .sockets()
        .iter()
        .find(|l| l.def.proto == proto)
        .unwrap()
        .def
        .addr
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Reads one SIP message (headers and Content-Length 0) from a stream.
async fn read_message<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(WAIT, s.read_exact(&mut byte))
            .await
            .expect("reply in time")
            .unwrap();
        buf.push(byte[0]);
    }
    String::from_utf8(buf).unwrap()
}

#[test]
fn options_over_tls_through_the_core() {
    let core = start_core(&["tls:127.0.0.1:0", "udp:127.0.0.1:0"], uas("127.0.0.1"));
    let to = socket_of(&core, Proto::Tls);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rsp = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(to).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = ServerName::IpAddress(to.ip().into());
        let mut s = tls_connector().connect(name, tcp).await.unwrap();
        s.write_all(options(Proto::Tls, local).as_bytes())
            .await
            .unwrap();
        read_message(&mut s).await
    });
    check_200(&rsp, Proto::Tls);
    core.shutdown();
}

async fn ws_options<S>(stream: S, url: &str, from: SocketAddr, proto: Proto) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    ws.send(Message::text(options(proto, from))).await.unwrap();
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
        other => panic!("no reply: {other:?}"),
    }
}

#[test]
fn options_over_ws_and_wss_through_the_core() {
    let core = start_core(
        &["ws:127.0.0.1:0", "wss:127.0.0.1:0", "udp:127.0.0.1:0"],
        uas("127.0.0.1"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ws = socket_of(&core, Proto::Ws);
    let rsp = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(ws).await.unwrap();
        let local = tcp.local_addr().unwrap();
        ws_options(tcp, &format!("ws://{ws}/"), local, Proto::Ws).await
    });
    check_200(&rsp, Proto::Ws);
    let wss = socket_of(&core, Proto::Wss);
    let rsp = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(wss).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = ServerName::IpAddress(wss.ip().into());
        let tls = tls_connector().connect(name, tcp).await.unwrap();
        ws_options(tls, &format!("wss://{wss}/"), local, Proto::Wss).await
    });
    check_200(&rsp, Proto::Wss);
    core.shutdown();
}

#[test]
fn options_over_udp_ipv6_through_the_core() {
    let core = start_core(&["udp:[::1]:0"], uas("::1"));
    let to = socket_of(&core, Proto::Udp);
    let c = UdpSocket::bind("[::1]:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let req = options(Proto::Udp, c.local_addr().unwrap()).replace("branch=", "rport;branch=");
    c.send_to(req.as_bytes(), to).unwrap();
    let mut buf = [0u8; 65535];
    let (n, from) = c.recv_from(&mut buf).unwrap();
    assert_eq!(from, to);
    check_200(&String::from_utf8_lossy(&buf[..n]), Proto::Udp);
    core.shutdown();
}

#[test]
fn malformed_request_gets_400_and_response_garbage_is_dropped() {
    let core = start_core(&["udp:127.0.0.1:0"], uas("127.0.0.1"));
    let to = socket_of(&core, Proto::Udp);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let bad = options(Proto::Udp, c.local_addr().unwrap()).replace("CSeq: 1 OPTIONS", "CSeq: x");
    c.send_to(bad.as_bytes(), to).unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = c.recv_from(&mut buf).unwrap();
    let rsp = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(rsp.starts_with("SIP/2.0 400 "), "{rsp}");
    assert!(rsp.contains("Call-ID: stream-udp\r\n"), "{rsp}");
    // Nothing answers a malformed response or random bytes, and the core keeps working.
    c.send_to(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", to)
        .unwrap();
    c.send_to(&[0xff, 0x00, 0x13, 0x37], to).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(c.recv_from(&mut buf).is_err());
    c.set_read_timeout(Some(WAIT)).unwrap();
    let good = options(Proto::Udp, c.local_addr().unwrap());
    c.send_to(good.as_bytes(), to).unwrap();
    let (n, _) = c.recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK"));
    core.shutdown();
}

#[test]
fn oversized_udp_request_gets_513() {
    let cfg = TransportConfig {
        sockets: vec!["udp:127.0.0.1:0".parse::<SocketDef>().unwrap()],
        max_message: 2000,
        ..TransportConfig::default()
    };
    let next = uas("127.0.0.1");
    let handler = move |_: &mut osips::sip::Msg, _: &ReceiveInfo| {
        Action::Forward(Destination::new(Proto::Udp, next))
    };
    let core = Core::start(cfg, Box::new(handler)).unwrap();
    let to = socket_of(&core, Proto::Udp);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let big = options(Proto::Udp, c.local_addr().unwrap()).replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Subject: {}\r\nContent-Length: 0\r\n\r\n", "x".repeat(3000)),
    );
    c.send_to(big.as_bytes(), to).unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = c.recv_from(&mut buf).unwrap();
    let rsp = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(rsp.starts_with("SIP/2.0 513 "), "{rsp}");
    core.shutdown();
}

#[test]
fn oversized_tcp_request_gets_513_and_the_connection_closes() {
    use std::io::{Read, Write};
    let cfg = TransportConfig {
        sockets: vec!["tcp:127.0.0.1:0".parse::<SocketDef>().unwrap()],
        max_message: 2000,
        ..TransportConfig::default()
    };
    let next = uas("127.0.0.1");
    let handler = move |_: &mut osips::sip::Msg, _: &ReceiveInfo| {
        Action::Forward(Destination::new(Proto::Udp, next))
    };
    let core = Core::start(cfg, Box::new(handler)).unwrap();
    let to = socket_of(&core, Proto::Tcp);
    let mut c = std::net::TcpStream::connect(to).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    // The headers say a body of 5000 bytes follows: more than max_message, so osips does not
    // wait for it.
    let big = options(Proto::Tcp, c.local_addr().unwrap())
        .replace("Content-Length: 0\r\n", "Content-Length: 5000\r\n");
    c.write_all(big.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let rsp = String::from_utf8_lossy(&out).to_string();
    assert!(
        rsp.starts_with("SIP/2.0 513 Message Too Large\r\n"),
        "{rsp}"
    );
    assert!(rsp.contains("Call-ID: stream-tcp\r\n"), "{rsp}");
    core.shutdown();
}

#[test]
fn requests_to_a_websocket_server_open_a_client_connection() {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    // A WebSocket SIP server (RFC 7118) on loopback that answers each request with 200.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let server = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<String>();
    rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // tungstenite's handshake callback type; its error type is not ours to shrink.
        #[allow(clippy::result_large_err)]
        let pick_sip = |req: &Request, mut resp: Response| {
            let offered = req
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let _ = seen_tx.send(format!("protocol: {offered}"));
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, pick_sip)
            .await
            .unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let _ = seen_tx.send(t.to_string());
                ws.send(Message::text(common::peer::reply_to(&t, "200 OK", "wsuas")))
                    .await
                    .unwrap();
            }
        }
    });
    let cfg = TransportConfig {
        sockets: vec![
            "udp:127.0.0.1:0".parse::<SocketDef>().unwrap(),
            "ws:127.0.0.1:0".parse::<SocketDef>().unwrap(),
        ],
        ..TransportConfig::default()
    };
    let handler = move |_: &mut osips::sip::Msg, _: &ReceiveInfo| {
        Action::Forward(Destination::new(Proto::Ws, server))
    };
    let core = Core::start(cfg, Box::new(handler)).unwrap();
    let to = socket_of(&core, Proto::Udp);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.send_to(options(Proto::Udp, c.local_addr().unwrap()).as_bytes(), to)
        .unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = c.recv_from(&mut buf).expect("the 200 comes back over UDP");
    let rsp = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(rsp.starts_with("SIP/2.0 200 OK\r\n"), "{rsp}");
    assert!(rsp.contains(";tag=wsuas\r\n"), "{rsp}");
    let vias = rsp.lines().filter(|l| l.starts_with("Via:")).count();
    assert_eq!(vias, 1, "osips removed its own Via: {rsp}");
    assert_eq!(
        seen_rx.recv_timeout(WAIT).unwrap(),
        "protocol: sip",
        "osips offers the sip sub-protocol"
    );
    let req = seen_rx.recv_timeout(WAIT).unwrap();
    assert!(
        req.starts_with("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"),
        "{req}"
    );
    assert!(req.contains("Via: SIP/2.0/WS "), "{req}");
    core.shutdown();
}
