//! name-addr / addr-spec with header parameters (From, To, Contact, Route, Record-Route, ...).

use std::borrow::Cow;

use super::error::HeaderError;
use super::params::Params;
use super::scan::{is_lws, skip_quoted, trim, unescape_quoted, unquote};
use super::uri::Uri;

/// `["display"] <uri> ;params` or `uri ;params`. Borrowed from the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The whole value as received.
    pub raw: &'a [u8],
    /// Display name as written (quotes kept), if any.
    pub display: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    /// True when the URI was written in `<...>`.
    pub angle: bool,
    /// Header parameters after the URI (`;tag=...`, `;expires=...`).
    pub params: Params<'a>,
    /// The first `tag` parameter's value (unquoted), found while validating the parameters.
    tag: Option<&'a [u8]>,
}

const fn display_stop_table() -> [u8; 256] {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let display = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
            || matches!(c, b' ' | b'\t' | b'\r' | b'\n');
        t[b] = !display as u8;
        b += 1;
    }
    t
}

/// Zero for token characters and whitespace: what an unquoted display name may hold.
static DISPLAY_STOP: [u8; 256] = display_stop_table();

/// Validates header parameters and returns the first `tag`'s value, in one pass.
fn scan_params(params: Params<'_>) -> Result<Option<&[u8]>, HeaderError> {
    let mut tag = None;
    let mut seen = false;
    let ok = params.scan(|name, value| {
        if !seen && super::scan::eq_letters(name, b"tag") {
            seen = true;
            tag = value.map(unquote);
        }
    });
    if ok {
        Ok(tag)
    } else {
        Err(HeaderError::new("bad header parameter"))
    }
}

/// A name-addr / addr-spec split into its parts without parsing the URI (OpenSIPS `parse_to`):
/// what From / To readers need for the display name, the URI text and the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrBody<'a> {
    /// The whole value as received (trimmed).
    pub raw: &'a [u8],
    /// Display name as written (quotes kept), if any.
    pub display: Option<&'a [u8]>,
    /// The URI text (inside `<...>` when `angle`).
    pub uri: &'a [u8],
    pub angle: bool,
    /// Header parameters after the URI.
    pub params: Params<'a>,
    /// The first `tag` parameter's value (unquoted).
    pub tag: Option<&'a [u8]>,
}

impl<'a> AddrBody<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<AddrBody<'a>, HeaderError> {
        let raw = trim(raw);
        if raw.is_empty() {
            return Err(HeaderError::new("empty address"));
        }
        let mut i = 0;
        let mut display = None;
        if raw[0] == b'"' {
            let end = skip_quoted(raw, 0)
                .map_err(|_| HeaderError::new("unterminated quoted display name"))?;
            display = Some(&raw[..end]);
            i = end;
            while i < raw.len() && is_lws(raw[i]) {
                i += 1;
            }
            if raw.get(i) != Some(&b'<') {
                return Err(HeaderError::new("display name not followed by <URI>"));
            }
        } else {
            // Display name: token characters and whitespace up to the '<'. Any other byte
            // before a '<' is an error; with no '<' at all the value is an addr-spec.
            let stop = super::scan::skip_until(raw, 0, &DISPLAY_STOP);
            if raw.get(stop) == Some(&b'<') {
                let dn = trim(&raw[..stop]);
                if !dn.is_empty() {
                    display = Some(dn);
                }
                i = stop;
            } else if super::scan::find_byte(b'<', &raw[stop..]).is_some() {
                return Err(HeaderError::new("display name has non-token characters"));
            }
        }
        if raw.get(i) == Some(&b'<') {
            let end = super::scan::find_any(raw, i, [b'>'])
                .ok_or(HeaderError::new("unterminated <URI>"))?;
            let inner = &raw[i + 1..end];
            if inner.first().is_some_and(|&b| is_lws(b)) || inner.last().is_some_and(|&b| is_lws(b))
            {
                return Err(HeaderError::new("whitespace inside <URI>"));
            }
            let params = trim(&raw[end + 1..]);
            if !params.is_empty() && params[0] != b';' {
                return Err(HeaderError::new("junk after <URI>"));
            }
            let params = Params::new(params);
            let tag = scan_params(params)?;
            return Ok(AddrBody {
                raw,
                display,
                uri: inner,
                angle: true,
                params,
                tag,
            });
        }
        // addr-spec: the URI ends at the first ';' (its parameters belong to the header) or space.
        let end = raw
            .iter()
            .position(|&b| b == b';' || is_lws(b))
            .unwrap_or(raw.len());
        let uri = &raw[..end];
        if memchr::memchr2(b'?', b',', uri).is_some() {
            return Err(HeaderError::new("URI with headers or commas must be in <>"));
        }
        let rest = trim(&raw[end..]);
        if !rest.is_empty() && rest[0] != b';' {
            return Err(HeaderError::new("spaces inside an addr-spec"));
        }
        let params = Params::new(rest);
        let tag = scan_params(params)?;
        Ok(AddrBody {
            raw,
            display,
            uri,
            angle: false,
            params,
            tag,
        })
    }

    /// Display name without quotes and with `\x` escapes resolved.
    pub fn display_unquoted(&self) -> Option<Cow<'a, [u8]>> {
        self.display.map(|d| unescape_quoted(unquote(d)))
    }
}

