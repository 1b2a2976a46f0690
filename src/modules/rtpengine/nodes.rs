//! rtpengine instances (`rtpengine_sock`): the shared relay node sets
//! ([`crate::modules::relay_nodes`]) with the address of each node's ng control socket.

use std::net::SocketAddr;

use crate::modules::relay_nodes;

/// One rtpengine control socket.
pub type Node = relay_nodes::Node<SocketAddr>;
/// A numbered group of rtpengine nodes.
pub type Set = relay_nodes::Set<SocketAddr>;

/// Parses `udp:host:port`, `udp6:[addr]:port` or `host:port` (UDP), with an optional `=weight`.
pub fn parse_node(text: &str) -> Result<Node, String> {
    let (url, weight) = relay_nodes::split_weight(text, "rtpengine")?;
    if url.contains("://") || url.starts_with("unix:") || url.starts_with("tcp:") {
        return Err(format!(
            "rtpengine socket `{text}`: only udp:/udp6: control sockets are supported"
        ));
    }
    let addr = relay_nodes::udp_addr(url)
        .ok_or_else(|| format!("rtpengine socket `{text}`: cannot resolve `{url}`"))?;
    Ok(Node::new(url, weight, addr))
}

/// Parses the values of every `rtpengine_sock` modparam into sets.
pub fn parse_sets(values: &[String]) -> Result<Vec<Set>, String> {
    relay_nodes::parse_sets("rtpengine_sock", values, parse_node)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(sets[0].nodes[2].ctl, "[::1]:2226".parse().unwrap());
        assert_eq!(sets[1].id, 1);
        assert_eq!(sets[1].nodes[0].ctl, "127.0.0.2:2225".parse().unwrap());
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
}
