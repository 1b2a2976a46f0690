//! The R-URI, From and To as parsed for the script, kept for the message's run (as OpenSIPS keeps
//! `msg->parsed_uri` and `msg->from->parsed`): `$ru`, `$rU`, `$fu`, `$ft`... parse their header
//! once, not at every read. An entry stays valid while the text it came from is unchanged
//! (compared byte for byte), so a rewritten R-URI is parsed again.

use crate::script::{Str, Value};
use crate::sip::{NameAddr, Uri};

/// `b` (bytes the parser returned from `src`) as a value sharing `src`'s buffer.
fn part(src: &Str, b: &[u8]) -> Value {
    match src.slice_bytes(b) {
        Some(t) => Value::Str(t),
        None => Value::str(String::from_utf8_lossy(b).into_owned()),
    }
}

fn opt_part(src: &Str, b: Option<&[u8]>) -> Value {
    b.map(|b| part(src, b)).unwrap_or(Value::Null)
}

/// A URI's parts as the core variables read them; `ok` is false when the text does not parse.
#[derive(Debug, Clone)]
pub struct UriParts {
    pub text: Str,
    pub ok: bool,
    pub user: Value,
    pub host: Value,
    /// The port, or the scheme's default (5061 for `sips`, else 5060), as OpenSIPS reads it.
    pub port: Value,
}

impl UriParts {
    pub fn parse(text: Str) -> UriParts {
        let (ok, user, host, port) = match Uri::parse(text.as_bytes()) {
            Ok(u) => {
                let default = if u.scheme_raw.eq_ignore_ascii_case(b"sips") {
                    5061
                } else {
                    5060
                };
                (
                    true,
                    opt_part(&text, u.user),
                    part(&text, u.host),
                    Value::str_int(u.port.unwrap_or(default) as i32),
                )
            }
            Err(_) => (false, Value::Null, Value::Null, Value::Null),
        };
        UriParts {
            text,
            ok,
            user,
            host,
            port,
        }
    }
}

/// A From / To value's parts; `ok` is false when the value does not parse.
#[derive(Debug, Clone)]
pub struct NameAddrParts {
    pub text: Str,
    pub ok: bool,
    pub uri: Value,
    pub user: Value,
    pub domain: Value,
    /// Display name without quotes and escapes.
    pub name: Value,
    pub tag: Value,
}

impl NameAddrParts {
    pub fn parse(text: Str) -> NameAddrParts {
        let mut p = NameAddrParts {
            text: text.clone(),
            ok: false,
            uri: Value::Null,
            user: Value::Null,
            domain: Value::Null,
            name: Value::Null,
            tag: Value::Null,
        };
        if let Ok(na) = NameAddr::parse(text.as_bytes()) {
            p.ok = true;
            p.uri = part(&text, na.uri.raw);
            p.user = opt_part(&text, na.uri.user);
            p.domain = part(&text, na.uri.host);
            p.name = match na.display_unquoted() {
                Some(d) => part(&text, &d),
                None => Value::Null,
            };
            p.tag = opt_part(&text, na.tag());
        }
        p
    }
}

/// What one message run has parsed so far.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub ruri: Option<UriParts>,
    pub from: Option<NameAddrParts>,
    pub to: Option<NameAddrParts>,
}

/// The entry in `slot` if it was parsed from `raw`, else `raw` parsed again (`text` makes the
/// script string of `raw`).
pub fn entry<'a, T>(
    slot: &'a mut Option<T>,
    raw: &[u8],
    text_of: impl Fn(&T) -> &Str,
    parse: impl FnOnce() -> T,
) -> &'a T {
    let fresh = slot.as_ref().is_some_and(|e| text_of(e).as_bytes() == raw);
    if !fresh {
        *slot = None;
    }
    slot.get_or_insert_with(parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parts_and_defaults() {
        let u = UriParts::parse(Str::from("sips:bob@example.com"));
        assert!(u.ok);
        assert_eq!(u.user, Value::str("bob"));
        assert_eq!(u.port.as_int(), Some(5061));
        assert!(!UriParts::parse(Str::from("sip:")).ok);
    }

    #[test]
    fn entries_follow_the_text() {
        let mut slot = None;
        let a = entry(
            &mut slot,
            b"sip:a@x",
            |e: &UriParts| &e.text,
            || UriParts::parse(Str::from("sip:a@x")),
        );
        assert_eq!(a.user, Value::str("a"));
        // Same text: kept (the parse closure is not called).
        let a = entry(
            &mut slot,
            b"sip:a@x",
            |e: &UriParts| &e.text,
            || unreachable!(),
        );
        assert_eq!(a.user, Value::str("a"));
        let b = entry(
            &mut slot,
            b"sip:b@x",
            |e: &UriParts| &e.text,
            || UriParts::parse(Str::from("sip:b@x")),
        );
        assert_eq!(b.user, Value::str("b"));
        let n = NameAddrParts::parse(Str::from("\"Bob\" <sip:bob@h>;tag=7"));
        assert_eq!(
            (n.name, n.tag, n.domain),
            (Value::str("Bob"), Value::str("7"), Value::str("h"))
        );
    }
}
