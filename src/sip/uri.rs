//! SIP, SIPS and tel URIs as zero-copy views (RFC 3261 §19.1, RFC 3966), plus `%XX` unescaping.

use std::borrow::Cow;

use super::error::HeaderError;
use super::params::Params;
use super::scan::{eq_ic, parse_u16};

/// Byte classes of the one-pass URI scan. `0` is an ordinary byte.
const EXCLUDED: u8 = 1;
const PERCENT: u8 = 2;
const AT: u8 = 3;
const QUESTION: u8 = 4;
const SEMI: u8 = 5;
const COLON: u8 = 6;

const fn uri_classes() -> [u8; 256] {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        // Bytes that never appear unescaped in a URI: controls, space, DEL, `<`, `>`, `"`.
        t[b] = if b <= b' ' as usize
            || b == 0x7f
            || b == b'<' as usize
            || b == b'>' as usize
            || b == b'"' as usize
        {
            EXCLUDED
        } else {
            match b as u8 {
                b'%' => PERCENT,
                b'@' => AT,
                b'?' => QUESTION,
                b';' => SEMI,
                b':' => COLON,
                _ => 0,
            }
        };
        b += 1;
    }
    t
}

static URI_CLASS: [u8; 256] = uri_classes();

/// Where the separators of a URI's scheme-specific part are, from one scan.
struct Marks {
    escaped: bool,
    /// First '@'.
    at: Option<usize>,
    /// First ':' before the first '@' (user:password).
    colon: Option<usize>,
    /// First '?' and ';' after the first '@' (anywhere when there is no '@').
    question: Option<usize>,
    semi: Option<usize>,
    /// First ':' after the first '@' (the host:port colon when it comes before ';' and '?').
    host_colon: Option<usize>,
}

/// Classifies every byte of `rest` once; fails on a byte that cannot appear in a URI.
#[inline]
fn scan_marks(rest: &[u8]) -> Result<Marks, HeaderError> {
    let mut m = Marks {
        escaped: false,
        at: None,
        colon: None,
        question: None,
        semi: None,
        host_colon: None,
    };
    let mut i = 0;
    loop {
        // Most bytes are ordinary: skip them in a tight loop, then look at the separator.
        i = super::scan::skip_until(rest, i, &URI_CLASS);
        let Some(&b) = rest.get(i) else { break };
        match URI_CLASS[b as usize] {
            EXCLUDED => {
                return Err(HeaderError::new(
                    "URI contains whitespace or a reserved character",
                ));
            }
            PERCENT => m.escaped = true,
            AT => {
                if m.at.is_none() {
                    m.at = Some(i);
                    m.question = None;
                    m.semi = None;
                }
            }
            QUESTION => m.question = m.question.or(Some(i)),
            SEMI => m.semi = m.semi.or(Some(i)),
            _ => {
                if m.at.is_none() {
                    m.colon = m.colon.or(Some(i));
                } else {
                    m.host_colon = m.host_colon.or(Some(i));
                }
            }
        }
        i += 1;
    }
    Ok(m)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other absolute URI scheme (kept as text in [`Uri::scheme_raw`]).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    Name,
    Ipv4,
    /// `[...]` IPv6 reference; [`Uri::host`] keeps the brackets.
    Ipv6,
    /// No host (tel URIs and other schemes).
    None,
}

/// A parsed URI. All fields borrow from the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as received.
    pub raw: &'a [u8],
    pub scheme: Scheme,
    pub scheme_raw: &'a [u8],
    /// User part (still `%`-escaped; see [`unescape`]). For tel URIs: the number.
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    /// Host as written; IPv6 references keep their brackets.
    pub host: &'a [u8],
    pub host_kind: HostKind,
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// Header part after `?`, still escaped (`Subject=x&Priority=urgent`).
    pub headers: Option<&'a [u8]>,
}

