//! What `do_accounting` puts on a transaction: the backends, the flags and the table, plus the
//! `$acc_extra(tag)` values the script set. Repeated calls add up (as OpenSIPS).

use crate::modules::tm;
use crate::runtime::SipCtx;

pub const KEY: &str = "acc";

/// Backends (`log|db|aaa|evi`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Types {
    pub log: bool,
    pub db: bool,
    pub evi: bool,
}

/// Flags (`cdr|missed|failed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub cdr: bool,
    pub missed: bool,
    pub failed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccMark {
    pub types: Types,
    pub flags: Flags,
    pub table: Option<String>,
    pub extra: Vec<(String, String)>,
    /// `$acc_leg(tag)` values, one set per call leg (`acc_new_leg()` opens the next one); no
    /// set yet is the one empty first leg.
    pub legs: Vec<Vec<(String, String)>>,
}

impl AccMark {
    pub fn extra(&self, tag: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// The index of the current (last) leg, from 0.
    pub fn current_leg(&self) -> usize {
        self.legs.len().saturating_sub(1)
    }

    /// `acc_new_leg()`: the values set next go to a new leg, empty at first.
    pub fn new_leg(&mut self) {
        if self.legs.is_empty() {
            self.legs.push(Vec::new());
        }
        self.legs.push(Vec::new());
    }

    /// A leg index (negative from the end, None the current one) as a position.
    fn leg_at(&self, i: Option<i32>) -> Option<usize> {
        let n = self.legs.len().max(1) as i64;
        let i = i64::from(i.unwrap_or(-1));
        let i = if i < 0 { n + i } else { i };
        (0..n).contains(&i).then_some(i as usize)
    }

    pub fn leg(&self, tag: &str, i: Option<i32>) -> Option<&str> {
        self.legs
            .get(self.leg_at(i)?)?
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_leg(&mut self, tag: &str, i: Option<i32>, value: String) -> Result<(), String> {
        let at = self.leg_at(i).ok_or_else(|| {
            format!(
                "leg {} does not exist (current leg: {})",
                i.unwrap_or(-1),
                self.current_leg()
            )
        })?;
        if self.legs.is_empty() {
            self.legs.push(Vec::new());
        }
        let leg = &mut self.legs[at];
        match leg.iter_mut().find(|(t, _)| t == tag) {
            Some(e) => e.1 = value,
            None => leg.push((tag.to_string(), value)),
        }
        Ok(())
    }

    pub fn set_extra(&mut self, tag: &str, value: String) {
        match self.extra.iter_mut().find(|(t, _)| t == tag) {
            Some(e) => e.1 = value,
            None => self.extra.push((tag.to_string(), value)),
        }
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('|')
        .map(|w| w.trim().to_ascii_lowercase())
        .filter(|w| !w.is_empty())
}

pub fn parse_types(text: &str) -> Result<Types, String> {
    let mut t = Types::default();
    for w in words(text) {
        match w.as_str() {
            "log" => t.log = true,
            "db" => t.db = true,
            "evi" => t.evi = true,
            "aaa" => return Err("type `aaa` needs a RADIUS/Diameter client osips lacks".into()),
            _ => return Err(format!("unknown accounting type `{w}` (log, db, aaa, evi)")),
        }
    }
    if t == Types::default() {
        return Err("no accounting type (log, db, aaa, evi)".into());
    }
    Ok(t)
}

pub fn parse_flags(text: &str) -> Result<Flags, String> {
    let mut f = Flags::default();
    for w in words(text) {
        match w.as_str() {
            "cdr" => f.cdr = true,
            "missed" => f.missed = true,
            "failed" => f.failed = true,
            _ => {
                return Err(format!(
                    "unknown accounting flag `{w}` (cdr, missed, failed)"
                ));
            }
        }
    }
    Ok(f)
}

/// Runs `f` on the run's mark (made empty when missing, removed again if left empty).
pub fn with_mark<R>(m: &mut SipCtx, f: impl FnOnce(&mut AccMark) -> R) -> R {
    tm::with_data(m, KEY, |slot| {
        let mut mark = slot
            .take()
            .and_then(|d| d.downcast::<AccMark>().ok())
            .map(|b| *b)
            .unwrap_or_default();
        let r = f(&mut mark);
        if mark != AccMark::default() {
            *slot = Some(Box::new(mark));
        }
        r
    })
}

/// A copy of the run's mark, if any.
pub fn mark_of(m: &mut SipCtx) -> Option<AccMark> {
    tm::with_data(m, KEY, |slot| {
        slot.as_ref()
            .and_then(|d| d.downcast_ref::<AccMark>())
            .cloned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_flags() {
        assert_eq!(
            parse_types("log|db").unwrap(),
            Types {
                log: true,
                db: true,
                evi: false
            }
        );
        assert!(parse_types("aaa").unwrap_err().contains("aaa"));
        assert!(parse_types("sql").unwrap_err().contains("`sql`"));
        assert!(parse_types("").is_err());
        let f = parse_flags("cdr | missed").unwrap();
        assert!(f.cdr && f.missed && !f.failed);
        assert_eq!(parse_flags("").unwrap(), Flags::default());
        assert!(parse_flags("cdr|lost").unwrap_err().contains("`lost`"));
    }

    #[test]
    fn legs_by_index() {
        let mut m = AccMark::default();
        assert_eq!(m.current_leg(), 0);
        m.set_leg("dst", None, "sip:b@h".into()).unwrap();
        assert_eq!(m.leg("dst", Some(0)), Some("sip:b@h"));
        m.new_leg();
        assert_eq!(m.current_leg(), 1);
        assert_eq!(m.leg("dst", None), None, "a new leg starts empty");
        m.set_leg("dst", None, "sip:c@h".into()).unwrap();
        m.set_leg("dst", Some(-2), "sip:b2@h".into()).unwrap();
        assert_eq!(m.leg("dst", Some(-1)), Some("sip:c@h"));
        assert_eq!(m.leg("dst", Some(0)), Some("sip:b2@h"));
        assert!(
            m.set_leg("dst", Some(2), "x".into())
                .unwrap_err()
                .contains("leg 2")
        );
        assert!(m.set_leg("dst", Some(-3), "x".into()).is_err());
        assert_eq!(m.leg("dst", Some(5)), None);
        assert_eq!(m.legs.len(), 2);
    }

    #[test]
    fn extras_replace() {
        let mut m = AccMark::default();
        m.set_extra("a", "1".into());
        m.set_extra("a", "2".into());
        assert_eq!(m.extra("a"), Some("2"));
        assert_eq!(m.extra.len(), 1);
    }
}
