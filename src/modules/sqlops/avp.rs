//! The user-preference functions: `sql_avp_load`, `sql_avp_store`, `sql_avp_delete` on
//! `usr_preferences` (uuid, or username [+ domain] of a SIP URI, attribute, value, type).
//! avpops's `avp_db_load/store/delete` run the same code on avpops's own [`State`].

use std::sync::Arc;

use crate::db::{Db, Value as DbValue};
use crate::script::pv::{PvSpec, parse_pv};
use crate::script::{ArgValue, RunCtx, Value};
use crate::sip::Uri;

use super::spec::{self, Key, Name, Source};
use super::{DB_VAL_INT, State, db, db_id, report, set};

/// The key columns and values selecting a user's preferences.
struct Who {
    uuid: Option<String>,
    user: Option<String>,
    domain: Option<String>,
}

fn who(ctx: &mut RunCtx<'_>, src: &Source, use_domain: bool) -> Result<Who, String> {
    let text = match &src.var {
        Some(var) => {
            let v = ctx
                .get_pv(var)
                .map_err(|e| format!("source {}: {e}", src.text))?;
            if v.is_null() {
                return Err(format!("source {} has no value", src.text));
            }
            v.to_display().into_owned()
        }
        None => src.text.clone(),
    };
    if text.is_empty() {
        return Err(format!("source {} is empty", src.text));
    }
    if src.key == Key::Uuid {
        return Ok(Who {
            uuid: Some(text),
            user: None,
            domain: None,
        });
    }
    let uri = Uri::parse(text.as_bytes()).map_err(|_| format!("`{text}` is not a SIP URI"))?;
    let user = match src.key {
        Key::Uri | Key::Username => Some(
            uri.user
                .filter(|u| !u.is_empty())
                .map(|u| String::from_utf8_lossy(u).into_owned())
                .ok_or_else(|| format!("URI `{text}` has no user"))?,
        ),
        _ => None,
    };
    let domain = match src.key {
        Key::Domain => true,
        Key::Uri => use_domain,
        _ => false,
    }
    .then(|| String::from_utf8_lossy(uri.host).into_owned());
    Ok(Who {
        uuid: None,
        user,
        domain,
    })
}

impl State {
    /// ` WHERE ...` and its parameters.
    fn filter(&self, who: &Who, attr: Option<&str>) -> (String, Vec<DbValue>) {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        let c = &self.cols;
        for (col, v) in [
            (&c.uuid, &who.uuid),
            (&c.username, &who.user),
            (&c.domain, &who.domain),
        ] {
            if let Some(v) = v {
                conds.push(format!("{col} = ?"));
                params.push(DbValue::Text(v.clone()));
            }
        }
        if let Some(a) = attr {
            conds.push(format!("{} = ?", c.attribute));
            params.push(DbValue::Text(a.to_string()));
        }
        (format!(" WHERE {}", conds.join(" AND ")), params)
    }

    fn table_of(&self, db: &Db, name: &Name) -> Result<String, String> {
        db::ident(db, "table", name.table.as_deref().unwrap_or(&self.table))
    }
}

