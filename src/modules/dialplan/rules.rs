//! Dialplan rules of one partition: matching (equal, regex, fnmatch; case-insensitive flag),
//! priority order, and the output built from `repl_exp` with `\1`..`\9` taken from `subst_exp`.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

use crate::script::pv::{PvSpec, parse_pv, parse_pv_prefix};

/// `match_flags` bit: case-insensitive matching.
pub const CASE_INSENSITIVE: i64 = 1;

/// One row of the dialplan table, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleRow {
    pub id: i64,
    pub dpid: i64,
    pub pr: i64,
    pub match_op: i64,
    pub match_exp: String,
    pub match_flags: i64,
    pub subst_exp: Option<String>,
    pub repl_exp: Option<String>,
    pub timerec: Option<String>,
    pub attrs: Option<String>,
}

#[derive(Debug)]
enum Matcher {
    Equal { exp: String, nocase: bool },
    Regex(Regex),
}

/// A piece of `repl_exp`.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
    /// A pseudo-variable (`$var(x)`; `\u` is the Request-URI), read at translation time.
    Var(Box<PvSpec>),
}

/// Reads the variables of `repl_exp` (the script context; empty without a message).
pub type VarReader<'a> = dyn FnMut(&PvSpec) -> String + 'a;

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: i64,
    pub pr: i64,
    pub match_exp: String,
    matcher: Matcher,
    subst: Option<Regex>,
    repl: Option<Vec<Piece>>,
    pub attrs: String,
}

/// What a matching rule gives: the output (None when the rule has no `repl_exp`) and its attrs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub output: Option<String>,
    pub attrs: String,
}

fn regex(exp: &str, nocase: bool, what: &str) -> Result<Regex, String> {
    RegexBuilder::new(exp)
        .case_insensitive(nocase)
        .build()
        .map_err(|e| format!("{what} `{exp}`: {e}"))
}

/// A shell pattern (fnmatch) as an anchored regex.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                out.push('[');
                if matches!(chars.peek(), Some('!') | Some('^')) {
                    chars.next();
                    out.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' || d == '[' {
                        out.push('\\');
                    }
                    out.push(d);
                }
                out.push(']');
            }
            '\\' => match chars.next() {
                Some(d) => out.push_str(&regex::escape(&d.to_string())),
                None => out.push_str("\\\\"),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// `repl_exp` split into text, `\N` back-references, `\u` (the Request-URI) and variables
/// (`\\` is a backslash).
fn parse_repl(repl: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let b = repl.as_bytes();
    let push = |pieces: &mut Vec<Piece>, text: &mut String, p: Piece| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
        pieces.push(p);
    };
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'\\', Some(d)) if d.is_ascii_digit() => {
                push(&mut pieces, &mut text, Piece::Group((d - b'0') as usize));
                i += 2;
            }
            (b'\\', Some(b'\\')) => {
                text.push('\\');
                i += 2;
            }
            (b'\\', Some(b'u')) => {
                let ru = parse_pv("$ru").map_err(|e| format!("{e:?}"))?;
                push(&mut pieces, &mut text, Piece::Var(Box::new(ru)));
                i += 2;
            }
            (b'$', _) => {
                let (spec, used) = parse_pv_prefix(&repl[i..], &|_| true)
                    .map_err(|e| format!("repl_exp `{repl}`: {e:?}"))?;
                push(&mut pieces, &mut text, Piece::Var(Box::new(spec)));
                i += used.max(1);
            }
            _ => {
                let c = repl[i..].chars().next().unwrap_or_default();
                text.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

impl Rule {
    /// Compiles a row; the error names the rule id and the faulty field.
    pub fn new(row: RuleRow) -> Result<Rule, String> {
        let nocase = row.match_flags & CASE_INSENSITIVE != 0;
        let ctx = |e: String| format!("dialplan rule id {}: {e}", row.id);
        let matcher = match row.match_op {
            0 => Matcher::Equal {
                exp: row.match_exp.clone(),
                nocase,
            },
            1 => Matcher::Regex(regex(&row.match_exp, nocase, "match_exp").map_err(ctx)?),
            2 => Matcher::Regex(
                regex(&glob_regex(&row.match_exp), nocase, "match_exp").map_err(ctx)?,
            ),
            op => {
                return Err(ctx(format!(
                    "match_op {op} is not 0 (equal), 1 (regex) or 2 (fnmatch)"
                )));
            }
        };
        let subst = match row.subst_exp.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(regex(s, nocase, "subst_exp").map_err(ctx)?),
            None => None,
        };
        let repl = match row.repl_exp.as_deref().filter(|s| !s.is_empty()) {
            Some(r) => Some(parse_repl(r).map_err(ctx)?),
            None => None,
        };
        if let (Some(pieces), Some(re)) = (&repl, &subst) {
            let groups = re.captures_len() - 1;
            if let Some(n) = pieces.iter().find_map(|p| match p {
                Piece::Group(n) if *n > groups => Some(*n),
                _ => None,
            }) {
                return Err(ctx(format!(
                    "repl_exp uses \\{n} but subst_exp has {groups} group(s)"
                )));
            }
        }
        Ok(Rule {
            id: row.id,
            pr: row.pr,
            match_exp: row.match_exp,
            matcher,
            subst,
            repl,
            attrs: row.attrs.unwrap_or_default(),
        })
    }

    pub fn matches(&self, input: &str) -> bool {
        match &self.matcher {
            Matcher::Equal { exp, nocase: true } => exp.eq_ignore_ascii_case(input),
            Matcher::Equal { exp, nocase: false } => exp == input,
            Matcher::Regex(re) => re.is_match(input),
        }
    }

    /// The output for an input this rule matched.
    pub fn translate(
        &self,
        input: &str,
        vars: &mut VarReader<'_>,
    ) -> Result<Option<String>, String> {
        let Some(pieces) = &self.repl else {
            return Ok(None);
        };
        let caps = match &self.subst {
            Some(re) => Some(re.captures(input).ok_or_else(|| {
                format!(
                    "`{input}` matched match_exp `{}` of rule id {} but not its subst_exp",
                    self.match_exp, self.id
                )
            })?),
            None => None,
        };
        let mut out = String::new();
        for p in pieces {
            match (p, &caps) {
                (Piece::Text(t), _) => out.push_str(t),
                (Piece::Group(n), Some(c)) => {
                    out.push_str(c.get(*n).map(|m| m.as_str()).unwrap_or(""))
                }
                // Without subst_exp the replacement is taken literally.
                (Piece::Group(n), None) => out.push_str(&format!("\\{n}")),
                (Piece::Var(spec), _) => out.push_str(&vars(spec)),
            }
        }
        Ok(Some(out))
    }
}

