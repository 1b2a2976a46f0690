//! `avp_subst("$avp(src)[/$avp(dst)][/flags]", "/re/repl/flags")`: sed-like substitution on the
//! string values of an AVP. The first character of the expression separates its parts
//! (`\<sep>` writes it inside them). `repl` may hold `\0`..`\9` (the match, its groups),
//! `\\`, `\n`, `\r`, `\t` and variables, read once per call. Expression flags: `g` every match,
//! `i` ignore case. Without `dst` the value is replaced where it is; with it the results are
//! added to `dst` (in the order of their sources) and `d` deletes the sources. The newest
//! matching value is used, or each with the `g` of the first argument.

use regex::{Captures, Regex, RegexBuilder};

use std::cell::RefCell;

use super::{ParseCache, avp_name, cached, report};
use crate::script::pv::{PvSpec, parse_pv_prefix};
use crate::script::{ArgValue, RunCtx, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    Group(usize),
    Pv(PvSpec),
}

#[derive(Debug, Clone)]
pub struct SubstExpr {
    pub re: Regex,
    pub repl: Vec<Piece>,
    pub global: bool,
}

/// Splits `text` at unescaped `sep`; `\<sep>` becomes `sep`, other escapes stay for the next step.
fn split_sep(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if n == sep => parts.last_mut().unwrap().push(n),
                Some(n) => {
                    let last = parts.last_mut().unwrap();
                    last.push('\\');
                    last.push(n);
                }
                None => parts.last_mut().unwrap().push('\\'),
            },
            c if c == sep => parts.push(String::new()),
            c => parts.last_mut().unwrap().push(c),
        }
    }
    parts
}

