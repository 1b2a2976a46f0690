//! `loose_route()` (RFC 3261 §16.4 and §16.12): the Route set decides where an in-dialog request
//! goes. Our own entries are removed; a next hop that is a loose router becomes `$du`; a strict
//! next hop takes the Request-URI's place; and a request that a strict router sent us (its
//! Request-URI is our Record-Route) gets the last Route back as its Request-URI.

use crate::sip::{Msg, NameAddr, Uri};

/// What `loose_route` decided; the caller applies it to the message and the script's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// 1: routed by the Route set; -1: not (no Route, or only ours on an initial request).
    pub rc: i32,
    /// The Route values to keep (None: leave the Route headers as they are).
    pub routes: Option<Vec<String>>,
    pub ruri: Option<String>,
    pub dst_uri: Option<String>,
    /// Parameters of our Route entry (or of the Request-URI in the strict-router case), no leading `;`.
    pub params: Option<String>,
}

/// One Route value with its URI.
struct Hop {
    value: String,
    uri: String,
}

fn uri_params(uri: &str) -> String {
    Uri::parse(uri.as_bytes())
        .map(|u| {
            String::from_utf8_lossy(u.params.raw())
                .trim_start_matches(';')
                .to_string()
        })
        .unwrap_or_default()
}

fn is_loose(uri: &str) -> bool {
    Uri::parse(uri.as_bytes()).is_ok_and(|u| u.lr())
}

fn has_r2(uri: &str) -> bool {
    Uri::parse(uri.as_bytes()).is_ok_and(|u| u.has_param(b"r2"))
}

