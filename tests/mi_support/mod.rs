//! A small MI server harness for the integration tests: the core commands over HTTP, FIFO, UDP
//! and UNIX datagram, each on a free loopback port or a temporary path.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use osips::cache::LocalCache;
use osips::events::EventRegistry;
use osips::mi::client::MiTarget;
use osips::mi::fifo::{FifoConfig, FifoServer};
use osips::mi::http::HttpConfig;
use osips::mi::{MiCore, MiRegistry, ProcessGuard, ProcessTable, register_core};
use osips::stats::{CoreStats, Stats};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub registry: Arc<MiRegistry>,
    pub core: Arc<MiCore>,
    pub stats: Arc<Stats>,
    pub core_stats: CoreStats,
    pub events: Arc<EventRegistry>,
    pub procs: Arc<ProcessTable>,
    pub http: SocketAddr,
    pub udp: SocketAddr,
    pub unix: PathBuf,
    pub fifo: Option<FifoServer>,
    pub fifo_cfg: FifoConfig,
    pub dir: tempfile::TempDir,
    _guards: Vec<ProcessGuard>,
}

pub struct Options {
    pub http: HttpConfig,
    pub extra: Option<fn(&MiRegistry)>,
}

impl Default for Options {
    fn default() -> Self {
        let http = HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            idle_timeout: Duration::from_secs(2),
            ..HttpConfig::default()
        };
        Options { http, extra: None }
    }
}

pub fn start() -> Harness {
    start_with(Options::default())
}

pub fn start_with(opts: Options) -> Harness {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stats, core_stats) = Stats::with_core();
    let events = EventRegistry::with_core();
    let procs = Arc::new(ProcessTable::default());
    let registry = Arc::new(MiRegistry::new());
    let core = Arc::new(MiCore::new(
        stats.clone(),
        events.clone(),
        Arc::new(LocalCache::new()),
        procs.clone(),
    ));
    register_core(&registry, core.clone()).unwrap();
    if let Some(f) = opts.extra {
        f(&registry);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut guards = vec![procs.register(std::process::id() as i64, "attendant")];

    let http_cfg = opts.http.clone();
    let listener = rt.block_on(osips::mi::http::bind(&http_cfg)).unwrap();
    let http = listener.local_addr().unwrap();
    guards.push(procs.register(std::process::id() as i64 + 1, format!("HTTPD {http}")));
    rt.spawn(osips::mi::http::serve(
        listener,
        http_cfg,
        registry.clone(),
        Some(stats.clone()),
    ));

    let udp_sock = rt
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let udp = udp_sock.local_addr().unwrap();
    rt.spawn(osips::mi::datagram::serve_udp(udp_sock, registry.clone()));
    let unix = dir.path().join("osips_mi.sock");
    let unix_sock = {
        let _e = rt.enter();
        osips::mi::datagram::bind_unix(&unix, 0o660).unwrap()
    };
    rt.spawn(osips::mi::datagram::serve_unix(unix_sock, registry.clone()));
    guards.push(procs.register(std::process::id() as i64 + 2, "MI Datagram"));

    let fifo_cfg = FifoConfig {
        path: dir.path().join("osips_fifo"),
        reply_dir: dir.path().to_path_buf(),
        check_interval: Duration::from_millis(100),
        stale_after: Duration::from_secs(1),
        reply_timeout: Duration::from_millis(500),
        ..FifoConfig::default()
    };
    let fifo =
        osips::mi::fifo::spawn(fifo_cfg.clone(), registry.clone(), Some(procs.clone())).unwrap();

    Harness {
        rt,
        registry,
        core,
        stats,
        core_stats,
        events,
        procs,
        http,
        udp,
        unix,
        fifo: Some(fifo),
        fifo_cfg,
        dir,
        _guards: guards,
    }
}

impl Harness {
    pub fn http_target(&self) -> MiTarget {
        MiTarget::Http {
            addr: self.http,
            path: "/mi".into(),
        }
    }
    pub fn fifo_target(&self) -> MiTarget {
        MiTarget::Fifo {
            fifo: self.fifo_cfg.path.clone(),
            reply_dir: self.fifo_cfg.reply_dir.clone(),
        }
    }
    pub fn targets(&self) -> Vec<(&'static str, MiTarget)> {
        vec![
            ("http", self.http_target()),
            ("fifo", self.fifo_target()),
            ("udp", MiTarget::Udp(self.udp)),
            ("unix", MiTarget::Unix(self.unix.clone())),
        ]
    }
}