impl<'a> NameAddr<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<NameAddr<'a>, HeaderError> {
        let b = AddrBody::parse(raw)?;
        Ok(NameAddr {
            raw: b.raw,
            display: b.display,
            uri: Uri::parse(b.uri)?,
            angle: b.angle,
            params: b.params,
            tag: b.tag,
        })
    }

    /// `tag` parameter (From / To).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag
    }

    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.params.value(name)
    }

    /// Display name without quotes and with `\x` escapes resolved.
    pub fn display_unquoted(&self) -> Option<Cow<'a, [u8]>> {
        self.display.map(|d| unescape_quoted(unquote(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_addr_and_addr_spec() {
        let n = NameAddr::parse(br#" "Bob \"B\"" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf "#)
            .unwrap();
        assert_eq!(n.display_unquoted().unwrap().as_ref(), br#"Bob "B""#);
        assert_eq!(n.uri.host, b"biloxi.com");
        assert_eq!(n.uri.transport(), Some(&b"tcp"[..]));
        assert_eq!(n.tag(), Some(&b"a6c85cf"[..]));

        let a = NameAddr::parse(b"sip:alice@atlanta.com;tag=88sja8x").unwrap();
        assert!(!a.angle);
        assert!(a.uri.params.is_empty());
        assert_eq!(a.tag(), Some(&b"88sja8x"[..]));

        // The first tag counts, as `params.value` would find it.
        let two = NameAddr::parse(b"<sip:a@b>;TAG=\"x\";tag=y").unwrap();
        assert_eq!(two.tag(), Some(&b"x"[..]));
        assert_eq!(two.tag(), two.params.value(b"tag"));
        let bare = NameAddr::parse(b"<sip:a@b>;tag;tag=y").unwrap();
        assert_eq!(bare.tag(), None);
        assert_eq!(bare.tag(), bare.params.value(b"tag"));

        let t = NameAddr::parse(b"Bob Smith <tel:+1555>").unwrap();
        assert_eq!(t.display, Some(&b"Bob Smith"[..]));
    }

    #[test]
    fn rejects_malformed() {
        assert!(NameAddr::parse(br#""unterminated <sip:a@b>"#).is_err());
        assert!(NameAddr::parse(b"Bell, Alexander <sip:a.g.bell@bell-tel.com>").is_err());
        assert!(NameAddr::parse(b"sip:a@b junk").is_err());
        assert!(NameAddr::parse(b"<sip:a@b").is_err());
        assert!(NameAddr::parse(b"Bob@home <sip:a@b>").is_err());
        assert!(NameAddr::parse(b"sip:a@b;x=<y>").is_err());
    }
}
