//! The running osips's management interface as the rc file names it: `CTLENGINE` picks FIFO
//! (`OSIPS_FIFO`, the default as in opensipsctl), HTTP (`OSIPS_MI_URL`), datagram
//! (`OSIPS_DATAGRAM`) or UNIXSOCK (`OSIPS_UNIXSOCK`, a UNIX datagram socket). Calls go through
//! [`crate::mi::client`]; failures become exit 3 (nothing answered) or 1 (osips refused).

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

use super::error::{Failure, Outcome, exit};
use crate::ctlrc::{CtlEngine, Rc};
use crate::mi::client::{self, ClientError, MiTarget};

/// How long osipsctl waits for an answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why an MI call gave no result.
#[derive(Debug)]
pub enum MiFailure {
    /// Nothing (or something that is not osips's MI) answered.
    Unreachable(String),
    /// osips answered with a JSON-RPC error.
    Refused {
        code: i64,
        message: String,
        data: Option<String>,
    },
}

/// The management interface of the rc file.
#[derive(Debug, Clone)]
pub struct MiLink {
    pub target: MiTarget,
    /// `FIFO /tmp/opensips_fifo`, `HTTP http://127.0.0.1:8888/mi`, ...
    pub describe: String,
    /// The rc setting to change when it does not answer.
    pub setting: &'static str,
}

fn rc_failure(e: impl std::fmt::Display) -> Failure {
    Failure::usage(e.to_string(), "fix the rc file (or --rc FILE)")
}

/// `http://host[:port][/path]` as an address and a path.
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("OSIPS_MI_URL `{url}` is not an http:// URL"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 host in OSIPS_MI_URL `{url}`"))?;
        (h.to_string(), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    if host.is_empty() {
        return Err(format!("OSIPS_MI_URL `{url}` has no host"));
    }
    let port = if port.is_empty() {
        80
    } else {
        port.parse()
            .map_err(|_| format!("bad port in OSIPS_MI_URL `{url}`"))?
    };
    Ok((host, port, path))
}

fn resolve(host: &str, port: u16, what: &str) -> Outcome<std::net::SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Failure::new(
                exit::UNREACHABLE,
                format!("{what}: cannot resolve host `{host}`"),
                "check the host name in the rc file",
            )
        })
}

/// `OSIPS_DATAGRAM`: `[udp:]host:port` or a UNIX socket path (`[unix:]/path`).
fn datagram_target(v: &str) -> Outcome<MiTarget> {
    let v = v.trim();
    if let Some(p) = v.strip_prefix("unix:") {
        return Ok(MiTarget::Unix(PathBuf::from(p)));
    }
    if v.starts_with('/') {
        return Ok(MiTarget::Unix(PathBuf::from(v)));
    }
    let hp = v.strip_prefix("udp:").unwrap_or(v);
    let (host, port) = match hp.strip_prefix('[') {
        Some(h) => {
            let (h, p) = h.split_once("]:").unwrap_or((h, ""));
            (h, p)
        }
        None => hp.rsplit_once(':').unwrap_or((hp, "")),
    };
    let port: u16 = port.parse().map_err(|_| {
        rc_failure(format!(
            "OSIPS_DATAGRAM `{v}`: expected udp:HOST:PORT or a UNIX socket path"
        ))
    })?;
    Ok(MiTarget::Udp(resolve(host, port, "OSIPS_DATAGRAM")?))
}

/// Where osips writes FIFO replies (mi_fifo `reply_dir`; `OSIPS_FIFO_REPLY_DIR`, default /tmp).
fn fifo_reply_dir(rc: &Rc) -> PathBuf {
    match rc
        .get("OSIPS_FIFO_REPLY_DIR")
        .filter(|v| !v.trim().is_empty())
    {
        Some(dir) => PathBuf::from(dir),
        None => match rc.chroot_dir() {
            Some(root) => Path::new(root).join("tmp"),
            None => PathBuf::from("/tmp"),
        },
    }
}