impl<'a> Uri<'a> {
    /// Parses a URI (no surrounding `<>` or whitespace).
    pub fn parse(raw: &'a [u8]) -> Result<Uri<'a>, HeaderError> {
        let (scheme, colon) = if raw.len() > 4 && raw[..4].eq_ignore_ascii_case(b"sip:") {
            (Scheme::Sip, 3)
        } else {
            scheme_of(raw)?
        };
        let scheme_raw = &raw[..colon];
        // A valid scheme holds no excluded byte, so scanning the rest covers the whole URI.
        let rest = &raw[colon + 1..];
        let marks = scan_marks(rest)?;
        let mut uri = Uri {
            raw,
            scheme,
            scheme_raw,
            user: None,
            password: None,
            host: b"",
            host_kind: HostKind::None,
            port: None,
            params: Params::EMPTY,
            headers: None,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(rest, &marks, &mut uri)?,
            Scheme::Tel => {
                let semi = super::scan::find_byte(b';', rest).unwrap_or(rest.len());
                if semi == 0 {
                    return Err(HeaderError::new("tel URI without a number"));
                }
                uri.user = Some(&rest[..semi]);
                uri.params = Params::new(&rest[semi..]);
            }
            Scheme::Other => {
                if rest.is_empty() {
                    return Err(HeaderError::new("empty URI"));
                }
            }
        }
        if marks.escaped {
            check_escapes(raw)?;
        }
        Ok(uri)
    }

    /// A URI parameter's value (`None` when absent or valueless).
    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.params.value(name)
    }

    pub fn has_param(&self, name: &[u8]) -> bool {
        self.params.has(name)
    }

    /// The `transport=` parameter.
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.param(b"transport")
    }

    /// Loose routing flag (`;lr`).
    pub fn lr(&self) -> bool {
        self.has_param(b"lr")
    }

    /// The host without IPv6 brackets.
    pub fn host_unbracketed(&self) -> &'a [u8] {
        if self.host_kind == HostKind::Ipv6 {
            &self.host[1..self.host.len() - 1]
        } else {
            self.host
        }
    }

    /// The user part with `%XX` escapes resolved.
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(unescape)
    }
}

/// The scheme of a URI other than the usual `sip:`, and the index of its colon.
fn scheme_of(raw: &[u8]) -> Result<(Scheme, usize), HeaderError> {
    let colon =
        super::scan::find_byte(b':', raw).ok_or(HeaderError::new("URI without a scheme"))?;
    let scheme_raw = &raw[..colon];
    if scheme_raw.is_empty()
        || !scheme_raw[0].is_ascii_alphabetic()
        || !scheme_raw
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(HeaderError::new("bad URI scheme"));
    }
    let scheme = if eq_ic(scheme_raw, b"sip") {
        Scheme::Sip
    } else if eq_ic(scheme_raw, b"sips") {
        Scheme::Sips
    } else if eq_ic(scheme_raw, b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    Ok((scheme, colon))
}

fn parse_sip<'a>(rest: &'a [u8], m: &Marks, uri: &mut Uri<'a>) -> Result<(), HeaderError> {
    // '@' cannot appear unescaped in parameters or headers, so it always ends the userinfo,
    // whose user part may itself hold ';', '?' and ',' (RFC 4475 §3.1.1.2 and §3.1.1.9).
    let (hostpart, base) = match m.at {
        Some(at) => {
            let userinfo = &rest[..at];
            let (user, password) = match m.colon {
                Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                None => (userinfo, None),
            };
            if user.is_empty() {
                return Err(HeaderError::new("empty user part in URI"));
            }
            uri.user = Some(user);
            uri.password = password;
            (&rest[at + 1..], at + 1)
        }
        None => (rest, 0),
    };
    let (body, headers) = match m.question {
        Some(q) => (&hostpart[..q - base], Some(&hostpart[q - base + 1..])),
        None => (hostpart, None),
    };
    uri.headers = headers;
    let (hostport, params) = match m.semi {
        Some(s) if s - base < body.len() => (&body[..s - base], &body[s - base..]),
        _ => (body, &b""[..]),
    };
    uri.params = Params::new(params);
    if !params.is_empty() && !uri.params.validate() {
        return Err(HeaderError::new("bad URI parameter"));
    }
    let (host, port) = if hostport.first() == Some(&b'[') {
        split_hostport(hostport)?
    } else {
        // The scan already saw the colon: what `split_hostport` would find, without a search.
        let colon = match m.at {
            Some(_) => m.host_colon,
            None => m.colon,
        };
        let (host, port) = match colon.map(|c| c - base).filter(|&c| c < hostport.len()) {
            Some(c) => {
                let port = parse_u16(&hostport[c + 1..]).ok_or(HeaderError::new("bad port"))?;
                (&hostport[..c], Some(port))
            }
            None => (hostport, None),
        };
        if host.is_empty() {
            return Err(HeaderError::new("empty host"));
        }
        (host, port)
    };
    uri.host_kind = host_kind(host)?;
    uri.host = host;
    uri.port = port;
    Ok(())
}

