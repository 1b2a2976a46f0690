//! Core (global) parameters of the script that shape the runtime (OpenSIPS 3.x defaults, §2.3):
//! sockets, workers, logging, aliases, advertised address, TCP timeouts.

use std::time::Duration;

use crate::script::Script;
use crate::script::globals::SocketDef as ScriptSocket;
use crate::transport::{Advertised, SocketDef, TransportConfig};

/// The runtime's view of the global parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sockets: Vec<SocketDef>,
    /// `udp_workers` (`children`): default 8.
    pub udp_workers: usize,
    /// `tcp_workers` (`tcp_children`): default 8.
    pub tcp_workers: usize,
    /// `log_level`: -3..4, default 2.
    pub log_level: i32,
    /// `stderror_enabled` (default yes) / `syslog_enabled` (default no).
    pub stderror_enabled: bool,
    pub syslog_enabled: bool,
    /// `syslog_name` (`log_name`).
    pub syslog_name: Option<String>,
    /// `syslog_facility` (`log_facility`), e.g. `LOG_LOCAL0`.
    pub syslog_facility: Option<String>,
    /// `alias=`: host and optional port.
    pub aliases: Vec<(String, Option<u16>)>,
    /// `tcp_connection_lifetime` in seconds (120).
    pub tcp_lifetime: Duration,
    /// `tcp_connect_timeout` in ms (100).
    pub tcp_connect_timeout: Duration,
    /// `server_header`: the whole line (`Server: ...`), if set.
    pub server_header: Option<String>,
    /// `user_agent_header`: the whole line, if set.
    pub user_agent_header: Option<String>,
    /// `exec_msg_threshold` in µs (0: off): a message whose script run takes longer is logged and
    /// raises E_CORE_THRESHOLD.
    pub exec_msg_threshold: Duration,
    /// Certificates for `tls` / `wss` sockets and outgoing TLS, from `tls_mgm`'s parameters.
    pub tls: Option<crate::transport::TlsOptions>,
}

fn advertised(script: &Script) -> Option<Advertised> {
    let host = script.global_str("advertised_address")?.to_string();
    let port = script
        .global_int("advertised_port")
        .and_then(|p| u16::try_from(p).ok());
    Some(Advertised { host, port })
}

/// Expands a script socket (`udp:127.0.0.1:5060-5062 as x`) into transport sockets.
pub fn expand_socket(s: &ScriptSocket) -> Result<Vec<SocketDef>, String> {
    let ports: Vec<Option<u16>> = if s.ports.is_empty() {
        vec![None]
    } else {
        s.ports
            .iter()
            .flat_map(|&(a, b)| (a..=b.max(a)).map(Some))
            .collect()
    };
    let mut out = Vec::with_capacity(ports.len());
    for p in ports {
        let text = match p {
            Some(p) => format!("{}:{}:{p}", s.proto, s.host),
            None => format!("{}:{}", s.proto, s.host),
        };
        let mut def: SocketDef = text.parse().map_err(|e| {
            format!("{e} (osips binds IP addresses only; write the address, not a name or `*`)")
        })?;
        if let Some((h, port)) = &s.advertised {
            def.advertised = Some(Advertised {
                host: h.clone(),
                port: *port,
            });
        }
        out.push(def);
    }
    Ok(out)
}

fn parse_alias(a: &str) -> (String, Option<u16>) {
    let a = a.trim();
    let a = a
        .split_once(':')
        .filter(|(p, _)| crate::transport::Proto::from_token(p).is_some())
        .map(|(_, rest)| rest)
        .unwrap_or(a);
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            h.to_string(),
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match a.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse().ok()),
        _ => (a.to_string(), None),
    }
}

/// `proto_udp`'s `udp_port`, `proto_tcp`'s `tcp_port` (and tls, ws, wss): the port of a socket written without one.
fn module_default_port(script: &Script, proto: crate::transport::Proto) -> Option<u16> {
    use crate::script::module::ParamValue;
    let (module, param) = match proto {
        crate::transport::Proto::Udp => ("proto_udp", "udp_port"),
        crate::transport::Proto::Tcp => ("proto_tcp", "tcp_port"),
        crate::transport::Proto::Tls => ("proto_tls", "tls_port"),
        crate::transport::Proto::Ws => ("proto_ws", "ws_port"),
        crate::transport::Proto::Wss => ("proto_wss", "wss_port"),
    };
    match script.modparams.get(module)?.get(param)? {
        ParamValue::Int(p) => u16::try_from(*p).ok().filter(|p| *p != 0),
        ParamValue::Str(s) => s.trim().parse().ok().filter(|p| *p != 0),
    }
}

