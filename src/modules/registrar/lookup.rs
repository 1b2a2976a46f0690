//! `lookup()`: the Request-URI becomes the best contact of the AOR, the others become branches
//! (`SipCtx.branches`) in q order; `received` becomes the destination, Path the route set.
//! RFC 8599 push contacts due a refresh are set apart ([`pn_split`]) and woken by
//! [`super::pn_wake`].

use crate::modules::tm::inject::{first_path_uri, socket_id};
use crate::modules::usrloc::contact::{Q_UNSPECIFIED, method_bit};
use crate::modules::usrloc::{self, UlError};
use crate::runtime::{Branch, SipCtx};

use super::flags::LookupFlags;
use super::gruu::GruuTarget;
use super::pn::{self, FL_PN_ON, PnConfig};

/// OpenSIPS's return codes.
pub const FOUND: i32 = 1;
pub const NOT_FOUND: i32 = -1;
pub const METHOD_NOT_ALLOWED: i32 = -2;
pub const INTERNAL_ERROR: i32 = -3;
/// Only push notifications were started (OpenSIPS `LOOKUP_PN_SENT`).
pub const PN_SENT: i32 = 2;

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
    pub instance: Option<String>,
    pub callid: String,
    pub last_modified: i64,
    pub user_agent: String,
    pub contact_id: u64,
    /// usrloc flags ([`FL_PN_ON`]).
    pub flags: u32,
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
                    instance: c.instance().map(str::to_string),
                    callid: c.callid().to_string(),
                    last_modified: c.last_modified,
                    user_agent: c.user_agent().to_string(),
                    contact_id: c.contact_id,
                    flags: c.flags,
                })
                .collect()
        })
        .unwrap_or_default()
    })
}

/// Keeps only the contact a GRUU names: for a public GRUU the newest binding of the instance,
/// for a temporary one the binding of the instance and Call-ID it was issued for.
pub fn gruu_filter(ts: Vec<Target>, target: &GruuTarget) -> Vec<Target> {
    let chosen = match target {
        GruuTarget::Public { instance } => ts
            .into_iter()
            .filter(|t| t.instance.as_deref() == Some(instance.as_str()))
            .max_by_key(|t| t.last_modified),
        GruuTarget::Temporary(g) => ts
            .into_iter()
            .find(|t| t.instance.as_deref() == Some(g.instance.as_str()) && t.callid == g.callid),
    };
    chosen.into_iter().collect()
}

/// Where a contact is sent: the first Path hop, else the NAT `received` address.
fn next_hop(t: &Target) -> Option<String> {
    t.path
        .as_deref()
        .and_then(first_path_uri)
        .or_else(|| t.received.clone())
}

/// The targets `flags` let through (method and User-Agent filtering); Err is the code to
/// return when none is left.
pub fn filter(m: &SipCtx, mut ts: Vec<Target>, flags: &LookupFlags) -> Result<Vec<Target>, i32> {
    if ts.is_empty() {
        return Err(NOT_FOUND);
    }
    if flags.method_filtering {
        let bit = method_bit(&String::from_utf8_lossy(m.msg.method_bytes()));
        ts.retain(|t| t.methods & bit != 0);
        if ts.is_empty() {
            return Err(METHOD_NOT_ALLOWED);
        }
    }
    if let Some(ua) = &flags.ua_filter {
        ts.retain(|t| ua.0.is_match(&t.user_agent));
        if ts.is_empty() {
            return Err(NOT_FOUND);
        }
    }
    Ok(ts)
}

/// Sets apart the push contacts that need a notification before a request can reach them
/// (returned second); the other push contacts lose their PN parameters, as OpenSIPS sends
/// requests without them.
pub fn pn_split(cfg: &PnConfig, ts: Vec<Target>, now: i64) -> (Vec<Target>, Vec<Target>) {
    let mut send = Vec::with_capacity(ts.len());
    let mut wake = Vec::new();
    for mut t in ts {
        if t.flags & FL_PN_ON == 0 || cfg.match_key_of(&t.uri).is_none() {
            send.push(t);
        } else if pn::refresh_due(t.last_modified, now, cfg.skip_pn_interval) {
            wake.push(t);
        } else {
            t.uri = pn::strip_params(cfg, &t.uri);
            send.push(t);
        }
    }
    (send, wake)
}

/// The push contacts to wake when lookup may use one destination only (`b` flag, OpenSIPS
/// `single_branch`): none when a reachable contact is there, else the best one.
pub fn single_branch_wake(send: &[Target], mut wake: Vec<Target>) -> Vec<Target> {
    if !send.is_empty() {
        wake.clear();
    }
    wake.truncate(1);
    wake
}

