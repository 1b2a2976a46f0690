//! Core (global) parameters of OpenSIPS 3.6 (`cfg.lex` / `cfg.y`): their value kinds, the old
//! names still accepted, and the `socket=` definition syntax.

/// What value a global parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalKind {
    /// Number or boolean word, not negative.
    Num,
    /// Number that may be negative (`log_level = -1`).
    SNum,
    Str,
    /// Bare identifier (quoted string accepted too).
    Id,
    /// String or identifier or address (`advertised_address`, `chroot`, `wdir`, `poll_method`).
    StrOrId,
    /// `NUM` or `IPTOS_*` identifier.
    Tos,
    /// `NUM [use_auto_scaling_profile NAME]`.
    Workers,
    Socket,
    Alias,
    /// Definitions kept as text for the runtime (`dst_blacklist`, `auto_scaling_profile`, `mem-group`).
    Raw,
}

pub const GLOBALS: &[(&str, GlobalKind)] = &[
    ("abort_on_assert", GlobalKind::Num),
    ("advertised_address", GlobalKind::StrOrId),
    ("advertised_port", GlobalKind::Num),
    ("alias", GlobalKind::Alias),
    ("auto_aliases", GlobalKind::Num),
    ("auto_scaling_cycle", GlobalKind::Num),
    ("auto_scaling_profile", GlobalKind::Raw),
    ("check_via", GlobalKind::Num),
    ("chroot", GlobalKind::StrOrId),
    ("db_default_url", GlobalKind::Str),
    ("db_max_async_connections", GlobalKind::Num),
    ("db_version_table", GlobalKind::Str),
    ("debug_mode", GlobalKind::Num),
    ("disable_503_translation", GlobalKind::Num),
    ("disable_core_dump", GlobalKind::Num),
    ("disable_dns_blacklist", GlobalKind::Num),
    ("disable_dns_failover", GlobalKind::Num),
    ("disable_stateless_fwd", GlobalKind::Num),
    ("dns", GlobalKind::Num),
    ("dns_retr_no", GlobalKind::Num),
    ("dns_retr_time", GlobalKind::Num),
    ("dns_servers_no", GlobalKind::Num),
    ("dns_try_ipv6", GlobalKind::Num),
    ("dns_try_naptr", GlobalKind::Num),
    ("dns_use_search_list", GlobalKind::Num),
    ("dst_blacklist", GlobalKind::Raw),
    ("enable_asserts", GlobalKind::Num),
    ("event_pkg_threshold", GlobalKind::Num),
    ("event_shm_threshold", GlobalKind::Num),
    ("exec_dns_threshold", GlobalKind::Num),
    ("exec_msg_threshold", GlobalKind::Num),
    ("group", GlobalKind::StrOrId),
    ("log_event_enabled", GlobalKind::Num),
    ("log_event_level_filter", GlobalKind::SNum),
    ("log_json_buf_size", GlobalKind::Num),
    ("log_level", GlobalKind::SNum),
    ("log_msg_buf_size", GlobalKind::Num),
    ("log_prefix", GlobalKind::Str),
    ("log_stdout", GlobalKind::Num),
    ("max_while_loops", GlobalKind::Num),
    ("maxbuffer", GlobalKind::Num),
    ("mcast_loopback", GlobalKind::Num),
    ("mcast_ttl", GlobalKind::Num),
    ("mem-group", GlobalKind::Raw),
    ("mem_warming", GlobalKind::Num),
    ("mem_warming_pattern_file", GlobalKind::Str),
    ("mem_warming_percentage", GlobalKind::Num),
    ("memdump", GlobalKind::SNum),
    ("memlog", GlobalKind::SNum),
    ("mhomed", GlobalKind::Num),
    ("mpath", GlobalKind::Str),
    ("open_files_limit", GlobalKind::SNum),
    ("poll_method", GlobalKind::StrOrId),
    ("pv_print_buf_size", GlobalKind::Num),
    ("query_buffer_size", GlobalKind::Num),
    ("query_flush_time", GlobalKind::Num),
    ("restart_persistency_cache_file", GlobalKind::Str),
    ("restart_persistency_size", GlobalKind::Num),
    ("rev_dns", GlobalKind::Num),
    ("server_header", GlobalKind::Str),
    ("server_signature", GlobalKind::Num),
    ("shm_hash_split_percentage", GlobalKind::Num),
    ("shm_memlog_size", GlobalKind::SNum),
    ("shm_secondary_hash_size", GlobalKind::Num),
    ("sip_warning", GlobalKind::Num),
    ("socket", GlobalKind::Socket),
    ("stderror_enabled", GlobalKind::Num),
    ("stderror_level_filter", GlobalKind::SNum),
    ("stderror_log_format", GlobalKind::StrOrId),
    ("syslog_enabled", GlobalKind::Num),
    ("syslog_facility", GlobalKind::Id),
    ("syslog_level_filter", GlobalKind::SNum),
    ("syslog_log_format", GlobalKind::StrOrId),
    ("syslog_name", GlobalKind::Str),
    ("tcp_accept_aliases", GlobalKind::Num),
    ("tcp_connect_timeout", GlobalKind::Num),
    ("tcp_connection_lifetime", GlobalKind::Num),
    ("tcp_keepalive", GlobalKind::Num),
    ("tcp_keepcount", GlobalKind::Num),
    ("tcp_keepidle", GlobalKind::Num),
    ("tcp_keepinterval", GlobalKind::Num),
    ("tcp_max_connections", GlobalKind::Num),
    ("tcp_max_msg_time", GlobalKind::Num),
    ("tcp_no_new_conn_bflag", GlobalKind::Id),
    ("tcp_no_new_conn_rplflag", GlobalKind::Id),
    ("tcp_parallel_read_on_workers", GlobalKind::Num),
    ("tcp_socket_backlog", GlobalKind::Num),
    ("tcp_threshold", GlobalKind::Num),
    ("tcp_workers", GlobalKind::Workers),
    ("timer_workers", GlobalKind::Workers),
    ("tos", GlobalKind::Tos),
    ("udp_workers", GlobalKind::Workers),
    ("user", GlobalKind::StrOrId),
    ("user_agent_header", GlobalKind::Str),
    ("wdir", GlobalKind::StrOrId),
    ("xlog_buf_size", GlobalKind::Num),
    ("xlog_force_color", GlobalKind::Num),
    ("xlog_level", GlobalKind::SNum),
    ("xlog_print_level", GlobalKind::SNum),
];

