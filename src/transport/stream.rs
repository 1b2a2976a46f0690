//! TCP and TLS connections: accept, connect, frame by Content-Length, answer CRLF keep-alives,
//! close after the idle timeout.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustls::pki_types::ServerName;
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::{Instant, sleep_until};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::conn::Conn;
use super::framing::{Frame, next_frame};
use super::info::{ReceiveInfo, SocketId};
use super::socket::Proto;
use super::{Transport, ws};

pub(super) fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

pub(super) async fn accept_loop(t: Arc<Transport>, socket: SocketId, l: std::net::TcpListener) {
    let l = match TcpListener::from_std(l) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {}: {e}", t.listeners[socket].def);
            return;
        }
    };
    loop {
        let (tcp, peer) = match l.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept on {}: {e}", t.listeners[socket].def);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let t = t.clone();
        tokio::spawn(async move { serve_accepted(t, socket, tcp, peer).await });
    }
}

async fn serve_accepted(t: Arc<Transport>, socket: SocketId, tcp: TcpStream, peer: SocketAddr) {
    let proto = t.listeners[socket].def.proto;
    let local = tcp.local_addr().unwrap_or(t.listeners[socket].def.addr);
    let handshake = t.cfg.connect_timeout;
    let tls = || t.tls_server.clone().map(TlsAcceptor::from);
    let (tx, rx) = unbounded_channel();
    let result = match proto {
        Proto::Tcp => {
            let conn = t.conns.insert(proto, peer, socket, tx);
            run(&t, conn, local, tcp, rx).await
        }
        Proto::Tls => {
            let Some(acceptor) = tls() else { return };
            match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    let conn = t.conns.insert(proto, peer, socket, tx);
                    run(&t, conn, local, s, rx).await
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(io::ErrorKind::TimedOut.into()),
            }
        }
        Proto::Ws => ws::serve(&t, proto, socket, peer, local, tcp, tx, rx).await,
        Proto::Wss => {
            let Some(acceptor) = tls() else { return };
            match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => ws::serve(&t, proto, socket, peer, local, s, tx, rx).await,
                Ok(Err(e)) => Err(e),
                Err(_) => Err(io::ErrorKind::TimedOut.into()),
            }
        }
        Proto::Udp => return,
    };
    if let Err(e) = result {
        tracing::debug!("{proto} connection from {peer}: {e}");
    }
}

/// Opens a connection to `addr` and queues `first` on it; later sends find it in the table at once.
pub(super) fn connect(
    t: &Transport,
    proto: Proto,
    addr: SocketAddr,
    socket: SocketId,
    first: Bytes,
) {
    let (tx, rx) = unbounded_channel();
    let conn = t.conns.insert(proto, addr, socket, tx);
    conn.send(first);
    let me = t.me();
    t.rt_handle.spawn(async move {
        let id = conn.id;
        let res = async {
            let bind_ip = me.listeners[socket].def.addr.ip();
            let s = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            s.bind(SocketAddr::new(bind_ip, 0))?;
            let tcp = tokio::time::timeout(me.cfg.connect_timeout, s.connect(addr))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            let _ = tcp.set_nodelay(true);
            let local = tcp.local_addr()?;
            if matches!(proto, Proto::Tls | Proto::Wss) {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls = TlsConnector::from(me.tls_client.clone());
                let s = tokio::time::timeout(me.cfg.connect_timeout, tls.connect(name, tcp))
                    .await
                    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
                if proto == Proto::Wss {
                    super::ws::client(&me, conn, local, s, rx).await
                } else {
                    run(&me, conn, local, s, rx).await
                }
            } else if proto == Proto::Ws {
                super::ws::client(&me, conn, local, tcp, rx).await
            } else {
                run(&me, conn, local, tcp, rx).await
            }
        }
        .await;
        if let Err(e) = res {
            tracing::debug!("{proto} connection to {addr}: {e}");
        }
        me.conns.remove(id);
    });
}

/// Reads and frames messages, writes queued ones, until EOF, error or idle timeout.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transport,
    conn: Arc<Conn>,
    local: SocketAddr,
    stream: S,
    mut rx: UnboundedReceiver<Bytes>,
) -> io::Result<()> {
    let id = conn.id;
    let info = ReceiveInfo {
        proto: conn.proto,
        src: conn.peer,
        local,
        socket: conn.socket,
        conn: Some(id),
        force_rport: false,
    };
    drop(conn);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(8192);
    let mut deadline = Instant::now() + t.cfg.idle_timeout;
    let res = loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                match r {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
                deadline = Instant::now() + t.cfg.idle_timeout;
                if let Err(e) = drain_frames(t, &mut buf, &info, &mut wr).await {
                    break Err(e);
                }
            }
            out = rx.recv() => {
                let Some(data) = out else { break Ok(()) };
                if let Err(e) = wr.write_all(&data).await {
                    break Err(e);
                }
                deadline = Instant::now() + t.cfg.idle_timeout;
            }
            _ = sleep_until(deadline) => break Ok(()),
        }
    };
    t.conns.remove(id);
    let _ = wr.shutdown().await;
    res
}

async fn drain_frames<W: AsyncWrite + Unpin>(
    t: &Transport,
    buf: &mut BytesMut,
    info: &ReceiveInfo,
    wr: &mut W,
) -> io::Result<()> {
    loop {
        match next_frame(buf, t.cfg.max_message) {
            Ok(Frame::Incomplete) => return Ok(()),
            Ok(Frame::Ping(n)) => {
                let _ = buf.split_to(n);
                wr.write_all(b"\r\n").await?;
            }
            Ok(Frame::Skip(n)) => {
                let _ = buf.split_to(n);
            }
            Ok(Frame::Message(n)) => {
                let msg = buf.split_to(n).freeze();
                t.deliver(msg, info.clone());
            }
            Err(e) => {
                if let super::framing::FrameError::TooLarge(..) = e
                    && let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n")
                    && let Some(reply) = t.oversized_reply(&buf[..end + 4], info)
                {
                    let _ = wr.write_all(&reply).await;
                    let _ = wr.flush().await;
                }
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }
}