/// Parsed `source`, `name` and the database of an AVP function.
fn avp_args(
    st: Option<Arc<State>>,
    args: &[ArgValue<'_>],
) -> Result<(Arc<State>, Source, Name, Arc<Db>), String> {
    let st = st.ok_or("no database: set modparam db_url")?;
    let src = spec::parse_source(args.first().and_then(ArgValue::str).unwrap_or(""))?;
    let name = spec::parse_name(args.get(1).and_then(ArgValue::str).unwrap_or(""))?;
    let db = st.db(db_id(args.get(2))?)?.clone();
    Ok((st, src, name, db))
}

fn avp_var(name: &str) -> Result<PvSpec, String> {
    parse_pv(&format!("$avp({name})")).map_err(|e| format!("AVP name `{name}`: {e:?}"))
}

/// One preference row as an AVP value (`type` bit 0: integer value).
pub fn preference_value(value: &DbValue, kind: i64) -> Result<Value, String> {
    let text = value.to_text().ok_or("NULL value")?;
    if kind & DB_VAL_INT != 0 {
        Value::parse_int(text.trim())
            .map(Value::Int)
            .ok_or_else(|| format!("value `{text}` is not an integer as its type says"))
    } else {
        Ok(Value::str(text))
    }
}

/// `load` of `source`'s preferences `name` (`func` names the script function in errors).
pub(crate) fn avp_load(
    ctx: &mut RunCtx<'_>,
    st: Option<Arc<State>>,
    args: &[ArgValue<'_>],
    func: &str,
) -> i32 {
    let r = avp_args(st, args).and_then(|(st, src, name, db)| {
        let who = who(ctx, &src, st.use_domain)?;
        let prefix = args
            .get(3)
            .and_then(ArgValue::str)
            .unwrap_or("")
            .to_string();
        let (filter, params) = st.filter(&who, name.attr.as_deref());
        let c = &st.cols;
        let sql = format!(
            "SELECT {}, {}, {} FROM {}{filter}",
            c.value,
            c.attribute,
            c.kind,
            st.table_of(&db, &name)?
        );
        let rows = db.query(&sql, &params).map_err(|e| e.to_string())?;
        let mut loaded = 0;
        for row in &rows {
            let attr = match &name.attr {
                Some(a) => a.clone(),
                None => match row.get(1).to_text().filter(|a| !a.is_empty()) {
                    Some(a) => a,
                    None => continue,
                },
            };
            let v = match preference_value(row.get(0), row.get(2).as_i64().unwrap_or(0)) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!("{func}: attribute {attr}: {e}");
                    continue;
                }
            };
            set(ctx, &avp_var(&format!("{prefix}{attr}"))?, v)?;
            loaded += 1;
        }
        Ok(if loaded > 0 { 1 } else { -1 })
    });
    report(func, r)
}

/// `store` of `source`'s preferences `name` (`func` names the script function in errors).
pub(crate) fn avp_store(
    ctx: &mut RunCtx<'_>,
    st: Option<Arc<State>>,
    args: &[ArgValue<'_>],
    func: &str,
) -> i32 {
    let r = avp_args(st, args).and_then(|(st, src, name, db)| {
        let who = who(ctx, &src, st.use_domain)?;
        let attr = name
            .attr
            .clone()
            .ok_or_else(|| format!("{func} needs an AVP name, not `*`"))?;
        let values: Vec<Value> = ctx
            .avps
            .values(&attr)
            .filter(|v| !v.is_null())
            .cloned()
            .collect();
        if values.is_empty() {
            return Ok(-1);
        }
        let c = &st.cols;
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, ?, ?)",
            st.table_of(&db, &name)?,
            c.uuid,
            c.attribute,
            c.value,
            c.kind,
            c.username,
            c.domain
        );
        let text = |o: &Option<String>| DbValue::Text(o.clone().unwrap_or_default());
        db.transaction(|tx| {
            for v in values.iter().rev() {
                let kind = if v.is_int_typed() { DB_VAL_INT } else { 0 };
                tx.execute(
                    &sql,
                    &[
                        text(&who.uuid),
                        DbValue::Text(attr.clone()),
                        DbValue::Text(v.to_display().into_owned()),
                        DbValue::Int(kind),
                        text(&who.user),
                        text(&who.domain),
                    ],
                )?;
            }
            Ok::<_, crate::db::DbError>(())
        })
        .map_err(|e| e.to_string())?;
        Ok(1)
    });
    report(func, r)
}

/// `delete` of `source`'s preferences `name` (`func` names the script function in errors).
pub(crate) fn avp_delete(
    ctx: &mut RunCtx<'_>,
    st: Option<Arc<State>>,
    args: &[ArgValue<'_>],
    func: &str,
) -> i32 {
    let r = avp_args(st, args).and_then(|(st, src, name, db)| {
        let who = who(ctx, &src, st.use_domain)?;
        let (filter, params) = st.filter(&who, name.attr.as_deref());
        let sql = format!("DELETE FROM {}{filter}", st.table_of(&db, &name)?);
        db.execute(&sql, &params).map_err(|e| e.to_string())?;
        Ok(1)
    });
    report(func, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_types() {
        assert_eq!(
            preference_value(&DbValue::Text("sip:vm@x".into()), 0).unwrap(),
            Value::str("sip:vm@x")
        );
        assert_eq!(
            preference_value(&DbValue::Text("42".into()), 1).unwrap(),
            Value::Int(42)
        );
        assert!(preference_value(&DbValue::Text("x".into()), 1).is_err());
        assert!(preference_value(&DbValue::Null, 0).is_err());
    }
}