/// Other spellings of the same parameter (no warning).
pub const SYNONYMS: &[(&str, &str)] = &[
    ("execdnsthreshold", "exec_dns_threshold"),
    ("execmsgthreshold", "exec_msg_threshold"),
    ("tcpthreshold", "tcp_threshold"),
    ("workdir", "wdir"),
    ("mem_dump", "memdump"),
    ("mem_log", "memlog"),
    ("mem_warming_enabled", "mem_warming"),
    ("uid", "user"),
    ("gid", "group"),
];

/// Old names read as the new one, with a warning: (old, new, note).
pub const DEPRECATED: &[(&str, &str, &str)] = &[
    ("listen", "socket", "renamed in OpenSIPS 3.1"),
    ("children", "udp_workers", "renamed in OpenSIPS 3.0"),
    ("tcp_children", "tcp_workers", "renamed in OpenSIPS 3.0"),
    ("debug", "log_level", "renamed in OpenSIPS 3.0"),
    (
        "xlog_default_level",
        "xlog_print_level",
        "renamed in OpenSIPS 3.0",
    ),
    (
        "log_facility",
        "syslog_facility",
        "deprecated in OpenSIPS 3.4",
    ),
    ("log_name", "syslog_name", "deprecated in OpenSIPS 3.4"),
    (
        "log_stderror",
        "stderror_enabled",
        "deprecated in OpenSIPS 3.4 (also sets syslog_enabled to the opposite)",
    ),
];