/// Every dialplan of a partition: rules by dpid, in priority order (smaller `pr` first, then
/// table order).
#[derive(Debug, Default)]
pub struct Dialplans {
    by_id: HashMap<i64, Vec<Rule>>,
}

impl Dialplans {
    /// Compiles `rows`; rules that do not compile are returned as errors and left out.
    pub fn build(rows: Vec<RuleRow>) -> (Dialplans, Vec<String>) {
        let mut d = Dialplans::default();
        let mut errors = Vec::new();
        for row in rows {
            let dpid = row.dpid;
            match Rule::new(row) {
                Ok(r) => d.by_id.entry(dpid).or_default().push(r),
                Err(e) => errors.push(e),
            }
        }
        for rules in d.by_id.values_mut() {
            rules.sort_by_key(|r| (r.pr, r.id));
        }
        (d, errors)
    }

    /// The translation of `input` by dialplan `dpid`; Ok(None) when no rule matches.
    pub fn translate(
        &self,
        dpid: i64,
        input: &str,
        vars: &mut VarReader<'_>,
    ) -> Result<Option<Translation>, String> {
        if input.is_empty() {
            return Ok(None);
        }
        let Some(rule) = self
            .by_id
            .get(&dpid)
            .and_then(|rules| rules.iter().find(|r| r.matches(input)))
        else {
            return Ok(None);
        };
        Ok(Some(Translation {
            output: rule.translate(input, vars)?,
            attrs: rule.attrs.clone(),
        }))
    }

    pub fn rule_count(&self) -> usize {
        self.by_id.values().map(Vec::len).sum()
    }

