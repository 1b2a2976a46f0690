//! SIP transports: UDP worker threads on blocking sockets, and TCP / TLS / WebSocket connections on a
//! small tokio runtime. Every received message goes to one synchronous [`Handler`]; [`Transport::send`]
//! sends on an existing connection when there is one.

pub mod conn;
pub mod framing;
pub mod info;
pub mod socket;
mod stream;
pub mod tls;
mod udp;
mod ws;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

pub use conn::{Conn, ConnTable};
pub use info::{ConnId, Destination, ReceiveInfo, SocketId};
pub use socket::{Advertised, Proto, SocketDef, SocketDefError};
pub use tls::{TlsError, TlsOptions};

/// Receives every SIP message read from any socket or connection. Runs on a worker thread and may block.
pub trait Handler: Send + Sync {
    fn on_message(&self, data: Bytes, info: &ReceiveInfo);

    /// A stream message whose Content-Length makes it larger than `max_message`: `head` is its
    /// header block. The bytes returned are written back on the connection before it is closed
    /// (the core answers a request with 513 Message Too Large).
    fn oversized(&self, _head: &[u8], _info: &ReceiveInfo) -> Option<Vec<u8>> {
        None
    }
}

impl<F: Fn(Bytes, &ReceiveInfo) + Send + Sync> Handler for F {
    fn on_message(&self, data: Bytes, info: &ReceiveInfo) {
        self(data, info)
    }
}

/// Transport settings (OpenSIPS core parameters in brackets).
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// The listening sockets (`socket=`).
    pub sockets: Vec<SocketDef>,
    /// Worker threads per UDP socket (`udp_workers`).
    pub udp_workers: usize,
    /// Give each UDP worker its own `SO_REUSEPORT` socket instead of sharing one.
    pub udp_reuseport: bool,
    /// Threads that run the handler for stream transports (`tcp_workers`).
    pub stream_workers: usize,
    /// Largest SIP message accepted on any transport.
    pub max_message: usize,
    /// Close a stream connection after this long without traffic (`tcp_connection_lifetime`).
    pub idle_timeout: Duration,
    /// Give up opening a connection after this long (`tcp_connect_timeout`).
    pub connect_timeout: Duration,
    /// Certificates for `tls` and `wss` sockets, and for connections we open over TLS.
    pub tls: Option<TlsOptions>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            sockets: Vec::new(),
            udp_workers: 2,
            udp_reuseport: true,
            stream_workers: 2,
            max_message: 65535,
            idle_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// A bound listening socket.
pub struct Listener {
    /// The definition, with the port the system picked when it asked for port 0.
    pub def: SocketDef,
    udp: Vec<Arc<socket2::Socket>>,
    tcp: Mutex<Option<std::net::TcpListener>>,
    /// `SIP/2.0/UDP host:port;branch=`: our Via up to its branch value.
    via_prefix: String,
    /// Bound IP (no brackets) and advertised host, lower case, with their ports.
    names: Vec<(String, u16)>,
}

impl Listener {
    fn new(
        def: SocketDef,
        udp: Vec<Arc<socket2::Socket>>,
        tcp: Option<std::net::TcpListener>,
    ) -> Listener {
        let (host, port) = def.sent_by();
        let via_prefix = format!("SIP/2.0/{} {host}:{port};branch=", def.proto.via_token());
        let mut names = vec![(def.addr.ip().to_string(), def.addr.port())];
        if let Some(a) = &def.advertised {
            let bare = a.host.trim_start_matches('[').trim_end_matches(']');
            names.push((bare.to_ascii_lowercase(), a.port.unwrap_or(def.addr.port())));
        }
        Listener {
            def,
            udp,
            tcp: Mutex::new(tcp),
            via_prefix,
            names,
        }
    }
}

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind {socket}: {source}")]
    Bind { socket: String, source: io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("socket {0} needs TLS settings (certificate and private key)")]
    NoTls(String),
    #[error("cannot start the connection runtime: {0}")]
    Runtime(io::Error),
}

type Delivery = (Bytes, ReceiveInfo);

/// All listening sockets and open connections.
pub struct Transport {
    cfg: TransportConfig,
    listeners: Vec<Listener>,
    conns: ConnTable,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    rt_handle: tokio::runtime::Handle,
    tls_server: Option<Arc<rustls::ServerConfig>>,
    tls_client: Arc<rustls::ClientConfig>,
    /// Per stream worker; emptied by `shutdown` so the workers end.
    stream_queues: RwLock<Vec<mpsc::Sender<Delivery>>>,
    stopping: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    me: Weak<Transport>,
    /// The handler given to `start` (stream connections ask it about oversized messages).
    handler: std::sync::OnceLock<Arc<dyn Handler>>,
}

