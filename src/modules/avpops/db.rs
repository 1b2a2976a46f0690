//! The database functions. `avp_db_load/store/delete(source, name[, db_id])` run sqlops's
//! `usr_preferences` code on avpops's modparams (`db_url`, also as `"N url"`; `avp_table`,
//! `use_domain`, `*_column`). Without `db_url` the module runs and these functions fail.
//!
//! `avp_db_query(query[, dest[, db_id]])`: the query is the script author's SQL, but the
//! variables written in it are never spliced into the text: each one becomes a bound parameter
//! (`?`) holding its value. A variable stands where SQL takes a value, either bare
//! (`WHERE id = $var(id)`, bound with its type) or alone in quotes (`WHERE user = '$rU'`, the
//! quotes dropped, bound as text). A variable inside a longer quoted string (`'%$rU%'`) or in
//! place of a name (a table, a column) is refused with an error: build such values in a
//! variable first (`$var(p) = "%" + $rU + "%"` then `LIKE $var(p)`). Results: row r column j into
//! `dest`'s j-th `$avp` (`$avp(j+1)` past its end), first row on top, NULL columns skipped;
//! 1 rows, -2 no row, -1 error.

use std::sync::Arc;

use parking_lot::RwLock;

use super::report;
use crate::db::Value as DbValue;
use crate::modules::sqlops::{self, State, avp, spec};
use crate::script::ast::AssignOp;
use crate::script::module::InitCtx;
use crate::script::pv::{FmtPart, PvSpec, parse_format};
use crate::script::{ArgValue, RunCtx, Value};

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

pub fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let st = State::from_params(ctx, "avp_table", false).map_err(|e| format!("avpops: {e}"))?;
    *STATE.write() = st.map(Arc::new);
    Ok(())
}

fn state() -> Option<Arc<State>> {
    STATE.read().clone()
}

pub fn avp_db_load(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_load(ctx, state(), args, "avp_db_load")
}

pub fn avp_db_store(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_store(ctx, state(), args, "avp_db_store")
}

pub fn avp_db_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    avp::avp_delete(ctx, state(), args, "avp_db_delete")
}

/// A query whose variables are parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundQuery {
    pub sql: String,
    /// Per `?`: the variable and whether it was quoted (bound as text).
    pub params: Vec<(PvSpec, bool)>,
}

/// Where the SQL text is, for the quoting rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    Code,
    /// In `'...'`, opened at this byte of the SQL built so far.
    Text(usize),
    /// In `"..."` or `` `...` `` (names).
    Name(char),
}

fn scan(lit: &str, sql: &mut String, mut lex: Lex) -> Lex {
    let mut chars = lit.chars().peekable();
    while let Some(c) = chars.next() {
        lex = match (lex, c) {
            (Lex::Code, '\'') => Lex::Text(sql.len()),
            (Lex::Code, '"' | '`') => Lex::Name(c),
            (Lex::Text(at), '\'') => {
                if chars.peek() == Some(&'\'') {
                    sql.push(c);
                    chars.next();
                    Lex::Text(at)
                } else {
                    Lex::Code
                }
            }
            (Lex::Name(q), c) if c == q => Lex::Code,
            (l, _) => l,
        };
        sql.push(c);
    }
    lex
}

/// The query text with each variable replaced by a `?` parameter (see the module comment).
pub fn bind_query(text: &str) -> Result<BoundQuery, String> {
    let f = parse_format(text, &|_| true).map_err(|e| format!("`{text}`: {}", e.msg))?;
    let mut sql = String::new();
    let mut params = Vec::new();
    let mut lex = Lex::Code;
    // A quote to drop at the start of the next literal (the one closing `'$var'`).
    let mut drop_quote = false;
    for (i, part) in f.parts.iter().enumerate() {
        match part {
            FmtPart::Lit(s) => {
                let mut s: &str = s;
                if std::mem::take(&mut drop_quote) {
                    s = &s[1..];
                }
                lex = scan(s, &mut sql, lex);
            }
            FmtPart::Pv(pv) => match lex {
                Lex::Code => {
                    sql.push('?');
                    params.push((pv.clone(), false));
                }
                Lex::Text(at) if at + 1 == sql.len() => {
                    let closes = matches!(f.parts.get(i + 1),
                        Some(FmtPart::Lit(n)) if n.starts_with('\'') && !n.starts_with("''"));
                    if !closes {
                        return Err(format!(
                            "{} is inside a longer quoted string; put the whole value in a \
                             variable",
                            pv.text
                        ));
                    }
                    sql.truncate(at);
                    sql.push('?');
                    params.push((pv.clone(), true));
                    lex = Lex::Code;
                    drop_quote = true;
                }
                Lex::Text(_) => {
                    return Err(format!(
                        "{} is inside a longer quoted string; put the whole value in a variable",
                        pv.text
                    ));
                }
                Lex::Name(_) => {
                    return Err(format!(
                        "{} stands for a name; only values can be variables",
                        pv.text
                    ));
                }
            },
        }
    }
    Ok(BoundQuery { sql, params })
}

