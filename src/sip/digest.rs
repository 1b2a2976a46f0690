//! Digest computations of the server side (RFC 2617, RFC 7616, RFC 8760): HA1, session HA1 and
//! the expected `response` for MD5, SHA-256 and SHA-512/256, with and without `qop`.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::scan::eq_ic;

/// The hash function of a digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestHash {
    Md5,
    Sha256,
    Sha512_256,
}

/// A digest `algorithm` value: a hash, optionally in its `-sess` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestAlgorithm {
    pub hash: DigestHash,
    pub sess: bool,
}

impl DigestAlgorithm {
    pub const MD5: DigestAlgorithm = DigestAlgorithm {
        hash: DigestHash::Md5,
        sess: false,
    };

    /// Parses an `algorithm` token (case-insensitive); None for algorithms we do not know.
    pub fn parse(token: &[u8]) -> Option<DigestAlgorithm> {
        let (base, sess) = match token.len().checked_sub(5) {
            Some(n) if eq_ic(&token[n..], b"-sess") => (&token[..n], true),
            _ => (token, false),
        };
        let hash = if eq_ic(base, b"MD5") {
            DigestHash::Md5
        } else if eq_ic(base, b"SHA-256") {
            DigestHash::Sha256
        } else if eq_ic(base, b"SHA-512-256") {
            DigestHash::Sha512_256
        } else {
            return None;
        };
        Some(DigestAlgorithm { hash, sess })
    }

    /// The token as written in a challenge.
    pub fn name(self) -> &'static str {
        match (self.hash, self.sess) {
            (DigestHash::Md5, false) => "MD5",
            (DigestHash::Md5, true) => "MD5-sess",
            (DigestHash::Sha256, false) => "SHA-256",
            (DigestHash::Sha256, true) => "SHA-256-sess",
            (DigestHash::Sha512_256, false) => "SHA-512-256",
            (DigestHash::Sha512_256, true) => "SHA-512-256-sess",
        }
    }
}

impl DigestHash {
    /// Length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            DigestHash::Md5 => 32,
            DigestHash::Sha256 | DigestHash::Sha512_256 => 64,
        }
    }

    /// Lower-case hex of H(parts joined by ':').
    pub fn hex(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut h = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    h.update(b":");
                }
                h.update(p);
            }
            hex::encode(h.finalize())
        }
        match self {
            DigestHash::Md5 => run::<Md5>(parts),
            DigestHash::Sha256 => run::<Sha256>(parts),
            DigestHash::Sha512_256 => run::<Sha512_256>(parts),
        }
    }
}

/// `H(username:realm:password)`.
pub fn ha1(hash: DigestHash, user: &[u8], realm: &[u8], password: &[u8]) -> String {
    hash.hex(&[user, realm, password])
}

/// The HA1 actually used: for `-sess` algorithms `H(HA1:nonce:cnonce)` (RFC 7616 §3.4.2).
pub fn effective_ha1(alg: DigestAlgorithm, ha1: &str, nonce: &[u8], cnonce: &[u8]) -> String {
    if alg.sess {
        alg.hash.hex(&[ha1.as_bytes(), nonce, cnonce])
    } else {
        ha1.to_string()
    }
}

/// What the `qop` of the credentials asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop<'a> {
    /// No qop (RFC 2069 compatibility).
    None,
    /// `qop=auth` with its nonce-count and cnonce.
    Auth { nc: &'a [u8], cnonce: &'a [u8] },
    /// `qop=auth-int`: the body is hashed into HA2.
    AuthInt {
        nc: &'a [u8],
        cnonce: &'a [u8],
        body: &'a [u8],
    },
}

/// The `response` value a client with this HA1 must send (RFC 7616 §3.4.1).
pub fn response(
    alg: DigestAlgorithm,
    ha1: &str,
    nonce: &[u8],
    qop: Qop<'_>,
    method: &[u8],
    uri: &[u8],
) -> String {
    let h = alg.hash;
    match qop {
        Qop::None => {
            let ha2 = h.hex(&[method, uri]);
            h.hex(&[ha1.as_bytes(), nonce, ha2.as_bytes()])
        }
        Qop::Auth { nc, cnonce } => {
            let ha2 = h.hex(&[method, uri]);
            h.hex(&[ha1.as_bytes(), nonce, nc, cnonce, b"auth", ha2.as_bytes()])
        }
        Qop::AuthInt { nc, cnonce, body } => {
            let hbody = h.hex(&[body]);
            let ha2 = h.hex(&[method, uri, hbody.as_bytes()]);
            h.hex(&[
                ha1.as_bytes(),
                nonce,
                nc,
                cnonce,
                b"auth-int",
                ha2.as_bytes(),
            ])
        }
    }
}