/// Names removed without a replacement: ignored with a warning saying what to do instead.
pub const REMOVED: &[(&str, &str)] = &[
    (
        "fork",
        "osips always runs its workers; use -F / -D to stay in the foreground",
    ),
    (
        "disable_tcp",
        "TCP is enabled by loading proto_tcp and declaring a tcp socket",
    ),
    (
        "disable_tls",
        "TLS is enabled by loading proto_tls and tls_mgm",
    ),
    (
        "tcp_listen_backlog",
        "removed in OpenSIPS 3.3; use tcp_socket_backlog",
    ),
    (
        "avp_aliases",
        "removed in OpenSIPS 2.x; use plain AVP names",
    ),
];

pub enum Lookup {
    Known(&'static str, GlobalKind),
    /// Deprecated spelling: (new name, kind, note).
    Deprecated(&'static str, GlobalKind, &'static str),
    Removed(&'static str),
    Unknown,
}

pub fn kind_of(name: &str) -> Option<GlobalKind> {
    GLOBALS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

pub fn lookup(name: &str) -> Lookup {
    let canonical = SYNONYMS
        .iter()
        .find(|(s, _)| *s == name)
        .map(|(_, c)| *c)
        .unwrap_or(name);
    if let Some((n, k)) = GLOBALS.iter().find(|(n, _)| *n == canonical) {
        return Lookup::Known(n, *k);
    }
    if let Some((_, new, note)) = DEPRECATED.iter().find(|(o, _, _)| *o == name)
        && let Some(k) = kind_of(new)
    {
        return Lookup::Deprecated(new, k, note);
    }
    if let Some((_, what)) = REMOVED.iter().find(|(o, _)| *o == name) {
        return Lookup::Removed(what);
    }
    Lookup::Unknown
}

/// Closest known name, for "did you mean".
pub fn suggest(name: &str) -> Option<&'static str> {
    GLOBALS
        .iter()
        .map(|(n, _)| (*n, edit_distance(name, n)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + (ca != *cb) as usize)
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

pub const PROTOS: &[&str] = &[
    "udp", "tcp", "tls", "sctp", "ws", "wss", "bin", "bins", "hep_udp", "hep_tcp", "hep_tls",
    "smpp", "msrp", "msrps", "ipsec",
];

/// A parsed `socket=` (or `listen=`) definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SocketDef {
    pub proto: String,
    /// Address or hostname; `*` for any.
    pub host: String,
    /// Ports (ranges expanded to (first, last)); empty = protocol default.
    pub ports: Vec<(u16, u16)>,
    /// `as host[:port]`
    pub advertised: Option<(String, Option<u16>)>,
    pub use_workers: Option<u32>,
    pub anycast: bool,
    pub frag: bool,
    pub reuse_port: bool,
    pub accept_subdomain: bool,
    pub tos: Option<u32>,
    pub tag: Option<String>,
    pub auto_scaling_profile: Option<String>,
}

fn split_host_port(s: &str) -> Result<(String, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("missing `]` after IPv6 address")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected `:port` after `]`")?),
        };
        return Ok((format!("[{h}]"), port));
    }
    // A bare IPv6 address (several colons) has no port.
    if s.matches(':').count() > 1 {
        return Ok((s.to_string(), None));
    }
    Ok(match s.split_once(':') {
        Some((h, p)) => (h.to_string(), Some(p)),
        None => (s.to_string(), None),
    })
}

fn port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("bad port `{s}`"))
}

