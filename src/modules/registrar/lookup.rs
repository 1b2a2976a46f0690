//! `lookup()`: the Request-URI becomes the best contact of the AOR, the others become branches
//! (`SipCtx.branches`) in q order; `received` becomes the destination, Path the route set.

use crate::modules::usrloc::contact::{Q_UNSPECIFIED, method_bit};
use crate::modules::usrloc::{self, UlError};
use crate::runtime::{Branch, SipCtx};
use crate::transport::SocketId;

use super::flags::LookupFlags;

/// OpenSIPS's return codes.
pub const FOUND: i32 = 1;
pub const NOT_FOUND: i32 = -1;
pub const METHOD_NOT_ALLOWED: i32 = -2;
pub const INTERNAL_ERROR: i32 = -3;

/// A contact as lookup uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub uri: String,
    pub received: Option<String>,
    pub path: Option<String>,
    pub q: i16,
    pub cflags: u32,
    pub socket: Option<String>,
    pub methods: u32,
}

/// The valid contacts of `aor` in table `table`, best first.
pub fn targets(table: &str, aor: &str) -> Result<Vec<Target>, UlError> {
    let dom = usrloc::domain(table)?;
    let now = usrloc::now();
    dom.with_record(aor, |r| {
        r.map(|r| {
            r.contacts
                .iter()
                .filter(|c| c.is_valid(now))
                .map(|c| Target {
                    uri: c.contact().to_string(),
                    received: c.received().map(str::to_string),
                    path: c.path().map(str::to_string),
                    q: c.q,
                    cflags: c.cflags,
                    socket: c.socket().map(str::to_string),
                    methods: c.methods,
                })
                .collect()
        })
        .unwrap_or_default()
    })
}

/// The first URI of a Path value (`<sip:edge;lr>, <sip:core;lr>` gives `sip:edge;lr`).
fn first_path_uri(path: &str) -> Option<String> {
    let first = path.split(',').next()?.trim();
    let inner = first
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .map(|(u, _)| u)
        .unwrap_or(first);
    Some(inner.trim().to_string()).filter(|u| !u.is_empty())
}

fn socket_id(m: &SipCtx, name: &str) -> Option<SocketId> {
    let core = m.shared.core()?;
    core.transport()
        .sockets()
        .iter()
        .position(|l| l.def.to_string().split(" as ").next() == Some(name))
}

/// Where a contact is sent: the first Path hop, else the NAT `received` address.
fn next_hop(t: &Target) -> Option<String> {
    t.path
        .as_deref()
        .and_then(first_path_uri)
        .or_else(|| t.received.clone())
}

/// Applies the targets to the message; returns OpenSIPS's code.
pub fn apply(m: &mut SipCtx, mut ts: Vec<Target>, flags: &LookupFlags) -> i32 {
    if ts.is_empty() {
        return NOT_FOUND;
    }
    if flags.method_filtering {
        let bit = method_bit(&String::from_utf8_lossy(m.msg.method_bytes()));
        ts.retain(|t| t.methods & bit != 0);
        if ts.is_empty() {
            return METHOD_NOT_ALLOWED;
        }
    }
    let mut rest = ts.into_iter();
    if !flags.to_branches_only {
        let Some(best) = rest.next() else {
            return NOT_FOUND;
        };
        m.new_ruri = Some(best.uri.clone());
        m.dst_uri = next_hop(&best);
        if let Some(p) = &best.path
            && m.msg.add_header_first("Route", p.as_bytes()).is_err()
        {
            return INTERNAL_ERROR;
        }
        m.bflags |= best.cflags;
        if let Some(s) = best.socket.as_deref().and_then(|s| socket_id(m, s)) {
            m.send_socket = Some(s);
        }
        if flags.no_branches {
            return FOUND;
        }
    }
    for t in rest {
        let socket = t.socket.as_deref().and_then(|s| socket_id(m, s));
        m.branches.push(Branch {
            dst_uri: next_hop(&t),
            q: (t.q != Q_UNSPECIFIED).then_some(i32::from(t.q)),
            bflags: t.cflags,
            socket,
            path: t.path,
            uri: t.uri,
        });
    }
    FOUND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_first_hop() {
        assert_eq!(
            first_path_uri("<sip:edge.example;lr>, <sip:core;lr>").as_deref(),
            Some("sip:edge.example;lr")
        );
        assert_eq!(first_path_uri("").as_deref(), None);
        let t = Target {
            uri: "sip:a@127.0.0.5".into(),
            received: Some("sip:127.0.0.9:5999".into()),
            path: None,
            q: Q_UNSPECIFIED,
            cflags: 0,
            socket: None,
            methods: u32::MAX,
        };
        assert_eq!(next_hop(&t).as_deref(), Some("sip:127.0.0.9:5999"));
        let with_path = Target {
            path: Some("<sip:127.0.0.7;lr>".into()),
            ..t
        };
        assert_eq!(next_hop(&with_path).as_deref(), Some("sip:127.0.0.7;lr"));
    }
}