/// Compares a received hex response with the expected one in constant time (hex case ignored).
pub fn response_matches(expected: &str, received: &[u8]) -> bool {
    let e = expected.as_bytes();
    if e.len() != received.len() {
        return false;
    }
    let mut diff = 0u8;
    for (a, b) in e.iter().zip(received) {
        diff |= a ^ b.to_ascii_lowercase();
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_with_qop_auth() {
        // RFC 2617 §3.5 (the published response is for this computation).
        let ha1 = ha1(
            DigestHash::Md5,
            b"Mufasa",
            b"testrealm@host.com",
            b"Circle Of Life",
        );
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let r = response(
            DigestAlgorithm::MD5,
            &ha1,
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Qop::Auth {
                nc: b"00000001",
                cnonce: b"0a4f113b",
            },
            b"GET",
            b"/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        assert!(response_matches(&r, b"6629FAE49393A05397450978507C4EF1"));
        assert!(!response_matches(&r, b"6629fae49393a05397450978507c4ef2"));
        assert!(!response_matches(&r, b"6629"));
    }

    #[test]
    fn rfc7616_md5_and_sha256() {
        // RFC 7616 §3.9.1.
        let nonce = b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let qop = Qop::Auth {
            nc: b"00000001",
            cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        };
        for (alg, want) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let a = DigestAlgorithm::parse(alg.as_bytes()).unwrap();
            let h = ha1(
                a.hash,
                b"Mufasa",
                b"http-auth@example.org",
                b"Circle of Life",
            );
            let r = response(a, &h, nonce, qop, b"GET", b"/dir/index.html");
            assert_eq!(r, want, "{alg}");
        }
    }

    #[test]
    fn sha512_256_as_rfc8760_uses_it() {
        // RFC 7616 §3.9.2's published value is for a userhash variant; these come from
        // `openssl dgst -sha512-256` on the same strings.
        let a = DigestAlgorithm::parse(b"SHA-512-256").unwrap();
        let h = ha1(a.hash, b"a", b"b", b"c");
        assert_eq!(
            h,
            "8eb13a416df8d7c256bb1b2fdc7824b9ab088eba9459502ef1de3d73c9dd7901"
        );
        let r = response(
            a,
            &h,
            b"n1",
            Qop::Auth {
                nc: b"00000002",
                cnonce: b"cn",
            },
            b"REGISTER",
            b"sip:b",
        );
        assert_eq!(
            r,
            "8a1ef7ad9ad42ec23d7d6942df728ab0bafc7c6109ecbdb8d7715bedb7081479"
        );
    }

    #[test]
    fn without_qop_and_sess() {
        // RFC 2069 form: H(HA1:nonce:HA2); checked against `printf ... | md5sum`.
        let h = ha1(DigestHash::Md5, b"a", b"r", b"p");
        let r = response(
            DigestAlgorithm::MD5,
            &h,
            b"n",
            Qop::None,
            b"REGISTER",
            b"sip:r",
        );
        let ha2 = DigestHash::Md5.hex(&[b"REGISTER", b"sip:r"]);
        assert_eq!(
            r,
            DigestHash::Md5.hex(&[h.as_bytes(), b"n", ha2.as_bytes()])
        );
        let sess = DigestAlgorithm::parse(b"md5-SESS").unwrap();
        assert!(sess.sess);
        assert_eq!(sess.name(), "MD5-sess");
        let e = effective_ha1(sess, &h, b"n", b"c");
        assert_eq!(e, DigestHash::Md5.hex(&[h.as_bytes(), b"n", b"c"]));
        assert_eq!(effective_ha1(DigestAlgorithm::MD5, &h, b"n", b"c"), h);
        assert!(DigestAlgorithm::parse(b"SHA-1").is_none());
        assert!(DigestAlgorithm::parse(b"-sess").is_none());
    }

    #[test]
    fn auth_int_hashes_the_body() {
        let h = ha1(DigestHash::Sha256, b"u", b"r", b"p");
        let a = DigestAlgorithm {
            hash: DigestHash::Sha256,
            sess: false,
        };
        let q = |body: &'static [u8]| Qop::AuthInt {
            nc: b"00000001",
            cnonce: b"c",
            body,
        };
        let r1 = response(a, &h, b"n", q(b"v=0"), b"INVITE", b"sip:x");
        let r2 = response(a, &h, b"n", q(b"v=1"), b"INVITE", b"sip:x");
        assert_ne!(r1, r2);
        assert_eq!(r1.len(), 64);
    }
}