/// Parses `proto:host[:port[-port][,port]] [as host[:port]] [use_workers N] [anycast] ...`.
pub fn parse_socket(text: &str) -> Result<SocketDef, String> {
    let mut words = text.split_whitespace();
    let addr = words.next().ok_or("empty socket definition")?;
    let mut def = SocketDef::default();
    let lower = addr.to_ascii_lowercase();
    let rest = match lower.split_once(':') {
        Some((proto, _)) if PROTOS.contains(&proto) => {
            def.proto = proto.to_string();
            &addr[proto.len() + 1..]
        }
        Some((proto, _))
            if !proto.is_empty()
                && proto.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
                && !proto.contains('.')
                && addr.matches(':').count() >= 2 =>
        {
            return Err(format!(
                "unknown protocol `{proto}` (known: {})",
                PROTOS.join(", ")
            ));
        }
        _ => {
            def.proto = "udp".into();
            addr
        }
    };
    let (host, ports) = split_host_port(rest)?;
    if host.is_empty() {
        return Err("missing address".into());
    }
    def.host = host;
    if let Some(ports) = ports {
        for r in ports.split(',') {
            match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (port(a)?, port(b)?);
                    if a > b {
                        return Err(format!("empty port range `{r}`"));
                    }
                    def.ports.push((a, b));
                }
                None => {
                    let p = port(r)?;
                    def.ports.push((p, p));
                }
            }
        }
    }
    let words: Vec<&str> = words.collect();
    let mut i = 0;
    let next = |i: &mut usize, what: &str| -> Result<String, String> {
        *i += 1;
        words
            .get(*i)
            .map(|s| s.to_string())
            .ok_or(format!("`{what}` needs a value"))
    };
    while i < words.len() {
        match words[i] {
            "as" => {
                let v = next(&mut i, "as")?;
                let (h, p) = split_host_port(&v)?;
                let p = p.map(port).transpose()?;
                def.advertised = Some((h, p));
            }
            "use_workers" => {
                def.use_workers = Some(
                    next(&mut i, "use_workers")?
                        .parse()
                        .map_err(|_| "use_workers needs a number")?,
                )
            }
            "anycast" => def.anycast = true,
            "frag" => def.frag = true,
            "reuse_port" => def.reuse_port = true,
            "accept_subdomain" => def.accept_subdomain = true,
            "tos" => {
                def.tos = Some(
                    next(&mut i, "tos")?
                        .parse()
                        .map_err(|_| "tos needs a number")?,
                )
            }
            "tag" => def.tag = Some(next(&mut i, "tag")?),
            "use_auto_scaling_profile" => {
                def.auto_scaling_profile = Some(next(&mut i, "use_auto_scaling_profile")?)
            }
            other => return Err(format!("unknown socket option `{other}`")),
        }
        i += 1;
    }
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets() {
        let s = parse_socket("udp:127.0.0.1:5060").unwrap();
        assert_eq!(
            (s.proto.as_str(), s.host.as_str(), s.ports.clone()),
            ("udp", "127.0.0.1", vec![(5060, 5060)])
        );
        let s = parse_socket("tcp:*:5060-5070 as 1.2.3.4:5080 use_workers 4 reuse_port").unwrap();
        assert_eq!(s.ports, vec![(5060, 5070)]);
        assert_eq!(s.advertised, Some(("1.2.3.4".into(), Some(5080))));
        assert_eq!(s.use_workers, Some(4));
        assert!(s.reuse_port);
        let s = parse_socket("udp:[::1]:5060").unwrap();
        assert_eq!(s.host, "[::1]");
        let s = parse_socket("127.0.0.1").unwrap();
        assert_eq!(s.proto, "udp");
        assert!(parse_socket("udp:1.2.3.4:99999").is_err());
        assert!(parse_socket("foo:1.2.3.4:5060").is_err());
        assert!(parse_socket("udp:1.2.3.4:5060 bogus").is_err());
    }

    #[test]
    fn lookups() {
        assert!(matches!(
            lookup("udp_workers"),
            Lookup::Known("udp_workers", GlobalKind::Workers)
        ));
        assert!(matches!(lookup("workdir"), Lookup::Known("wdir", _)));
        assert!(matches!(
            lookup("children"),
            Lookup::Deprecated("udp_workers", _, _)
        ));
        assert!(matches!(lookup("fork"), Lookup::Removed(_)));
        assert!(matches!(lookup("nonsense"), Lookup::Unknown));
        assert_eq!(suggest("log_levl"), Some("log_level"));
    }
}
