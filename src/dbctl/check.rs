//! check: compares a live database with the schema definition.

use std::collections::{BTreeSet, HashMap};

use super::ctx::Ctx;
use super::error::Outcome;
use crate::db::schema::{self, Group, VERSION_TABLE};
use crate::db::{Db, admin};

/// One difference between the database and the definition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub table: String,
    pub problem: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.table, self.problem)
    }
}

/// Every difference of `db` from the current schema: the standard tables and those of every
/// module the database has at least one table (or version row) of.
pub fn differences(db: &Db) -> Outcome<Vec<Issue>> {
    let def = schema::current();
    let live: BTreeSet<String> = admin::list_tables(db)?.into_iter().collect();
    let versions: HashMap<String, i64> = if live.contains(VERSION_TABLE) {
        db.query("SELECT table_name, table_version FROM version", &[])?
            .iter()
            .filter_map(|r| Some((r.get(0).to_text()?, r.get(1).as_i64()?)))
            .collect()
    } else {
        HashMap::new()
    };
    let mut issues = Vec::new();
    let issue = |t: &str, p: String| Issue {
        table: t.to_string(),
        problem: p,
    };
    for m in &def.modules {
        let installed = m.group == Group::Standard
            || m.tables
                .iter()
                .any(|t| live.contains(&t.name) || versions.contains_key(&t.name));
        if !installed {
            continue;
        }
        for t in &m.tables {
            if !live.contains(&t.name) {
                issues.push(issue(&t.name, format!("missing table (module {})", m.name)));
                continue;
            }
            let cols = admin::columns(db, &t.name)?;
            for c in &t.columns {
                if !cols.iter().any(|l| l.name.eq_ignore_ascii_case(&c.name)) {
                    issues.push(issue(&t.name, format!("missing column {}", c.name)));
                }
            }
            for l in &cols {
                if !t
                    .columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(&l.name))
                {
                    issues.push(issue(
                        &t.name,
                        format!(
                            "column {} is not in the OpenSIPS {} definition",
                            l.name,
                            schema::CURRENT_RELEASE
                        ),
                    ));
                }
            }
            if t.name == VERSION_TABLE {
                continue;
            }
            match versions.get(&t.name) {
                None => issues.push(issue(
                    &t.name,
                    format!("no row in `version` (expected {})", t.version),
                )),
                Some(v) if *v != t.version as i64 => issues.push(issue(
                    &t.name,
                    format!(
                        "version {v}, expected {} (run `osipsdbctl migrate`)",
                        t.version
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    Ok(issues)
}

/// `check`: (summary, differences).
pub fn check(ctx: &Ctx) -> Outcome<(String, Vec<Issue>)> {
    let place = ctx.place(None)?;
    let db = ctx.rw_in(&place)?;
    let r = differences(&db);
    db.close();
    let issues = r?;
    let summary = if issues.is_empty() {
        format!(
            "{} matches the OpenSIPS {} schema",
            place.name(),
            schema::CURRENT_RELEASE
        )
    } else {
        format!(
            "{} differs from the OpenSIPS {} schema in {} place(s)",
            place.name(),
            schema::CURRENT_RELEASE,
            issues.len()
        )
    };
    Ok((summary, issues))
}
