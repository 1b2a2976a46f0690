//! `dispatcher show|dump|addgw|rmgw|reload`: the dispatcher table.

use super::ctx::Ctx;
use super::domain::reload;
use super::error::{Failure, Outcome};
use super::mi_reload;
use super::output::{Report, Table};
use super::values;

fn note(ctx: &Ctx) -> Option<String> {
    Some(mi_reload::after_change(
        &ctx.rc,
        "dispatcher sets",
        "ds_reload",
    ))
}

/// `dispatcher show`: the table.
pub fn show(ctx: &Ctx) -> Outcome<Report> {
    let t = ctx.table("DISPATCHER_TABLE", "dispatcher")?;
    let rows = ctx
        .db()?
        .query(&format!("SELECT * FROM {t} ORDER BY setid, id"), &[])?;
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&[
            "id",
            "setid",
            "destination",
            "socket",
            "state",
            "weight",
            "priority",
            "attrs",
            "description",
        ]);
    }
    Ok(Report::table(table))
}

/// `dispatcher dump`: the running osips's sets (MI `ds_list`).
pub fn dump(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_reload::command(&ctx.rc, "ds_list")?;
    Ok(Report {
        data: Some(v),
        ..Report::default()
    })
}

/// The arguments of `addgw`.
pub struct Gateway<'a> {
    pub setid: &'a str,
    pub destination: &'a str,
    pub socket: &'a str,
    pub state: &'a str,
    pub weight: &'a str,
    pub attrs: &'a str,
    pub description: Option<&'a str>,
    pub priority: &'a str,
    pub probe_mode: &'a str,
}

/// `dispatcher addgw <setid> <destination> <socket> <state> <weight> <attrs> [description]`.
pub fn addgw(ctx: &Ctx, g: &Gateway<'_>) -> Outcome<Report> {
    let setid = values::int("setid", g.setid, 0, i32::MAX as i64)?;
    values::uri("destination", g.destination, 192, false)?;
    values::text("socket", g.socket, 128)?;
    if !g.socket.is_empty() && g.socket.split(':').count() < 2 {
        return Err(Failure::usage(
            format!("socket `{}` is not proto:host:port", g.socket),
            "write e.g. udp:127.0.0.1:5060, or \"\" for none",
        ));
    }
    let state = values::int("state", g.state, 0, 2)?;
    values::text("weight", g.weight, 64)?;
    if g.weight.is_empty() {
        return Err(Failure::usage(
            "the weight is empty",
            "give a number such as 1",
        ));
    }
    values::text("attrs", g.attrs, 128)?;
    if let Some(d) = g.description {
        values::text("description", d, 64)?;
    }
    let priority = values::int("priority", g.priority, i32::MIN as i64, i32::MAX as i64)?;
    let probe_mode = values::int("probe mode", g.probe_mode, 0, 2)?;
    let t = ctx.table("DISPATCHER_TABLE", "dispatcher")?;
    ctx.db()?.execute(
        &format!(
            "INSERT INTO {t} (setid, destination, socket, state, probe_mode, weight, priority, attrs, description) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        crate::params![
            setid,
            g.destination,
            values::null_if_empty(g.socket),
            state,
            probe_mode,
            g.weight,
            priority,
            values::null_if_empty(g.attrs),
            g.description.and_then(values::null_if_empty)
        ],
    )?;
    Ok(
        Report::message(format!("gateway {} added to set {setid}", g.destination))
            .with_note(note(ctx)),
    )
}

/// `dispatcher rmgw <id>`.
pub fn rmgw(ctx: &Ctx, id: &str) -> Outcome<Report> {
    let id = values::int("id", id, 0, i64::from(u32::MAX))?;
    let t = ctx.table("DISPATCHER_TABLE", "dispatcher")?;
    let n = ctx
        .db()?
        .execute(&format!("DELETE FROM {t} WHERE id = ?"), crate::params![id])?;
    if n == 0 {
        return Err(Failure::failed(
            format!("no gateway with id {id}"),
            "see the ids with `osipsctl dispatcher show`",
        ));
    }
    Ok(Report::message(format!("gateway {id} removed")).with_note(note(ctx)))
}

/// `dispatcher reload`.
pub fn do_reload(ctx: &Ctx) -> Outcome<Report> {
    reload(ctx, "dispatcher sets", "ds_reload")
}