/// Appends every target as a branch.
pub fn push_branches(m: &mut SipCtx, ts: impl IntoIterator<Item = Target>) {
    for t in ts {
        let socket = t.socket.as_deref().and_then(|s| socket_id(&m.shared, s));
        m.branches.push(Branch {
            dst_uri: next_hop(&t),
            q: (t.q != Q_UNSPECIFIED).then_some(i32::from(t.q)),
            bflags: t.cflags,
            socket,
            path: t.path,
            uri: t.uri,
        });
    }
}

/// Applies the targets to the message; returns OpenSIPS's code.
pub fn apply(m: &mut SipCtx, ts: Vec<Target>, flags: &LookupFlags) -> i32 {
    let ts = match filter(m, ts, flags) {
        Ok(ts) => ts,
        Err(code) => return code,
    };
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
        if let Some(s) = best.socket.as_deref().and_then(|s| socket_id(&m.shared, s)) {
            m.send_socket = Some(s);
        }
        if flags.no_branches {
            return FOUND;
        }
    }
    push_branches(m, rest);
    FOUND
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain binding of `uri`: no Path, no NAT address, no instance.
    fn binding(uri: &str, callid: &str, last_modified: i64) -> Target {
        Target {
            uri: uri.into(),
            received: None,
            path: None,
            q: Q_UNSPECIFIED,
            cflags: 0,
            socket: None,
            methods: u32::MAX,
            instance: None,
            callid: callid.into(),
            last_modified,
            user_agent: String::new(),
            contact_id: 1,
            flags: 0,
        }
    }

    #[test]
    fn path_first_hop() {
        assert_eq!(
            first_path_uri("<sip:edge.example;lr>, <sip:core;lr>").as_deref(),
            Some("sip:edge.example;lr")
        );
        assert_eq!(first_path_uri("").as_deref(), None);
        let t = Target {
            received: Some("sip:127.0.0.9:5999".into()),
            ..binding("sip:a@127.0.0.5", "c", 0)
        };
        assert_eq!(next_hop(&t).as_deref(), Some("sip:127.0.0.9:5999"));
        let with_path = Target {
            path: Some("<sip:127.0.0.7;lr>".into()),
            ..t
        };
        assert_eq!(next_hop(&with_path).as_deref(), Some("sip:127.0.0.7;lr"));
    }

    #[test]
    fn gruus_select_one_binding() {
        let t = |uri: &str, inst: Option<&str>, cid: &str, lm: i64| Target {
            instance: inst.map(str::to_string),
            ..binding(uri, cid, lm)
        };
        let ts = vec![
            t("sip:a@127.0.0.2", Some("urn:x"), "c1", 10),
            t("sip:a@127.0.0.3", Some("urn:x"), "c2", 20),
            t("sip:a@127.0.0.4", Some("urn:y"), "c3", 30),
            t("sip:a@127.0.0.5", None, "c4", 40),
        ];
        let p = GruuTarget::Public {
            instance: "urn:x".into(),
        };
        let got = gruu_filter(ts.clone(), &p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uri, "sip:a@127.0.0.3");
        let tmp = GruuTarget::Temporary(super::super::gruu::TempGruu {
            aor: "a".into(),
            instance: "urn:x".into(),
            callid: "c1".into(),
        });
        assert_eq!(gruu_filter(ts.clone(), &tmp)[0].uri, "sip:a@127.0.0.2");
        let none = GruuTarget::Public {
            instance: "urn:z".into(),
        };
        assert!(gruu_filter(ts, &none).is_empty());
    }

    #[test]
    fn push_contacts_due_are_set_apart() {
        let cfg = PnConfig {
            enable: true,
            providers: vec!["apns".into()],
            skip_pn_interval: 30,
            ..PnConfig::default()
        };
        let t = |uri: &str, flags: u32, lm: i64| Target {
            contact_id: lm as u64,
            flags,
            ..binding(uri, "c", lm)
        };
        let pn_uri = "sip:d@127.0.0.5:5070;pn-provider=apns;pn-prid=T;pn-param=P";
        let ts = vec![
            t("sip:plain@127.0.0.6", 0, 100),
            t(pn_uri, FL_PN_ON, 100),
            t(pn_uri, FL_PN_ON, 990),
            // matched by PN parameters for an upstream proxy: sent as is
            t(pn_uri, 0, 100),
        ];
        let (send, wake) = pn_split(&cfg, ts.clone(), 1000);
        assert_eq!(wake.len(), 1);
        assert_eq!(wake[0].last_modified, 100);
        let uris: Vec<&str> = send.iter().map(|t| t.uri.as_str()).collect();
        assert_eq!(
            uris,
            ["sip:plain@127.0.0.6", "sip:d@127.0.0.5:5070", pn_uri]
        );
        // one destination only: the reachable contact, no push
        assert!(single_branch_wake(&send, wake.clone()).is_empty());
        let two = vec![wake[0].clone(), t(pn_uri, FL_PN_ON, 50)];
        let one = single_branch_wake(&[], two);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].last_modified, 100);
    }
}