/// Splits `host[:port]` (IPv6 in brackets) and validates both.
pub fn split_hostport(hp: &[u8]) -> Result<(&[u8], Option<u16>), HeaderError> {
    let (host, port) = if hp.first() == Some(&b'[') {
        let end = super::scan::find_byte(b']', hp)
            .ok_or(HeaderError::new("unterminated IPv6 reference"))?;
        let after = &hp[end + 1..];
        let port = match after {
            [] => None,
            [b':', p @ ..] => Some(p),
            _ => return Err(HeaderError::new("junk after IPv6 reference")),
        };
        (&hp[..=end], port)
    } else {
        match super::scan::find_byte(b':', hp) {
            Some(c) => (&hp[..c], Some(&hp[c + 1..])),
            None => (hp, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_u16(p).ok_or(HeaderError::new("bad port"))?),
        None => None,
    };
    if host.is_empty() {
        return Err(HeaderError::new("empty host"));
    }
    Ok((host, port))
}

/// Classifies and validates a host: hostname, IPv4 address or bracketed IPv6 reference.
pub fn host_kind(host: &[u8]) -> Result<HostKind, HeaderError> {
    if host.first() == Some(&b'[') {
        let inner = &host[1..host.len().saturating_sub(1).max(1)];
        let ok = host.len() > 2
            && host[host.len() - 1] == b']'
            && std::str::from_utf8(inner)
                .ok()
                .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
                .is_some();
        return if ok {
            Ok(HostKind::Ipv6)
        } else {
            Err(HeaderError::new("bad IPv6 reference"))
        };
    }
    // A dotted quad needs no class pass (every byte is checked by `is_ipv4`).
    if host.first().is_some_and(u8::is_ascii_digit) && is_ipv4(host) {
        return Ok(HostKind::Ipv4);
    }
    let mut all = HOST | DIGIT_DOT;
    let mut quads = host.chunks_exact(4);
    for c in &mut quads {
        all &= HOST_CLASS[c[0] as usize]
            & HOST_CLASS[c[1] as usize]
            & HOST_CLASS[c[2] as usize]
            & HOST_CLASS[c[3] as usize];
    }
    for &b in quads.remainder() {
        all &= HOST_CLASS[b as usize];
    }
    let (all_host, all_digit_dot) = (all & HOST != 0, all & DIGIT_DOT != 0);
    // A dotted all-digit name that is not an IPv4 address is not a valid hostname either (the
    // top label must start with a letter).
    let valid = host.first().is_some_and(u8::is_ascii_alphanumeric) && all_host && !all_digit_dot;
    if valid {
        Ok(HostKind::Name)
    } else if all_digit_dot {
        Err(HeaderError::new("bad IPv4 address"))
    } else {
        Err(HeaderError::new("bad host name"))
    }
}

/// Host byte classes: `HOST` for hostname characters, `DIGIT_DOT` for IPv4 characters.
const HOST: u8 = 1;
const DIGIT_DOT: u8 = 2;

const fn host_class() -> [u8; 256] {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' {
            t[b] |= HOST;
        }
        if c.is_ascii_digit() || c == b'.' {
            t[b] |= DIGIT_DOT;
        }
        b += 1;
    }
    t
}

static HOST_CLASS: [u8; 256] = host_class();

