//! The flag strings of `save()` and `lookup()` (OpenSIPS 3.x names, comma separated, and the
//! older one-letter forms such as "mp2c5").

/// What to do with Path headers (RFC 3327).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathMode {
    /// Path is not stored.
    #[default]
    Ignore,
    /// Stored, never echoed in the reply.
    Off,
    /// Stored; echoed when the UA supports "path".
    Lazy,
    /// Stored; a UA that does not support "path" is refused with 420.
    Strict,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveFlags {
    pub memory_only: bool,
    pub no_reply: bool,
    pub socket_header: bool,
    pub path: PathMode,
    pub path_received: bool,
    pub force_registration: bool,
    pub only_request_contacts: bool,
    pub max_contacts: Option<u32>,
    pub min_expires: Option<u32>,
    pub max_expires: Option<u32>,
    pub matching_mode: Option<u8>,
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("flag `{flag}`: `{v}` is not a number"))
}

/// Digits at the start of `s` and the rest.
fn leading_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

impl SaveFlags {
    pub fn parse(text: &str) -> Result<SaveFlags, String> {
        let mut f = SaveFlags::default();
        for tok in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (name, value) = match tok.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (tok, None),
            };
            match (name, value) {
                ("memory-only", None) => f.memory_only = true,
                ("no-reply", None) => f.no_reply = true,
                ("socket-header", None) => f.socket_header = true,
                ("path-off", None) => f.path = PathMode::Off,
                ("path-lazy", None) => f.path = PathMode::Lazy,
                ("path-strict", None) => f.path = PathMode::Strict,
                ("path-received", None) => f.path_received = true,
                ("force-registration", None) => f.force_registration = true,
                ("only-request-contacts", None) => f.only_request_contacts = true,
                ("max-contacts", Some(v)) => f.max_contacts = Some(num(name, v)?),
                ("min-expires", Some(v)) => f.min_expires = Some(num(name, v)?),
                ("max-expires", Some(v)) => f.max_expires = Some(num(name, v)?),
                ("matching-mode", Some(v)) => {
                    let m: u8 = num(name, v)?;
                    if m > 1 {
                        return Err(format!("flag `{tok}`: matching mode is 0 or 1"));
                    }
                    f.matching_mode = Some(m);
                }
                (_, None) if tok.bytes().all(|b| b.is_ascii_alphanumeric()) => f.letters(tok)?,
                _ => return Err(format!("unknown save flag `{tok}`")),
            }
        }
        Ok(f)
    }

    /// The one-letter forms: m r s f o v, p0 p1 p2, cN eN EN MN.
    fn letters(&mut self, tok: &str) -> Result<(), String> {
        let mut rest = tok;
        while let Some(c) = rest.chars().next() {
            rest = &rest[1..];
            match c {
                'm' => self.memory_only = true,
                'r' => self.no_reply = true,
                's' => self.socket_header = true,
                'f' => self.force_registration = true,
                'o' => self.only_request_contacts = true,
                'v' => self.path_received = true,
                'p' | 'c' | 'e' | 'E' | 'M' => {
                    let (d, r) = leading_digits(rest);
                    rest = r;
                    if d.is_empty() {
                        return Err(format!("save flag `{c}` in `{tok}` needs a number"));
                    }
                    let n: u32 = num(tok, d)?;
                    match c {
                        'p' => {
                            self.path = match n {
                                0 => PathMode::Off,
                                1 => PathMode::Lazy,
                                2 => PathMode::Strict,
                                _ => {
                                    return Err(format!(
                                        "save flag `p{n}`: path mode is 0, 1 or 2"
                                    ));
                                }
                            }
                        }
                        'c' => self.max_contacts = Some(n),
                        'e' => self.min_expires = Some(n),
                        'E' => self.max_expires = Some(n),
                        _ => self.matching_mode = Some(n.min(1) as u8),
                    }
                }
                _ => return Err(format!("unknown save flag `{c}` in `{tok}`")),
            }
        }
        Ok(())
    }
}

/// `u/regexp/` of lookup: only contacts whose User-Agent matches.
#[derive(Debug, Clone)]
pub struct UaFilter(pub regex::Regex);

impl PartialEq for UaFilter {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for UaFilter {}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupFlags {
    /// Only the best contact; no branches.
    pub no_branches: bool,
    /// Every contact as a branch; the Request-URI stays.
    pub to_branches_only: bool,
    pub method_filtering: bool,
    /// Lookup on every table (accepted; osips has one table per name).
    pub global: bool,
    /// `r`: the AORs in the existing branches are replaced by their contacts.
    pub branch_lookup: bool,
    pub ua_filter: Option<UaFilter>,
}

/// The flag text in tokens: comma separated, except inside `ua-filtering=/regexp/`.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for part in text.split(',') {
        if open {
            let last = out.last_mut().expect("an open token");
            last.push(',');
            last.push_str(part);
            open = !closes_regex(last);
            continue;
        }
        let t = part.trim();
        if t.is_empty() {
            continue;
        }
        open = t.starts_with("ua-filtering=") && !closes_regex(t);
        out.push(t.to_string());
    }
    out
}

/// `ua-filtering=/re/`: the regexp is closed by an unescaped `/`.
fn closes_regex(tok: &str) -> bool {
    let Some(re) = tok.strip_prefix("ua-filtering=/") else {
        return true;
    };
    let t = re.trim_end();
    t.ends_with('/') && !t.ends_with("\\/")
}

