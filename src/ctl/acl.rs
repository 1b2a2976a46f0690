//! `acl show|grant|revoke`: group membership in the grp table (group module). With
//! `VERIFY_ACL=1` (the default) only the names in `ACL_GROUPS` are accepted.

use super::aor::{self, Aor};
use super::ctx::{Ctx, now_text};
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use super::values;

fn check_group(ctx: &Ctx, g: &str) -> Outcome<()> {
    values::text("group name", g, 64)?;
    if g.is_empty() {
        return Err(Failure::usage("the group name is empty", ""));
    }
    if ctx.rc.verify_acl()? {
        let allowed = ctx.rc.acl_groups();
        if !allowed.iter().any(|a| a == g) {
            return Err(Failure::failed(
                format!("group '{g}' is not in ACL_GROUPS ({})", allowed.join(" ")),
                "add it to ACL_GROUPS in the rc file, or set VERIFY_ACL=0",
            ));
        }
    }
    Ok(())
}

fn user_exists(ctx: &Ctx, a: &Aor) -> Outcome<bool> {
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

/// `acl show [user]`.
pub fn show(ctx: &Ctx, user: Option<&str>) -> Outcome<Report> {
    let t = ctx.table("ACL_TABLE", "grp")?;
    let ucol = ctx.user_col()?;
    let cols = format!("{ucol} AS username, domain, grp, last_modified");
    let rows = match user {
        Some(u) => {
            let a = aor::parse(u, ctx.rc.sip_domain())?;
            ctx.db()?.query(
                &format!("SELECT {cols} FROM {t} WHERE {ucol} = ? AND domain = ? ORDER BY grp"),
                crate::params![&a.user, &a.domain],
            )?
        }
        None => ctx.db()?.query(
            &format!("SELECT {cols} FROM {t} ORDER BY domain, {ucol}, grp"),
            &[],
        )?,
    };
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&["username", "domain", "grp", "last_modified"]);
    }
    Ok(Report::table(table))
}

/// `acl grant <user> <group>... [--force]`.
pub fn grant(ctx: &Ctx, user: &str, groups: &[String], force: bool) -> Outcome<Report> {
    let a = aor::parse(user, ctx.rc.sip_domain())?;
    for g in groups {
        check_group(ctx, g)?;
    }
    if !force && !user_exists(ctx, &a)? {
        if ctx.interactive {
            ctx.confirm(&format!("user '{a}' does not exist; grant anyway?"))?;
        } else {
            return Err(Failure::failed(
                format!("user '{a}' does not exist"),
                "add the user first, or give --force to grant anyway",
            ));
        }
    }
    let t = ctx.table("ACL_TABLE", "grp")?;
    let ucol = ctx.user_col()?;
    let added = ctx.db()?.transaction(|tx| {
        let mut added = Vec::new();
        for g in groups {
            let have = tx.query(
                &format!("SELECT 1 FROM {t} WHERE {ucol} = ? AND domain = ? AND grp = ?"),
                crate::params![&a.user, &a.domain, g],
            )?;
            if have.is_empty() {
                tx.execute(
                    &format!(
                        "INSERT INTO {t} ({ucol}, domain, grp, last_modified) VALUES (?, ?, ?, ?)"
                    ),
                    crate::params![&a.user, &a.domain, g, now_text()],
                )?;
                added.push(g.clone());
            }
        }
        Ok::<_, Failure>(added)
    })?;
    let skipped = groups.len() - added.len();
    let mut msg = format!(
        "'{a}' granted {}",
        if added.is_empty() {
            "nothing new".to_string()
        } else {
            added.join(", ")
        }
    );
    if skipped > 0 {
        msg.push_str(&format!(" ({skipped} already held)"));
    }
    Ok(Report::message(msg).field("granted", serde_json::json!(added)))
}

/// `acl revoke <user> [group]`: one group, or all of them.
pub fn revoke(ctx: &Ctx, user: &str, group: Option<&str>) -> Outcome<Report> {
    let a = aor::parse(user, ctx.rc.sip_domain())?;
    let t = ctx.table("ACL_TABLE", "grp")?;
    let ucol = ctx.user_col()?;
    let n = match group {
        Some(g) => ctx.db()?.execute(
            &format!("DELETE FROM {t} WHERE {ucol} = ? AND domain = ? AND grp = ?"),
            crate::params![&a.user, &a.domain, g],
        )?,
        None => ctx.db()?.execute(
            &format!("DELETE FROM {t} WHERE {ucol} = ? AND domain = ?"),
            crate::params![&a.user, &a.domain],
        )?,
    };
    if n == 0 {
        return Err(Failure::failed(
            match group {
                Some(g) => format!("'{a}' is not in group '{g}'"),
                None => format!("'{a}' is in no group"),
            },
            "see `osipsctl acl show USER`",
        ));
    }
    Ok(Report::message(format!("{n} group(s) revoked from '{a}'")))
}
