//! Script values: OpenSIPS `pv_value_t` with its NULL / string / integer flags.
//!
//! An integer-typed value (`$var(x) = 5`) also has a string form ("5"); a string value has no integer
//! form unless a pseudo-variable returns both (`$rs`, `$sp`): that is [`Value::StrInt`].

use std::borrow::Cow;
use std::fmt;

pub use super::text::Str;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    /// Integer-typed (C `int`, 32-bit, wrapping).
    Int(i32),
    /// String only.
    Str(Str),
    /// String-typed value that also has an integer form (e.g. `$rs` = "200" / 200).
    StrInt(Str, i32),
}

impl Value {
    pub fn str(s: impl Into<Str>) -> Value {
        Value::Str(s.into())
    }

    /// A string-typed integer (`$rs`, `$sp`, `{s.int}` results...), without allocating.
    pub fn str_int(i: i32) -> Value {
        Value::StrInt(Str::from_int(i as i64), i)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Integer-typed: arithmetic on it is integer arithmetic.
    pub fn is_int_typed(&self) -> bool {
        matches!(self, Value::Int(_))
    }

    /// The integer form, if the value has one.
    pub fn as_int(&self) -> Option<i32> {
        match self {
            Value::Int(i) | Value::StrInt(_, i) => Some(*i),
            _ => None,
        }
    }

    /// The string form, if the value has one (integers are printed in decimal).
    pub fn as_str(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Str(s) | Value::StrInt(s, _) => Some(Cow::Borrowed(s.as_str())),
        }
    }

    /// The string form as a [`Str`] (integers are printed inline: no allocation).
    pub fn text(&self) -> Option<Str> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(Str::from_int(*i as i64)),
            Value::Str(s) | Value::StrInt(s, _) => Some(s.clone()),
        }
    }

    /// Calls `f` with the string form, borrowed (integers are printed inline): no copy, no
    /// reference-count traffic, no allocation. None for NULL.
    #[inline]
    pub fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(f(&Str::from_int(*i as i64))),
            Value::Str(s) | Value::StrInt(s, _) => Some(f(s)),
        }
    }

    /// Consumes the value into its string form (no copy of the text).
    pub fn into_text(self) -> Option<Str> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(Str::from_int(i as i64)),
            Value::Str(s) | Value::StrInt(s, _) => Some(s),
        }
    }

    /// Writes the display form (as [`Value::to_display`]) without allocating.
    pub fn write_display(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Value::Null => out.write_str("<null>"),
            Value::Int(i) => write!(out, "{i}"),
            Value::Str(s) | Value::StrInt(s, _) => out.write_str(s),
        }
    }

    /// Text used when printing into a format string: NULL prints as `<null>` as in OpenSIPS.
    pub fn to_display(&self) -> Cow<'_, str> {
        self.as_str().unwrap_or(Cow::Borrowed("<null>"))
    }

    /// Truth of a bare value in a condition: NULL, "" and 0 are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::StrInt(s, i) => *i != 0 || !s.is_empty(),
        }
    }

    /// Parses leading decimal digits (with optional sign) like C `atoi`-ish `str2sint`; None if no digits.
    pub fn parse_int(s: &str) -> Option<i32> {
        let t = s.trim();
        let (neg, digits) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut v: i64 = 0;
        for b in digits.bytes() {
            v = (v * 10 + (b - b'0') as i64) & 0xFFFF_FFFF_FFFF;
        }
        let v = if neg { -v } else { v };
        Some(v as i32)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_display(f)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into())
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Self {
        Value::Str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(Value::Int(5).as_str().unwrap(), "5");
        assert_eq!(Value::str("5").as_int(), None);
        assert_eq!(Value::StrInt("200".into(), 200).as_int(), Some(200));
        assert!(!Value::Null.is_true());
        assert!(!Value::str("").is_true());
        assert!(!Value::Int(0).is_true());
        assert!(Value::str("0").is_true());
        assert_eq!(Value::Null.to_display(), "<null>");
    }

    #[test]
    fn parse_int() {
        assert_eq!(Value::parse_int("42"), Some(42));
        assert_eq!(Value::parse_int("-7"), Some(-7));
        assert_eq!(Value::parse_int("4x"), None);
        assert_eq!(Value::parse_int(""), None);
    }
}