impl Transport {
    /// Binds every socket of `cfg` (so errors show at startup and port 0 gets its real port).
    pub fn bind(mut cfg: TransportConfig) -> Result<Arc<Transport>, TransportError> {
        cfg.udp_workers = cfg.udp_workers.max(1);
        cfg.stream_workers = cfg.stream_workers.max(1);
        let needs_tls = cfg
            .sockets
            .iter()
            .any(|s| matches!(s.proto, Proto::Tls | Proto::Wss));
        let tls_server = match (&cfg.tls, needs_tls) {
            (Some(t), true) => Some(t.server_config()?),
            (None, true) => {
                let s = cfg
                    .sockets
                    .iter()
                    .find(|s| matches!(s.proto, Proto::Tls | Proto::Wss));
                return Err(TransportError::NoTls(
                    s.map(ToString::to_string).unwrap_or_default(),
                ));
            }
            _ => None,
        };
        let tls_client = match &cfg.tls {
            Some(t) => t.client_config()?,
            None => TlsOptions::default().client_config()?,
        };
        let mut listeners = Vec::new();
        for def in &cfg.sockets {
            let bind_err = |source| TransportError::Bind {
                socket: def.to_string(),
                source,
            };
            let listener = if def.proto == Proto::Udp {
                let n = if cfg.udp_reuseport {
                    cfg.udp_workers
                } else {
                    1
                };
                let socks = udp::bind(def.addr, n, cfg.udp_reuseport).map_err(bind_err)?;
                let addr = socks[0]
                    .local_addr()
                    .map_err(bind_err)?
                    .as_socket()
                    .unwrap_or(def.addr);
                let def = SocketDef {
                    addr,
                    ..def.clone()
                };
                Listener::new(def, socks, None)
            } else {
                let l = stream::bind(def.addr).map_err(bind_err)?;
                let def = SocketDef {
                    addr: l.local_addr().map_err(bind_err)?,
                    ..def.clone()
                };
                Listener::new(def, Vec::new(), Some(l))
            };
            listeners.push(listener);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("osips-conn")
            .enable_all()
            .build()
            .map_err(TransportError::Runtime)?;
        Ok(Arc::new_cyclic(|me| Transport {
            me: me.clone(),
            rt_handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            cfg,
            listeners,
            conns: ConnTable::default(),
            tls_server,
            tls_client,
            stream_queues: RwLock::new(Vec::new()),
            stopping: AtomicBool::new(false),
            handler: std::sync::OnceLock::new(),
            threads: Mutex::new(Vec::new()),
        }))
    }

    /// Starts the UDP workers, the stream workers and the listeners; messages go to `handler`.
    pub fn start(self: &Arc<Self>, handler: Arc<dyn Handler>) {
        let mut threads = self.threads.lock();
        let mut queues = self.stream_queues.write();
        if !queues.is_empty() || self.stopping() {
            return; // already started, or stopped
        }
        for i in 0..self.cfg.stream_workers {
            let (tx, rx) = mpsc::channel::<Delivery>();
            queues.push(tx);
            let h = handler.clone();
            let t = std::thread::Builder::new()
                .name(format!("osips-stream-{i}"))
                .spawn(move || {
                    while let Ok((data, info)) = rx.recv() {
                        h.on_message(data, &info);
                    }
                })
                .expect("spawn stream worker");
            threads.push(t);
        }
        drop(queues);
        let _ = self.handler.set(handler.clone());
        for (id, l) in self.listeners.iter().enumerate() {
            if l.def.proto == Proto::Udp {
                for w in 0..self.cfg.udp_workers {
                    let sock = l.udp[w % l.udp.len()].clone();
                    let t = udp::spawn_worker(self.clone(), handler.clone(), id, w, sock);
                    threads.push(t);
                }
            } else if let Some(tcp) = l.tcp.lock().take() {
                let me = self.clone();
                self.rt_handle
                    .spawn(async move { stream::accept_loop(me, id, tcp).await });
            }
        }
    }

    /// The listening sockets, in definition order; a [`SocketId`] indexes this slice.
    /// The tokio runtime of the connections (other services may run on it, e.g. MI).
    pub fn rt_handle(&self) -> &tokio::runtime::Handle {
        &self.rt_handle
    }

    pub fn sockets(&self) -> &[Listener] {
        &self.listeners
    }

    /// The definition of socket `id`.
    pub fn socket(&self, id: SocketId) -> Option<&SocketDef> {
        self.listeners.get(id).map(|l| &l.def)
    }

    pub fn config(&self) -> &TransportConfig {
        &self.cfg
    }

    pub fn connections(&self) -> &ConnTable {
        &self.conns
    }

    /// The socket to send from to reach `dst` over `proto`: the first of that protocol and address family.
    pub fn pick_socket(&self, proto: Proto, dst: SocketAddr) -> Option<SocketId> {
        let family = |a: &SocketAddr| a.is_ipv4();
        self.listeners
            .iter()
            .position(|l| l.def.proto == proto && family(&l.def.addr) == family(&dst))
            .or_else(|| self.listeners.iter().position(|l| l.def.proto == proto))
    }

    /// True when `host:port` over `proto` (any protocol when `None`) names one of our sockets,
    /// by bound or advertised address (the script's `myself`). A missing port is the protocol's default.
    pub fn is_local(&self, proto: Option<Proto>, host: &str, port: Option<u16>) -> bool {
        self.is_local_bytes(proto, host.as_bytes(), port)
    }

    /// [`Self::is_local`] for a host as found in a message (IPv6 in brackets or not).
    pub fn is_local_bytes(&self, proto: Option<Proto>, host: &[u8], port: Option<u16>) -> bool {
        self.is_local_host(proto, host, Some(port))
    }

    /// Whether `host` names one of our sockets on any port (OpenSIPS `is_myself(host)` with no
    /// port: `check_self` with port 0).
    pub fn is_local_any_port(&self, host: &[u8]) -> bool {
        self.is_local_host(None, host, None)
    }

    /// `port`: None = any port; Some(None) = the protocol's default port.
    fn is_local_host(&self, proto: Option<Proto>, host: &[u8], port: Option<Option<u16>>) -> bool {
        let bare = host
            .strip_prefix(b"[")
            .and_then(|h| h.strip_suffix(b"]"))
            .unwrap_or(host);
        let mut ip: Option<Option<IpAddr>> = None;
        self.listeners.iter().any(|l| {
            if proto.is_some_and(|p| p != l.def.proto) {
                return false;
            }
            let want = port.map(|p| p.unwrap_or(l.def.proto.default_port()));
            l.names.iter().enumerate().any(|(i, (name, p))| {
                want.is_none_or(|w| *p == w)
                    && (name.as_bytes().eq_ignore_ascii_case(bare)
                        || (i == 0 && l.def.addr.is_ipv6() && {
                            // IPv6 has many spellings of one address.
                            let parsed = *ip.get_or_insert_with(|| {
                                std::str::from_utf8(bare).ok().and_then(|s| s.parse().ok())
                            });
                            parsed == Some(l.def.addr.ip())
                        }))
            })
        })
    }

    /// Our Via for socket `id` up to the branch value: `SIP/2.0/UDP host:port;branch=`.
    pub fn via_prefix(&self, id: SocketId) -> Option<&str> {
        self.listeners.get(id).map(|l| l.via_prefix.as_str())
    }

    /// Makes `addr` reach connection `conn` too (RFC 5923 alias of the peer's Via sent-by).
    pub fn add_alias(&self, conn: ConnId, addr: SocketAddr) -> bool {
        self.conns.add_alias(conn, addr)
    }

    /// Sends one message. Stream transports reuse the connection named in `dest`, else one open to
    /// the address (or alias), else open a new one (for WebSocket, as a client offering `sip`).
    pub fn send(&self, dest: &Destination, data: Bytes) -> io::Result<()> {
        if dest.proto == Proto::Udp {
            let id = dest
                .socket
                .filter(|&s| {
                    self.listeners
                        .get(s)
                        .is_some_and(|l| l.def.proto == Proto::Udp)
                })
                .or_else(|| self.pick_socket(Proto::Udp, dest.addr))
                .ok_or_else(|| no_socket(dest))?;
            return udp::send(&self.listeners[id].udp[0], dest.addr, &data);
        }
        let existing = dest
            .conn
            .and_then(|id| self.conns.get(id))
            .or_else(|| self.conns.find(dest.proto, dest.addr));
        if let Some(c) = existing {
            if c.send(data.clone()) {
                return Ok(());
            }
            self.conns.remove(c.id);
        }
        match dest.proto {
            Proto::Tcp | Proto::Tls | Proto::Ws | Proto::Wss => {
                let socket = dest
                    .socket
                    .filter(|&s| {
                        self.listeners
                            .get(s)
                            .is_some_and(|l| l.def.proto == dest.proto)
                    })
                    .or_else(|| self.pick_socket(dest.proto, dest.addr))
                    .ok_or_else(|| no_socket(dest))?;
                stream::connect(self, dest.proto, dest.addr, socket, data);
                Ok(())
            }
            Proto::Udp => Err(no_socket(dest)),
        }
    }

    /// The reply for an oversized stream message, from the handler.
    fn oversized_reply(&self, head: &[u8], info: &ReceiveInfo) -> Option<Vec<u8>> {
        self.handler.get()?.oversized(head, info)
    }

    fn deliver(&self, data: Bytes, info: ReceiveInfo) {
        let q = self.stream_queues.read();
        if !q.is_empty() {
            let n = info.conn.unwrap_or(0) as usize % q.len();
            let _ = q[n].send((data, info));
        }
    }

    fn me(&self) -> Arc<Transport> {
        self.me.upgrade().expect("transport in use is alive")
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Stops the listeners and connections; stream workers stop when their queue is empty, UDP
    /// workers within their receive timeout.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.stream_queues.write().clear();
        if let Some(rt) = self.runtime.lock().take() {
            rt.shutdown_background();
        }
    }
}

fn no_socket(dest: &Destination) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        format!("no {} socket to send to {}", dest.proto, dest.addr),
    )
}
