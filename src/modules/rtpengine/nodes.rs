//! rtpengine instances (`rtpengine_sock`): sets of nodes with weights, selection by Call-ID hash
//! as OpenSIPS `select_rtpe_node` does (so offer, answer and delete of a call reach the same
//! node), and disabling a node that does not answer for `rtpengine_disable_tout` seconds.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// One rtpengine control socket.
#[derive(Debug)]
pub struct Node {
    /// As written in `rtpengine_sock` without the weight (`udp:127.0.0.1:2223`).
    pub url: String,
    pub addr: SocketAddr,
    pub weight: u32,
    state: Mutex<NodeState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct NodeState {
    /// Until when the node is skipped after a failure (None = enabled).
    disabled_until: Option<Instant>,
    /// Disabled over MI (`rtpengine_enable url 0`): never tried again until enabled.
    disabled_by_admin: bool,
}

impl Node {
    /// Parses `udp:host:port`, `udp6:[addr]:port` or `host:port` (UDP), with an optional `=weight`.
    pub fn parse(text: &str) -> Result<Node, String> {
        let (url, weight) = match text.rsplit_once('=') {
            Some((u, w)) => {
                let w: u32 = w
                    .parse()
                    .map_err(|_| format!("bad weight `{w}` in rtpengine socket `{text}`"))?;
                (u, w)
            }
            None => (text, 1),
        };
        let hostport = if let Some(r) = url.strip_prefix("udp6:") {
            r
        } else if let Some(r) = url.strip_prefix("udp:") {
            r
        } else if url.contains("://") || url.starts_with("unix:") || url.starts_with("tcp:") {
            return Err(format!(
                "rtpengine socket `{text}`: only udp:/udp6: control sockets are supported"
            ));
        } else {
            url
        };
        let addr = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("rtpengine socket `{text}`: cannot resolve `{hostport}`"))?;
        Ok(Node {
            url: url.to_string(),
            addr,
            weight,
            state: Mutex::new(NodeState::default()),
        })
    }

    /// Whether the node may be used now (an expired failure-disable counts as usable: the next
    /// command rechecks it).
    pub fn usable(&self, now: Instant) -> bool {
        let s = self.state.lock();
        !s.disabled_by_admin && s.disabled_until.is_none_or(|t| t <= now)
    }

    pub fn disabled(&self) -> bool {
        !self.usable(Instant::now())
    }

    /// Marks the node failed for `tout`.
    pub fn fail(&self, tout: Duration) {
        self.state.lock().disabled_until = Some(Instant::now() + tout);
    }

    pub fn succeeded(&self) {
        self.state.lock().disabled_until = None;
    }

    /// MI `rtpengine_enable`.
    pub fn set_enabled(&self, on: bool) {
        let mut s = self.state.lock();
        s.disabled_by_admin = !on;
        if on {
            s.disabled_until = None;
        }
    }

    /// Seconds until the node is tried again (0 when enabled).
    pub fn recheck_in(&self) -> u64 {
        let s = self.state.lock();
        s.disabled_until
            .map(|t| t.saturating_duration_since(Instant::now()).as_secs())
            .unwrap_or(0)
    }
}

/// A numbered group of nodes (`"1 == udp:a:1 udp:b:2"`).
#[derive(Debug)]
pub struct Set {
    pub id: u32,
    pub nodes: Vec<Node>,
}

impl Set {
    /// The node for `call_id`: OpenSIPS's byte-sum hash over the weights, redistributed over
    /// the usable nodes when the chosen one is disabled; `skip` lists nodes already tried.
    pub fn select(&self, call_id: &[u8], skip: &[usize]) -> Option<usize> {
        let now = Instant::now();
        let ok = |i: usize| !skip.contains(&i) && self.nodes[i].usable(now);
        let sum = call_id.iter().fold(0u32, |a, &b| a.wrapping_add(b as u32)) & 0xff;
        let total: u32 = self.nodes.iter().map(|n| n.weight).sum();
        if total > 0 {
            let mut cut = sum % total;
            for (i, n) in self.nodes.iter().enumerate() {
                if cut < n.weight {
                    if ok(i) {
                        return Some(i);
                    }
                    break;
                }
                cut -= n.weight;
            }
        }
        let usable: Vec<usize> = (0..self.nodes.len()).filter(|&i| ok(i)).collect();
        let weight: u32 = usable.iter().map(|&i| self.nodes[i].weight).sum();
        if weight == 0 {
            return usable.first().copied();
        }
        let mut cut = sum % weight;
        for &i in &usable {
            if cut < self.nodes[i].weight {
                return Some(i);
            }
            cut -= self.nodes[i].weight;
        }
        None
    }
}

