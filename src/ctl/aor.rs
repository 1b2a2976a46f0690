//! `user[@domain]` arguments: OpenSIPS's user-name rule, domain names, column lengths.

use std::sync::OnceLock;

use regex::Regex;

use super::error::{Failure, Outcome};

/// opensipsctl's `USERNAME_RE` (`opensipsctl.base`): RFC 3261 user characters without escapes.
pub const USERNAME_RE: &str = r"^[-a-zA-Z0-9&=+$,;?/_.!~*'()]+$";

/// Longest user or domain the OpenSIPS tables hold (CHAR(64)).
pub const NAME_MAX: usize = 64;

fn user_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(USERNAME_RE).expect("USERNAME_RE"))
}

fn domain_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*)$",
        )
        .expect("domain re")
    })
}

/// A user at a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aor {
    pub user: String,
    pub domain: String,
}

impl std::fmt::Display for Aor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

/// Checks a user name against [`USERNAME_RE`] and the column length.
pub fn check_user(what: &str, user: &str) -> Outcome<()> {
    if user.chars().count() > NAME_MAX {
        return Err(Failure::usage(
            format!("{what} `{user}` is longer than {NAME_MAX} characters"),
            "use a shorter name",
        ));
    }
    if !user_re().is_match(user) {
        return Err(Failure::usage(
            format!("{what} `{user}` is not a valid SIP user name"),
            "use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ; ? / (OpenSIPS's USERNAME_RE)",
        ));
    }
    Ok(())
}

/// Checks a domain: a host name (letters, digits, `-`, `_`, dots) or a bracketed IPv6 address.
pub fn check_domain(domain: &str) -> Outcome<()> {
    if domain.chars().count() > NAME_MAX {
        return Err(Failure::usage(
            format!("domain `{domain}` is longer than {NAME_MAX} characters"),
            "use a shorter domain",
        ));
    }
    if !domain_re().is_match(domain) {
        return Err(Failure::usage(
            format!("`{domain}` is not a valid SIP domain"),
            "use a host name (letters, digits, `-`, dots; IDN domains in their xn-- form) or an IP address",
        ));
    }
    Ok(())
}

/// Parses `user[@domain]` (an optional `sip:`/`sips:` prefix is dropped); a bare user takes
/// `default_domain` (`SIP_DOMAIN`).
pub fn parse(arg: &str, default_domain: Option<&str>) -> Outcome<Aor> {
    let s = arg
        .strip_prefix("sip:")
        .or_else(|| arg.strip_prefix("sips:"))
        .unwrap_or(arg);
    let (user, domain) = match s.split_once('@') {
        Some((u, d)) => (u, d.to_string()),
        None => match default_domain {
            Some(d) => (s, d.to_string()),
            None => {
                return Err(Failure::usage(
                    format!("`{arg}` has no domain and SIP_DOMAIN is not set"),
                    "write user@domain, or set SIP_DOMAIN in the rc file (or the environment)",
                ));
            }
        },
    };
    check_user("user name", user)?;
    check_domain(&domain)?;
    Ok(Aor {
        user: user.to_string(),
        domain,
    })
}

/// Refuses a value longer than its column holds (PostgreSQL and MySQL would refuse or cut it).
pub fn fit(what: &str, value: &str, max: usize) -> Outcome<()> {
    if value.chars().count() > max {
        Err(Failure::usage(
            format!("{what} is longer than the {max} characters its column holds"),
            "give a shorter value",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_opensips_rule() {
        for ok in [
            "alice", "a.b-c_d", "+4930123", "o'brien", "x;y", "a--b", "q?x/y",
        ] {
            assert!(check_user("user", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a b", "ü", "a\"b", "a@b", "a%20", "a\\b", "a\nb", "a<b>",
        ] {
            assert!(check_user("user", bad).is_err(), "{bad}");
        }
        assert!(check_user("user", &"a".repeat(65)).is_err());
    }

    #[test]
    fn aor_takes_sip_domain_for_bare_names() {
        let a = parse("alice", Some("example.com")).unwrap();
        assert_eq!(a.to_string(), "alice@example.com");
        let a = parse("sip:bob@b.example.org", None).unwrap();
        assert_eq!(
            (a.user.as_str(), a.domain.as_str()),
            ("bob", "b.example.org")
        );
        let e = parse("alice", None).unwrap_err();
        assert!(e.hint.contains("SIP_DOMAIN"), "{e:?}");
        for bad in [
            "a@",
            "a@b c",
            "a@x;y",
            "a@exa'mple.com",
            "a@ex--",
            "a@bü.de",
            "a@-x",
        ] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
        assert!(parse("a@[::1]", None).is_ok());
        assert!(parse("a@localhost", None).is_ok());
    }
}
