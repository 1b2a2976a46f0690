//! Destination sets (OpenSIPS `dispatch.h`): the rows of the `dispatcher` table grouped by
//! `setid`, each set ordered by descending priority, with each destination's live state.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::sip::Uri;
use crate::transport::Proto;

/// State of a destination (the `state` column: 0 active, 1 inactive, 2 probing; 3 disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsState {
    Active = 0,
    Inactive = 1,
    Probing = 2,
    Disabled = 3,
}

impl DsState {
    pub fn from_db(v: i64) -> DsState {
        match v {
            1 => DsState::Inactive,
            2 => DsState::Probing,
            3 => DsState::Disabled,
            _ => DsState::Active,
        }
    }

    fn from_u8(v: u8) -> DsState {
        DsState::from_db(v as i64)
    }

    /// `ds_set_state` / `ds_mark_dst` letters: a(ctive), i(nactive), p(robing), d(isabled).
    pub fn from_letter(s: &str) -> Option<DsState> {
        match s.trim().chars().next()?.to_ascii_lowercase() {
            'a' | '1' => Some(DsState::Active),
            'i' | '0' => Some(DsState::Inactive),
            'p' => Some(DsState::Probing),
            'd' => Some(DsState::Disabled),
            _ => None,
        }
    }

    /// As `ds_list` prints it.
    pub fn name(self) -> &'static str {
        match self {
            DsState::Active => "Active",
            DsState::Inactive => "Inactive",
            DsState::Probing => "Probing",
            DsState::Disabled => "Disabled",
        }
    }
}

/// One destination of a set.
#[derive(Debug)]
pub struct Dest {
    pub uri: String,
    /// Host and port of the URI (port defaulted), for `ds_select_domain` and `ds_is_in_list`.
    pub host: String,
    pub port: u16,
    pub proto: Proto,
    /// The addresses the host resolved to when the set was loaded.
    pub addrs: Vec<SocketAddr>,
    pub socket: Option<String>,
    pub weight: u32,
    pub priority: i32,
    pub attrs: String,
    pub description: String,
    /// `probe_mode` 1: probed even while active.
    pub always_probe: bool,
    state: AtomicU8,
    /// Consecutive failed probes / `ds_mark_dst("p")` calls.
    pub failures: AtomicU32,
    pub first_hits: AtomicU64,
    /// Calls sent here by algorithm 10 (least loaded) and not yet released.
    pub load: AtomicU32,
    pub script_attrs: parking_lot::Mutex<String>,
}

impl Dest {
    /// Builds a destination from its URI text; the error names what is wrong.
    pub fn new(uri: &str) -> Result<Dest, String> {
        let uri = uri.trim();
        let u = Uri::parse(uri.as_bytes()).map_err(|e| format!("destination `{uri}`: {e}"))?;
        let host = String::from_utf8_lossy(u.host).into_owned();
        let proto = match u.param(b"transport") {
            Some(t) => Proto::from_token(&String::from_utf8_lossy(t)).unwrap_or(Proto::Udp),
            _ if u.scheme_raw.eq_ignore_ascii_case(b"sips") => Proto::Tls,
            _ => Proto::Udp,
        };
        let port = u.port.unwrap_or(proto.default_port());
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (bare, port)
                .to_socket_addrs()
                .map(|a| a.collect())
                .unwrap_or_default(),
        };
        Ok(Dest {
            uri: uri.to_string(),
            host,
            port,
            proto,
            addrs,
            socket: None,
            weight: 1,
            priority: 0,
            attrs: String::new(),
            description: String::new(),
            always_probe: false,
            state: AtomicU8::new(DsState::Active as u8),
            failures: AtomicU32::new(0),
            first_hits: AtomicU64::new(0),
            load: AtomicU32::new(0),
            script_attrs: parking_lot::Mutex::new(String::new()),
        })
    }

    pub fn state(&self) -> DsState {
        DsState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Sets the state; returns the previous one.
    pub fn set_state(&self, s: DsState) -> DsState {
        if s == DsState::Active {
            self.failures.store(0, Ordering::Relaxed);
        }
        DsState::from_u8(self.state.swap(s as u8, Ordering::Relaxed))
    }

    pub fn is_active(&self) -> bool {
        self.state() == DsState::Active
    }

    /// True when `ip` (and `port`, 0 = any) is one of this destination's addresses.
    pub fn matches(&self, ip: IpAddr, port: u16) -> bool {
        (port == 0 || port == self.port) && self.addrs.iter().any(|a| a.ip() == ip)
    }
}

/// One set: its destinations by descending priority, and the round-robin cursor.
#[derive(Debug)]
pub struct DsSet {
    pub id: i32,
    pub dests: Vec<std::sync::Arc<Dest>>,
    pub rr: AtomicUsize,
}

