//! `sql_select / sql_update / sql_insert / sql_replace / sql_delete`: statements built from the
//! JSON the script gives (columns, `[{"col": value}]` or `[{"col": {"op": value}}]` filters).
//! Names are checked and quoted, operators come from a fixed list, values are parameters.

use serde_json::Value as Json;

use crate::db::sql::check_name;
use crate::db::{Engine, Value as DbValue};

/// Operators a filter may use.
const OPERATORS: &[&str] = &[
    "=", "!=", "<>", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "IS", "IS NOT",
];

fn name(engine: Engine, what: &str, n: &str) -> Result<String, String> {
    check_name(what, n).map_err(|e| e.to_string())?;
    Ok(engine.quote(n))
}

fn parse(what: &str, text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON ({e}): {text}"))
}

fn value(what: &str, v: &Json) -> Result<DbValue, String> {
    Ok(match v {
        Json::Null => DbValue::Null,
        Json::String(s) => DbValue::Text(s.clone()),
        Json::Bool(b) => DbValue::Int(*b as i64),
        Json::Number(n) => match n.as_i64() {
            Some(i) => DbValue::Int(i),
            None => DbValue::Float(n.as_f64().unwrap_or_default()),
        },
        other => return Err(format!("{what}: unsupported value {other}")),
    })
}

/// `[{"col": v}, ...]` as (column, value) pairs (columns of update / insert).
fn pairs(what: &str, text: &str) -> Result<Vec<(String, Json)>, String> {
    let Json::Array(items) = parse(what, text)? else {
        return Err(format!("{what} must be a JSON array"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Json::Object(m) if m.len() == 1 => Ok(m.into_iter().next().expect("one key")),
            other => Err(format!("{what}: `{other}` is not a one-key object")),
        })
        .collect()
}

/// ` WHERE ...` (empty without a filter) and its parameters.
fn filter(engine: Engine, text: Option<&str>, params: &mut Vec<DbValue>) -> Result<String, String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(String::new());
    };
    let mut conds = Vec::new();
    for (col, v) in pairs("filter", text)? {
        let col = name(engine, "column", &col)?;
        let (op, v) = match v {
            Json::Object(m) if m.len() == 1 => {
                let (op, v) = m.into_iter().next().expect("one key");
                let up = op.trim().to_ascii_uppercase();
                let op = OPERATORS.iter().find(|o| **o == up).ok_or_else(|| {
                    format!("filter: operator `{op}` is not one of {OPERATORS:?}")
                })?;
                (*op, v)
            }
            v => ("=", v),
        };
        let v = value("filter", &v)?;
        if v.is_null() {
            let op = match op {
                "=" | "IS" => "IS NULL",
                "!=" | "<>" | "IS NOT" => "IS NOT NULL",
                op => return Err(format!("filter: `{op}` cannot compare with null")),
            };
            conds.push(format!("{col} {op}"));
        } else {
            conds.push(format!("{col} {op} ?"));
            params.push(v);
        }
    }
    Ok(if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    })
}

/// `SELECT`: `columns` a JSON array of names (None = `*`).
pub fn select(
    engine: Engine,
    columns: Option<&str>,
    table: &str,
    filter_text: Option<&str>,
    order: Option<&str>,
) -> Result<(String, Vec<DbValue>), String> {
    let cols = match columns.filter(|c| !c.trim().is_empty()) {
        None => "*".to_string(),
        Some(text) => {
            let Json::Array(items) = parse("columns", text)? else {
                return Err("columns must be a JSON array".into());
            };
            let names: Result<Vec<String>, String> = items
                .iter()
                .map(|c| match c {
                    Json::String(s) => name(engine, "column", s),
                    other => Err(format!("columns: `{other}` is not a column name")),
                })
                .collect();
            let names = names?;
            if names.is_empty() {
                return Err("columns: empty list".into());
            }
            names.join(", ")
        }
    };
    let mut params = Vec::new();
    let mut sql = format!(
        "SELECT {cols} FROM {}{}",
        name(engine, "table", table)?,
        filter(engine, filter_text, &mut params)?
    );
    if let Some(o) = order.map(str::trim).filter(|o| !o.is_empty()) {
        sql.push_str(&format!(" ORDER BY {}", name(engine, "column", o)?));
    }
    Ok((sql, params))
}

pub fn update(
    engine: Engine,
    columns: &str,
    table: &str,
    filter_text: Option<&str>,
) -> Result<(String, Vec<DbValue>), String> {
    let mut params = Vec::new();
    let mut sets = Vec::new();
    for (c, v) in pairs("columns", columns)? {
        sets.push(format!("{} = ?", name(engine, "column", &c)?));
        params.push(value("columns", &v)?);
    }
    if sets.is_empty() {
        return Err("columns: nothing to update".into());
    }
    let sql = format!(
        "UPDATE {} SET {}{}",
        name(engine, "table", table)?,
        sets.join(", "),
        filter(engine, filter_text, &mut params)?
    );
    Ok((sql, params))
}

