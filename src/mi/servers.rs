//! Starting the MI transports from the script's `loadmodule` / `modparam` lines (httpd, mi_http,
//! mi_fifo, mi_datagram), with the runtime's tokio handle.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::datagram::DatagramSocket;
use super::fifo::{FifoConfig, FifoServer};
use super::http::HttpConfig;
use super::process::ProcessTable;
use super::registry::MiRegistry;
use crate::stats::Stats;

/// Which MI transports to run and how.
#[derive(Debug, Clone, Default)]
pub struct MiConfig {
    pub http: Option<HttpConfig>,
    pub fifo: Option<FifoConfig>,
    /// mi_datagram `socket_name` values, with `unix_socket_mode`.
    pub datagram: Vec<(DatagramSocket, u32)>,
    datagram_mode: Option<u32>,
}

fn parse_mode(v: &str) -> Result<u32, String> {
    let t = v.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    u32::from_str_radix(digits, 8)
        .map_err(|_| format!("bad file mode '{v}' (octal expected, e.g. 0660)"))
}

fn parse_uid(v: &str) -> Result<u32, String> {
    if let Ok(n) = v.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(v) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(format!("unknown user '{v}'")),
    }
}

fn parse_gid(v: &str) -> Result<u32, String> {
    if let Ok(n) = v.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(v) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(format!("unknown group '{v}'")),
    }
}

impl MiConfig {
    /// `loadmodule "<name>.so"`: turns a transport on with its defaults. Returns false for other
    /// modules.
    pub fn load_module(&mut self, module: &str) -> bool {
        match module {
            "httpd" => true,
            "mi_http" => {
                self.http.get_or_insert_with(HttpConfig::default);
                true
            }
            "mi_fifo" => {
                self.fifo.get_or_insert_with(FifoConfig::default);
                true
            }
            "mi_datagram" => true,
            _ => false,
        }
    }

