//! `dialplan show|addrule|rm|rmdpid|rmrule|reload`: the dialplan table.

use super::ctx::Ctx;
use super::domain::reload;
use super::error::{Failure, Outcome};
use super::mi_reload;
use super::output::{Report, Table};
use super::values;

fn note(ctx: &Ctx) -> Option<String> {
    Some(mi_reload::after_change(&ctx.rc, "dialplans", "dp_reload"))
}

const I32: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

/// `dialplan show [dpid]`.
pub fn show(ctx: &Ctx, dpid: Option<&str>) -> Outcome<Report> {
    let t = ctx.table("DIALPLAN_TABLE", "dialplan")?;
    let rows = match dpid {
        Some(d) => {
            let d = values::int("dpid", d, I32.0, I32.1)?;
            ctx.db()?.query(
                &format!("SELECT * FROM {t} WHERE dpid = ? ORDER BY pr, id"),
                crate::params![d],
            )?
        }
        None => ctx
            .db()?
            .query(&format!("SELECT * FROM {t} ORDER BY dpid, pr, id"), &[])?,
    };
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&[
            "id",
            "dpid",
            "pr",
            "match_op",
            "match_exp",
            "match_flags",
            "subst_exp",
            "repl_exp",
            "timerec",
            "disabled",
            "attrs",
        ]);
    }
    Ok(Report::table(table))
}

/// The arguments of `addrule`.
pub struct Rule<'a> {
    pub dpid: &'a str,
    pub prio: &'a str,
    pub op: &'a str,
    pub match_exp: &'a str,
    pub match_flags: &'a str,
    pub subst_exp: &'a str,
    pub repl_exp: &'a str,
    pub attrs: &'a str,
}

/// `dialplan addrule <dpid> <prio> <equal|regexp|fnmatch> <match_exp> <match_flags> <subst_exp> <repl_exp> <attrs>`.
pub fn addrule(ctx: &Ctx, r: &Rule<'_>) -> Outcome<Report> {
    let dpid = values::int("dpid", r.dpid, I32.0, I32.1)?;
    let pr = values::int("priority", r.prio, I32.0, I32.1)?;
    let op = match r.op.to_ascii_lowercase().as_str() {
        "equal" | "0" => 0,
        "regexp" | "1" => 1,
        "fnmatch" | "2" => 2,
        _ => {
            return Err(Failure::usage(
                format!("match operator `{}` is not equal, regexp or fnmatch", r.op),
                "",
            ));
        }
    };
    values::text("match_exp", r.match_exp, 64)?;
    if r.match_exp.is_empty() {
        return Err(Failure::usage("match_exp is empty", ""));
    }
    let flags = values::int("match_flags", r.match_flags, 0, 1)?;
    values::text("subst_exp", r.subst_exp, 64)?;
    values::text("repl_exp", r.repl_exp, 32)?;
    values::text("attrs", r.attrs, 255)?;
    let t = ctx.table("DIALPLAN_TABLE", "dialplan")?;
    ctx.db()?.execute(
        &format!(
            "INSERT INTO {t} (dpid, pr, match_op, match_exp, match_flags, subst_exp, repl_exp, attrs) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        crate::params![
            dpid,
            pr,
            op,
            r.match_exp,
            flags,
            values::null_if_empty(r.subst_exp),
            values::null_if_empty(r.repl_exp),
            values::null_if_empty(r.attrs)
        ],
    )?;
    Ok(
        Report::message(format!("rule added to dialplan {dpid} with priority {pr}"))
            .with_note(note(ctx)),
    )
}

/// `dialplan rm`: every rule (asks, or needs --yes without a terminal).
pub fn rm_all(ctx: &Ctx) -> Outcome<Report> {
    ctx.confirm("remove every dialplan rule")?;
    let t = ctx.table("DIALPLAN_TABLE", "dialplan")?;
    let n = ctx.db()?.execute(&format!("DELETE FROM {t}"), &[])?;
    Ok(Report::message(format!("{n} dialplan rule(s) removed")).with_note(note(ctx)))
}

/// `dialplan rmdpid <dpid>`.
pub fn rmdpid(ctx: &Ctx, dpid: &str) -> Outcome<Report> {
    let d = values::int("dpid", dpid, I32.0, I32.1)?;
    let t = ctx.table("DIALPLAN_TABLE", "dialplan")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE dpid = ?"),
        crate::params![d],
    )?;
    if n == 0 {
        return Err(Failure::failed(
            format!("dialplan {d} has no rule"),
            "see `osipsctl dialplan show`",
        ));
    }
    Ok(Report::message(format!("{n} rule(s) of dialplan {d} removed")).with_note(note(ctx)))
}

/// `dialplan rmrule <dpid> <prio>`.
pub fn rmrule(ctx: &Ctx, dpid: &str, prio: &str) -> Outcome<Report> {
    let d = values::int("dpid", dpid, I32.0, I32.1)?;
    let p = values::int("priority", prio, I32.0, I32.1)?;
    let t = ctx.table("DIALPLAN_TABLE", "dialplan")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE dpid = ? AND pr = ?"),
        crate::params![d, p],
    )?;
    if n == 0 {
        return Err(Failure::failed(
            format!("dialplan {d} has no rule with priority {p}"),
            "see `osipsctl dialplan show`",
        ));
    }
    Ok(Report::message(format!("{n} rule(s) removed from dialplan {d}")).with_note(note(ctx)))
}

/// `dialplan reload`.
pub fn do_reload(ctx: &Ctx) -> Outcome<Report> {
    reload(ctx, "dialplans", "dp_reload")
}