/// Decides the routing of `msg`, whose current Request-URI is `ruri`. `is_local` tells whether a
/// URI names this proxy. Errors name what could not be parsed.
pub fn route(
    msg: &Msg,
    ruri: &str,
    is_local: &dyn Fn(&Uri<'_>) -> bool,
) -> Result<Outcome, String> {
    let mut hops = Vec::new();
    for r in msg.list_values(crate::sip::HdrId::Route) {
        let value = r.map_err(|e| format!("bad Route header: {e}"))?;
        let na = NameAddr::parse(value).map_err(|e| format!("bad Route header: {e}"))?;
        hops.push(Hop {
            value: String::from_utf8_lossy(crate::sip::scan::trim(value)).into_owned(),
            uri: String::from_utf8_lossy(na.uri.raw).into_owned(),
        });
    }
    if hops.is_empty() {
        return Ok(Outcome {
            rc: -1,
            ..Outcome::default()
        });
    }
    let local = |uri: &str| Uri::parse(uri.as_bytes()).is_ok_and(|u| is_local(&u));
    let mut out = Outcome {
        rc: 1,
        ..Outcome::default()
    };
    let mut ruri = ruri.to_string();
    if local(&ruri) {
        // A strict router sent us our own Record-Route as Request-URI: the remote target is the
        // last Route.
        out.params = Some(uri_params(&ruri));
        if let Some(last) = hops.pop() {
            ruri = last.uri;
        }
        if hops.first().is_some_and(|h| local(&h.uri)) {
            hops.remove(0);
        }
    } else if local(&hops[0].uri) {
        let ours = hops.remove(0);
        out.params = Some(uri_params(&ours.uri));
        if has_r2(&ours.uri) && hops.first().is_some_and(|h| local(&h.uri)) {
            hops.remove(0);
        }
        if hops.is_empty() && msg.to_tag().is_none() {
            // An initial request with only our Route (e.g. a preloaded outbound-proxy Route).
            out.rc = -1;
            out.routes = Some(Vec::new());
            return Ok(out);
        }
    }
    if let Some(next) = hops.first() {
        if is_loose(&next.uri) {
            out.dst_uri = Some(next.uri.clone());
        } else {
            // §16.12.1.2: a strict next hop gets the Request-URI; ours goes to the end of the set.
            let next = hops.remove(0);
            hops.push(Hop {
                value: format!("<{ruri}>"),
                uri: ruri,
            });
            ruri = next.uri;
        }
    }
    if ruri != msg_ruri(msg) {
        out.ruri = Some(ruri);
    }
    out.routes = Some(hops.into_iter().map(|h| h.value).collect());
    Ok(out)
}

fn msg_ruri(msg: &Msg) -> String {
    String::from_utf8_lossy(msg.ruri()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ruri: &str, routes: &[&str], to_tag: bool) -> Msg {
        let mut s =
            format!("BYE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKx\r\n");
        for r in routes {
            s.push_str(&format!("Route: {r}\r\n"));
        }
        let tt = if to_tag { ";tag=tt" } else { "" };
        s.push_str(&format!(
            "From: <sip:a@x.test>;tag=ff\r\nTo: <sip:b@x.test>{tt}\r\nCall-ID: c\r\nCSeq: 2 BYE\r\n\
             Content-Length: 0\r\n\r\n"
        ));
        Msg::parse(bytes::Bytes::from(s)).unwrap()
    }

    fn ours(u: &Uri<'_>) -> bool {
        u.host == b"127.0.0.1" && u.port.unwrap_or(5060) == 5060
    }

    fn run(ruri: &str, routes: &[&str], to_tag: bool) -> Outcome {
        let m = msg(ruri, routes, to_tag);
        route(&m, ruri, &ours).unwrap()
    }

    #[test]
    fn no_route_is_not_routed() {
        assert_eq!(run("sip:b@127.0.0.9", &[], true).rc, -1);
    }

    #[test]
    fn our_route_is_removed_and_the_next_loose_one_is_the_destination() {
        let o = run(
            "sip:b@127.0.0.9:5080",
            &[
                "<sip:127.0.0.1:5060;lr;ftag=ff;foo=bar>",
                "<sip:127.0.0.7;lr>",
            ],
            true,
        );
        assert_eq!(o.rc, 1);
        assert_eq!(o.routes, Some(vec!["<sip:127.0.0.7;lr>".to_string()]));
        assert_eq!(o.dst_uri.as_deref(), Some("sip:127.0.0.7;lr"));
        assert_eq!(o.ruri, None);
        assert_eq!(o.params.as_deref(), Some("lr;ftag=ff;foo=bar"));
    }

    #[test]
    fn last_route_ours_routes_on_the_request_uri() {
        let o = run("sip:b@127.0.0.9:5080", &["<sip:127.0.0.1;lr>"], true);
        assert_eq!((o.rc, o.routes, o.dst_uri), (1, Some(vec![]), None));
        // The same on an initial request: removed, but not RR-driven.
        let o = run("sip:b@127.0.0.9:5080", &["<sip:127.0.0.1;lr>"], false);
        assert_eq!((o.rc, o.routes), (-1, Some(vec![])));
    }

    #[test]
    fn double_record_route_entries_both_go() {
        let o = run(
            "sip:b@127.0.0.9",
            &["<sip:127.0.0.1:5060;transport=tcp;r2=on;lr>, <sip:127.0.0.1;r2=on;lr>"],
            true,
        );
        assert_eq!((o.rc, o.routes), (1, Some(vec![])));
    }

    #[test]
    fn strict_router_fix_up() {
        // A strict router put our Record-Route in the Request-URI and the target last in Route.
        let o = run(
            "sip:127.0.0.1;ftag=ff",
            &["<sip:127.0.0.8;lr>", "<sip:bob@127.0.0.9:5080>"],
            true,
        );
        assert_eq!(o.rc, 1);
        assert_eq!(o.ruri.as_deref(), Some("sip:bob@127.0.0.9:5080"));
        assert_eq!(o.routes, Some(vec!["<sip:127.0.0.8;lr>".to_string()]));
        assert_eq!(o.dst_uri.as_deref(), Some("sip:127.0.0.8;lr"));
        assert_eq!(o.params.as_deref(), Some("ftag=ff"));
    }

    #[test]
    fn strict_next_hop_takes_the_request_uri() {
        let o = run(
            "sip:b@127.0.0.9",
            &[
                "<sip:127.0.0.1;lr>",
                "<sip:127.0.0.8>",
                "<sip:127.0.0.6;lr>",
            ],
            true,
        );
        assert_eq!(o.ruri.as_deref(), Some("sip:127.0.0.8"));
        assert_eq!(
            o.routes,
            Some(vec![
                "<sip:127.0.0.6;lr>".to_string(),
                "<sip:b@127.0.0.9>".to_string()
            ])
        );
        assert_eq!(o.dst_uri, None);
    }

    #[test]
    fn preloaded_foreign_route_is_followed() {
        let o = run("sip:b@127.0.0.9", &["<sip:127.0.0.8;lr>"], false);
        assert_eq!(o.rc, 1);
        assert_eq!(o.dst_uri.as_deref(), Some("sip:127.0.0.8;lr"));
        assert_eq!(o.params, None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        /// Any Route set and Request-URI: an outcome or an error, never a panic; a routed
        /// request always has somewhere to go.
        #[test]
        fn any_route_set_is_handled(
            routes in proptest::collection::vec(
                "<sip:(127\\.0\\.0\\.[1-9]|[a-z]{1,5}\\.test)(:50[0-9]{2})?(;lr)?(;r2=on)?(;ftag=[a-z]{1,3})?>",
                0..5,
            ),
            junk in "[ -~]{0,20}",
            ruri in "sip:([a-z]{1,3}@)?(127\\.0\\.0\\.[1-9]|x\\.test)(;ftag=a)?",
        ) {
            let mut list: Vec<&str> = routes.iter().map(String::as_str).collect();
            let m = msg(&ruri, &list, true);
            let o = route(&m, &ruri, &ours).unwrap();
            proptest::prop_assert_eq!(o.rc == -1, routes.is_empty());
            if let Some(u) = &o.ruri {
                proptest::prop_assert!(Uri::parse(u.as_bytes()).is_ok());
            }
            list.push(&junk);
            if let Ok(m) = Msg::parse(bytes::Bytes::from(
                format!("BYE {ruri} SIP/2.0\r\nRoute: {}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\n\
                         From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n",
                        list.join(", ")),
            )) {
                let _ = route(&m, &ruri, &ours);
            }
        }
    }

    #[test]
    fn bad_route_is_an_error() {
        let m = msg("sip:b@127.0.0.9", &["<sip:127.0.0.1;lr"], true);
        assert!(route(&m, "sip:b@127.0.0.9", &ours).is_err());
    }
}
