//! Sets of media relay nodes, shared by rtpengine and rtpproxy: a node is one control socket
//! of a relay with a weight; nodes are grouped in numbered sets (`[set ==] sock[=weight] ...`,
//! repeatable, set 0 by default). A call's node is picked by Call-ID hash and weight as OpenSIPS
//! `select_rtpe_node` / `select_rtpp_node` do (so offer, answer and delete of a call reach the
//! same node); a node that does not answer is skipped for `*_disable_tout` seconds and the
//! command goes to the next one; the MI disables a node until the MI enables it again.

pub mod mi;
pub mod udp;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use mi::Relay;

/// One control socket of a relay; `ctl` is how the module reaches it.
#[derive(Debug)]
pub struct Node<C> {
    /// As written in the modparam, without the weight (`udp:127.0.0.1:2223`).
    pub url: String,
    pub weight: u32,
    pub ctl: C,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Until when the node is skipped after a failure (None = enabled).
    disabled_until: Option<Instant>,
    /// Disabled over MI: never tried again until enabled.
    by_admin: bool,
    /// The module's check of the node (rtpproxy's version check) passed since the last failure.
    checked: bool,
}

impl<C> Node<C> {
    pub fn new(url: impl Into<String>, weight: u32, ctl: C) -> Node<C> {
        Node {
            url: url.into(),
            weight,
            ctl,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether the node may be used now (an expired failure-disable counts as usable: the next
    /// command rechecks it).
    pub fn usable(&self, now: Instant) -> bool {
        let s = self.state.lock();
        !s.by_admin && s.disabled_until.is_none_or(|t| t <= now)
    }

    pub fn disabled(&self) -> bool {
        !self.usable(Instant::now())
    }

    /// Marks the node failed for `tout`; its check must pass again.
    pub fn fail(&self, tout: Duration) {
        let mut s = self.state.lock();
        s.disabled_until = Some(Instant::now() + tout);
        s.checked = false;
    }

    pub fn succeeded(&self) {
        self.state.lock().disabled_until = None;
    }

    /// MI `*_enable`.
    pub fn set_enabled(&self, on: bool) {
        let mut s = self.state.lock();
        s.by_admin = !on;
        if on {
            s.disabled_until = None;
        }
    }

    /// Seconds until the node is tried again (0 when enabled).
    pub fn recheck_in(&self) -> u64 {
        self.state
            .lock()
            .disabled_until
            .map(|t| t.saturating_duration_since(Instant::now()).as_secs())
            .unwrap_or(0)
    }

    pub fn checked(&self) -> bool {
        self.state.lock().checked
    }

    pub fn set_checked(&self) {
        self.state.lock().checked = true;
    }
}

/// How one attempt on a node went wrong.
#[derive(Debug)]
pub enum Failure {
    /// The node did not answer (or answered unusably): disable it and try the next one.
    NoAnswer(String),
    /// The command itself failed: no other node is tried.
    Fatal(String),
}

/// A numbered group of nodes (`"1 == udp:a:1 udp:b:2"`).
#[derive(Debug)]
pub struct Set<C> {
    pub id: u32,
    pub nodes: Vec<Node<C>>,
}

impl<C> Set<C> {
    /// The node for `call_id`: OpenSIPS's byte-sum hash over the weights, redistributed over
    /// the usable nodes when the chosen one is disabled; `skip` lists nodes already tried.
    pub fn select(&self, call_id: &[u8], skip: &[usize]) -> Option<usize> {
        let now = Instant::now();
        let ok = |i: usize| !skip.contains(&i) && self.nodes[i].usable(now);
        let sum = call_id.iter().fold(0u32, |a, &b| a.wrapping_add(b as u32)) & 0xff;
        let pick = |cands: &[usize]| {
            let total: u32 = cands.iter().map(|&i| self.nodes[i].weight).sum();
            if total == 0 {
                return cands.first().copied();
            }
            let mut cut = sum % total;
            for &i in cands {
                if cut < self.nodes[i].weight {
                    return Some(i);
                }
                cut -= self.nodes[i].weight;
            }
            None
        };
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        match pick(&all) {
            Some(i) if ok(i) => Some(i),
            _ => pick(&all.into_iter().filter(|&i| ok(i)).collect::<Vec<_>>()),
        }
    }

    /// Runs `attempt` on the node selected for `call_id`, and on the next ones while a node
    /// does not answer (each such node is disabled for `disable_tout`); `module` names the
    /// relay in the log and the error.
    pub fn failover<R>(
        &self,
        module: &str,
        call_id: &[u8],
        disable_tout: Duration,
        mut attempt: impl FnMut(&Node<C>) -> Result<R, Failure>,
    ) -> Result<(&Node<C>, R), String> {
        let mut tried = Vec::new();
        while let Some(i) = self.select(call_id, &tried) {
            let node = &self.nodes[i];
            match attempt(node) {
                Ok(r) => {
                    node.succeeded();
                    return Ok((node, r));
                }
                Err(Failure::NoAnswer(e)) => {
                    tracing::error!(
                        "{module}: proxy <{}> does not respond ({e}), disable it",
                        node.url
                    );
                    node.fail(disable_tout);
                    tried.push(i);
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
        Err(format!("no available {module} in set {}", self.id))
    }
}

/// Splits `sock=weight` (weight 1 when absent); `module` names the relay in the error.
pub fn split_weight<'a>(text: &'a str, module: &str) -> Result<(&'a str, u32), String> {
    match text.rsplit_once('=') {
        Some((sock, w)) => w
            .parse()
            .map(|w| (sock, w))
            .map_err(|_| format!("bad weight `{w}` in {module} socket `{text}`")),
        None => Ok((text, 1)),
    }
}

/// The address of `udp:host:port`, `udp6:[addr]:port` or `host:port`.
pub fn udp_addr(url: &str) -> Option<SocketAddr> {
    let hostport = url
        .strip_prefix("udp6:")
        .or_else(|| url.strip_prefix("udp:"))
        .unwrap_or(url);
    hostport.to_socket_addrs().ok()?.next()
}

/// Parses the values of every `param` modparam (`rtpengine_sock`) into sets with `node`
/// parsing each socket; the same set id given twice appends the nodes; a value without
/// `N ==` goes to set 0.
pub fn parse_sets<C>(
    param: &str,
    values: &[String],
    node: impl Fn(&str) -> Result<Node<C>, String>,
) -> Result<Vec<Set<C>>, String> {
    let mut sets: Vec<Set<C>> = Vec::new();
    for v in values {
        let (id, list) = match v.split_once("==") {
            Some((id, rest)) => {
                let id: u32 = id
                    .trim()
                    .parse()
                    .map_err(|_| format!("{param} `{v}`: bad set id `{}`", id.trim()))?;
                (id, rest)
            }
            None => (0, v.as_str()),
        };
        let nodes = list
            .split_whitespace()
            .map(&node)
            .collect::<Result<Vec<_>, _>>()?;
        if nodes.is_empty() {
            return Err(format!("{param} `{v}`: no socket given"));
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

    fn set(v: &str) -> Set<()> {
        let node = |t: &str| split_weight(t, "relay").map(|(u, w)| Node::new(u, w, ()));
        parse_sets("relay_sock", &[v.to_string()], node)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn sets_weights_and_errors() {
        let s = set("a=2 b");
        assert_eq!((s.id, s.nodes.len(), s.nodes[0].weight), (0, 2, 2));
        assert_eq!(s.nodes[0].url, "a");
        assert_eq!(set("3 == a").id, 3);
        let node = |t: &str| split_weight(t, "relay").map(|(u, w)| Node::new(u, w, ()));
        for bad in ["a=x", "x == a", "1 =="] {
            let e = parse_sets("relay_sock", &[bad.to_string()], node).unwrap_err();
            assert!(e.contains("relay"), "{bad}: {e}");
        }
        assert_eq!(udp_addr("udp6:[::1]:2"), Some("[::1]:2".parse().unwrap()));
        assert_eq!(udp_addr("udp:127.0.0.1"), None);
    }

    #[test]
    fn same_call_same_node_and_weights_share_the_load() {
        let s = set("a=3 b=1");
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
        let s = set("a b");
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

    #[test]
    fn failover_disables_the_silent_node_and_stops_on_a_fatal_error() {
        let s = set("a b");
        let first = s.select(b"c", &[]).unwrap();
        let (n, r) = s
            .failover("relay", b"c", Duration::from_secs(60), |n| {
                if n.url == s.nodes[first].url {
                    Err(Failure::NoAnswer("timeout".into()))
                } else {
                    Ok(7)
                }
            })
            .unwrap();
        assert_eq!((n.url.as_str(), r), (s.nodes[1 - first].url.as_str(), 7));
        assert!(s.nodes[first].disabled() && !n.disabled());
        let e = s
            .failover("relay", b"c", Duration::ZERO, |_| {
                Err::<(), _>(Failure::Fatal("bad".into()))
            })
            .unwrap_err();
        assert_eq!(e, "bad");
        let e = s
            .failover("relay", b"c", Duration::from_secs(60), |_| {
                Err::<(), _>(Failure::NoAnswer("timeout".into()))
            })
            .unwrap_err();
        assert_eq!(e, "no available relay in set 0");
    }

    #[test]
    fn a_failure_clears_the_check() {
        let n = Node::new("a", 1, ());
        n.set_checked();
        assert!(n.checked());
        n.fail(Duration::ZERO);
        assert!(!n.checked());
    }
}