/// Dotted-quad IPv4 address: four decimal octets of one to three digits, each at most 255.
pub fn is_ipv4(s: &[u8]) -> bool {
    if !(7..=15).contains(&s.len()) {
        return false;
    }
    let mut i = 0;
    for octet in 0..4 {
        if octet > 0 {
            if s.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < s.len() && i - start < 3 {
            let d = s[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v * 10 + u32::from(d);
            i += 1;
        }
        if i == start || v > 255 {
            return false;
        }
    }
    i == s.len()
}

fn check_escapes(s: &[u8]) -> Result<(), HeaderError> {
    let mut i = 0;
    while let Some(p) = super::scan::find_byte(b'%', &s[i..]) {
        let j = i + p;
        let ok = s.len() > j + 2 && s[j + 1].is_ascii_hexdigit() && s[j + 2].is_ascii_hexdigit();
        if !ok {
            return Err(HeaderError::new("bad %-escape in URI"));
        }
        i = j + 3;
    }
    Ok(())
}

/// Resolves `%XX` escapes. Borrows when there is nothing to resolve. Invalid escapes are kept as is.
pub fn unescape(s: &[u8]) -> Cow<'_, [u8]> {
    if super::scan::find_byte(b'%', s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_sip_uri() {
        let u = Uri::parse(b"sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?Subject=hi")
            .unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host, b"[2001:db8::10]");
        assert_eq!(u.host_unbracketed(), b"2001:db8::10");
        assert_eq!(u.host_kind, HostKind::Ipv6);
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.lr());
        assert_eq!(u.headers, Some(&b"Subject=hi"[..]));
    }

    #[test]
    fn user_may_hold_semicolons_and_escapes() {
        let u = Uri::parse(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(
            u.user_unescaped().unwrap().as_ref(),
            b"user;par=u@example.net"
        );
        assert_eq!(u.host, b"example.com");
        assert!(u.params.is_empty());
    }

    #[test]
    fn parses_tel_and_ipv4() {
        let t = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user, Some(&b"+1-201-555-0123"[..]));
        assert_eq!(t.param(b"phone-context"), Some(&b"example.com"[..]));
        let u = Uri::parse(b"sip:192.0.2.4:5060").unwrap();
        assert_eq!(u.host_kind, HostKind::Ipv4);
        assert_eq!(u.port, Some(5060));
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            &b"sip:"[..],
            b"sip:user@",
            b"sip:host:99999",
            b"sip:[::1",
            b"sip:a b@host",
            b"sip:host;;x",
            b"sip:%zz@host",
            b"nocolon",
            b"sip:256.1.1.1",
        ] {
            assert!(Uri::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ipv4_needs_four_octets_of_at_most_255() {
        for ok in [
            &b"0.0.0.0"[..],
            b"255.255.255.255",
            b"127.0.0.1",
            b"010.1.1.1",
        ] {
            assert!(is_ipv4(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"1..3.4",
            b".1.2.3",
            b"1.2.3.",
            b"256.1.1.1",
            b"1.2.3.1000",
            b"1.2.3.a",
        ] {
            assert!(!is_ipv4(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn host_and_port_agree_with_split_hostport() {
        for (uri, hostport) in [
            ("sip:example.com", "example.com"),
            ("sip:example.com:5060", "example.com:5060"),
            ("sip:u@h:1;p=a:b?x=c:d", "h:1"),
            ("sip:u:pw@h;maddr=a:b", "h"),
            ("sip:h;x=1:2", "h"),
            ("sip:h?a=1:2", "h"),
            ("sips:u@127.0.0.1:5061", "127.0.0.1:5061"),
            ("sip:u@[::1]:5070;lr", "[::1]:5070"),
            ("sip::5060", ":5060"),
            ("sip:u@:5060", ":5060"),
            ("sip:h:", "h:"),
            ("sip:h:x", "h:x"),
            ("sip:u@h:99999", "h:99999"),
        ] {
            let want = split_hostport(hostport.as_bytes()).map(|(h, p)| (h.to_vec(), p));
            let got = Uri::parse(uri.as_bytes()).map(|u| (u.host.to_vec(), u.port));
            assert_eq!(got.is_ok(), want.is_ok(), "{uri}");
            if let (Ok(g), Ok(w)) = (&got, &want) {
                assert_eq!(g, w, "{uri}");
            }
        }
    }

    #[test]
    fn unescape_resolves_hex() {
        assert_eq!(unescape(b"a%20b%2").as_ref(), b"a b%2");
        assert!(matches!(unescape(b"plain"), Cow::Borrowed(_)));
    }
}
