//! `db show <table>`: every row of one table.

use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use crate::db::{admin, sql::check_name};

pub fn show(ctx: &Ctx, table: &str) -> Outcome<Report> {
    check_name("table", table).map_err(|e| Failure::usage(e.to_string(), ""))?;
    if !ctx.has_table(table)? {
        return Err(Failure::failed(
            format!("table `{table}` does not exist"),
            "install the module's tables with `osipsdbctl add <module>`",
        ));
    }
    let db = ctx.db()?;
    let q = db.engine().quote(table);
    let rows = db.query(&format!("SELECT * FROM {q}"), &[])?;
    let mut t = Table::from_rows(&rows);
    if t.columns.is_empty() {
        t.columns = admin::columns(db, table)?
            .into_iter()
            .map(|c| c.name)
            .collect();
    }
    Ok(Report::table(t))
}