impl LookupFlags {
    /// OpenSIPS's flags, comma separated: the names (`no-branches`, `to-branches-only`,
    /// `branch`, `method-filtering`, `ua-filtering=/re/`, `case-insensitive`,
    /// `extended-regexp`, `global`) or the letters (`bBrmg`, `u/re/` with `i` / `e`).
    pub fn parse(text: &str) -> Result<LookupFlags, String> {
        let mut f = LookupFlags::default();
        let mut ua: Option<String> = None;
        let mut insensitive = false;
        for tok in tokens(text) {
            match tok.as_str() {
                "no-branches" => f.no_branches = true,
                "to-branches-only" => f.to_branches_only = true,
                "method-filtering" => f.method_filtering = true,
                "global" => f.global = true,
                "branch" => f.branch_lookup = true,
                "case-insensitive" => insensitive = true,
                "extended-regexp" => {}
                "sort-by-latency" => {
                    return Err(
                        "lookup flag `sort-by-latency`: osips does not ping contacts".into(),
                    );
                }
                t if t.starts_with("max-ping-latency=") => {
                    return Err(format!("lookup flag `{t}`: osips does not ping contacts"));
                }
                t if t.starts_with("ua-filtering=") => {
                    let re = t["ua-filtering=".len()..].trim();
                    let inner = re
                        .strip_prefix('/')
                        .and_then(|r| r.strip_suffix('/'))
                        .ok_or_else(|| {
                            format!("lookup flag `{t}`: expected ua-filtering=/regexp/")
                        })?;
                    ua = Some(inner.replace("\\/", "/"));
                }
                t => {
                    let (re, i) = f.letters(t)?;
                    if re.is_some() {
                        ua = re;
                    }
                    insensitive |= i;
                }
            }
        }
        if let Some(re) = ua {
            let r = regex::RegexBuilder::new(&re)
                .case_insensitive(insensitive)
                .build()
                .map_err(|e| format!("lookup flag ua-filtering /{re}/: {e}"))?;
            f.ua_filter = Some(UaFilter(r));
        }
        Ok(f)
    }

    /// The letter forms of one token; the `u/re/` regexp and whether `i` was given.
    fn letters(&mut self, text: &str) -> Result<(Option<String>, bool), String> {
        let mut ua: Option<String> = None;
        let mut insensitive = false;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                'b' => self.no_branches = true,
                'B' => self.to_branches_only = true,
                'm' => self.method_filtering = true,
                'g' => self.global = true,
                'r' => self.branch_lookup = true,
                'i' => insensitive = true,
                // Rust regexes are extended already.
                'e' => {}
                'u' => {
                    if chars.next() != Some('/') {
                        return Err(format!("lookup flag `u` in `{text}` needs /regexp/"));
                    }
                    let mut re = String::new();
                    let mut closed = false;
                    while let Some(x) = chars.next() {
                        match x {
                            '\\' => {
                                if let Some(y) = chars.next() {
                                    if y != '/' {
                                        re.push('\\');
                                    }
                                    re.push(y);
                                }
                            }
                            '/' => {
                                closed = true;
                                break;
                            }
                            _ => re.push(x),
                        }
                    }
                    if !closed {
                        return Err(format!("lookup flag `u` in `{text}`: no closing `/`"));
                    }
                    ua = Some(re);
                }
                'y' | 'Y' => {
                    return Err(format!(
                        "lookup flag `{c}` in `{text}`: osips does not ping contacts"
                    ));
                }
                ',' | ' ' => {}
                _ => return Err(format!("unsupported lookup flag `{c}` in `{text}`")),
            }
        }
        Ok((ua, insensitive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_flags_long_and_short() {
        let f = SaveFlags::parse("memory-only, no-reply,path-strict,max-contacts=3,min-expires=30")
            .unwrap();
        assert!(f.memory_only && f.no_reply);
        assert_eq!(f.path, PathMode::Strict);
        assert_eq!(f.max_contacts, Some(3));
        assert_eq!(f.min_expires, Some(30));
        let g = SaveFlags::parse("mp1c5").unwrap();
        assert!(g.memory_only);
        assert_eq!(g.path, PathMode::Lazy);
        assert_eq!(g.max_contacts, Some(5));
        assert_eq!(SaveFlags::parse("").unwrap(), SaveFlags::default());
        assert!(SaveFlags::parse("max-contacts=x").is_err());
        assert!(SaveFlags::parse("bogus-flag").is_err());
        assert!(SaveFlags::parse("p7").is_err());
        assert!(SaveFlags::parse("c").is_err());
    }

    #[test]
    fn lookup_flags() {
        let f = LookupFlags::parse("method-filtering,no-branches").unwrap();
        assert!(f.method_filtering && f.no_branches && !f.to_branches_only);
        assert!(LookupFlags::parse("mB").unwrap().to_branches_only);
        assert!(
            LookupFlags::parse("ua-filtering=/x/")
                .unwrap()
                .ua_filter
                .is_some()
        );
        let r = LookupFlags::parse("rmu/^Polycom.*\\/5/i").unwrap();
        assert!(r.branch_lookup && r.method_filtering);
        let re = &r.ua_filter.unwrap().0;
        assert!(re.is_match("polycom vvx/5"));
        assert!(!re.is_match("Yealink"));
        assert!(LookupFlags::parse("u/unclosed").is_err());
        assert!(LookupFlags::parse("u/(/").is_err());
        assert!(LookupFlags::parse("Y").is_err());
        assert!(LookupFlags::parse("bz").is_err());
        let l = LookupFlags::parse("branch,ua-filtering=/^a,b\\/c/,case-insensitive").unwrap();
        assert!(l.branch_lookup);
        assert!(l.ua_filter.unwrap().0.is_match("A,B/Cx"));
        assert!(LookupFlags::parse("ua-filtering=/x").is_err());
        assert!(LookupFlags::parse("max-ping-latency=5").is_err());
    }
}
