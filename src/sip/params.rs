//! `;name=value` parameter lists (URI parameters, header parameters), as zero-copy views.

use super::scan::{eq_ic, find_any, is_lws, skip_quoted, skip_until, trim, trim_end, unquote};

/// A parameter list as it appears on the wire, starting at the first `;` (or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
}

/// One parameter: name and optional value (quotes kept; see [`Param::value_unquoted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// The value with surrounding double quotes removed (escapes are left as is).
    pub fn value_unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(unquote)
    }
}

impl<'a> Params<'a> {
    pub const EMPTY: Params<'static> = Params { raw: b"" };

    /// `raw` is the text from the first `;` to the end of the list.
    pub fn new(raw: &'a [u8]) -> Self {
        Self { raw }
    }

    /// The parameters exactly as received (starting with `;`), e.g. for copying.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.raw }
    }

    /// Finds a parameter by name (case-insensitive). `Some(None)` means present without a value.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.iter().find(|p| eq_ic(p.name, name)).map(|p| p.value)
    }

    /// Value of `name`, with quotes removed; `None` when absent or valueless.
    pub fn value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get(name).flatten().map(unquote)
    }

    pub fn has(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Checks that every parameter has a non-empty token name (`;;` and `;=x` are rejected).
    pub fn validate(&self) -> bool {
        self.scan(|_, _| {})
    }

    /// Validates the list and calls `f(name, value)` for each parameter, in one pass over the
    /// bytes: `;` then a name of parameter characters, optionally `=` and a non-empty value up to
    /// the next `;` outside quotes; whitespace around each part is skipped.
    pub fn scan(&self, mut f: impl FnMut(&'a [u8], Option<&'a [u8]>)) -> bool {
        let b = self.raw;
        let n = b.len();
        let skip_lws = |mut i: usize| {
            while i < n && is_lws(b[i]) {
                i += 1;
            }
            i
        };
        let mut i = 0;
        loop {
            i = skip_lws(i);
            if i == n {
                return true;
            }
            if b[i] != b';' {
                return false;
            }
            i = skip_lws(i + 1);
            let name_start = i;
            i = skip_until(b, i, &PARAM_STOP);
            let name = &b[name_start..i];
            i = skip_lws(i);
            let value = if i < n && b[i] == b'=' {
                i = skip_lws(i + 1);
                let start = i;
                while let Some(j) = find_any(b, i, [b';', b'"']) {
                    if b[j] == b';' {
                        i = j;
                        break;
                    }
                    i = skip_quoted(b, j).unwrap_or(n);
                }
                if i < n && b[i] != b';' {
                    // No `;` after the value's last quote: the value runs to the end.
                    i = n;
                }
                let v = trim_end(&b[start..i]);
                if v.is_empty() {
                    return false;
                }
                Some(v)
            } else if i < n && b[i] != b';' {
                return false;
            } else {
                None
            };
            if name.is_empty() {
                return false;
            }
            f(name, value);
        }
    }
}

const fn param_stop_table() -> [u8; 256] {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let param = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'['
                    | b']'
                    | b'/'
                    | b':'
                    | b'&'
                    | b'$'
            );
        t[b] = !param as u8;
        b += 1;
    }
    t
}

/// Zero for the characters of a parameter name ([`is_param_char`]).
static PARAM_STOP: [u8; 256] = param_stop_table();

/// URI `paramchar` minus `%`-escapes, used for URI parameter names such as `+sip.instance`.
#[cfg(test)]
fn is_param_char(b: u8) -> bool {
    super::scan::is_token(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'$' | b'%')
}

/// Splits off one parameter: up to the next `;` that is outside quotes.
fn split_one(s: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while let Some(j) = super::scan::find_any(s, i, [b';', b'"']) {
        if s[j] == b';' {
            return (&s[..j], &s[j..]);
        }
        match super::scan::skip_quoted(s, j) {
            Ok(k) => i = k,
            Err(_) => return (s, b""),
        }
    }
    (s, b"")
}

pub struct ParamIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let s = trim(self.rest);
            if s.is_empty() {
                return None;
            }
            let s = if s[0] == b';' { &s[1..] } else { s };
            let (p, rest) = split_one(s);
            self.rest = rest;
            let p = trim(p);
            if p.is_empty() {
                continue;
            }
            return Some(match super::scan::find_byte(b'=', p) {
                Some(i) => Param {
                    name: trim(&p[..i]),
                    value: Some(trim(&p[i + 1..])),
                },
                None => Param {
                    name: p,
                    value: None,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_table_is_the_param_char_test() {
        for b in 0..=255u8 {
            assert_eq!(PARAM_STOP[b as usize] == 0, is_param_char(b), "{b}");
        }
    }

    #[test]
    fn finds_params_case_insensitively() {
        let p = Params::new(br#";branch=z9hG4bK1;RPort; received = 1.2.3.4;x="a;b""#);
        assert_eq!(p.value(b"BRANCH"), Some(&b"z9hG4bK1"[..]));
        assert_eq!(p.get(b"rport"), Some(None));
        assert_eq!(p.value(b"received"), Some(&b"1.2.3.4"[..]));
        assert_eq!(p.value(b"x"), Some(&b"a;b"[..]));
        assert_eq!(p.get(b"maddr"), None);
        assert_eq!(p.iter().count(), 4);
        assert!(p.validate());
    }

    #[test]
    fn rejects_empty_params() {
        assert!(!Params::new(b";;a").validate());
        assert!(!Params::new(b";a=").validate());
        assert!(Params::new(b"").validate());
    }
}