/// Every set of the (default) partition.
#[derive(Debug, Default)]
pub struct Sets {
    pub sets: Vec<DsSet>,
}

/// One row of the `dispatcher` table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub setid: i64,
    pub destination: String,
    pub socket: Option<String>,
    pub state: i64,
    pub probe_mode: i64,
    pub weight: String,
    pub priority: i64,
    pub attrs: Option<String>,
    pub description: Option<String>,
}

impl Sets {
    /// Groups the rows; a row that does not parse is skipped with an error naming it.
    pub fn from_rows(rows: &[Row]) -> Sets {
        let mut sets: Vec<DsSet> = Vec::new();
        for r in rows {
            let mut d = match Dest::new(&r.destination) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("dispatcher: set {} row skipped: {e}", r.setid);
                    continue;
                }
            };
            let Ok(setid) = i32::try_from(r.setid) else {
                tracing::error!("dispatcher: setid {} out of range, row skipped", r.setid);
                continue;
            };
            d.socket = r.socket.clone().filter(|s| !s.is_empty());
            d.weight = r.weight.trim().parse().unwrap_or_else(|_| {
                tracing::error!(
                    "dispatcher: set {setid} destination {}: weight `{}` is not a number, 1 used",
                    d.uri,
                    r.weight
                );
                1
            });
            d.priority = r.priority as i32;
            d.attrs = r.attrs.clone().unwrap_or_default();
            d.description = r.description.clone().unwrap_or_default();
            d.always_probe = r.probe_mode == 1;
            d.set_state(DsState::from_db(r.state));
            let d = std::sync::Arc::new(d);
            match sets.iter_mut().find(|s| s.id == setid) {
                Some(s) => s.dests.push(d),
                None => sets.push(DsSet {
                    id: setid,
                    dests: vec![d],
                    rr: AtomicUsize::new(0),
                }),
            }
        }
        for s in &mut sets {
            // Stable: equal priorities keep the table order.
            s.dests.sort_by_key(|d| std::cmp::Reverse(d.priority));
        }
        sets.sort_by_key(|s| s.id);
        Sets { sets }
    }

    pub fn set(&self, id: i32) -> Option<&DsSet> {
        self.sets.iter().find(|s| s.id == id)
    }

    /// The destination `uri` of set `id`.
    pub fn find(&self, id: i32, uri: &str) -> Option<&std::sync::Arc<Dest>> {
        self.set(id)?.dests.iter().find(|d| d.uri == uri)
    }

    /// Copies the live state of the destinations that are still there (`ds_reload` with inherit_state).
    pub fn inherit_from(&self, old: &Sets) {
        for s in &self.sets {
            for d in &s.dests {
                if let Some(o) = old.find(s.id, &d.uri) {
                    d.set_state(o.state());
                    d.failures
                        .store(o.failures.load(Ordering::Relaxed), Ordering::Relaxed);
                    *d.script_attrs.lock() = o.script_attrs.lock().clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(set: i64, dst: &str, prio: i64) -> Row {
        Row {
            setid: set,
            destination: dst.into(),
            weight: "1".into(),
            priority: prio,
            ..Row::default()
        }
    }

    #[test]
    fn rows_group_by_set_and_sort_by_descending_priority() {
        let s = Sets::from_rows(&[
            row(2, "sip:127.0.0.2:5060", 0),
            row(1, "sip:127.0.0.3", 1),
            row(1, "sip:127.0.0.4:5070;transport=tcp", 5),
            row(1, "not a uri", 9),
        ]);
        assert_eq!(s.sets.len(), 2);
        let one = s.set(1).unwrap();
        assert_eq!(one.dests.len(), 2);
        assert_eq!(one.dests[0].uri, "sip:127.0.0.4:5070;transport=tcp");
        assert_eq!(one.dests[0].proto, Proto::Tcp);
        assert_eq!(one.dests[1].port, 5060);
        assert!(one.dests[1].matches("127.0.0.3".parse().unwrap(), 0));
        assert!(!one.dests[1].matches("127.0.0.3".parse().unwrap(), 5070));
    }

    #[test]
    fn state_letters_and_reload_inherit() {
        assert_eq!(DsState::from_letter("i"), Some(DsState::Inactive));
        assert_eq!(DsState::from_letter("P"), Some(DsState::Probing));
        assert_eq!(DsState::from_letter("x"), None);
        let old = Sets::from_rows(&[row(1, "sip:127.0.0.2", 0)]);
        old.sets[0].dests[0].set_state(DsState::Probing);
        let new = Sets::from_rows(&[row(1, "sip:127.0.0.2", 0), row(1, "sip:127.0.0.3", 0)]);
        new.inherit_from(&old);
        assert_eq!(new.sets[0].dests[0].state(), DsState::Probing);
        assert_eq!(new.sets[0].dests[1].state(), DsState::Active);
    }
}
