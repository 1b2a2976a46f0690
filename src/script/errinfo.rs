//! The internal error state behind `$err.*` and `error_route` (OpenSIPS `errinfo.c`): a parse
//! error met while the script reads the message sets it; the interpreter then runs `error_route`
//! after the statement, which typically replies with `sl_send_reply($err.rcode, $err.rreason)`.

use super::value::{Str, Value};

/// `$err.class` values (OpenSIPS `OSER_EC_*`).
pub const CLASS_PARSER: i32 = 1;
pub const CLASS_ASSERT: i32 = 4;

/// `$err.level` values (lower is more severe; OpenSIPS `OSER_EL_*`).
pub const LEVEL_CRITIC: i32 = 1;
/// Used by parsing errors.
pub const LEVEL_MEDIUM: i32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct ErrInfo {
    pub class: i32,
    pub level: i32,
    /// What failed, e.g. "error parsing From header".
    pub info: Str,
    /// Recommended reply code and reason.
    pub rcode: i32,
    pub rreason: Str,
}

impl ErrInfo {
    /// A message parsing error, with the reply OpenSIPS recommends for it.
    pub fn parser(info: &str, rcode: i32, rreason: &str) -> ErrInfo {
        ErrInfo {
            class: CLASS_PARSER,
            level: LEVEL_MEDIUM,
            info: info.into(),
            rcode,
            rreason: rreason.into(),
        }
    }

    /// A failed `assert()`.
    pub fn assertion() -> ErrInfo {
        ErrInfo {
            class: CLASS_ASSERT,
            level: LEVEL_CRITIC,
            info: "assertion failed".into(),
            rcode: 500,
            rreason: "server error".into(),
        }
    }

    /// `$err.<field>`; with no error set, the numbers read 0 and the texts NULL (as after
    /// OpenSIPS's `init_err_info`). None for an unknown field.
    pub fn pv(err: Option<&ErrInfo>, field: &str) -> Option<Value> {
        Some(match (field, err) {
            ("class", e) => Value::Int(e.map_or(0, |e| e.class)),
            ("level", e) => Value::Int(e.map_or(0, |e| e.level)),
            ("rcode", e) => Value::Int(e.map_or(0, |e| e.rcode)),
            ("info", Some(e)) => Value::Str(e.info.clone()),
            ("rreason", Some(e)) => Value::Str(e.rreason.clone()),
            ("info" | "rreason", None) => Value::Null,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let e = ErrInfo::parser("error parsing From header", 400, "bad header");
        assert_eq!(ErrInfo::pv(Some(&e), "class"), Some(Value::Int(1)));
        assert_eq!(ErrInfo::pv(Some(&e), "level"), Some(Value::Int(3)));
        assert_eq!(ErrInfo::pv(Some(&e), "rcode"), Some(Value::Int(400)));
        assert_eq!(
            ErrInfo::pv(Some(&e), "rreason"),
            Some(Value::str("bad header"))
        );
        assert_eq!(ErrInfo::pv(None, "class"), Some(Value::Int(0)));
        assert_eq!(ErrInfo::pv(None, "info"), Some(Value::Null));
        assert_eq!(ErrInfo::pv(None, "nope"), None);
        assert_eq!(ErrInfo::assertion().rcode, 500);
    }
}
