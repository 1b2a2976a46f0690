//! The R-URI, From and To as parsed for the script, kept for the message's run (as OpenSIPS keeps
//! `msg->parsed_uri` and `msg->from->parsed`): `$ru`, `$rU`, `$fu`, `$ft`... parse their header
//! once, not at every read. An entry stays valid while the text it came from is unchanged
//! (compared byte for byte), so a rewritten R-URI is parsed again.

use crate::script::{Str, Value};
use crate::sip::scan::{unescape_quoted, unquote};
use crate::sip::{AddrBody, Uri};
use std::cell::OnceCell;

/// Where a part lies in the text it was parsed from (byte offsets), so the parse keeps no values
/// and a read makes only the part it asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part {
    start: u32,
    end: u32,
}

impl Part {
    /// `b`, a slice the parser returned from `src`; None if it is not inside `src`.
    fn of(src: &Str, b: &[u8]) -> Option<Part> {
        let base = src.as_ptr() as usize;
        let at = (b.as_ptr() as usize).checked_sub(base)?;
        (at + b.len() <= src.len()).then_some(Part {
            start: at as u32,
            end: (at + b.len()) as u32,
        })
    }

    fn value(self, src: &Str) -> Value {
        match src.get(self.start as usize..self.end as usize) {
            Some(t) => Value::Str(src.slice_of(t)),
            None => Value::Null,
        }
    }
}

fn opt_value(src: &Str, p: Option<Part>) -> Value {
    p.map(|p| p.value(src)).unwrap_or(Value::Null)
}

/// A URI's parts as the core variables read them; `ok` is false when the text does not parse.
#[derive(Debug, Clone)]
pub struct UriParts {
    pub text: Str,
    pub ok: bool,
    user: Option<Part>,
    host: Option<Part>,
    /// The port, or the scheme's default (5061 for `sips`, else 5060), as OpenSIPS reads it.
    port: u16,
}

impl UriParts {
    pub fn parse(text: Str) -> UriParts {
        let mut p = UriParts {
            text,
            ok: false,
            user: None,
            host: None,
            port: 0,
        };
        if let Ok(u) = Uri::parse(p.text.as_bytes()) {
            let default = if u.scheme_raw.eq_ignore_ascii_case(b"sips") {
                5061
            } else {
                5060
            };
            p.ok = true;
            p.user = u.user.and_then(|b| Part::of(&p.text, b));
            p.host = Part::of(&p.text, u.host);
            p.port = u.port.unwrap_or(default);
        }
        p
    }

    pub fn user(&self) -> Value {
        opt_value(&self.text, self.user)
    }

    pub fn host(&self) -> Value {
        opt_value(&self.text, self.host)
    }

    pub fn port(&self) -> Value {
        if self.ok {
            Value::str_int(self.port as i32)
        } else {
            Value::Null
        }
    }
}

/// A From / To value's parts; `ok` is false when the value does not parse. As OpenSIPS's
/// `parse_to`, the split finds the URI text and the tag; the URI itself is parsed only when its
/// user or host is read (`$fU`, `$td`), and the display name unquoted only when read (`$fn`).
#[derive(Debug, Clone)]
pub struct NameAddrParts {
    pub text: Str,
    pub ok: bool,
    uri: Option<Part>,
    display: Option<Part>,
    tag: Option<Part>,
    /// (user, host) of the URI; None inside when the URI does not parse.
    uri_parts: OnceCell<Option<(Option<Part>, Part)>>,
    /// Display name without quotes and escapes (copied only when it had escapes).
    name: OnceCell<Value>,
}

impl NameAddrParts {
    pub fn parse(text: Str) -> NameAddrParts {
        let mut p = NameAddrParts {
            text,
            ok: false,
            uri: None,
            display: None,
            tag: None,
            uri_parts: OnceCell::new(),
            name: OnceCell::new(),
        };
        if let Ok(b) = AddrBody::parse(p.text.as_bytes()) {
            let t = &p.text;
            p.ok = true;
            p.uri = Part::of(t, b.uri);
            p.display = b.display.and_then(|d| Part::of(t, d));
            p.tag = b.tag.and_then(|v| Part::of(t, v));
        }
        p
    }

    pub fn uri(&self) -> Value {
        opt_value(&self.text, self.uri)
    }

    /// The URI's user and host; None when the URI does not parse.
    fn uri_parts(&self) -> Option<(Option<Part>, Part)> {
        *self.uri_parts.get_or_init(|| {
            let t = &self.text;
            let raw = t
                .as_bytes()
                .get(self.uri?.start as usize..self.uri?.end as usize)?;
            let u = Uri::parse(raw).ok()?;
            Some((u.user.and_then(|b| Part::of(t, b)), Part::of(t, u.host)?))
        })
    }

    /// Whether the URI parses (readers of its user or host report a parse error otherwise).
    pub fn uri_ok(&self) -> bool {
        self.uri_parts().is_some()
    }

    pub fn user(&self) -> Value {
        opt_value(&self.text, self.uri_parts().and_then(|p| p.0))
    }

    pub fn domain(&self) -> Value {
        opt_value(&self.text, self.uri_parts().map(|p| p.1))
    }

    pub fn name(&self) -> Value {
        self.name
            .get_or_init(|| {
                let Some(d) = self.display else {
                    return Value::Null;
                };
                let t = &self.text;
                let raw = &t.as_bytes()[d.start as usize..d.end as usize];
                let d = unescape_quoted(unquote(raw));
                match t.slice_bytes(&d) {
                    Some(s) => Value::Str(s),
                    None => Value::str(String::from_utf8_lossy(&d).into_owned()),
                }
            })
            .clone()
    }

    pub fn tag(&self) -> Value {
        opt_value(&self.text, self.tag)
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
    let fresh = slot.as_ref().is_some_and(|e| {
        let t = text_of(e).as_bytes();
        // Usually the entry's text is a slice of the same message bytes: no byte compare then.
        t.len() == raw.len() && (t.as_ptr() == raw.as_ptr() || t == raw)
    });
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
        assert_eq!(u.user(), Value::str("bob"));
        assert_eq!(u.host(), Value::str("example.com"));
        assert_eq!(u.port().as_int(), Some(5061));
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
        assert_eq!(a.user(), Value::str("a"));
        // Same text: kept (the parse closure is not called).
        let a = entry(
            &mut slot,
            b"sip:a@x",
            |e: &UriParts| &e.text,
            || unreachable!(),
        );
        assert_eq!(a.user(), Value::str("a"));
        let b = entry(
            &mut slot,
            b"sip:b@x",
            |e: &UriParts| &e.text,
            || UriParts::parse(Str::from("sip:b@x")),
        );
        assert_eq!(b.user(), Value::str("b"));
        let n = NameAddrParts::parse(Str::from("\"Bob\" <sip:bob@h>;tag=7"));
        assert_eq!(
            (n.name(), n.tag(), n.domain(), n.uri(), n.user()),
            (
                Value::str("Bob"),
                Value::str("7"),
                Value::str("h"),
                Value::str("sip:bob@h"),
                Value::str("bob")
            )
        );
        let e = NameAddrParts::parse(Str::from("\"B\\\"x\" <sip:h>"));
        assert_eq!((e.name(), e.user()), (Value::str("B\"x"), Value::Null));
    }
}
