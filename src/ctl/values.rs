//! Checks for the plain values of the provisioning commands (numbers, URIs, free text).

use super::error::{Failure, Outcome};

/// An integer argument within `min..=max`.
pub fn int(what: &str, s: &str, min: i64, max: i64) -> Outcome<i64> {
    match s.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Failure::usage(
            format!("{what} `{s}` is not a number from {min} to {max}"),
            format!("give {what} as a whole number"),
        )),
    }
}

/// Free text stored as given: no control characters, at most `max` characters.
pub fn text(what: &str, s: &str, max: usize) -> Outcome<()> {
    if s.chars().any(char::is_control) {
        return Err(Failure::usage(
            format!("{what} holds a control character"),
            "remove line breaks and tabs",
        ));
    }
    super::aor::fit(what, s, max)
}

/// A SIP (or `tel:`) URI: the scheme, no blanks, at most `max` characters.
pub fn uri(what: &str, s: &str, max: usize, tel: bool) -> Outcome<()> {
    let lower = s.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("sip:")
        || lower.starts_with("sips:")
        || (tel && lower.starts_with("tel:"));
    if !scheme_ok || s.len() <= 4 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Failure::usage(
            format!("{what} `{s}` is not a SIP URI"),
            if tel {
                "write sip:user@host[:port], sips:... or tel:..."
            } else {
                "write sip:host[:port] or sips:..."
            },
        ));
    }
    super::aor::fit(what, s, max)
}

/// Empty text stored as NULL.
pub fn null_if_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert_eq!(int("set", "7", 0, 10).unwrap(), 7);
        assert!(int("set", "7;", 0, 10).is_err());
        assert!(int("set", "11", 0, 10).is_err());
        assert!(text("d", "a'b;--ü", 64).is_ok());
        assert!(text("d", "a\nb", 64).is_err());
        assert!(uri("u", "sip:10.0.0.1:5060", 192, false).is_ok());
        assert!(uri("u", "tel:+1", 192, false).is_err());
        assert!(uri("u", "sip:a b", 192, true).is_err());
    }
}
