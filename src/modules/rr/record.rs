//! Building our Record-Route values (RFC 3261 §16.6 step 4): one for the socket the request
//! leaves on, and a second one for the socket it came in on when they differ (RFC 5658 double
//! record-routing, both marked `r2=on`).

use crate::transport::{Proto, SocketDef};

/// What the script asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// `record_route()`: built from the sockets.
    Auto,
    /// `record_route_preset(out[, in])`: given addresses (`host[:port][;params]`).
    Preset(String, Option<String>),
}

/// Module settings that shape the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    pub append_fromtag: bool,
    /// 0 never, 1 when the socket changes, 2 only when the transport changes.
    pub double_rr: u8,
    /// `;lr=on` instead of `;lr`.
    pub full_lr: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            append_fromtag: true,
            double_rr: 1,
            full_lr: false,
        }
    }
}

fn socket_uri(s: &SocketDef) -> String {
    let (host, port) = s.sent_by();
    let mut u = format!("sip:{host}:{port}");
    if s.proto != Proto::Udp {
        u.push_str(";transport=");
        u.push_str(s.proto.name());
    }
    u
}

fn preset_uri(text: &str) -> String {
    let t = text.trim().trim_start_matches('<').trim_end_matches('>');
    let lower = t.get(..5).unwrap_or(t).to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") {
        t.to_string()
    } else {
        format!("sip:{t}")
    }
}

fn finish_value(
    uri: String,
    r2: bool,
    ftag: Option<&[u8]>,
    params: &str,
    o: RecordOptions,
) -> String {
    let mut v = String::with_capacity(uri.len() + 48 + params.len());
    v.push('<');
    v.push_str(&uri);
    if r2 {
        v.push_str(";r2=on");
    }
    v.push_str(if o.full_lr { ";lr=on" } else { ";lr" });
    if let Some(tag) = ftag.filter(|_| o.append_fromtag) {
        v.push_str(";ftag=");
        v.push_str(&String::from_utf8_lossy(tag));
    }
    v.push_str(params);
    v.push('>');
    v
}

/// The Record-Route values to insert, top first. `inbound` is the socket the request came in on,
/// `outbound` the one it leaves on; `params` are the `;n=v` of `record_route()` / `add_rr_param()`.
pub fn values(
    kind: &RecordKind,
    params: &str,
    ftag: Option<&[u8]>,
    inbound: Option<&SocketDef>,
    outbound: &SocketDef,
    o: RecordOptions,
) -> Vec<String> {
    match kind {
        RecordKind::Preset(out, None) => {
            vec![finish_value(preset_uri(out), false, ftag, params, o)]
        }
        RecordKind::Preset(out, Some(inb)) => vec![
            finish_value(preset_uri(out), true, ftag, params, o),
            finish_value(preset_uri(inb), true, ftag, params, o),
        ],
        RecordKind::Auto => {
            let double = inbound.filter(|i| match o.double_rr {
                0 => false,
                2 => i.proto != outbound.proto,
                _ => i.proto != outbound.proto || i.addr != outbound.addr,
            });
            match double {
                Some(inb) => vec![
                    finish_value(socket_uri(outbound), true, ftag, params, o),
                    finish_value(socket_uri(inb), true, ftag, params, o),
                ],
                None => vec![finish_value(socket_uri(outbound), false, ftag, params, o)],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(s: &str) -> SocketDef {
        s.parse().unwrap()
    }

    #[test]
    fn one_header_on_the_same_socket() {
        let u = sock("udp:127.0.0.1:5060");
        assert_eq!(
            values(
                &RecordKind::Auto,
                "",
                Some(b"abc"),
                Some(&u),
                &u,
                RecordOptions::default()
            ),
            vec!["<sip:127.0.0.1:5060;lr;ftag=abc>"]
        );
        let o = RecordOptions {
            append_fromtag: false,
            full_lr: true,
            ..RecordOptions::default()
        };
        assert_eq!(
            values(&RecordKind::Auto, ";foo=bar", Some(b"abc"), Some(&u), &u, o),
            vec!["<sip:127.0.0.1:5060;lr=on;foo=bar>"]
        );
    }

    #[test]
    fn two_headers_when_the_transport_changes() {
        let u = sock("udp:127.0.0.1:5060");
        let t = sock("tcp:127.0.0.1:5060 as proxy.test:5070");
        assert_eq!(
            values(
                &RecordKind::Auto,
                ";x=1",
                Some(b"t"),
                Some(&u),
                &t,
                RecordOptions::default()
            ),
            vec![
                "<sip:proxy.test:5070;transport=tcp;r2=on;lr;ftag=t;x=1>",
                "<sip:127.0.0.1:5060;r2=on;lr;ftag=t;x=1>"
            ]
        );
        let off = RecordOptions {
            double_rr: 0,
            ..RecordOptions::default()
        };
        assert_eq!(
            values(&RecordKind::Auto, "", None, Some(&u), &t, off).len(),
            1
        );
        // 2: another interface with the same transport gets one header.
        let u2 = sock("udp:127.0.0.2:5060");
        let only_proto = RecordOptions {
            double_rr: 2,
            ..RecordOptions::default()
        };
        assert_eq!(
            values(&RecordKind::Auto, "", None, Some(&u), &u2, only_proto).len(),
            1
        );
        assert_eq!(
            values(
                &RecordKind::Auto,
                "",
                None,
                Some(&u),
                &u2,
                RecordOptions::default()
            )
            .len(),
            2
        );
    }

    #[test]
    fn preset_addresses() {
        let u = sock("udp:127.0.0.1:5060");
        assert_eq!(
            values(
                &RecordKind::Preset("127.0.0.9:5090;p=1".into(), None),
                "",
                Some(b"f"),
                None,
                &u,
                RecordOptions::default()
            ),
            vec!["<sip:127.0.0.9:5090;p=1;lr;ftag=f>"]
        );
        assert_eq!(
            values(
                &RecordKind::Preset("sip:out.test".into(), Some("in.test".into())),
                "",
                None,
                None,
                &u,
                RecordOptions::default()
            ),
            vec!["<sip:out.test;r2=on;lr>", "<sip:in.test;r2=on;lr>"]
        );
    }
}