impl MiLink {
    /// The interface the rc file names; a bad setting is a usage error (exit 2).
    pub fn from_rc(rc: &Rc) -> Outcome<MiLink> {
        let engine = rc.ctl_engine().map_err(Failure::from)?;
        Ok(match engine {
            CtlEngine::Fifo => {
                let fifo = rc.osips_fifo();
                MiLink {
                    describe: format!("FIFO {}", fifo.display()),
                    target: MiTarget::Fifo {
                        fifo,
                        reply_dir: fifo_reply_dir(rc),
                    },
                    setting: "OSIPS_FIFO",
                }
            }
            CtlEngine::Http => {
                let url = rc.mi_url();
                let (host, port, path) = parse_http_url(url).map_err(rc_failure)?;
                MiLink {
                    target: MiTarget::Http {
                        addr: resolve(&host, port, "OSIPS_MI_URL")?,
                        path,
                    },
                    describe: format!("HTTP {url}"),
                    setting: "OSIPS_MI_URL",
                }
            }
            CtlEngine::Datagram => {
                let v = rc.mi_datagram();
                MiLink {
                    target: datagram_target(v)?,
                    describe: format!("datagram {v}"),
                    setting: "OSIPS_DATAGRAM",
                }
            }
            CtlEngine::Unixsock => {
                let p = rc.osips_unixsock();
                MiLink {
                    describe: format!("UNIX socket {}", p.display()),
                    target: MiTarget::Unix(p),
                    setting: "OSIPS_UNIXSOCK",
                }
            }
        })
    }

    /// A FIFO nobody reads would block the writer: refuse it before the client opens it.
    fn check_fifo(&self) -> Result<(), MiFailure> {
        let MiTarget::Fifo { fifo, .. } = &self.target else {
            return Ok(());
        };
        use nix::fcntl::{OFlag, open};
        use nix::sys::stat::Mode;
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::metadata(fifo)
            .map_err(|e| MiFailure::Unreachable(format!("{}: {e}", fifo.display())))?;
        if !meta.file_type().is_fifo() {
            return Err(MiFailure::Unreachable(format!(
                "{} is not a FIFO",
                fifo.display()
            )));
        }
        match open(
            fifo.as_path(),
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                drop(fd);
                Ok(())
            }
            Err(nix::errno::Errno::ENXIO) => Err(MiFailure::Unreachable(format!(
                "nobody reads {} (a FIFO left by a stopped osips?)",
                fifo.display()
            ))),
            Err(e) => Err(MiFailure::Unreachable(format!("{}: {e}", fifo.display()))),
        }
    }

    /// Runs `method` with `params` (an array, an object, or `[]`).
    pub fn call(&self, method: &str, params: Json) -> Result<Json, MiFailure> {
        self.check_fifo()?;
        client::call(&self.target, method, params, TIMEOUT).map_err(|e| match e {
            ClientError::Io(e) => MiFailure::Unreachable(e.to_string()),
            ClientError::BadReply(text) => {
                let short: String = text.trim().chars().take(120).collect();
                MiFailure::Unreachable(format!(
                    "the answer is not JSON-RPC (is this osips's MI?): `{short}`"
                ))
            }
            ClientError::Mi(err) => MiFailure::Refused {
                code: i64::from(err.code),
                message: err.message.clone(),
                data: err.data.clone(),
            },
        })
    }

    /// The failure osipsctl reports for `method`: exit 3 naming the transport, or exit 1.
    pub fn failure(&self, method: &str, f: MiFailure) -> Failure {
        match f {
            MiFailure::Unreachable(detail) => Failure::new(
                exit::UNREACHABLE,
                format!("no running osips answered at {} ({detail})", self.describe),
                format!(
                    "start osips with its MI module loaded, or set CTLENGINE / {} in the rc file",
                    self.setting
                ),
            ),
            MiFailure::Refused {
                code,
                message,
                data,
            } => {
                let detail = data.map(|d| format!(": {d}")).unwrap_or_default();
                if code == -32601 {
                    Failure::failed(
                        format!("osips has no MI command {method} ({code} {message})"),
                        module_hint(method),
                    )
                } else {
                    Failure::failed(
                        format!("osips refused {method}: {code} {message}{detail}"),
                        "",
                    )
                }
            }
        }
    }

    /// [`MiLink::call`] with the failure as osipsctl reports it.
    pub fn run(&self, method: &str, params: Json) -> Outcome<Json> {
        self.call(method, params)
            .map_err(|f| self.failure(method, f))
    }
}