    /// `modparam(module, name, value)` for the MI modules. `Ok(false)`: not an MI parameter;
    /// `Err`: a bad value, with the reason.
    pub fn set_modparam(&mut self, module: &str, name: &str, value: &str) -> Result<bool, String> {
        match (module, name) {
            ("httpd", "ip") | ("httpd", "listen_ip") => {
                let http = self.http.get_or_insert_with(HttpConfig::default);
                let ip: IpAddr = if value == "*" {
                    IpAddr::from([0, 0, 0, 0])
                } else {
                    value
                        .parse()
                        .map_err(|_| format!("httpd ip: bad address '{value}'"))?
                };
                http.addr = SocketAddr::new(ip, http.addr.port());
            }
            ("httpd", "port") | ("httpd", "listen_port") => {
                let http = self.http.get_or_insert_with(HttpConfig::default);
                let port: u16 = value
                    .parse()
                    .map_err(|_| format!("httpd port: bad port '{value}'"))?;
                if port < 1024 {
                    return Err(format!("httpd port: {port} is below 1024"));
                }
                http.addr.set_port(port);
            }
            ("httpd", "post_buf_size") | ("httpd", "buf_size") => {
                let http = self.http.get_or_insert_with(HttpConfig::default);
                http.max_body = value
                    .parse()
                    .map_err(|_| format!("httpd {name}: bad size '{value}'"))?;
            }
            ("mi_http", "root") => {
                self.http.get_or_insert_with(HttpConfig::default).root =
                    value.trim_matches('/').to_string();
            }
            ("mi_fifo", "fifo_name") => {
                self.fifo.get_or_insert_with(FifoConfig::default).path = PathBuf::from(value)
            }
            ("mi_fifo", "fifo_mode") => {
                self.fifo.get_or_insert_with(FifoConfig::default).mode = parse_mode(value)?
            }
            ("mi_fifo", "fifo_user") => {
                self.fifo.get_or_insert_with(FifoConfig::default).user = Some(parse_uid(value)?)
            }
            ("mi_fifo", "fifo_group") => {
                self.fifo.get_or_insert_with(FifoConfig::default).group = Some(parse_gid(value)?)
            }
            ("mi_fifo", "reply_dir") => {
                self.fifo.get_or_insert_with(FifoConfig::default).reply_dir = PathBuf::from(value)
            }
            ("mi_datagram", "socket_name") => {
                let s = DatagramSocket::parse(value)?;
                self.datagram.push((s, self.datagram_mode.unwrap_or(0o660)));
            }
            ("mi_datagram", "unix_socket_mode") => {
                let m = parse_mode(value)?;
                self.datagram_mode = Some(m);
                for d in &mut self.datagram {
                    d.1 = m;
                }
            }
            ("prometheus", _) => return self.set_prometheus(name, value),
            // accepted and without effect here (tracing, pretty printing, TLS not supported yet)
            (
                "mi_fifo" | "mi_http" | "mi_datagram",
                "pretty_printing" | "trace_destination" | "trace_bwlist",
            ) => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl MiConfig {
    fn set_prometheus(&mut self, name: &str, value: &str) -> Result<bool, String> {
        use crate::stats::PromGroupMode;
        let http = self.http.get_or_insert_with(HttpConfig::default);
        let p = &mut http.prometheus;
        match name {
            "root" => http.metrics_root = value.trim_matches('/').to_string(),
            "prefix" => p.prefix = value.to_string(),
            "delimiter" => p.delimiter = value.to_string(),
            "group_prefix" => p.group_prefix = value.to_string(),
            "group_label" => p.group_label = value.to_string(),
            "group_mode" => {
                p.group_mode = match value.trim() {
                    "0" => PromGroupMode::None,
                    "1" => PromGroupMode::Name,
                    "2" => PromGroupMode::Label,
                    _ => return Err(format!("prometheus group_mode: '{value}' is not 0, 1 or 2")),
                }
            }
            "statistics" => p
                .statistics
                .extend(value.split_whitespace().map(str::to_string)),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The running transports; dropping it stops them.
pub struct MiServers {
    pub http_addr: Option<SocketAddr>,
    pub udp_addrs: Vec<SocketAddr>,
    fifo: Option<FifoServer>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
    _procs: Vec<super::process::ProcessGuard>,
}

impl MiServers {
    pub fn fifo_path(&self) -> Option<&std::path::Path> {
        self.fifo.as_ref().map(|f| f.path())
    }
}

impl Drop for MiServers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds and starts every configured transport on `rt`; errors name the transport.
pub fn start(
    cfg: &MiConfig,
    rt: &tokio::runtime::Handle,
    registry: Arc<MiRegistry>,
    stats: Option<Arc<Stats>>,
    procs: Arc<ProcessTable>,
) -> io::Result<MiServers> {
    let mut s = MiServers {
        http_addr: None,
        udp_addrs: Vec::new(),
        fifo: None,
        tasks: Vec::new(),
        _procs: Vec::new(),
    };
    let pid = std::process::id() as i64;
    if let Some(h) = &cfg.http {
        let l = rt
            .block_on(super::http::bind(h))
            .map_err(|e| io::Error::new(e.kind(), format!("httpd {}: {e}", h.addr)))?;
        let addr = l.local_addr()?;
        s.http_addr = Some(addr);
        s._procs.push(procs.register(pid, format!("HTTPD {addr}")));
        s.tasks.push(rt.spawn(super::http::serve(
            l,
            h.clone(),
            registry.clone(),
            stats.clone(),
        )));
    }
    for (d, mode) in &cfg.datagram {
        match d {
            DatagramSocket::Udp(a) => {
                let sock = rt
                    .block_on(tokio::net::UdpSocket::bind(a))
                    .map_err(|e| io::Error::new(e.kind(), format!("mi_datagram udp:{a}: {e}")))?;
                s.udp_addrs.push(sock.local_addr()?);
                s.tasks
                    .push(rt.spawn(super::datagram::serve_udp(sock, registry.clone())));
            }
            DatagramSocket::Unix(p) => {
                let sock = {
                    let _e = rt.enter();
                    super::datagram::bind_unix(p, *mode).map_err(|e| {
                        io::Error::new(e.kind(), format!("mi_datagram {}: {e}", p.display()))
                    })?
                };
                s.tasks
                    .push(rt.spawn(super::datagram::serve_unix(sock, registry.clone())));
            }
        }
        s._procs.push(procs.register(pid, "MI Datagram"));
    }
    if let Some(f) = &cfg.fifo {
        let server = super::fifo::spawn(f.clone(), registry.clone(), Some(procs.clone()))
            .map_err(|e| io::Error::new(e.kind(), format!("mi_fifo {}: {e}", f.path.display())))?;
        s.fifo = Some(server);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modparams_map_to_transports() {
        let mut c = MiConfig::default();
        assert!(c.load_module("mi_http"));
        assert!(!c.load_module("tm"));
        assert_eq!(
            c.http.as_ref().unwrap().addr,
            "127.0.0.1:8888".parse().unwrap()
        );
        assert!(c.set_modparam("httpd", "port", "8989").unwrap());
        assert!(c.set_modparam("httpd", "ip", "*").unwrap());
        assert!(c.set_modparam("mi_http", "root", "/json/").unwrap());
        assert_eq!(
            c.http.as_ref().unwrap().addr,
            "0.0.0.0:8989".parse().unwrap()
        );
        assert_eq!(c.http.as_ref().unwrap().root, "json");
        assert!(c.set_modparam("httpd", "port", "80").is_err());
        assert!(
            c.set_modparam("mi_fifo", "fifo_name", "/run/osips/fifo")
                .unwrap()
        );
        assert!(c.set_modparam("mi_fifo", "fifo_mode", "0600").unwrap());
        assert!(c.set_modparam("mi_fifo", "fifo_user", "0").unwrap());
        assert!(c.set_modparam("mi_fifo", "fifo_group", "root").unwrap());
        assert!(c.set_modparam("mi_fifo", "fifo_mode", "rw").is_err());
        let f = c.fifo.as_ref().unwrap();
        assert_eq!((f.mode, f.user, f.group), (0o600, Some(0), Some(0)));
        assert!(
            c.set_modparam("mi_datagram", "socket_name", "udp:127.0.0.1:8080")
                .unwrap()
        );
        assert!(
            c.set_modparam("mi_datagram", "socket_name", "/tmp/osips.sock")
                .unwrap()
        );
        assert!(
            c.set_modparam("mi_datagram", "unix_socket_mode", "0600")
                .unwrap()
        );
        assert_eq!(c.datagram[1].1, 0o600);
        assert!(!c.set_modparam("tm", "fr_timeout", "5").unwrap());
        assert!(c.set_modparam("prometheus", "group_mode", "2").unwrap());
        assert!(
            c.set_modparam("prometheus", "statistics", "core: tm:")
                .unwrap()
        );
        assert!(c.set_modparam("prometheus", "root", "prom").unwrap());
        assert!(c.set_modparam("prometheus", "group_mode", "7").is_err());
        let h = c.http.as_ref().unwrap();
        assert_eq!(h.prometheus.statistics, vec!["core:", "tm:"]);
        assert_eq!(h.metrics_root, "prom");
    }

    #[test]
    fn start_and_stop() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut c = MiConfig::default();
        c.set_modparam("httpd", "port", "1024").unwrap();
        c.http.as_mut().unwrap().addr = "127.0.0.1:0".parse().unwrap();
        c.set_modparam("mi_datagram", "socket_name", "udp:127.0.0.1:0")
            .unwrap();
        c.set_modparam(
            "mi_fifo",
            "fifo_name",
            dir.path().join("fifo").to_str().unwrap(),
        )
        .unwrap();
        let reg = Arc::new(MiRegistry::new());
        let procs = Arc::new(ProcessTable::default());
        let s = start(&c, rt.handle(), reg, None, procs.clone()).unwrap();
        assert!(s.http_addr.unwrap().port() != 0);
        assert_eq!(s.udp_addrs.len(), 1);
        assert!(s.fifo_path().unwrap().exists());
        // the FIFO thread registers itself once running
        for _ in 0..200 {
            if procs.list().len() == 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(procs.list().len(), 3);
        let fifo = dir.path().join("fifo");
        drop(s);
        assert!(!fifo.exists());
        assert!(procs.list().is_empty());
    }
}
