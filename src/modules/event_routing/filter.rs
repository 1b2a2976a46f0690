//! EBR filters (`ebr_data.c`): `"key=value"` strings held in an AVP, the value a shell wildcard
//! pattern (fnmatch(3) without flags) matched against the event attribute of that name. Modules
//! (registrar's push notifications) may also filter on one parameter of a URI attribute
//! ([`Filter::uri_param`], OpenSIPS `ebr_filter.uri_param_key`).

use crate::events::{EvValue, EventParams};
use crate::sip::Uri;

/// One `key=value` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: String,
    /// Match the value of this parameter of the attribute (a SIP URI), not the attribute.
    pub param: Option<String>,
    pub pattern: String,
}

impl Filter {
    /// Parses `key=value`; None (and the reason) for a filter OpenSIPS discards: no `=`, or no
    /// value after it.
    pub fn parse(s: &str) -> Result<Filter, &'static str> {
        let (key, pattern) = s.split_once('=').ok_or("no key separator '='")?;
        if pattern.is_empty() {
            return Err("no value");
        }
        Ok(Filter {
            key: key.to_string(),
            param: None,
            pattern: pattern.to_string(),
        })
    }

    /// Matches when the URI in attribute `key` has parameter `param` equal to `value` (taken
    /// literally, not as a pattern); a URI without the parameter does not match.
    pub fn uri_param(key: &str, param: &str, value: &str) -> Filter {
        let mut pattern = String::with_capacity(value.len());
        for c in value.chars() {
            if matches!(c, '*' | '?' | '[' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        Filter {
            key: key.to_string(),
            param: Some(param.to_string()),
            pattern,
        }
    }

    /// Does the attribute match? Integers are matched in their decimal form; a null attribute
    /// never matches.
    fn matches_value(&self, v: &EvValue) -> bool {
        if let Some(param) = &self.param {
            let EvValue::Str(s) = v else { return false };
            let Ok(uri) = Uri::parse(s.as_bytes()) else {
                return false;
            };
            return match uri.params.get(param.as_bytes()) {
                Some(val) => fnmatch(self.pattern.as_bytes(), val.unwrap_or_default()),
                None => false,
            };
        }
        match v {
            EvValue::Str(s) => fnmatch(self.pattern.as_bytes(), s.as_bytes()),
            EvValue::Int(i) => fnmatch(self.pattern.as_bytes(), i.to_string().as_bytes()),
            EvValue::Null => false,
        }
    }
}

/// True when every filter matches its attribute (names compared without case). As in
/// OpenSIPS, a filter naming an attribute the event does not carry is ignored.
pub fn matches(filters: &[Filter], params: &EventParams) -> bool {
    filters.iter().all(|f| {
        params
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.eq_ignore_ascii_case(&f.key)))
            .is_none_or(|(_, v)| f.matches_value(v))
    })
}

