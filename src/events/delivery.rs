//! Delivery of raised events: each subscriber has its own worker thread fed by a bounded queue.
//! Raising only does a non-blocking push; a full queue drops the event and counts it, so a
//! subscriber that stops reading never slows the SIP workers or the other subscribers.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use super::params::{EventParams, build_payload};
use super::socket::EventSocket;

/// Events waiting for one subscriber before new ones are dropped.
pub const QUEUE_LEN: usize = 1024;
/// Connect / write / read limit for stream transports.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// event_datagram's largest payload.
pub const MAX_DATAGRAM: usize = 65457;

/// One raised event, shared by every subscriber's queue.
#[derive(Debug)]
pub struct Raised {
    pub name: String,
    pub params: EventParams,
}

/// Handler for `route:` subscribers (the script's `event_route[E_NAME]`).
pub type RouteHandler = Arc<dyn Fn(&str, &EventParams) + Send + Sync>;

/// An in-process subscriber (a module), called in the raising thread: it must not block.
pub type EventHook = Arc<dyn Fn(&str, &EventParams) + Send + Sync>;

/// The registry's current route handler, read at delivery time.
pub type SharedRouteHandler = Arc<parking_lot::RwLock<Option<RouteHandler>>>;

/// Counters of one subscriber.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
}

/// The sending side of a subscriber's worker; dropping it ends the worker.
pub struct Sink {
    tx: SyncSender<Arc<Raised>>,
    pub stats: Arc<SinkStats>,
}

impl Sink {
    /// Starts the worker for `socket`.
    pub fn spawn(socket: EventSocket, route: Option<SharedRouteHandler>) -> std::io::Result<Sink> {
        let (tx, rx) = sync_channel::<Arc<Raised>>(QUEUE_LEN);
        let stats = Arc::new(SinkStats::default());
        let st = stats.clone();
        let name = format!("evi {}", socket.print());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || worker(socket, route, rx, st))?;
        Ok(Sink { tx, stats })
    }

    /// Queues the event without blocking; false (and counted) when the queue is full.
    pub fn offer(&self, ev: &Arc<Raised>) -> bool {
        match self.tx.try_send(ev.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

fn worker(
    socket: EventSocket,
    route: Option<SharedRouteHandler>,
    rx: Receiver<Arc<Raised>>,
    stats: Arc<SinkStats>,
) {
    let mut conn: Option<TcpStream> = None;
    let udp = match &socket {
        EventSocket::Udp(a) => {
            UdpSocket::bind(if a.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).ok()
        }
        _ => None,
    };
    let unix = match &socket {
        EventSocket::Unix(_) => UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|_| s))
            .ok(),
        _ => None,
    };
    while let Ok(ev) = rx.recv() {
        let ok = match &socket {
            EventSocket::Udp(addr) => {
                let p = build_payload(&ev.name, &ev.params, None);
                p.len() <= MAX_DATAGRAM
                    && udp
                        .as_ref()
                        .is_some_and(|s| s.send_to(p.as_bytes(), addr).is_ok())
            }
            EventSocket::Unix(path) => {
                let p = build_payload(&ev.name, &ev.params, None);
                p.len() <= MAX_DATAGRAM
                    && unix
                        .as_ref()
                        .is_some_and(|s| s.send_to(p.as_bytes(), path).is_ok())
            }
            EventSocket::Tcp { addr, method } => {
                let p = build_payload(method.as_deref().unwrap_or(&ev.name), &ev.params, None);
                send_stream(&mut conn, addr, p.as_bytes())
            }
            EventSocket::Http { addr, host, path } => {
                let p = build_payload(&ev.name, &ev.params, None);
                post_http(addr, host, path, &p).is_ok()
            }
            EventSocket::Route(_) => match route.as_ref().and_then(|r| r.read().clone()) {
                Some(h) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    h(&ev.name, &ev.params)
                }))
                .is_ok(),
                None => false,
            },
            // hooks are called by the raiser, never queued
            EventSocket::Hook { .. } => false,
        };
        let counter = if ok { &stats.sent } else { &stats.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        if !ok {
            tracing::debug!(event = %ev.name, socket = %socket.print(), "event delivery failed");
        }
    }
}

/// Writes on the kept connection, reconnecting once if it broke.
fn send_stream(conn: &mut Option<TcpStream>, addr: &std::net::SocketAddr, bytes: &[u8]) -> bool {
    for _ in 0..2 {
        if conn.is_none() {
            *conn = TcpStream::connect_timeout(addr, IO_TIMEOUT)
                .and_then(|s| {
                    s.set_write_timeout(Some(IO_TIMEOUT))?;
                    s.set_nodelay(true)?;
                    Ok(s)
                })
                .ok();
        }
        let Some(s) = conn.as_mut() else { return false };
        if s.write_all(bytes).is_ok() {
            return true;
        }
        *conn = None;
    }
    false
}

/// One POST per event; success is a 2xx status.
fn post_http(
    addr: &std::net::SocketAddr,
    host: &str,
    path: &str,
    body: &str,
) -> std::io::Result<()> {
    let mut s = TcpStream::connect_timeout(addr, IO_TIMEOUT)?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    if head.starts_with(b"HTTP/1.") && head[9] == b'2' {
        Ok(())
    } else {
        Err(std::io::Error::other("non-2xx reply"))
    }
}
