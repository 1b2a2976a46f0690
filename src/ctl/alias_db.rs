//! `alias_db show|list|add|rm`: the dbaliases table (alias_db module).

use serde_json::json;

use super::aor::{self, Aor};
use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::output::{Report, Table};

fn rows_to_table(rows: &[crate::db::Row]) -> Table {
    let mut t = Table::new(&["alias", "target"]);
    for r in rows {
        let s = |i: usize| r.get(i).to_text().unwrap_or_default();
        t.push(vec![
            json!(format!("{}@{}", s(0), s(1))),
            json!(format!("{}@{}", s(2), s(3))),
        ]);
    }
    t
}

const COLS: &str = "alias_username, alias_domain, username, domain";

/// `alias_db show <alias>`: the target of one alias.
pub fn show(ctx: &Ctx, alias: &str) -> Outcome<Report> {
    let a = aor::parse(alias, ctx.rc.sip_domain())?;
    let t = ctx.table("DA_TABLE", "dbaliases")?;
    let rows = ctx.db()?.query(
        &format!("SELECT {COLS} FROM {t} WHERE alias_username = ? AND alias_domain = ?"),
        crate::params![&a.user, &a.domain],
    )?;
    if rows.is_empty() {
        return Err(Failure::failed(
            format!("alias '{a}' does not exist"),
            "list a user's aliases with `osipsctl alias_db list USER`",
        ));
    }
    Ok(Report::table(rows_to_table(&rows)))
}

/// `alias_db list <sip-id>`: the aliases of one user.
pub fn list(ctx: &Ctx, target: &str) -> Outcome<Report> {
    let a = aor::parse(target, ctx.rc.sip_domain())?;
    let t = ctx.table("DA_TABLE", "dbaliases")?;
    let rows = ctx.db()?.query(
        &format!(
            "SELECT {COLS} FROM {t} WHERE username = ? AND domain = ? ORDER BY alias_domain, alias_username"
        ),
        crate::params![&a.user, &a.domain],
    )?;
    Ok(Report::table(rows_to_table(&rows)))
}

fn is_subscriber(ctx: &Ctx, a: &Aor) -> Outcome<bool> {
    let sub = ctx.table("SUB_TABLE", "subscriber")?;
    let ucol = ctx.user_col()?;
    Ok(!ctx
        .db()?
        .query(
            &format!("SELECT 1 FROM {sub} WHERE {ucol} = ? AND domain = ?"),
            crate::params![&a.user, &a.domain],
        )?
        .is_empty())
}

/// `alias_db add <alias> <sip-id>`.
pub fn add(ctx: &Ctx, alias: &str, target: &str) -> Outcome<Report> {
    let a = aor::parse(alias, ctx.rc.sip_domain())?;
    let to = aor::parse(target, ctx.rc.sip_domain())?;
    if a == to {
        return Err(Failure::usage("an alias cannot point to itself", ""));
    }
    if is_subscriber(ctx, &a)? {
        return Err(Failure::failed(
            format!("'{a}' is a subscriber; an alias with its name would hide it"),
            "pick another alias",
        ));
    }
    let note = (!is_subscriber(ctx, &to)?)
        .then(|| format!("note: '{to}' is not a subscriber of this database"));
    let t = ctx.table("DA_TABLE", "dbaliases")?;
    ctx.db()?.transaction(|tx| {
        let found = tx.query(
            &format!(
                "SELECT username, domain FROM {t} WHERE alias_username = ? AND alias_domain = ?"
            ),
            crate::params![&a.user, &a.domain],
        )?;
        if let Some(r) = found.first() {
            return Err(Failure::failed(
                format!(
                    "alias '{a}' already exists (-> {}@{})",
                    r.get(0).to_text().unwrap_or_default(),
                    r.get(1).to_text().unwrap_or_default()
                ),
                "remove it first with `osipsctl alias_db rm`",
            ));
        }
        tx.execute(
            &format!("INSERT INTO {t} ({COLS}) VALUES (?, ?, ?, ?)"),
            crate::params![&a.user, &a.domain, &to.user, &to.domain],
        )?;
        Ok::<_, Failure>(())
    })?;
    Ok(Report::message(format!("alias '{a}' -> '{to}' added")).with_note(note))
}

/// `alias_db rm <alias>`.
pub fn rm(ctx: &Ctx, alias: &str) -> Outcome<Report> {
    let a = aor::parse(alias, ctx.rc.sip_domain())?;
    let t = ctx.table("DA_TABLE", "dbaliases")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE alias_username = ? AND alias_domain = ?"),
        crate::params![&a.user, &a.domain],
    )?;
    if n == 0 {
        return Err(Failure::failed(format!("alias '{a}' does not exist"), ""));
    }
    Ok(Report::message(format!("alias '{a}' removed")))
}
