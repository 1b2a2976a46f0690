//! `{re.subst,/regex/replacement/flags}`: POSIX-style substitution (`i` ignore case, `g` all matches,
//! `s` multi-line), `\0`..`\9` in the replacement.

use super::{TrEnv, Transform};
use crate::script::value::Value;

/// A parsed `/re/repl/flags` expression.
#[derive(Debug)]
pub struct Subst {
    pub re: regex::Regex,
    pub repl: String,
    pub global: bool,
}

/// Splits `/re/repl/flags` (any delimiter: the first character) and compiles the regex.
pub fn parse_subst(spec: &str) -> Result<Subst, String> {
    let mut chars = spec.chars();
    let Some(delim) = chars.next() else {
        return Err("empty substitution".into());
    };
    let body = chars.as_str();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut it = body.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n) if n == delim => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            }
        } else if c == delim && parts.len() < 2 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if parts.len() != 2 {
        return Err(format!(
            "expected {delim}regex{delim}replacement{delim}flags"
        ));
    }
    let flags = cur;
    let mut prefix = String::new();
    let mut global = false;
    for f in flags.chars() {
        match f {
            'i' => prefix.push_str("(?i)"),
            's' => prefix.push_str("(?m)"),
            'g' => global = true,
            other => return Err(format!("unknown substitution flag `{other}`")),
        }
    }
    let re = regex::Regex::new(&format!("{prefix}{}", parts[0])).map_err(|e| e.to_string())?;
    Ok(Subst {
        re,
        repl: parts[1].clone(),
        global,
    })
}

impl Subst {
    fn expand(&self, caps: &regex::Captures<'_>, out: &mut String) {
        let mut it = self.repl.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some(d @ '0'..='9') => {
                    if let Some(m) = caps.get(d as usize - '0' as usize) {
                        out.push_str(m.as_str());
                    }
                }
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        }
    }

    /// Applies the substitution; None when nothing matched.
    pub fn apply(&self, input: &str) -> Option<String> {
        let mut out = String::with_capacity(input.len());
        let mut last = 0;
        let mut matched = false;
        for caps in self.re.captures_iter(input) {
            let m = caps.get(0)?;
            matched = true;
            out.push_str(&input[last..m.start()]);
            self.expand(&caps, &mut out);
            last = m.end();
            if !self.global {
                break;
            }
        }
        if !matched {
            return None;
        }
        out.push_str(&input[last..]);
        Some(out)
    }
}

pub(super) fn eval(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(text) = input.as_str() else {
        return Value::Null;
    };
    let Some(spec) = t.param_str(0, env) else {
        return Value::Null;
    };
    match parse_subst(&spec) {
        // No match leaves the input unchanged.
        Ok(sub) => Value::str(sub.apply(&text).unwrap_or_else(|| text.into_owned())),
        Err(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_env::{Env, run, run_env};
    use super::*;

    #[test]
    fn documented_examples() {
        let mut env = Env::default();
        env.0.insert("$var(reg)".into(), Value::str("/a/A/g"));
        assert_eq!(
            run_env("{re.subst,$var(reg)}", Value::str("abc"), &mut env),
            Value::str("Abc")
        );
        assert_eq!(
            run("{re.subst,/b/B/g}", Value::str("abcb")),
            Value::str("aBcB")
        );
        assert_eq!(
            run("{re.subst,/b/B/}", Value::str("abcb")),
            Value::str("aBcb")
        );
        assert_eq!(
            run("{re.subst,/B/x/i}", Value::str("abc")),
            Value::str("axc")
        );
        assert_eq!(
            run(
                "{re.subst,/^sip:([^@]+)@.*/\\1/}",
                Value::str("sip:alice@example.com")
            ),
            Value::str("alice")
        );
        assert_eq!(
            run("{re.subst,/z/y/}", Value::str("abc")),
            Value::str("abc")
        );
    }

    #[test]
    fn parse_errors() {
        assert!(parse_subst("/a/b").is_err());
        assert!(parse_subst("/(/b/").is_err());
        assert!(parse_subst("/a/b/q").is_err());
        assert!(parse_subst(r"/a\/b/c/").unwrap().apply("a/b").is_some());
    }
}