/// fnmatch(3) with no flags: `*`, `?`, bracket expressions (`[a-z]`, `[!x]`, `[^x]`) and `\`
/// escapes; `/` and leading dots are ordinary characters.
pub fn fnmatch(pat: &[u8], s: &[u8]) -> bool {
    // Iterative, backtracking only to the last `*` (linear in practice, no recursion).
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match bracket(pat, p, s[i]) {
                Some(r) => r,
                None => (s[i] == b'[').then_some(p + 1),
            },
            Some(b'\\') if p + 1 < pat.len() => (pat[p + 1] == s[i]).then_some(p + 2),
            Some(c) => (*c == s[i]).then_some(p + 1),
            None => None,
        };
        match step {
            Some(np) => {
                p = np;
                i += 1;
            }
            None => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// Matches `c` against the bracket expression at `pat[p]`: Some(Some(index after it)) on a
/// match, Some(None) on a miss, None when the `[` is unterminated (an ordinary character then).
fn bracket(pat: &[u8], p: usize, c: u8) -> Option<Option<usize>> {
    let mut j = p + 1;
    let negate = matches!(pat.get(j), Some(b'!') | Some(b'^'));
    if negate {
        j += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *pat.get(j)?;
        if lo == b']' && !first {
            break;
        }
        first = false;
        let (lo, after) = if lo == b'\\' && j + 1 < pat.len() {
            (pat[j + 1], j + 2)
        } else {
            (lo, j + 1)
        };
        if pat.get(after) == Some(&b'-') && pat.get(after + 1).is_some_and(|h| *h != b']') {
            let hi = pat[after + 1];
            hit |= lo <= c && c <= hi;
            j = after + 2;
        } else {
            hit |= lo == c;
            j = after;
        }
    }
    Some((hit != negate).then_some(j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Filter {
        Filter::parse(s).unwrap()
    }

    fn contact(aor: &str) -> EventParams {
        EventParams::new()
            .with("domain", "location")
            .with("aor", aor)
            .with("uri", "sip:bob@127.0.0.2:5070")
            .with("qval", 10i64)
            .with("shtag", EvValue::Null)
    }

    #[test]
    fn parse_discards_what_opensips_discards() {
        assert_eq!(
            f("aor=bob@*"),
            Filter {
                key: "aor".into(),
                param: None,
                pattern: "bob@*".into()
            }
        );
        assert_eq!(f("a=b=c").pattern, "b=c");
        assert!(Filter::parse("aor").is_err());
        assert!(Filter::parse("aor=").is_err());
    }

    #[test]
    fn exact_values() {
        assert!(matches(&[f("aor=bob")], &contact("bob")));
        assert!(!matches(&[f("aor=bob")], &contact("bobby")));
        assert!(!matches(&[f("aor=bob")], &contact("alice")));
        // attribute names are compared without case, values with
        assert!(matches(&[f("AOR=bob")], &contact("bob")));
        assert!(!matches(&[f("aor=Bob")], &contact("bob")));
    }

    #[test]
    fn glob_values() {
        assert!(matches(&[f("aor=bob*")], &contact("bobby")));
        assert!(matches(
            &[f("aor=*@opensips.org")],
            &contact("bob@opensips.org")
        ));
        assert!(!matches(
            &[f("aor=*@opensips.org")],
            &contact("bob@example.org")
        ));
        assert!(matches(&[f("aor=b?b")], &contact("bob")));
        assert!(matches(&[f("aor=[a-c]ob")], &contact("bob")));
        assert!(!matches(&[f("aor=[!b]ob")], &contact("bob")));
        assert!(matches(&[f("uri=sip:*:5070")], &contact("x")));
        // integers match in decimal form
        assert!(matches(&[f("qval=1*")], &contact("x")));
        assert!(!matches(&[f("qval=9")], &contact("x")));
    }

    #[test]
    fn every_filter_must_match() {
        let both = [f("aor=bob"), f("domain=loc*")];
        assert!(matches(&both, &contact("bob")));
        let one_wrong = [f("aor=bob"), f("domain=other")];
        assert!(!matches(&one_wrong, &contact("bob")));
        assert!(matches(&[], &contact("bob")));
    }

    #[test]
    fn missing_and_null_attributes() {
        // an attribute the event lacks: the filter is ignored (ebr_data.c)
        assert!(matches(&[f("group=1")], &contact("bob")));
        assert!(!matches(&[f("group=1"), f("aor=alice")], &contact("bob")));
        // a null attribute never matches
        assert!(!matches(&[f("shtag=*")], &contact("bob")));
    }

    #[test]
    fn uri_parameter_filters() {
        let ev = |uri: &str| EventParams::new().with("aor", "dev").with("uri", uri);
        let pn = [
            Filter::uri_param("uri", "pn-provider", "apns"),
            Filter::uri_param("uri", "pn-prid", "T*[1]"),
        ];
        // any address, the parameters decide; the value is literal, not a pattern
        assert!(matches(
            &pn,
            &ev("sip:dev@127.0.0.7:6000;pn-prid=T*[1];pn-provider=apns")
        ));
        assert!(!matches(
            &pn,
            &ev("sip:dev@127.0.0.7:6000;pn-prid=Tx1;pn-provider=apns")
        ));
        assert!(!matches(
            &pn,
            &ev("sip:dev@127.0.0.7:6000;pn-provider=apns")
        ));
        assert!(!matches(&pn, &ev("not a uri")));
        let int = EventParams::new().with("uri", 5i64);
        assert!(!matches(&pn, &int));
        // parameter names compare without case, as URI parameters do
        assert!(matches(&pn[..1], &ev("sip:dev@127.0.0.7;PN-Provider=apns")));
    }

    #[test]
    fn fnmatch_corners() {
        let m = |p: &str, s: &str| fnmatch(p.as_bytes(), s.as_bytes());
        assert!(m("*", ""));
        assert!(m("**a", "a"));
        assert!(m("a*b*c", "aXbYbc"));
        assert!(!m("a*b*c", "aXbYb"));
        assert!(!m("?", ""));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("[]x]", "]"));
        assert!(m("[", "["));
        assert!(m("[a-]", "-"));
        assert!(m("x/*", "x/y/z"));
        assert!(m(".*", ".hidden"));
    }
}