    pub fn dpids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.by_id.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, dpid: i64, pr: i64, op: i64, exp: &str) -> RuleRow {
        RuleRow {
            id,
            dpid,
            pr,
            match_op: op,
            match_exp: exp.into(),
            ..RuleRow::default()
        }
    }

    fn with(mut r: RuleRow, subst: &str, repl: &str, attrs: &str) -> RuleRow {
        r.subst_exp = Some(subst.into()).filter(|s: &String| !s.is_empty());
        r.repl_exp = Some(repl.into()).filter(|s: &String| !s.is_empty());
        r.attrs = Some(attrs.into());
        r
    }

    impl Dialplans {
        fn translate0(&self, dpid: i64, input: &str) -> Result<Option<Translation>, String> {
            self.translate(dpid, input, &mut |_| String::new())
        }
    }

    fn build(rows: Vec<RuleRow>) -> Dialplans {
        let (d, errors) = Dialplans::build(rows);
        assert!(errors.is_empty(), "{errors:?}");
        d
    }

    #[test]
    fn regex_substitution_with_backreferences() {
        let d = build(vec![with(
            row(1, 0, 0, 1, "^(0040|\\+40|0|40)21[0-9]+"),
            "^(0040|\\+40|0|40)(.+)",
            "40\\2",
            "ro",
        )]);
        let t = d.translate0(0, "0212345678").unwrap().unwrap();
        assert_eq!(t.output.as_deref(), Some("40212345678"));
        assert_eq!(t.attrs, "ro");
        let t = d.translate0(0, "+40211111").unwrap().unwrap();
        assert_eq!(t.output.as_deref(), Some("40211111"));
        assert_eq!(d.translate0(0, "0312345678").unwrap(), None);
        assert_eq!(d.translate0(1, "0212345678").unwrap(), None, "other dpid");
    }

    #[test]
    fn equal_and_case_flags() {
        let mut nocase = with(row(2, 5, 0, 0, "SIP server"), "", "OpenSIPS", "");
        nocase.match_flags = 1;
        let d = build(vec![
            with(row(1, 5, 0, 0, "Germany"), "", "DE", "eu"),
            nocase,
        ]);
        assert_eq!(
            d.translate0(5, "Germany")
                .unwrap()
                .unwrap()
                .output
                .as_deref(),
            Some("DE")
        );
        assert_eq!(d.translate0(5, "germany").unwrap(), None, "case-sensitive");
        assert_eq!(d.translate0(5, "Germanyx").unwrap(), None, "equal is whole");
        assert_eq!(
            d.translate0(5, "sip SERVER")
                .unwrap()
                .unwrap()
                .output
                .as_deref(),
            Some("OpenSIPS")
        );
        let mut re = with(row(3, 6, 0, 1, "^alice$"), "", "a", "");
        re.match_flags = 1;
        let d = build(vec![re]);
        assert!(d.translate0(6, "ALICE").unwrap().is_some());
    }

    #[test]
    fn priority_then_table_order() {
        let d = build(vec![
            with(row(1, 0, 5, 1, "^1"), "", "low", ""),
            with(row(2, 0, 1, 1, "^12"), "", "high", ""),
            with(row(4, 0, 1, 0, "123"), "", "equal-later", ""),
            with(row(3, 0, 1, 1, "^123"), "", "regex-first", ""),
        ]);
        let out = |s| d.translate0(0, s).unwrap().unwrap().output.unwrap();
        assert_eq!(out("123"), "high");
        assert_eq!(out("19"), "low");
        let d = build(vec![
            with(row(4, 0, 1, 0, "123"), "", "equal-later", ""),
            with(row(3, 0, 1, 1, "^123"), "", "regex-first", ""),
        ]);
        assert_eq!(
            d.translate0(0, "123").unwrap().unwrap().output.unwrap(),
            "regex-first"
        );
    }

    #[test]
    fn no_replacement_gives_attrs_only() {
        let d = build(vec![with(
            row(1, 0, 0, 1, "^021456[0-9]{5}"),
            "",
            "",
            "serviceX",
        )]);
        let t = d.translate0(0, "02145612345").unwrap().unwrap();
        assert_eq!(t.output, None);
        assert_eq!(t.attrs, "serviceX");
        assert_eq!(d.translate0(0, "").unwrap(), None);
    }

    #[test]
    fn fnmatch_patterns() {
        let d = build(vec![with(row(1, 0, 0, 2, "08[0-9]?*"), "", "premium", "")]);
        assert!(d.translate0(0, "0812").unwrap().is_some());
        assert!(d.translate0(0, "081").unwrap().is_none());
        assert!(d.translate0(0, "x0812").unwrap().is_none());
        assert_eq!(glob_regex("a.b*"), "^a\\.b.*$");
        assert_eq!(glob_regex("[!0-3]"), "^[^0-3]$");
    }

    #[test]
    fn bad_rules_are_reported_and_skipped() {
        let (d, errors) = Dialplans::build(vec![
            row(7, 0, 0, 1, "^(unclosed"),
            row(8, 0, 0, 9, "x"),
            with(row(9, 0, 0, 1, "^1"), "^(1)", "\\2", ""),
            with(row(10, 0, 0, 1, "^1"), "", "ok", ""),
        ]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("rule id 7") && errors[0].contains("match_exp"));
        assert!(errors[1].contains("match_op 9"));
        assert!(errors[2].contains("\\2"));
        assert_eq!(d.rule_count(), 1);
    }

    #[test]
    fn subst_that_does_not_match_is_an_error() {
        let d = build(vec![with(row(1, 0, 0, 1, "^1"), "^2(.*)", "\\1", "")]);
        assert!(d.translate0(0, "123").is_err());
    }

    #[test]
    fn replacement_with_variables() {
        let d = build(vec![with(
            row(1, 0, 0, 1, "^0"),
            "^0(.*)$",
            "$var(cc)\\1@\\u",
            "",
        )]);
        let mut seen = Vec::new();
        let out = d
            .translate(0, "0723", &mut |spec| {
                seen.push(spec.name.clone());
                match spec.name.as_str() {
                    "var" => "+40".into(),
                    _ => "sip:x@h".into(),
                }
            })
            .unwrap()
            .unwrap();
        assert_eq!(out.output.as_deref(), Some("+40723@sip:x@h"));
        assert_eq!(seen, ["var", "ru"]);
        let (_, errors) = Dialplans::build(vec![with(row(2, 0, 0, 1, "^0"), "", "$(bad", "")]);
        assert_eq!(errors.len(), 1, "a broken variable rejects the rule");
    }

    #[test]
    fn replacement_parsing() {
        assert_eq!(
            parse_repl("+\\1-\\\\x\\").unwrap(),
            vec![
                Piece::Text("+".into()),
                Piece::Group(1),
                Piece::Text("-\\x\\".into())
            ]
        );
    }
}