/// `INSERT` (or `REPLACE`, which PostgreSQL does not have).
pub fn insert(
    engine: Engine,
    table: &str,
    columns: &str,
    replace: bool,
) -> Result<(String, Vec<DbValue>), String> {
    if replace && engine == Engine::Postgres {
        return Err("sql_replace: PostgreSQL has no REPLACE".into());
    }
    let mut names = Vec::new();
    let mut params = Vec::new();
    for (c, v) in pairs("columns", columns)? {
        names.push(name(engine, "column", &c)?);
        params.push(value("columns", &v)?);
    }
    if names.is_empty() {
        return Err("columns: nothing to insert".into());
    }
    let sql = format!(
        "{} INTO {} ({}) VALUES ({})",
        if replace { "REPLACE" } else { "INSERT" },
        name(engine, "table", table)?,
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    Ok((sql, params))
}

pub fn delete(
    engine: Engine,
    table: &str,
    filter_text: Option<&str>,
) -> Result<(String, Vec<DbValue>), String> {
    let mut params = Vec::new();
    let sql = format!(
        "DELETE FROM {}{}",
        name(engine, "table", table)?,
        filter(engine, filter_text, &mut params)?
    );
    Ok((sql, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Engine = Engine::Sqlite;

    fn q(s: &str) -> String {
        E.quote(s)
    }

    #[test]
    fn select_with_filter_and_order() {
        let (sql, params) = select(
            E,
            Some(r#"["password","ha1"]"#),
            "subscriber",
            Some(r#"[ {"username": "alice"}, {"domain": {"!=": null}}, {"id": {">": 3}}]"#),
            Some("id"),
        )
        .unwrap();
        assert_eq!(
            sql,
            format!(
                "SELECT {}, {} FROM {} WHERE {} = ? AND {} IS NOT NULL AND {} > ? ORDER BY {}",
                q("password"),
                q("ha1"),
                q("subscriber"),
                q("username"),
                q("domain"),
                q("id"),
                q("id")
            )
        );
        assert_eq!(params, vec![DbValue::Text("alice".into()), DbValue::Int(3)]);
        let (sql, params) = select(E, None, "t", None, None).unwrap();
        assert_eq!(sql, format!("SELECT * FROM {}", q("t")));
        assert!(params.is_empty());
    }

    #[test]
    fn values_never_enter_the_text() {
        let evil = r#"[{"username": "x' OR '1'='1"}]"#;
        let (sql, params) = delete(E, "subscriber", Some(evil)).unwrap();
        assert!(!sql.contains("OR"), "{sql}");
        assert_eq!(params, vec![DbValue::Text("x' OR '1'='1".into())]);
        assert!(select(E, None, "t; DROP TABLE x", None, None).is_err());
        assert!(select(E, Some(r#"["a b"]"#), "t", None, None).is_err());
        assert!(delete(E, "t", Some(r#"[{"a": {"; DROP": 1}}]"#)).is_err());
        assert!(select(E, None, "t", None, Some("x;y")).is_err());
    }

    #[test]
    fn update_insert_replace() {
        let (sql, params) = update(
            E,
            r#"[{"password":"s3"}, {"n": 2}]"#,
            "subscriber",
            Some(r#"[{"username": "bob"}]"#),
        )
        .unwrap();
        assert_eq!(
            sql,
            format!(
                "UPDATE {} SET {} = ?, {} = ? WHERE {} = ?",
                q("subscriber"),
                q("password"),
                q("n"),
                q("username")
            )
        );
        assert_eq!(params.len(), 3);
        let (sql, params) = insert(
            E,
            "cc_agents",
            r#"[{"agentid":"agentX"},{"location":null},{"msrp_max_sessions":2}]"#,
            false,
        )
        .unwrap();
        assert!(sql.starts_with("INSERT INTO") && sql.ends_with("VALUES (?, ?, ?)"));
        assert_eq!(params[1], DbValue::Null);
        assert!(
            insert(E, "t", r#"[{"a":1}]"#, true)
                .unwrap()
                .0
                .starts_with("REPLACE INTO")
        );
        assert!(insert(Engine::Postgres, "t", r#"[{"a":1}]"#, true).is_err());
        assert!(insert(E, "t", "[]", false).is_err());
        assert!(update(E, r#"{"a":1}"#, "t", None).is_err());
    }

    #[test]
    fn bad_json_is_reported() {
        let e = select(E, None, "t", Some(r#"[{"a": "unterminated}]"#), None).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(delete(E, "t", Some(r#"[{"a": {"<": null}}]"#)).is_err());
        assert!(delete(E, "t", Some(r#"[{"a": 1, "b": 2}]"#)).is_err());
    }
}