impl Settings {
    pub fn from_script(script: &Script) -> Result<Settings, String> {
        let int = |n: &str| script.global_int(n);
        let mut sockets = Vec::new();
        for (s, _) in &script.sockets {
            let mut defs = expand_socket(s)?;
            if s.ports.is_empty() {
                for d in &mut defs {
                    if let Some(p) = module_default_port(script, d.proto) {
                        d.addr.set_port(p);
                    }
                }
            }
            sockets.extend(defs);
        }
        if let Some(adv) = advertised(script) {
            for s in sockets.iter_mut().filter(|s| s.advertised.is_none()) {
                s.advertised = Some(adv.clone());
            }
        }
        let workers = |n: &str| int(n).map(|v| v.clamp(1, 1024) as usize).unwrap_or(8);
        Ok(Settings {
            sockets,
            udp_workers: workers("udp_workers"),
            tcp_workers: workers("tcp_workers"),
            log_level: int("log_level").unwrap_or(2).clamp(-3, 4) as i32,
            stderror_enabled: int("stderror_enabled").map(|v| v != 0).unwrap_or(true),
            syslog_enabled: int("syslog_enabled").map(|v| v != 0).unwrap_or(false),
            syslog_name: script.global_str("syslog_name").map(str::to_string),
            syslog_facility: script.global_str("syslog_facility").map(str::to_string),
            aliases: script.aliases.iter().map(|a| parse_alias(a)).collect(),
            tcp_lifetime: Duration::from_secs(
                int("tcp_connection_lifetime").unwrap_or(120).max(1) as u64
            ),
            tcp_connect_timeout: Duration::from_millis(
                int("tcp_connect_timeout").unwrap_or(100).max(1) as u64,
            ),
            server_header: script.global_str("server_header").map(str::to_string),
            user_agent_header: script.global_str("user_agent_header").map(str::to_string),
            exec_msg_threshold: Duration::from_micros(
                int("exec_msg_threshold").unwrap_or(0).max(0) as u64,
            ),
            tls: super::tls_settings::from_script(script)?,
        })
    }

    /// Replaces the script's sockets (`osips -l`), e.g. `udp:127.0.0.1:5070`.
    pub fn set_listen(&mut self, defs: &[String]) -> Result<(), String> {
        let mut out = Vec::new();
        for d in defs {
            let s = crate::script::globals::parse_socket(d).map_err(|e| format!("-l {d}: {e}"))?;
            out.extend(expand_socket(&s).map_err(|e| format!("-l {d}: {e}"))?);
        }
        self.sockets = out;
        Ok(())
    }

    pub fn transport_config(&self) -> TransportConfig {
        TransportConfig {
            sockets: self.sockets.clone(),
            udp_workers: self.udp_workers,
            stream_workers: self.tcp_workers,
            idle_timeout: self.tcp_lifetime,
            // OpenSIPS's 100 ms blocking connect is short for a thread pool; never below 1 s.
            connect_timeout: self.tcp_connect_timeout.max(Duration::from_secs(1)),
            tls: self.tls.clone(),
            ..TransportConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        let c = crate::script::check_str("t.cfg", text, &crate::script::Registry::builtin());
        assert!(!c.has_errors(), "{}", c.render());
        Settings::from_script(c.script.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn defaults_and_values() {
        let s = settings("route { exit; }");
        assert_eq!(s.udp_workers, 8);
        assert_eq!(s.log_level, 2);
        assert!(s.stderror_enabled && !s.syslog_enabled);
        assert!(s.sockets.is_empty());
        let s = settings(
            "socket = udp:127.0.0.1:5060-5061\nsocket = tcp:127.0.0.1:5070 as sip.example.com:5070\n\
             children = 3\nlog_level = 4\nalias = sip.example.com:5060\nalias = other.example\n\
             route { exit; }",
        );
        assert_eq!(s.udp_workers, 3);
        assert_eq!(s.log_level, 4);
        let names: Vec<String> = s.sockets.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            names,
            [
                "udp:127.0.0.1:5060",
                "udp:127.0.0.1:5061",
                "tcp:127.0.0.1:5070 as sip.example.com:5070"
            ]
        );
        assert_eq!(
            s.aliases,
            [
                ("sip.example.com".to_string(), Some(5060)),
                ("other.example".to_string(), None)
            ]
        );
    }

    #[test]
    fn proto_modules_give_the_port_of_sockets_without_one() {
        let s = settings(
            "socket = udp:127.0.0.1\nsocket = tcp:127.0.0.1\nsocket = udp:127.0.0.2:5090\n\
             loadmodule \"proto_udp.so\"\nloadmodule \"proto_tcp.so\"\n\
             modparam(\"proto_udp\", \"udp_port\", 5070)\nmodparam(\"proto_tcp\", \"tcp_port\", 5080)\n\
             route { exit; }",
        );
        let names: Vec<String> = s.sockets.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            names,
            [
                "udp:127.0.0.1:5070",
                "tcp:127.0.0.1:5080",
                "udp:127.0.0.2:5090"
            ]
        );
    }

    #[test]
    fn listen_override() {
        let mut s = settings("socket = udp:127.0.0.1:5060\nroute { exit; }");
        s.set_listen(&["udp:127.0.0.1:5099".into()]).unwrap();
        assert_eq!(s.sockets.len(), 1);
        assert_eq!(s.sockets[0].addr.port(), 5099);
        assert!(s.set_listen(&["udp:localhost:5099".into()]).is_err());
    }
}
