//! `speeddial show|list|add|rm`: the speed_dial table (speeddial module). A bare speed-dial
//! id takes the owner's domain.

use super::aor::{self, Aor};
use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use super::values;

const COLS: &str = "username, domain, sd_username, sd_domain, new_uri, description";

fn sd_id(owner: &Aor, sd: &str) -> Outcome<Aor> {
    aor::parse(sd, Some(&owner.domain))
}

fn table_of(rows: &[crate::db::Row]) -> Table {
    let mut t = Table::from_rows(rows);
    if t.columns.is_empty() {
        t = Table::new(&[
            "username",
            "domain",
            "sd_username",
            "sd_domain",
            "new_uri",
            "description",
        ]);
    }
    t
}

/// `speeddial show <sd-id>`: the entries with this short id.
pub fn show(ctx: &Ctx, sd: &str) -> Outcome<Report> {
    let a = aor::parse(sd, ctx.rc.sip_domain())?;
    let t = ctx.table("SD_TABLE", "speed_dial")?;
    let rows = ctx.db()?.query(
        &format!("SELECT {COLS} FROM {t} WHERE sd_username = ? AND sd_domain = ? ORDER BY domain, username"),
        crate::params![&a.user, &a.domain],
    )?;
    Ok(Report::table(table_of(&rows)))
}

/// `speeddial list <sip-id>`: one user's entries.
pub fn list(ctx: &Ctx, owner: &str) -> Outcome<Report> {
    let o = aor::parse(owner, ctx.rc.sip_domain())?;
    let t = ctx.table("SD_TABLE", "speed_dial")?;
    let rows = ctx.db()?.query(
        &format!("SELECT {COLS} FROM {t} WHERE username = ? AND domain = ? ORDER BY sd_username"),
        crate::params![&o.user, &o.domain],
    )?;
    Ok(Report::table(table_of(&rows)))
}

/// `speeddial add <sip-id> <sd-id> <new-uri> [description]`.
pub fn add(ctx: &Ctx, owner: &str, sd: &str, uri: &str, desc: Option<&str>) -> Outcome<Report> {
    let o = aor::parse(owner, ctx.rc.sip_domain())?;
    let s = sd_id(&o, sd)?;
    values::uri("new URI", uri, 255, true)?;
    let desc = desc.unwrap_or("");
    values::text("description", desc, 64)?;
    let t = ctx.table("SD_TABLE", "speed_dial")?;
    ctx.db()?.transaction(|tx| {
        let have = tx.query(
            &format!("SELECT 1 FROM {t} WHERE username = ? AND domain = ? AND sd_username = ? AND sd_domain = ?"),
            crate::params![&o.user, &o.domain, &s.user, &s.domain],
        )?;
        if !have.is_empty() {
            return Err(Failure::failed(
                format!("'{o}' already has speed dial '{s}'"),
                "remove it first with `osipsctl speeddial rm`",
            ));
        }
        tx.execute(
            &format!("INSERT INTO {t} ({COLS}) VALUES (?, ?, ?, ?, ?, ?)"),
            crate::params![&o.user, &o.domain, &s.user, &s.domain, uri, desc],
        )?;
        Ok::<_, Failure>(())
    })?;
    Ok(Report::message(format!(
        "speed dial '{s}' -> {uri} added for '{o}'"
    )))
}

/// `speeddial rm <sip-id> <sd-id>`.
pub fn rm(ctx: &Ctx, owner: &str, sd: &str) -> Outcome<Report> {
    let o = aor::parse(owner, ctx.rc.sip_domain())?;
    let s = sd_id(&o, sd)?;
    let t = ctx.table("SD_TABLE", "speed_dial")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE username = ? AND domain = ? AND sd_username = ? AND sd_domain = ?"),
        crate::params![&o.user, &o.domain, &s.user, &s.domain],
    )?;
    if n == 0 {
        return Err(Failure::failed(
            format!("'{o}' has no speed dial '{s}'"),
            "",
        ));
    }
    Ok(Report::message(format!(
        "speed dial '{s}' of '{o}' removed"
    )))
}