fn parse_repl(text: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let b = text.as_bytes();
    while i < text.len() {
        let c = text[i..].chars().next().unwrap();
        match c {
            '\\' => {
                let n = text[i + 1..].chars().next();
                match n {
                    Some(d @ '0'..='9') => {
                        if !lit.is_empty() {
                            out.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        out.push(Piece::Group(d as usize - '0' as usize));
                    }
                    Some('n') => lit.push('\n'),
                    Some('r') => lit.push('\r'),
                    Some('t') => lit.push('\t'),
                    Some(o) => lit.push(o),
                    None => lit.push('\\'),
                }
                i += 1 + n.map(char::len_utf8).unwrap_or(0);
            }
            '$' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'(' || *c == b'_') =>
            {
                let (pv, used) = parse_pv_prefix(&text[i..], &|_| true)
                    .map_err(|e| format!("variable in `{text}`: {}", e.msg))?;
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Pv(pv));
                i += used;
            }
            c => {
                lit.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

impl SubstExpr {
    pub fn parse(text: &str) -> Result<SubstExpr, String> {
        let sep = text.chars().next().ok_or("empty substitution expression")?;
        if sep.is_alphanumeric() || sep == '\\' {
            return Err(format!("`{text}`: bad separator `{sep}`"));
        }
        let parts = split_sep(&text[sep.len_utf8()..], sep);
        let [re, repl, flags] = parts.as_slice() else {
            return Err(format!(
                "`{text}`: expected {sep}regexp{sep}replacement{sep}flags"
            ));
        };
        let mut global = false;
        let mut nocase = false;
        for f in flags.chars() {
            match f {
                'g' | 'G' => global = true,
                'i' | 'I' => nocase = true,
                other => return Err(format!("`{text}`: unknown flag `{other}` (g, i)")),
            }
        }
        let re = RegexBuilder::new(re)
            .case_insensitive(nocase)
            .build()
            .map_err(|e| format!("bad regular expression `{re}`: {e}"))?;
        let repl = parse_repl(repl)?;
        if let Some(n) = repl.iter().find_map(|p| match p {
            Piece::Group(n) if *n >= re.captures_len() => Some(*n),
            _ => None,
        }) {
            return Err(format!(
                "`{text}`: \\{n} but the expression has fewer groups"
            ));
        }
        Ok(SubstExpr { re, repl, global })
    }

    /// The replacement text of the variables, read now.
    pub fn read_pvs(&self, ctx: &mut RunCtx<'_>) -> Vec<String> {
        self.repl
            .iter()
            .filter_map(|p| match p {
                Piece::Pv(pv) => Some(match ctx.get_pv(pv) {
                    Ok(v) => v.to_display().into_owned(),
                    Err(e) => {
                        tracing::warn!("avp_subst: {}: {e}", pv.text);
                        "<null>".to_string()
                    }
                }),
                _ => None,
            })
            .collect()
    }

    /// `text` with the substitution done; None when the expression does not match.
    pub fn apply(&self, text: &str, pvs: &[String]) -> Option<String> {
        let expand = |caps: &Captures<'_>| {
            let mut out = String::new();
            let mut pv = pvs.iter();
            for p in &self.repl {
                match p {
                    Piece::Lit(s) => out.push_str(s),
                    Piece::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
                    Piece::Pv(_) => out.push_str(pv.next().map_or("", String::as_str)),
                }
            }
            out
        };
        if !self.re.is_match(text) {
            return None;
        }
        let limit = if self.global { 0 } else { 1 };
        Some(self.re.replacen(text, limit, expand).into_owned())
    }
}

/// `avps = src ['/' dst ['/' flags]] | src '/' flags` → (src, dst, all, delete).
pub fn parse_avps(text: &str) -> Result<(String, Option<String>, bool, bool), String> {
    let t = text.trim();
    let name = |s: &str| match avp_name(s) {
        Some((n, "")) => Ok(n.to_string()),
        _ => Err(format!("`{s}` is not an AVP (write \"$avp(name)\")")),
    };
    let (src, rest) = t.split_once('/').unwrap_or((t, ""));
    let src = name(src)?;
    let (dst, flags) = if rest.starts_with('$') {
        let (d, f) = rest.split_once('/').unwrap_or((rest, ""));
        (Some(name(d)?), f)
    } else {
        (None, rest)
    };
    let mut all = false;
    let mut delete = false;
    for f in flags.chars() {
        match f {
            'g' | 'G' => all = true,
            'd' | 'D' => delete = true,
            other => return Err(format!("`{t}`: unknown flag `{other}` (g, d)")),
        }
    }
    Ok((src, dst, all, delete))
}

pub fn run(
    ctx: &mut RunCtx<'_>,
    src: &str,
    dst: Option<&str>,
    all: bool,
    delete: bool,
    se: &SubstExpr,
) -> i32 {
    let pvs = se.read_pvs(ctx);
    // (index newest-first, new value) of each substituted value.
    let mut done: Vec<(usize, String)> = Vec::new();
    for (i, v) in ctx.avps.values(src).enumerate() {
        let Value::Str(s) = v else { continue };
        if let Some(r) = se.apply(s, &pvs) {
            done.push((i, r));
            if !all {
                break;
            }
        }
    }
    if done.is_empty() {
        return -1;
    }
    match dst {
        None => {
            for (i, r) in done {
                ctx.avps.set_at(src, i as i32, Value::str(r));
            }
        }
        Some(dst) => {
            if delete {
                for (i, _) in done.iter().rev() {
                    ctx.avps.delete_at(src, *i as i32);
                }
            }
            for (_, r) in done.into_iter().rev() {
                ctx.avps.push(dst, Value::str(r));
            }
        }
    }
    1
}

/// `avp_subst(avps, subst)`.
pub fn avp_subst(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let avps = args.first().and_then(ArgValue::str).unwrap_or("");
    let expr = args.get(1).and_then(ArgValue::str).unwrap_or("");
    thread_local! {
        static PARSED: ParseCache<SubstExpr> = RefCell::default();
    }
    let parsed =
        parse_avps(avps).and_then(|a| cached(&PARSED, expr, SubstExpr::parse).map(|se| (a, se)));
    match parsed {
        Ok(((src, dst, all, delete), se)) => run(ctx, &src, dst.as_deref(), all, delete, &se),
        Err(e) => report("avp_subst", Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(expr: &str, text: &str) -> Option<String> {
        SubstExpr::parse(expr).unwrap().apply(text, &[])
    }

    #[test]
    fn substitutions() {
        assert_eq!(
            sub("/(.*)@(.*)/\\2:\\1/", "alice@example.com").as_deref(),
            Some("example.com:alice")
        );
        assert_eq!(sub("/a/b/", "banana").as_deref(), Some("bbnana"));
        assert_eq!(sub("/a/b/g", "banana").as_deref(), Some("bbnbnb"));
        assert_eq!(sub("/A/b/gi", "banana").as_deref(), Some("bbnbnb"));
        assert_eq!(sub("/A/b/", "banana"), None);
        assert_eq!(sub("#/#\\\\#g", "a/b").as_deref(), Some("a\\b"));
        assert_eq!(sub("/\\//-/g", "a/b/c").as_deref(), Some("a-b-c"));
        assert_eq!(sub("/x(y)?/[\\1]/", "x").as_deref(), Some("[]"));
        assert_eq!(sub("/^/\\0>/", "q").as_deref(), Some(">q"));
    }

    #[test]
    fn replacement_variables() {
        let se = SubstExpr::parse("/@.*/@$rd/").unwrap();
        assert!(matches!(&se.repl[1], Piece::Pv(pv) if pv.name == "rd"));
        assert_eq!(
            se.apply("bob@old", &["new.net".to_string()]).as_deref(),
            Some("bob@new.net")
        );
    }

    #[test]
    fn bad_expressions() {
        assert!(SubstExpr::parse("").is_err());
        assert!(SubstExpr::parse("/a/b").unwrap_err().contains("expected"));
        assert!(SubstExpr::parse("/a/b/x").unwrap_err().contains("`x`"));
        assert!(SubstExpr::parse("/(/b/").unwrap_err().contains("regular"));
        assert!(SubstExpr::parse("/a/\\3/").unwrap_err().contains("\\3"));
        assert!(SubstExpr::parse("aXbXcX").is_err());
    }

    #[test]
    fn avp_arguments() {
        assert_eq!(
            parse_avps("$avp(a)").unwrap(),
            ("a".into(), None, false, false)
        );
        assert_eq!(
            parse_avps("$avp(a)/$avp(b)/gd").unwrap(),
            ("a".into(), Some("b".into()), true, true)
        );
        assert_eq!(
            parse_avps("$avp(a)/g").unwrap(),
            ("a".into(), None, true, false)
        );
        assert!(parse_avps("$avp(a)/x").is_err());
        assert!(parse_avps("$var(a)").is_err());
    }
}
