//! Pseudo-variable specs (`$ru`, `$avp(x)`, `$(hdr(Via)[1]{via.branch})`) and format strings
//! (`"user $rU from $si"`), parsed once at compile time (OpenSIPS `pv_parse_spec`, `pv_parse_format`).

use super::pvclass::PvClass;
use super::transform::{Transform, parse_transform};
use super::value::Str;

/// `$(<request>ru)` / `$(<reply>hdr(X))` context selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvContext {
    Request,
    Reply,
}

/// The inner name of `$name(inner)`: a literal or another variable (`$avp($var(n))`).
#[derive(Debug, Clone, PartialEq)]
pub enum PvInner {
    Literal(String),
    Pv(Box<PvSpec>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PvIndex {
    /// `[n]`, negative counts from the end.
    At(i32),
    /// `[*]`
    All,
    /// `[append]` (AVPs only)
    Append,
    /// `[$var(i)]`
    Pv(Box<PvSpec>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PvSpec {
    /// Class name without `$`: `ru`, `avp`, `hdr`, `msg.branch.uri`.
    pub name: String,
    /// The class of `name`, resolved when parsed (reads dispatch on it, not on the name).
    pub class: PvClass,
    pub inner: Option<PvInner>,
    pub index: Option<PvIndex>,
    pub trans: Vec<Transform>,
    pub context: Option<PvContext>,
    /// Text as written, for messages.
    pub text: String,
    /// For `$var(name)` with a literal name: its slot in the worker's variable table, given by the
    /// compiler so reads and writes skip the name lookup.
    pub slot: Option<u32>,
}

impl PvSpec {
    pub fn inner_literal(&self) -> Option<&str> {
        match &self.inner {
            Some(PvInner::Literal(s)) => Some(s),
            _ => None,
        }
    }
}

/// A pseudo-variable syntax error; `at` is a byte offset into the parsed text.
#[derive(Debug, Clone, PartialEq)]
pub struct PvError {
    pub at: usize,
    pub msg: String,
}

fn err<T>(at: usize, msg: impl Into<String>) -> Result<T, PvError> {
    Err(PvError {
        at,
        msg: msg.into(),
    })
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

/// Position of the byte closing the bracket opened at `open` (`(`/`[`/`{`), counting all three kinds.
fn matching(s: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut i = open;
    let mut quote: Option<u8> = None;
    while i < s.len() {
        let c = s[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else {
            match c {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parses a complete variable token such as `$(avp(x)[-1]{s.len})`. The whole text must be consumed.
pub fn parse_pv(text: &str) -> Result<PvSpec, PvError> {
    let (spec, used) = parse_pv_prefix(text, &|_| true)?;
    if used != text.len() {
        return err(
            used,
            format!("unexpected `{}` after variable", &text[used..]),
        );
    }
    Ok(spec)
}

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Variables nest (`$avp($var(n))`, transformation parameters); this bounds the recursion.
const MAX_PV_DEPTH: usize = 16;

/// Parses the variable at the start of `text` (which begins with `$`); returns it and the bytes used.
/// `known` says whether a class name exists: it lets `"$rd."` in a format string stop before the dot.
pub fn parse_pv_prefix(
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<(PvSpec, usize), PvError> {
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_PV_DEPTH {
        return err(0, "variables nested too deeply");
    }
    DEPTH.with(|d| d.set(depth + 1));
    let r = parse_pv_prefix_inner(text, known);
    DEPTH.with(|d| d.set(depth));
    r
}

fn parse_pv_prefix_inner(
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<(PvSpec, usize), PvError> {
    let b = text.as_bytes();
    if b.first() != Some(&b'$') {
        return err(0, "a variable starts with `$`");
    }
    if b.get(1) == Some(&b'(') {
        let close = matching(b, 1).ok_or(PvError {
            at: 1,
            msg: "missing `)` closing the variable".into(),
        })?;
        let spec = parse_long_form(text, 2, close)?;
        return Ok((spec, close + 1));
    }
    let mut i = 1;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    if i == 1 {
        return err(1, "expected a variable name after `$`");
    }
    // Trim trailing dotted parts that do not form a known name (`$rd.` -> `$rd`).
    let mut end = i;
    while b[end - 1] == b'.' || (!known(&text[1..end]) && text[1..end].contains('.')) {
        match text[1..end].rfind('.') {
            Some(p) if p > 0 => end = p + 1,
            _ => break,
        }
    }
    let name = text[1..end].to_string();
    let mut inner = None;
    if end == i && b.get(end) == Some(&b'(') {
        let close = matching(b, end).ok_or(PvError {
            at: end,
            msg: "missing `)` after variable name".into(),
        })?;
        inner = Some(parse_inner(&text[end + 1..close], end + 1, known)?);
        end = close + 1;
    }
    Ok((
        PvSpec {
            class: PvClass::of(&name),
            name,
            inner,
            index: None,
            trans: Vec::new(),
            context: None,
            text: text[..end].to_string(),
            slot: None,
        },
        end,
    ))
}

fn parse_inner(s: &str, base: usize, known: &dyn Fn(&str) -> bool) -> Result<PvInner, PvError> {
    if s.starts_with('$') {
        let (pv, used) = parse_pv_prefix(s, known).map_err(|e| PvError {
            at: e.at + base,
            ..e
        })?;
        if used == s.len() {
            return Ok(PvInner::Pv(Box::new(pv)));
        }
    }
    Ok(PvInner::Literal(s.to_string()))
}

/// `$( [<ctx>] name [(inner)] [[index]] {tr}... )` — `start..close` is between the outer parentheses.
fn parse_long_form(text: &str, start: usize, close: usize) -> Result<PvSpec, PvError> {
    let b = text.as_bytes();
    let mut i = start;
    let mut context = None;
    if b[i] == b'<' {
        let end = text[i..close].find('>').map(|p| p + i).ok_or(PvError {
            at: i,
            msg: "missing `>` after context".into(),
        })?;
        context = Some(match &text[i + 1..end] {
            "request" => PvContext::Request,
            "reply" => PvContext::Reply,
            other => {
                return err(
                    i + 1,
                    format!("unknown context `{other}` (expected request or reply)"),
                );
            }
        });
        i = end + 1;
    }
    let ns = i;
    while i < close && is_name_char(b[i]) {
        i += 1;
    }
    if i == ns {
        return err(ns, "expected a variable name");
    }
    let name = text[ns..i].to_string();
    let mut inner = None;
    if i < close && b[i] == b'(' {
        let c = matching(b, i).filter(|&c| c < close).ok_or(PvError {
            at: i,
            msg: "missing `)` after variable name".into(),
        })?;
        inner = Some(parse_inner(&text[i + 1..c], i + 1, &|_| true)?);
        i = c + 1;
    }
    let mut index = None;
    if i < close && b[i] == b'[' {
        let c = matching(b, i).filter(|&c| c < close).ok_or(PvError {
            at: i,
            msg: "missing `]` after index".into(),
        })?;
        index = Some(parse_index(&text[i + 1..c], i + 1)?);
        i = c + 1;
    }
    let mut trans = Vec::new();
    loop {
        while i < close && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= close {
            break;
        }
        if b[i] != b'{' {
            return err(i, format!("unexpected `{}` in variable", b[i] as char));
        }
        let c = matching(b, i).filter(|&c| c < close).ok_or(PvError {
            at: i,
            msg: "missing `}` closing the transformation".into(),
        })?;
        trans.push(parse_transform(&text[i + 1..c]).map_err(|e| PvError {
            at: e.at + i + 1,
            ..e
        })?);
        i = c + 1;
    }
    Ok(PvSpec {
        class: PvClass::of(&name),
        name,
        inner,
        index,
        trans,
        context,
        text: text[..close + 1].to_string(),
        slot: None,
    })
}

fn parse_index(s: &str, base: usize) -> Result<PvIndex, PvError> {
    let t = s.trim();
    if t == "*" {
        return Ok(PvIndex::All);
    }
    if t == "append" {
        return Ok(PvIndex::Append);
    }
    if t.starts_with('$') {
        return parse_pv(t)
            .map(|p| PvIndex::Pv(Box::new(p)))
            .map_err(|e| PvError {
                at: e.at + base,
                ..e
            });
    }
    t.parse::<i32>().map(PvIndex::At).or_else(|_| {
        err(
            base,
            format!("bad index `{t}` (expected a number, `*`, `append` or a variable)"),
        )
    })
}

/// One piece of a format string.
#[derive(Debug, Clone, PartialEq)]
pub enum FmtPart {
    Lit(Str),
    Pv(PvSpec),
}

/// A string literal with `$` variables expanded at run time (`$$` is a literal `$`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Format {
    pub parts: Vec<FmtPart>,
}

impl Format {
    /// A format made of one literal (no variables).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, FmtPart::Lit(_)))
    }

    pub fn static_text(&self) -> Option<String> {
        if !self.is_static() {
            return None;
        }
        Some(
            self.parts
                .iter()
                .map(|p| match p {
                    FmtPart::Lit(s) => s.as_str(),
                    FmtPart::Pv(_) => "",
                })
                .collect(),
        )
    }

    pub fn pvs(&self) -> impl Iterator<Item = &PvSpec> {
        self.parts.iter().filter_map(|p| match p {
            FmtPart::Pv(pv) => Some(pv),
            FmtPart::Lit(_) => None,
        })
    }
}

/// Parses a format string. `known` tells valid variable names (see [`parse_pv_prefix`]).
pub fn parse_format(s: &str, known: &dyn Fn(&str) -> bool) -> Result<Format, PvError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(p) = s[i..].find('$') else {
            lit.push_str(&s[i..]);
            break;
        };
        lit.push_str(&s[i..i + p]);
        i += p;
        match b.get(i + 1) {
            Some(b'$') => {
                lit.push('$');
                i += 2;
            }
            Some(c) if *c == b'(' || c.is_ascii_alphabetic() || *c == b'_' => {
                let (pv, used) =
                    parse_pv_prefix(&s[i..], known).map_err(|e| PvError { at: e.at + i, ..e })?;
                if !lit.is_empty() {
                    parts.push(FmtPart::Lit(std::mem::take(&mut lit).into()));
                }
                parts.push(FmtPart::Pv(pv));
                i += used;
            }
            _ => {
                lit.push('$');
                i += 1;
            }
        }
    }
    if !lit.is_empty() {
        parts.push(FmtPart::Lit(lit.into()));
    }
    Ok(Format { parts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let p = parse_pv("$ru").unwrap();
        assert_eq!(p.name, "ru");
        let p = parse_pv("$avp(caller)").unwrap();
        assert_eq!(p.name, "avp");
        assert_eq!(p.inner_literal(), Some("caller"));
        let p = parse_pv("$msg.branch.uri").unwrap();
        assert_eq!(p.name, "msg.branch.uri");
    }

    #[test]
    fn long_form_with_index_and_transformations() {
        let p = parse_pv("$(hdr(Via)[-1]{via.branch}{s.len})").unwrap();
        assert_eq!(p.name, "hdr");
        assert_eq!(p.inner_literal(), Some("Via"));
        assert_eq!(p.index, Some(PvIndex::At(-1)));
        assert_eq!(p.trans.len(), 2);
        let p = parse_pv("$(avp(x)[*])").unwrap();
        assert_eq!(p.index, Some(PvIndex::All));
        let p = parse_pv("$(<reply>hdr(Contact))").unwrap();
        assert_eq!(p.context, Some(PvContext::Reply));
        let p = parse_pv("$(avp(x)[$var(i)])").unwrap();
        assert!(matches!(p.index, Some(PvIndex::Pv(_))));
    }

    #[test]
    fn nested_inner_variable() {
        let p = parse_pv("$avp($var(n))").unwrap();
        assert!(matches!(p.inner, Some(PvInner::Pv(_))));
    }

    #[test]
    fn errors() {
        assert!(parse_pv("$(avp(x)").is_err());
        assert!(parse_pv("$(avp(x)[foo])").is_err());
        assert!(parse_pv("$").is_err());
    }

    #[test]
    fn format_strings() {
        let known = |n: &str| matches!(n, "rd" | "fu" | "tu" | "ci" | "ru");
        let f = parse_format("[$fu/$tu] at $rd. cost $$5", &known).unwrap();
        assert_eq!(f.parts.len(), 7);
        assert_eq!(f.parts[0], FmtPart::Lit("[".into()));
        match &f.parts[5] {
            FmtPart::Pv(p) => assert_eq!(p.name, "rd"),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.parts[6], FmtPart::Lit(". cost $5".into()));
        assert!(parse_format("plain", &known).unwrap().is_static());
    }
}
