//! `avp_check(name, "op/value[/flags]")`: true when a value of `name` (the newest, or any with
//! `g`) stands the test against any value of `value` (every value when it is an `$avp`).
//! Operators: eq ne lt le gt ge re fm (strings or integers as OpenSIPS: string order ignores
//! case, `re` is a case-insensitive extended regex, `fm` a shell glob) and and/or/xor (integers:
//! true when the bitwise result is not 0). Flags: `g` every value of `name`, `i` case-insensitive
//! eq/ne/fm. Values of different types do not match (osips compares a bare literal that is an
//! integer with integer values, see [`Operand::Plain`]).

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};

use std::cell::RefCell;

use super::{Operand, ParseCache, avp_of, cached, pv_arg, report, split_op_value};
use crate::script::{ArgValue, RunCtx, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    Fm,
    And,
    Or,
    Xor,
}

impl CheckOp {
    fn parse(text: &str) -> Result<CheckOp, String> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "eq" => CheckOp::Eq,
            "ne" => CheckOp::Ne,
            "lt" => CheckOp::Lt,
            "le" => CheckOp::Le,
            "gt" => CheckOp::Gt,
            "ge" => CheckOp::Ge,
            "re" => CheckOp::Re,
            "fm" => CheckOp::Fm,
            "and" => CheckOp::And,
            "or" => CheckOp::Or,
            "xor" => CheckOp::Xor,
            other => return Err(format!("unknown operator `{other}`")),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub op: CheckOp,
    pub value: Operand,
    pub all: bool,
    pub nocase: bool,
    /// The regex of `re` with a literal value, compiled once.
    re: Option<Regex>,
}

fn compile_re(text: &str) -> Result<Regex, String> {
    // OpenSIPS: REG_EXTENDED | REG_ICASE | REG_NEWLINE.
    RegexBuilder::new(text)
        .case_insensitive(true)
        .multi_line(true)
        .build()
        .map_err(|e| format!("bad regular expression `{text}`: {e}"))
}

impl Check {
    pub fn parse(text: &str) -> Result<Check, String> {
        let (op, value, flags) = split_op_value(text)?;
        let op = CheckOp::parse(op)?;
        let value = Operand::parse(value)?;
        let mut all = false;
        let mut nocase = false;
        for f in flags.chars() {
            match f {
                'g' | 'G' => all = true,
                'i' | 'I' => nocase = true,
                other => return Err(format!("unknown flag `{other}` (g, i)")),
            }
        }
        let re = match (op, &value) {
            (CheckOp::Re, Operand::Str(s) | Operand::Plain(s)) => Some(compile_re(s)?),
            (CheckOp::Re, Operand::Int(_)) => {
                return Err("the re operator needs a string value".into());
            }
            (CheckOp::Fm, Operand::Int(_)) => {
                return Err("the fm operator needs a string value or a variable".into());
            }
            _ => None,
        };
        Ok(Check {
            op,
            value,
            all,
            nocase,
            re,
        })
    }

    /// One value against one check value.
    pub fn test(&self, v: &Value, against: &Value) -> Result<bool, String> {
        let plain = matches!(self.value, Operand::Plain(_));
        match (int_of(v), int_of(against)) {
            (Some(a), Some(b)) => return Ok(self.test_int(a, b)),
            (Some(a), None) if plain => {
                if let Some(b) = against.as_str().and_then(|s| Value::parse_int(&s)) {
                    return Ok(self.test_int(a, b));
                }
                return Ok(false);
            }
            (Some(_), None) | (None, Some(_)) => return Ok(false),
            (None, None) => {}
        }
        let (Some(a), Some(b)) = (v.as_str(), against.as_str()) else {
            return Ok(false);
        };
        self.test_str(&a, &b)
    }