/// What to do when a command is missing: which module provides it.
fn module_hint(method: &str) -> String {
    let module = match method {
        m if m.starts_with("ul_") || m.starts_with("usrloc:") => "usrloc",
        "t_uac_dlg" | "t_uac_cancel" | "t_reply" | "t_hash" => "tm",
        m if m.starts_with("ds_") => "dispatcher",
        m if m.starts_with("dp_") => "dialplan",
        m if m.starts_with("domain_") => "domain",
        m if m.starts_with("address_") => "permissions",
        _ => return "list the commands osips has with `osipsctl mi which`".into(),
    };
    format!(
        "load the {module} module in the script (osips may not implement it yet); `osipsctl mi which` lists the commands it has"
    )
}

/// Runs `method` over the rc file's interface.
pub fn run(rc: &Rc, method: &str, params: Json) -> Outcome<Json> {
    MiLink::from_rc(rc)?.run(method, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(text: &str) -> Rc {
        Rc::from_str_named(text, "t.rc").unwrap()
    }

    #[test]
    fn engine_picks_the_transport() {
        let l = MiLink::from_rc(&rc("")).unwrap();
        assert!(matches!(l.target, MiTarget::Fifo { .. }), "{l:?}");
        assert_eq!(l.describe, "FIFO /tmp/opensips_fifo");
        let l = MiLink::from_rc(&rc("CTLENGINE=HTTP\nOSIPS_MI_URL=http://127.0.0.1:9/x")).unwrap();
        match l.target {
            MiTarget::Http { addr, path } => {
                assert_eq!(addr.to_string(), "127.0.0.1:9");
                assert_eq!(path, "/x");
            }
            other => panic!("{other:?}"),
        }
        let l =
            MiLink::from_rc(&rc("CTLENGINE=DATAGRAM\nOSIPS_DATAGRAM=udp:127.0.0.1:8080")).unwrap();
        assert!(matches!(l.target, MiTarget::Udp(a) if a.port() == 8080));
        let l = MiLink::from_rc(&rc("CTLENGINE=DATAGRAM\nOSIPS_DATAGRAM=/run/o.sock")).unwrap();
        assert!(matches!(l.target, MiTarget::Unix(_)));
        let l = MiLink::from_rc(&rc("CTLENGINE=UNIXSOCK\nOSIPS_UNIXSOCK=/run/u.sock")).unwrap();
        assert!(matches!(l.target, MiTarget::Unix(ref p) if p == Path::new("/run/u.sock")));
        let e = MiLink::from_rc(&rc("CTLENGINE=HTTP\nOSIPS_MI_URL=https://h/mi")).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        let e = MiLink::from_rc(&rc("CTLENGINE=DATAGRAM\nOSIPS_DATAGRAM=nowhere")).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
    }

    #[test]
    fn fifo_reply_dir_follows_the_rc() {
        let l = MiLink::from_rc(&rc("OSIPS_FIFO_REPLY_DIR=/run/osips")).unwrap();
        assert!(
            matches!(l.target, MiTarget::Fifo { ref reply_dir, .. } if reply_dir == Path::new("/run/osips"))
        );
    }

    #[test]
    fn urls_are_split() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8888/mi").unwrap(),
            ("127.0.0.1".into(), 8888, "/mi".into())
        );
        assert_eq!(parse_http_url("http://[::1]:9/x").unwrap().1, 9);
        assert!(parse_http_url("http://h:x/mi").is_err());
    }

    #[test]
    fn missing_fifo_and_closed_port_are_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let r = rc(&format!("OSIPS_FIFO={}", dir.path().join("none").display()));
        let f = run(&r, "uptime", serde_json::json!([])).unwrap_err();
        assert_eq!(f.code, exit::UNREACHABLE);
        assert!(f.message.contains("FIFO "), "{}", f.message);
        // a FIFO nobody reads
        let p = dir.path().join("stale");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let f = run(
            &rc(&format!("OSIPS_FIFO={}", p.display())),
            "uptime",
            serde_json::json!([]),
        )
        .unwrap_err();
        assert_eq!(f.code, exit::UNREACHABLE);
        assert!(f.message.contains("nobody reads"), "{}", f.message);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let f = run(
            &rc(&format!(
                "CTLENGINE=HTTP\nOSIPS_MI_URL=http://127.0.0.1:{port}/mi"
            )),
            "uptime",
            serde_json::json!([]),
        )
        .unwrap_err();
        assert_eq!(f.code, exit::UNREACHABLE);
        assert!(f.line().contains("OSIPS_MI_URL"), "{}", f.line());
    }
}
