//! The HA1 values auth_db compares against: `H(user:realm:password)` with MD5, SHA-256 and
//! SHA-512/256 (RFC 7616), and the legacy `ha1b` = `MD5(user@domain:realm:password)`.

use md5::{Digest, Md5};
use sha2::{Sha256, Sha512_256};

fn hex_of<D: Digest>(parts: &[&str]) -> String {
    let mut h = D::new();
    h.update(parts.join(":").as_bytes());
    hex::encode(h.finalize())
}

/// Every digest one subscriber row may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ha1 {
    pub md5: String,
    pub md5b: String,
    pub sha256: String,
    pub sha512t256: String,
}

impl Ha1 {
    /// The realm is the subscriber's domain (what OpenSIPS's `www_authorize("", ...)` uses).
    pub fn compute(user: &str, domain: &str, password: &str) -> Ha1 {
        let at = format!("{user}@{domain}");
        Ha1 {
            md5: hex_of::<Md5>(&[user, domain, password]),
            md5b: hex_of::<Md5>(&[&at, domain, password]),
            sha256: hex_of::<Sha256>(&[user, domain, password]),
            sha512t256: hex_of::<Sha512_256>(&[user, domain, password]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_ha1() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life".
        let h = Ha1::compute("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(h.md5, "939e7578ed9e3c518a452acee763bce9");
    }

    #[test]
    fn sha_digests_match_coreutils_and_openssl() {
        // printf 'a:b:c' | sha256sum ; | openssl dgst -sha512-256 ; printf 'a@b:b:c' | md5sum
        let h = Ha1::compute("a", "b", "c");
        assert_eq!(
            h.sha256,
            "b0ee04f880c4ff4261479e2e7822b7410aee4c7159f4185ad5b0d88a312b495e"
        );
        assert_eq!(
            h.sha512t256,
            "8eb13a416df8d7c256bb1b2fdc7824b9ab088eba9459502ef1de3d73c9dd7901"
        );
        assert_eq!(h.md5b, "edf14544f27b4a06690f7c784ddfe779");
    }
}