    fn test_int(&self, a: i32, b: i32) -> bool {
        match self.op {
            CheckOp::Eq => a == b,
            CheckOp::Ne => a != b,
            CheckOp::Lt => a < b,
            CheckOp::Le => a <= b,
            CheckOp::Gt => a > b,
            CheckOp::Ge => a >= b,
            CheckOp::And => a & b != 0,
            CheckOp::Or => a | b != 0,
            CheckOp::Xor => a ^ b != 0,
            CheckOp::Re | CheckOp::Fm => false,
        }
    }

    fn test_str(&self, a: &str, b: &str) -> Result<bool, String> {
        let same = || {
            if self.nocase {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        let order = || a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase());
        Ok(match self.op {
            CheckOp::Eq => same(),
            CheckOp::Ne => !same(),
            CheckOp::Lt => order() == Ordering::Less,
            CheckOp::Le => order() != Ordering::Greater,
            CheckOp::Gt => order() == Ordering::Greater,
            CheckOp::Ge => order() != Ordering::Less,
            CheckOp::Re => match &self.re {
                Some(re) => re.is_match(a),
                None => compile_re(b)?.is_match(a),
            },
            CheckOp::Fm => fnmatch(b, a, self.nocase),
            CheckOp::And | CheckOp::Or | CheckOp::Xor => false,
        })
    }
}

/// The integer of an integer-typed value (`$var(n) = 5`, `$rs`).
fn int_of(v: &Value) -> Option<i32> {
    match v {
        Value::Int(i) | Value::StrInt(_, i) => Some(*i),
        _ => None,
    }
}

/// `fnmatch(3)` without flags (or with `FNM_CASEFOLD`): `*`, `?`, `[...]` (`!`/`^` negates,
/// ranges), `\` escapes the next character.
pub fn fnmatch(pattern: &str, text: &str, nocase: bool) -> bool {
    let fold = |c: char| if nocase { c.to_ascii_lowercase() } else { c };
    let p: Vec<char> = pattern.chars().map(fold).collect();
    let t: Vec<char> = text.chars().map(fold).collect();
    glob(&p, &t)
}

fn glob(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => class(&p[pi..], t[ti]),
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(2),
            Some(c) => (*c == t[ti]).then_some(1),
            None => None,
        };
        match step {
            Some(n) => {
                pi += n;
                ti += 1;
            }
            None => match star {
                // Let the last `*` eat one more character and retry.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: the pattern length used, or
/// None. An unclosed `[` is a literal `[`.
fn class(p: &[char], c: char) -> Option<usize> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return (hit != negate).then_some(i + 1);
        }
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= (lo..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    (c == '[').then_some(1)
}

/// The values `avp_check` tests: the newest of `$avp(name)` (each with `g`), or the variable's.
fn source_values(ctx: &mut RunCtx<'_>, text: &str, all: bool) -> Result<Vec<Value>, String> {
    let pv = pv_arg(text)?;
    if let Some(name) = avp_of(&pv) {
        let mut v: Vec<Value> = ctx.avps.values(name).cloned().collect();
        if !all {
            v.truncate(1);
        }
        return Ok(v);
    }
    let v = ctx.get_pv(&pv).map_err(|e| format!("{}: {e}", pv.text))?;
    Ok(if v.is_null() { Vec::new() } else { vec![v] })
}

pub fn check_values(ctx: &mut RunCtx<'_>, name: &str, check: &Check) -> Result<i32, String> {
    let values = source_values(ctx, name, check.all)?;
    let against = check.value.values(ctx)?;
    for v in &values {
        for a in &against {
            if check.test(v, a)? {
                return Ok(1);
            }
        }
    }
    Ok(-1)
}

/// `avp_check(name, op_value)`.
pub fn avp_check(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let name = args.first().and_then(ArgValue::str).unwrap_or("");
    let op_value = args.get(1).and_then(ArgValue::str).unwrap_or("");
    thread_local! {
        static PARSED: ParseCache<Check> = RefCell::default();
    }
    let r = cached(&PARSED, op_value, Check::parse)
        .map_err(|e| format!("`{op_value}`: {e}"))
        .and_then(|c| check_values(ctx, name, &c));
    report("avp_check", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(op_value: &str, v: Value, against: Value) -> bool {
        Check::parse(op_value).unwrap().test(&v, &against).unwrap()
    }

    #[test]
    fn operators_on_strings() {
        let s = Value::str;
        assert!(t("eq/x", s("abc"), s("abc")));
        assert!(!t("eq/x", s("abc"), s("ABC")));
        assert!(t("eq/x/i", s("abc"), s("ABC")));
        assert!(t("ne/x", s("abc"), s("ABC")));
        assert!(!t("ne/x/i", s("abc"), s("ABC")));
        // String order ignores case, a prefix sorts first.
        assert!(t("lt/x", s("Abc"), s("abd")));
        assert!(t("lt/x", s("ab"), s("abc")));
        assert!(t("le/x", s("ABC"), s("abc")));
        assert!(t("gt/x", s("b"), s("abc")));
        assert!(t("ge/x", s("abc"), s("ABC")));
        assert!(!t("gt/x", s("abc"), s("abc")));
        assert!(!t("and/x", s("1"), s("1")));
    }

    #[test]
    fn operators_on_integers() {
        let i = Value::Int;
        assert!(t("eq/i:5", i(5), i(5)));
        assert!(t("lt/i:5", i(-1), i(5)));
        assert!(t("ge/i:5", i(5), i(5)));
        assert!(t("and/i:0", i(6), i(2)));
        assert!(!t("and/i:0", i(4), i(2)));
        assert!(t("or/i:0", i(0), i(2)));
        assert!(!t("xor/i:0", i(3), i(3)));
        // Types must agree; a bare literal also compares as an integer.
        assert!(!t("eq/s:5", i(5), Value::str("5")));
        assert!(t("lt/345", i(7), Value::str("345")));
        assert!(!t("lt/abc", i(7), Value::str("abc")));
    }

    #[test]
    fn regex_and_fast_match() {
        let c = Check::parse("re/sip:.*@bar\\.net/g").unwrap();
        assert!(c.all);
        let re = Value::str("sip:.*@bar\\.net");
        assert!(c.test(&Value::str("SIP:alice@BAR.net"), &re).unwrap());
        assert!(!c.test(&Value::str("sip:alice@foo.net"), &re).unwrap());
        // A variable's value is compiled when the check runs.
        let c = Check::parse("re/$var(re)").unwrap();
        assert!(c.test(&Value::str("abc"), &Value::str("^A")).unwrap());
        assert!(c.test(&Value::str("abc"), &Value::str("(")).is_err());
        assert!(
            Check::parse("re/(/g")
                .unwrap_err()
                .contains("regular expression")
        );
        assert!(Check::parse("re/i:1").is_err());
        assert!(t("fm/x", Value::str("sip:a@b"), Value::str("sip:*@?")));
        assert!(!t("fm/x", Value::str("SIP:a@b"), Value::str("sip:*")));
        assert!(t("fm/x/i", Value::str("SIP:a@b"), Value::str("sip:*")));
    }

    #[test]
    fn globs() {
        assert!(fnmatch("*", "", false));
        assert!(fnmatch("a*b*c", "axxbyyc", false));
        assert!(!fnmatch("a*b*c", "axxbyy", false));
        assert!(fnmatch("[0-9][!a]?", "1bz", false));
        assert!(!fnmatch("[0-9]", "x", false));
        assert!(fnmatch("\\*x", "*x", false));
        assert!(fnmatch("[", "[", false));
        assert!(fnmatch("[]]", "]", false));
    }

    #[test]
    fn parse_errors_name_the_part() {
        assert!(Check::parse("zz/1").unwrap_err().contains("zz"));
        assert!(Check::parse("eq/1/q").unwrap_err().contains("`q`"));
        assert!(Check::parse("eq").is_err());
    }
}
