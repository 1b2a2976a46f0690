//! mi_http + httpd: JSON-RPC over `POST /<root>` (default `http://127.0.0.1:8888/mi`) and the
//! Prometheus text of the statistics at `GET /metrics`.
//!
//! As mi_http: only POST is served (405 otherwise), an empty body is 400, a notification 202 with no
//! body, everything else 200 `application/json` — JSON-RPC errors included. Bodies above
//! `max_body` get 413 with a JSON-RPC error. Each connection is its own task; a client idle for
//! `idle_timeout` (slow sender, or a reader that never reads) is dropped, and at most
//! `max_connections` are served at once.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::codec::{handle_text, response};
use super::error::MiError;
use super::registry::MiRegistry;
use crate::stats::{PromFormat, Stats};

/// httpd / mi_http settings (modparams `httpd` `ip`, `port`; `mi_http` `root`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    pub root: String,
    pub max_body: usize,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// prometheus module `root` (default `metrics`).
    pub metrics_root: String,
    pub prometheus: PromFormat,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8888)),
            root: "mi".into(),
            max_body: 1 << 20,
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
            metrics_root: "metrics".into(),
            prometheus: PromFormat::default(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<MiRegistry>,
    stats: Option<Arc<Stats>>,
    prometheus: Arc<PromFormat>,
    max_body: usize,
}

/// The router: `/<root>` and `/<root>/` for MI, `/<metrics_root>` when statistics are given.
pub fn router(cfg: &HttpConfig, registry: Arc<MiRegistry>, stats: Option<Arc<Stats>>) -> Router {
    let root = cfg.root.trim_matches('/');
    let state = AppState {
        registry,
        stats,
        prometheus: Arc::new(cfg.prometheus.clone()),
        max_body: cfg.max_body,
    };
    let mut r = Router::new();
    if root.is_empty() {
        r = r.route("/", any(mi_endpoint));
    } else {
        r = r
            .route(&format!("/{root}"), any(mi_endpoint))
            .route(&format!("/{root}/"), any(mi_endpoint));
    }
    let metrics_root = cfg.metrics_root.trim_matches('/');
    r.route(&format!("/{metrics_root}"), get(metrics))
        .with_state(state)
}

/// Binds `cfg.addr` (refusing ports below 1024, as httpd does).
pub async fn bind(cfg: &HttpConfig) -> io::Result<TcpListener> {
    if cfg.addr.port() != 0 && cfg.addr.port() < 1024 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "httpd port must be 1024 or above",
        ));
    }
    TcpListener::bind(cfg.addr).await
}

/// Serves until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    cfg: HttpConfig,
    registry: Arc<MiRegistry>,
    stats: Option<Arc<Stats>>,
) -> io::Result<()> {
    let app = router(&cfg, registry, stats);
    let limited = LimitedListener {
        inner: listener,
        permits: Arc::new(Semaphore::new(cfg.max_connections.max(1))),
        idle: cfg.idle_timeout,
    };
    axum::serve(limited, app).await
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn mi_endpoint(State(st): State<AppState>, method: Method, body: Body) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response();
    }
    let bytes = match to_bytes(body, st.max_body).await {
        Ok(b) => b,
        Err(_) => {
            let err = MiError::with_data(
                super::error::INVALID_REQUEST,
                "Invalid Request",
                format!("Request body larger than {} bytes", st.max_body),
            );
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                response(Err(err), serde_json::Value::Null).to_string(),
            );
        }
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let reg = st.registry.clone();
    match tokio::task::spawn_blocking(move || handle_text(&reg, &bytes)).await {
        Ok(Some(text)) => json_response(StatusCode::OK, text),
        Ok(None) => StatusCode::ACCEPTED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    match &st.stats {
        Some(s) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            s.prometheus_text_with(&st.prometheus),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Accepts while a connection slot is free; each connection is wrapped in an idle timer.
struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl axum::serve::Listener for LimitedListener {
    type Io = IdleIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((s, a)) => {
                    let _ = s.set_nodelay(true);
                    let io = IdleIo {
                        inner: s,
                        timeout: self.idle,
                        sleep: Box::pin(tokio::time::sleep(self.idle)),
                        _permit: permit,
                    };
                    return (io, a);
                }
                Err(e) => {
                    tracing::warn!("MI HTTP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails with `TimedOut` after `timeout` without progress either way.
pub struct IdleIo {
    inner: TcpStream,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl IdleIo {
    fn progress(&mut self) {
        let t = self.timeout;
        self.sleep.as_mut().reset(Instant::now() + t);
    }

    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "MI HTTP client idle",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.progress();
                Poll::Ready(r)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.progress();
                Poll::Ready(r)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