/// Parses the values of every `rtpengine_sock` modparam into sets (same set id given twice:
/// the nodes are appended). A value without `N ==` goes to set 0.
pub fn parse_sets(values: &[String]) -> Result<Vec<Set>, String> {
    let mut sets: Vec<Set> = Vec::new();
    for v in values {
        let (id, list) = match v.split_once("==") {
            Some((id, rest)) => {
                let id: u32 = id
                    .trim()
                    .parse()
                    .map_err(|_| format!("rtpengine_sock `{v}`: bad set id `{}`", id.trim()))?;
                (id, rest)
            }
            None => (0, v.as_str()),
        };
        let nodes = list
            .split_whitespace()
            .map(Node::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if nodes.is_empty() {
            return Err(format!("rtpengine_sock `{v}`: no socket given"));
        }
        match sets.iter_mut().find(|s| s.id == id) {
            Some(s) => s.nodes.extend(nodes),
            None => sets.push(Set { id, nodes }),
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &str) -> Set {
        parse_sets(&[v.to_string()]).unwrap().remove(0)
    }

    #[test]
    fn parses_sets_weights_and_urls() {
        let sets = parse_sets(&[
            "udp:127.0.0.1:2223=2 udp:127.0.0.1:2224".into(),
            "1 == 127.0.0.2:2225".into(),
            "udp6:[::1]:2226".into(),
        ])
        .unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].id, 0);
        assert_eq!(sets[0].nodes.len(), 3);
        assert_eq!(sets[0].nodes[0].weight, 2);
        assert_eq!(sets[0].nodes[0].url, "udp:127.0.0.1:2223");
        assert_eq!(sets[0].nodes[2].addr, "[::1]:2226".parse().unwrap());
        assert_eq!(sets[1].id, 1);
        assert_eq!(sets[1].nodes[0].addr, "127.0.0.2:2225".parse().unwrap());
    }

    #[test]
    fn refuses_bad_sockets_with_the_value() {
        for bad in [
            "udp:127.0.0.1:2223=x",
            "x == udp:127.0.0.1:1",
            "unix:/run/rtpengine.sock",
            "udp:127.0.0.1",
            "1 ==",
        ] {
            let e = parse_sets(&[bad.to_string()]).unwrap_err();
            assert!(e.contains("rtpengine"), "{bad}: {e}");
        }
    }

    #[test]
    fn same_call_same_node_and_weights_share_the_load() {
        let s = set("udp:127.0.0.1:1=3 udp:127.0.0.1:2=1");
        assert_eq!(s.select(b"abc", &[]), s.select(b"abc", &[]));
        let mut hits = [0u32; 2];
        for i in 0..256u32 {
            hits[s.select(format!("call{i}").as_bytes(), &[]).unwrap()] += 1;
        }
        assert!(hits[0] > 2 * hits[1], "{hits:?}");
        assert!(hits[1] > 0);
    }

    #[test]
    fn failed_and_tried_nodes_are_skipped() {
        let s = set("udp:127.0.0.1:1 udp:127.0.0.1:2");
        let first = s.select(b"x", &[]).unwrap();
        assert_eq!(s.select(b"x", &[first]), Some(1 - first));
        assert_eq!(s.select(b"x", &[0, 1]), None);
        s.nodes[first].fail(Duration::from_secs(60));
        assert_eq!(s.select(b"x", &[]), Some(1 - first));
        assert!(s.nodes[first].recheck_in() > 50);
        s.nodes[first].fail(Duration::ZERO);
        assert_eq!(s.select(b"x", &[]), Some(first));
        s.nodes[1 - first].set_enabled(false);
        assert_eq!(s.select(b"y", &[]), Some(first));
        s.nodes[first].set_enabled(false);
        assert_eq!(s.select(b"y", &[]), None);
    }
}
