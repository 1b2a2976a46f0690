//! SQL text helpers: `?` placeholders per engine, identifier checks and quoting.

use super::{DbError, Engine};

/// Rewrites `?` placeholders as `$1, $2, ...` (PostgreSQL); other engines keep `?`.
/// Question marks inside quotes and comments are left alone.
pub fn placeholders(sql: &str, engine: Engine) -> String {
    if engine != Engine::Postgres || !sql.contains('?') {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Checks a database, user or table name before it is put into DDL (names cannot be bound as
/// parameters): letters, digits, `_`, `-`, `.`; 1 to 63 characters.
pub fn check_name(kind: &str, name: &str) -> Result<(), DbError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(DbError::Invalid(format!(
            "{kind} name `{name}` is not accepted: use 1-63 letters, digits, `_`, `-` or `.`"
        )))
    }
}

/// Quotes an identifier for `engine`.
pub fn quote(engine: Engine, ident: &str) -> String {
    engine.quote(ident)
}

/// A string literal for the few statements that cannot take parameters (passwords in
/// `CREATE USER`); quotes and backslashes are escaped.
pub fn literal(engine: Engine, s: &str) -> String {
    let mut v = s.replace('\'', "''");
    if engine == Engine::Mysql {
        v = v.replace('\\', "\\\\");
    }
    format!("'{v}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_skip_quotes() {
        assert_eq!(
            placeholders(
                "SELECT '?' , \"a?\" FROM t WHERE a=? AND b=? -- ?\n AND c=?",
                Engine::Postgres
            ),
            "SELECT '?' , \"a?\" FROM t WHERE a=$1 AND b=$2 -- ?\n AND c=$3"
        );
        assert_eq!(placeholders("a=?", Engine::Mysql), "a=?");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("database", "opensips_1").is_ok());
        for bad in ["", "a b", "x;drop", "a'b", "a`b", &"x".repeat(64)] {
            assert!(check_name("database", bad).is_err(), "{bad}");
        }
        assert_eq!(literal(Engine::Mysql, "a'b\\"), "'a''b\\\\'");
    }
}
