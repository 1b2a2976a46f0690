//! `avp list|add|rm`: user preferences (usr_preferences, read by sqlops/avpops). An id with
//! `@` (or `sip:`) is a user; anything else is a uuid.

use super::aor;
use super::ctx::{Ctx, now_text};
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use super::values;
use crate::db::{Value, sql::check_name};

/// Filters of `list` / `rm`.
#[derive(Default)]
pub struct Filter<'a> {
    pub table: Option<&'a str>,
    pub id: Option<&'a str>,
    pub attr: Option<&'a str>,
    pub value: Option<&'a str>,
    pub ty: Option<&'a str>,
}

fn table(ctx: &Ctx, t: Option<&str>) -> Outcome<String> {
    match t {
        Some(t) => {
            check_name("table", t).map_err(|e| Failure::usage(e.to_string(), ""))?;
            Ok(ctx.engine()?.quote(t))
        }
        None => ctx.table("AVP_TABLE", "usr_preferences"),
    }
}

/// The where-clause of an id: (`username = ? AND domain = ?`) or (`uuid = ?`).
fn id_clause(ctx: &Ctx, id: &str) -> Outcome<(String, Vec<Value>)> {
    if id.contains('@') || id.starts_with("sip:") {
        let a = aor::parse(id, None)?;
        let ucol = ctx.user_col()?;
        Ok((
            format!("{ucol} = ? AND domain = ?"),
            vec![a.user.into(), a.domain.into()],
        ))
    } else {
        values::text("uuid", id, 64)?;
        Ok(("uuid = ?".to_string(), vec![id.into()]))
    }
}

fn where_of(ctx: &Ctx, f: &Filter<'_>) -> Outcome<(String, Vec<Value>)> {
    let mut conds = Vec::new();
    let mut vals = Vec::new();
    if let Some(id) = f.id {
        let (c, v) = id_clause(ctx, id)?;
        conds.push(c);
        vals.extend(v);
    }
    if let Some(a) = f.attr {
        conds.push("attribute = ?".to_string());
        vals.push(a.into());
    }
    if let Some(v) = f.value {
        conds.push("value = ?".to_string());
        vals.push(v.into());
    }
    if let Some(t) = f.ty {
        conds.push("type = ?".to_string());
        vals.push(values::int("type", t, 0, 3)?.into());
    }
    let w = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    Ok((w, vals))
}

/// `avp list [-T table] [-u id] [-a attr] [-v value] [-t type]`.
pub fn list(ctx: &Ctx, f: &Filter<'_>) -> Outcome<Report> {
    let t = table(ctx, f.table)?;
    let (w, vals) = where_of(ctx, f)?;
    let rows = ctx
        .db()?
        .query(&format!("SELECT * FROM {t}{w} ORDER BY id"), &vals)?;
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&[
            "id",
            "uuid",
            "username",
            "domain",
            "attribute",
            "type",
            "value",
            "last_modified",
        ]);
    }
    Ok(Report::table(table))
}

/// `avp add [-T table] <id> <attr> <type> <value>`; types: 0 str:str, 1 str:int, 2 int:str,
/// 3 int:int (attribute name : value).
pub fn add(
    ctx: &Ctx,
    tbl: Option<&str>,
    id: &str,
    attr: &str,
    ty: &str,
    value: &str,
) -> Outcome<Report> {
    let t = table(ctx, tbl)?;
    let ty = values::int("type", ty, 0, 3)?;
    values::text("attribute", attr, 32)?;
    values::text("value", value, 128)?;
    if attr.is_empty() {
        return Err(Failure::usage("the attribute name is empty", ""));
    }
    if ty >= 2 && attr.parse::<i64>().is_err() {
        return Err(Failure::usage(
            format!("type {ty} needs a numeric attribute name, not `{attr}`"),
            "use type 0 or 1 for named attributes",
        ));
    }
    if ty % 2 == 1 && value.parse::<i64>().is_err() {
        return Err(Failure::usage(
            format!("type {ty} needs an integer value, not `{value}`"),
            "use type 0 or 2 for text values",
        ));
    }
    let (uuid, user, domain) = if id.contains('@') || id.starts_with("sip:") {
        let a = aor::parse(id, None)?;
        (String::new(), a.user, a.domain)
    } else {
        values::text("uuid", id, 64)?;
        (id.to_string(), String::new(), String::new())
    };
    let ucol = ctx.user_col()?;
    ctx.db()?.execute(
        &format!(
            "INSERT INTO {t} (uuid, {ucol}, domain, attribute, type, value, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        crate::params![&uuid, &user, &domain, attr, ty, value, now_text()],
    )?;
    Ok(Report::message(format!(
        "preference '{attr}' of '{id}' added"
    )))
}

/// `avp rm [filters]`: at least one filter.
pub fn rm(ctx: &Ctx, f: &Filter<'_>) -> Outcome<Report> {
    let t = table(ctx, f.table)?;
    let (w, vals) = where_of(ctx, f)?;
    if w.is_empty() {
        return Err(Failure::usage(
            "avp rm needs a filter (-u, -a, -v or -t)",
            "osipsctl does not remove every preference at once",
        ));
    }
    let n = ctx.db()?.execute(&format!("DELETE FROM {t}{w}"), &vals)?;
    if n == 0 {
        return Err(Failure::failed(
            "no preference matches",
            "see `osipsctl avp list`",
        ));
    }
    Ok(Report::message(format!("{n} preference(s) removed")))
}
