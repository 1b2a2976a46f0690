//! Digest authentication headers on the wire (RFC 3261 §22, RFC 7616): Authorization /
//! Proxy-Authorization credentials and WWW-Authenticate / Proxy-Authenticate challenges.

use std::borrow::Cow;

use super::error::HeaderError;
use super::hdr::HdrId;
use super::msg::Msg;
use super::scan::{eq_ic, is_lws, is_token, skip_quoted, trim, unescape_quoted};

/// `Scheme name=value, name="quoted", ...` — credentials or a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// `Digest`, `Basic`, or any other scheme as written.
    pub scheme: &'a [u8],
    /// The parameter list after the scheme.
    pub raw_params: &'a [u8],
}

/// One auth parameter; `value` is the unquoted body (escapes not resolved), `quoted` tells
/// whether it was a quoted-string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub quoted: bool,
}

impl<'a> AuthParam<'a> {
    /// The value with `\x` escapes resolved.
    pub fn unescaped(&self) -> Cow<'a, [u8]> {
        if self.quoted {
            unescape_quoted(self.value)
        } else {
            Cow::Borrowed(self.value)
        }
    }
}

impl<'a> AuthParams<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<AuthParams<'a>, HeaderError> {
        let raw = trim(raw);
        let n = raw.iter().position(|&b| !is_token(b)).unwrap_or(raw.len());
        if n == 0 {
            return Err(HeaderError::new("missing auth scheme"));
        }
        if n < raw.len() && !is_lws(raw[n]) {
            return Err(HeaderError::new("bad auth scheme"));
        }
        let ap = AuthParams {
            scheme: &raw[..n],
            raw_params: trim(&raw[n..]),
        };
        for p in ap.iter() {
            p?;
        }
        Ok(ap)
    }

    pub fn is_digest(&self) -> bool {
        eq_ic(self.scheme, b"Digest")
    }

    pub fn iter(&self) -> AuthParamIter<'a> {
        AuthParamIter {
            rest: self.raw_params,
        }
    }

    /// A parameter by name (case-insensitive), quotes removed.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .filter_map(Result::ok)
            .find(|p| eq_ic(p.name, name))
            .map(|p| p.value)
    }

    pub fn username(&self) -> Option<&'a [u8]> {
        self.get(b"username")
    }
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.get(b"realm")
    }
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.get(b"nonce")
    }
    pub fn uri(&self) -> Option<&'a [u8]> {
        self.get(b"uri")
    }
    pub fn response(&self) -> Option<&'a [u8]> {
        self.get(b"response")
    }
    pub fn algorithm(&self) -> Option<&'a [u8]> {
        self.get(b"algorithm")
    }
    pub fn qop(&self) -> Option<&'a [u8]> {
        self.get(b"qop")
    }
    pub fn nc(&self) -> Option<&'a [u8]> {
        self.get(b"nc")
    }
    pub fn cnonce(&self) -> Option<&'a [u8]> {
        self.get(b"cnonce")
    }
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.get(b"opaque")
    }
    pub fn stale(&self) -> bool {
        self.get(b"stale").is_some_and(|v| eq_ic(v, b"true"))
    }
}

pub struct AuthParamIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AuthParamIter<'a> {
    type Item = Result<AuthParam<'a>, HeaderError>;
    fn next(&mut self) -> Option<Self::Item> {
        let s = trim(self.rest);
        if s.is_empty() {
            return None;
        }
        let bad = |me: &mut Self, why| {
            me.rest = b"";
            Some(Err(HeaderError::new(why)))
        };
        let n = s.iter().position(|&b| !is_token(b)).unwrap_or(s.len());
        if n == 0 {
            return bad(self, "bad auth parameter name");
        }
        let name = &s[..n];
        let r = trim(&s[n..]);
        if r.first() != Some(&b'=') {
            return bad(self, "auth parameter without a value");
        }
        let r = trim(&r[1..]);
        let (value, quoted, after) = if r.first() == Some(&b'"') {
            match skip_quoted(r, 0) {
                Ok(end) => (&r[1..end - 1], true, &r[end..]),
                Err(_) => return bad(self, "unterminated quoted auth parameter"),
            }
        } else {
            let e = r
                .iter()
                .position(|&b| b == b',' || is_lws(b))
                .unwrap_or(r.len());
            if e == 0 {
                return bad(self, "empty auth parameter");
            }
            (&r[..e], false, &r[e..])
        };
        let after = trim(after);
        match after.first() {
            None => self.rest = b"",
            Some(b',') => self.rest = &after[1..],
            Some(_) => return bad(self, "junk after auth parameter"),
        }
        Some(Ok(AuthParam {
            name,
            value,
            quoted,
        }))
    }
}

impl Msg {
    /// Every Authorization (or Proxy-Authorization, WWW-/Proxy-Authenticate) value by header id.
    /// Each header line holds one credentials/challenge (commas separate its parameters).
    pub fn auth_headers(
        &self,
        id: HdrId,
    ) -> impl Iterator<Item = Result<AuthParams<'_>, HeaderError>> + '_ {
        self.headers_of(id).map(AuthParams::parse)
    }

    /// The credentials for `realm` in Authorization (`proxy` = false) or Proxy-Authorization.
    pub fn credentials(&self, proxy: bool, realm: &[u8]) -> Option<AuthParams<'_>> {
        let id = if proxy {
            HdrId::ProxyAuthorization
        } else {
            HdrId::Authorization
        };
        self.auth_headers(id)
            .filter_map(Result::ok)
            .find(|c| c.realm().is_some_and(|r| eq_ic(r, realm)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let a = AuthParams::parse(br#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.username(), Some(&b"bob"[..]));
        assert_eq!(a.qop(), Some(&b"auth"[..]));
        assert_eq!(a.nc(), Some(&b"00000001"[..]));
        assert_eq!(a.response(), Some(&b"6629fae49393a05397450978507c4ef1"[..]));
        assert_eq!(a.iter().count(), 9);
    }

    #[test]
    fn parses_challenge_and_escapes() {
        let c = AuthParams::parse(br#"Digest realm="a\"b",nonce="x",stale=TRUE,algorithm=MD5"#)
            .unwrap();
        assert!(c.stale());
        let realm = c.iter().next().unwrap().unwrap();
        assert_eq!(realm.unescaped().as_ref(), br#"a"b"#);
        assert_eq!(c.algorithm(), Some(&b"MD5"[..]));
        let n = AuthParams::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(n.scheme, b"NoOneKnowsThisScheme");
    }

    #[test]
    fn rejects_malformed() {
        assert!(AuthParams::parse(br#"Digest realm="open"#).is_err());
        assert!(AuthParams::parse(b"Digest realm").is_err());
        assert!(AuthParams::parse(b"").is_err());
    }
}
