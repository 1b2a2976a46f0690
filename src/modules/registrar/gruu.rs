//! GRUU (RFC 5627) as OpenSIPS's registrar builds them: a contact registered with
//! `+sip.instance` by a UA that sends `Supported: gruu` gets a public GRUU
//! (`sip:AOR;gr=urn:...`) and a temporary one (`sip:tgruu.<token>@host:port;gr`) in the 200 OK.
//! The temporary token is "time aor instance callid" XOR-ed with `gruu_secret` and base64
//! encoded, so `lookup()` can map it back without keeping state.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// OpenSIPS's default `gruu_secret`.
pub const DEFAULT_SECRET: &str = "0p3nS1pS";

const TEMP_PREFIX: &str = "tgruu.";

fn xor(data: &mut [u8], secret: &[u8]) {
    if secret.is_empty() {
        return;
    }
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= secret[i % secret.len()];
    }
}

/// `host:port` of a socket text such as `udp:127.0.0.1:5060`.
pub fn socket_hostport(socket: &str) -> &str {
    match socket.split_once(':') {
        Some((proto, rest))
            if ["udp", "tcp", "tls", "sctp", "ws", "wss"]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(proto)) =>
        {
            rest
        }
        _ => socket,
    }
}

/// The user part of a temporary GRUU: `tgruu.` and the encoded token.
pub fn temp_gruu_user(secret: &str, now: i64, aor: &str, instance: &str, callid: &str) -> String {
    let mut plain = format!("{now} {aor} {instance} {callid}").into_bytes();
    xor(&mut plain, secret.as_bytes());
    format!("{TEMP_PREFIX}{}", STANDARD.encode(plain))
}

/// What a temporary GRUU names: the AOR, the instance and the Call-ID of the registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempGruu {
    pub aor: String,
    pub instance: String,
    pub callid: String,
}

/// Decodes the user part of a temporary GRUU (None when it is not one of ours).
pub fn decode_temp_gruu(secret: &str, user: &str) -> Option<TempGruu> {
    let token = user.strip_prefix(TEMP_PREFIX)?;
    let mut plain = STANDARD.decode(token).ok()?;
    xor(&mut plain, secret.as_bytes());
    let text = String::from_utf8(plain).ok()?;
    let mut parts = text.splitn(4, ' ');
    let time = parts.next()?;
    if time.is_empty() || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let aor = parts.next()?.to_string();
    let instance = parts.next()?.to_string();
    let callid = parts.next()?.to_string();
    if aor.is_empty() || instance.is_empty() {
        return None;
    }
    Some(TempGruu {
        aor,
        instance,
        callid,
    })
}

/// What a Request-URI asks for when it is a GRUU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GruuTarget {
    /// `;gr=urn:...`: the AOR's contacts of this instance.
    Public { instance: String },
    /// `tgruu.<token>@...;gr`: one registration of an instance.
    Temporary(TempGruu),
}

/// The GRUU a URI names, if any: `gr` with a value is public, `gr` without one on a `tgruu.`
/// user is temporary.
pub fn parse_target(uri: &crate::sip::Uri<'_>, secret: &str) -> Option<GruuTarget> {
    if !uri.has_param(b"gr") {
        return None;
    }
    if let Some(v) = uri.param(b"gr") {
        let v = String::from_utf8_lossy(v);
        let v = v.trim_matches('"');
        let v = v
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .unwrap_or(v);
        return Some(GruuTarget::Public {
            instance: v.to_string(),
        });
    }
    let user = uri.user_unescaped()?;
    decode_temp_gruu(secret, &String::from_utf8_lossy(&user)).map(GruuTarget::Temporary)
}

/// The Contact parameters of a binding's GRUUs: `;pub-gruu=...;temp-gruu=...;+sip.instance=...`.
/// `hostport` is where the binding registered (`host:port`); the public GRUU names it only when
/// the AOR has no domain (usrloc without `use_domain`).
pub fn contact_params(
    secret: &str,
    now: i64,
    aor: &str,
    use_domain: bool,
    hostport: &str,
    instance: &str,
    callid: &str,
) -> String {
    let mut out = String::new();
    let at = if use_domain {
        String::new()
    } else {
        format!("@{hostport}")
    };
    let _ = write!(out, ";pub-gruu=\"sip:{aor}{at};gr={instance}\"");
    let user = temp_gruu_user(secret, now, aor, instance, callid);
    let _ = write!(out, ";temp-gruu=\"sip:{user}@{hostport};gr\"");
    let _ = write!(out, ";+sip.instance=\"<{instance}>\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Uri;

    const INST: &str = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

    #[test]
    fn temp_gruu_round_trips_and_needs_the_secret() {
        let u = temp_gruu_user("s3cret", 1_700_000_000, "alice@example.com", INST, "a b c");
        assert!(u.starts_with("tgruu."));
        let t = decode_temp_gruu("s3cret", &u).unwrap();
        assert_eq!(t.aor, "alice@example.com");
        assert_eq!(t.instance, INST);
        assert_eq!(t.callid, "a b c");
        assert!(decode_temp_gruu("other", &u).is_none());
        assert!(decode_temp_gruu("s3cret", "tgruu.!!!").is_none());
        assert!(decode_temp_gruu("s3cret", "alice").is_none());
        assert!(decode_temp_gruu("s3cret", "tgruu.").is_none());
    }

    #[test]
    fn reply_params_name_aor_instance_and_socket() {
        let p = contact_params(
            DEFAULT_SECRET,
            5,
            "alice@example.com",
            true,
            "127.0.0.1:5060",
            INST,
            "cid",
        );
        assert!(p.starts_with(&format!(";pub-gruu=\"sip:alice@example.com;gr={INST}\"")));
        assert!(p.contains(";temp-gruu=\"sip:tgruu."));
        assert!(p.contains("@127.0.0.1:5060;gr\""));
        assert!(p.ends_with(&format!(";+sip.instance=\"<{INST}>\"")));
        let q = contact_params(
            DEFAULT_SECRET,
            5,
            "alice",
            false,
            "127.0.0.1:5060",
            INST,
            "c",
        );
        assert!(q.starts_with(&format!(";pub-gruu=\"sip:alice@127.0.0.1:5060;gr={INST}\"")));
        assert_eq!(socket_hostport("udp:127.0.0.1:5060"), "127.0.0.1:5060");
        assert_eq!(socket_hostport("127.0.0.1:5060"), "127.0.0.1:5060");
    }

    #[test]
    fn request_uris_name_public_and_temporary_gruus() {
        let raw = format!("sip:alice@example.com;gr={INST}");
        let u = Uri::parse(raw.as_bytes()).unwrap();
        assert_eq!(
            parse_target(&u, DEFAULT_SECRET),
            Some(GruuTarget::Public {
                instance: INST.into()
            })
        );
        let user = temp_gruu_user(DEFAULT_SECRET, 9, "alice@example.com", INST, "cid-9");
        let raw = format!("sip:{user}@127.0.0.1:5060;gr");
        let u = Uri::parse(raw.as_bytes()).unwrap();
        match parse_target(&u, DEFAULT_SECRET) {
            Some(GruuTarget::Temporary(t)) => assert_eq!(t.callid, "cid-9"),
            other => panic!("{other:?}"),
        }
        let u = Uri::parse(b"sip:alice@example.com").unwrap();
        assert_eq!(parse_target(&u, DEFAULT_SECRET), None);
        let u = Uri::parse(b"sip:bob@example.com;gr").unwrap();
        assert_eq!(parse_target(&u, DEFAULT_SECRET), None);
    }
}