fn db_value(v: Value, quoted: bool) -> DbValue {
    match v {
        Value::Null => DbValue::Null,
        Value::Int(i) if !quoted => DbValue::Int(i as i64),
        other => DbValue::Text(other.to_display().into_owned()),
    }
}

fn query(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> Result<i32, String> {
    let st = state().ok_or("no database: set modparam db_url")?;
    let text = args.first().and_then(ArgValue::str).unwrap_or("");
    if text.trim().is_empty() {
        return Err("empty query".into());
    }
    let q = bind_query(text)?;
    let dest = match args.get(1).and_then(ArgValue::str) {
        Some(s) if !s.trim().is_empty() => spec::parse_var_list(s)?,
        _ => Vec::new(),
    };
    if let Some(v) = dest.iter().find(|v| v.name != "avp") {
        return Err(format!("{}: results go to $avp variables only", v.text));
    }
    let db = st.db(sqlops::db_id(args.get(2))?)?.clone();
    let mut params = Vec::with_capacity(q.params.len());
    for (pv, quoted) in &q.params {
        let v = ctx.get_pv(pv).map_err(|e| format!("{}: {e}", pv.text))?;
        params.push(db_value(v, *quoted));
    }
    let rows = db
        .query(&q.sql, &params)
        .map_err(|e| format!("query failed: {e}"))?;
    if rows.is_empty() || rows[0].is_empty() {
        return Ok(-2);
    }
    for row in rows.iter().rev() {
        for j in 0..row.len() {
            let v = sqlops::script_value(row.get(j), Value::Null);
            if v.is_null() {
                continue;
            }
            let var = match dest.get(j) {
                Some(var) => var.clone(),
                None => spec::default_avp(j),
            };
            ctx.set_pv(&var, AssignOp::Set, v)
                .map_err(|e| format!("cannot set {}: {e}", var.text))?;
        }
    }
    Ok(1)
}

/// `avp_db_query(query[, dest[, db_id]])`.
pub fn avp_db_query(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    report("avp_db_query", query(ctx, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &BoundQuery) -> Vec<(&str, bool)> {
        q.params
            .iter()
            .map(|(p, quoted)| (p.text.as_str(), *quoted))
            .collect()
    }

    #[test]
    fn variables_become_parameters() {
        let q = bind_query("SELECT a, b FROM t WHERE u = '$rU' AND n > $var(n)").unwrap();
        assert_eq!(q.sql, "SELECT a, b FROM t WHERE u = ? AND n > ?");
        assert_eq!(names(&q), vec![("$rU", true), ("$var(n)", false)]);
        let q = bind_query("SELECT 'it''s', '$fU', \"c\" FROM t").unwrap();
        assert_eq!(q.sql, "SELECT 'it''s', ?, \"c\" FROM t");
        let q = bind_query("SELECT 1").unwrap();
        assert!(q.params.is_empty());
        // `$$` is a dollar in the text, not a variable.
        let q = bind_query("SELECT '$$x'").unwrap();
        assert_eq!(q.sql, "SELECT '$x'");
    }

    #[test]
    fn a_hostile_value_stays_a_value() {
        // The text of `$rU` never reaches the SQL: whatever it holds is one bound value.
        let q = bind_query("DELETE FROM t WHERE u = '$rU'").unwrap();
        assert_eq!(q.sql, "DELETE FROM t WHERE u = ?");
        assert_eq!(
            db_value(Value::str("x' OR '1'='1"), true),
            DbValue::Text("x' OR '1'='1".into())
        );
        assert_eq!(db_value(Value::Int(5), true), DbValue::Text("5".into()));
        assert_eq!(db_value(Value::Int(5), false), DbValue::Int(5));
        assert_eq!(db_value(Value::Null, false), DbValue::Null);
    }

    #[test]
    fn variables_that_cannot_be_bound_are_refused() {
        assert!(
            bind_query("SELECT * FROM t WHERE u LIKE '%$rU%'")
                .unwrap_err()
                .contains("$rU")
        );
        assert!(bind_query("SELECT * FROM t WHERE u = '$rU$rd'").is_err());
        assert!(bind_query("SELECT * FROM t WHERE u = '$rU''x'").is_err());
        assert!(
            bind_query("SELECT * FROM \"$var(t)\"")
                .unwrap_err()
                .contains("name")
        );
    }
}
