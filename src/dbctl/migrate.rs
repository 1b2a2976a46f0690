//! migrate: brings tables of an older OpenSIPS schema (2.4, 3.x) to the current one, keeping
//! their rows. The old level is read from the `version` table.
//!
//! Each outdated table is rebuilt from the current definition and its rows copied by column
//! name: columns the new table lacks are dropped, new columns take their default, values are
//! converted to the new column type (dialog.script_flags INT → CHAR). The subscriber's
//! `ha1b` (2.4) gives way to `ha1_sha256` / `ha1_sha512t256`: computed when the clear
//! `password` is stored, left empty otherwise (those users need a new password to use SHA-256
//! digest; MD5 `ha1` keeps working).
//!
//! PostgreSQL and SQLite do it in one transaction. MySQL (whose DDL commits by itself) builds
//! every new table under a temporary name first and swaps them all with one atomic
//! `RENAME TABLE`, so a failure leaves the old tables untouched.

use std::collections::HashMap;

use sha2::{Digest, Sha256, Sha512_256};

use super::ctx::Ctx;
use super::error::{Failure, Outcome, exit};
use crate::db::schema::{self, ColumnType, Table, VERSION_TABLE};
use crate::db::{Db, DbError, Engine, Row, Tx, Value, admin};

/// One table to bring up to date.
struct Step<'a> {
    table: &'a Table,
    from: i64,
    /// Live columns the definition no longer has (their values are not kept).
    dropped: Vec<String>,
}

impl Step<'_> {
    fn describe(&self) -> String {
        if self.from == self.table.version as i64 {
            format!("{} v{} (columns)", self.table.name, self.from)
        } else {
            format!("{} {}→{}", self.table.name, self.from, self.table.version)
        }
    }
}

const TMP_NEW: &str = "__osips_new";
const TMP_OLD: &str = "__osips_old";

fn digest_hex<D: Digest>(input: &str) -> String {
    hex::encode(D::digest(input.as_bytes()))
}

/// Converts a value to what a column of type `ty` holds.
fn convert(v: Value, ty: &ColumnType) -> Value {
    match (v, ty) {
        (
            Value::Int(i),
            ColumnType::Char(_)
            | ColumnType::Text(_)
            | ColumnType::MediumText
            | ColumnType::LongText,
        ) => Value::Text(i.to_string()),
        (Value::Float(f), ColumnType::Char(_) | ColumnType::Text(_)) => Value::Text(f.to_string()),
        (Value::Text(s), ColumnType::Int { .. }) => {
            s.trim().parse().map(Value::Int).unwrap_or(Value::Text(s))
        }
        (v, _) => v,
    }
}

/// The new row's (columns, values) for an old row.
fn transform(table: &Table, row: &Row, needs_reset: &mut u64) -> (Vec<String>, Vec<Value>) {
    let mut cols = Vec::new();
    let mut vals = Vec::new();
    for c in &table.columns {
        let old = row
            .columns
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&c.name));
        if let Some(i) = old {
            cols.push(c.name.clone());
            vals.push(convert(row.values[i].clone(), &c.ty));
        }
    }
    if table.name == "subscriber"
        && table.column("ha1_sha256").is_some()
        && !cols.iter().any(|c| c == "ha1_sha256")
    {
        let text = |n: &str| row.by_name(n).to_text().unwrap_or_default();
        let password = text("password");
        let (s256, s512) = if password.is_empty() {
            *needs_reset += 1;
            (String::new(), String::new())
        } else {
            let input = format!("{}:{}:{}", text("username"), text("domain"), password);
            (
                digest_hex::<Sha256>(&input),
                digest_hex::<Sha512_256>(&input),
            )
        };
        cols.push("ha1_sha256".into());
        vals.push(Value::Text(s256));
        cols.push("ha1_sha512t256".into());
        vals.push(Value::Text(s512));
    }
    (cols, vals)
}

fn insert_rows(
    tx: &mut Tx<'_>,
    engine: Engine,
    into: &str,
    table: &Table,
    rows: &[Row],
    needs_reset: &mut u64,
) -> Result<(), DbError> {
    for r in rows {
        let (cols, vals) = transform(table, r, needs_reset);
        let quoted: Vec<String> = cols.iter().map(|c| engine.quote(c)).collect();
        let marks = vec!["?"; cols.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            engine.quote(into),
            quoted.join(", ")
        );
        tx.execute(&sql, &vals)
            .map_err(|e| DbError::Sql(format!("table {}: {e}", table.name)))?;
    }
    Ok(())
}

fn plan<'a>(db: &Db, def: &'a schema::Schema) -> Outcome<Vec<Step<'a>>> {
    let live = admin::list_tables(db)?;
    if !live.iter().any(|t| t == VERSION_TABLE) {
        return Err(Failure::new(
            exit::MISSING,
            "the database has no `version` table: its schema level is unknown",
            "migrate works on OpenSIPS databases; create a new one with `osipsdbctl create`",
        ));
    }
    let rows = db.query("SELECT table_name, table_version FROM version", &[])?;
    let versions: HashMap<String, i64> = rows
        .iter()
        .filter_map(|r| Some((r.get(0).to_text()?, r.get(1).as_i64()?)))
        .collect();
    let mut steps = Vec::new();
    for name in &live {
        let (Some(t), Some(v)) = (def.table(name), versions.get(name)) else {
            continue;
        };
        let target = t.version as i64;
        if *v > target {
            return Err(Failure::new(
                exit::FAILED,
                format!(
                    "table {name} is at version {v}, newer than osips's {target} (OpenSIPS {})",
                    schema::CURRENT_RELEASE
                ),
                "use a newer osipsdbctl",
            ));
        }
        let live_cols = admin::columns(db, name)?;
        let dropped: Vec<String> = live_cols
            .iter()
            .filter(|l| {
                !t.columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(&l.name))
            })
            .map(|l| l.name.clone())
            .collect();
        let missing = t.columns.iter().any(|c| {
            !live_cols
                .iter()
                .any(|l| l.name.eq_ignore_ascii_case(&c.name))
        });
        // 3.6 dropped columns without a version bump (subscriber.email_address, rpid): a
        // table at the right version with other columns is rebuilt too.
        if *v < target || !dropped.is_empty() || missing {
            steps.push(Step {
                table: t,
                from: *v,
                dropped,
            });
        }
    }
    Ok(steps)
}

/// `migrate`.
pub fn migrate(ctx: &Ctx) -> Outcome<String> {
    let place = ctx.place(None)?;
    let db = ctx.admin_in(&place)?;
    let r = migrate_db(ctx, &db, &place.name());
    let g = if r.is_ok() {
        super::create::grant(ctx, &place, &db)
    } else {
        Ok(())
    };
    db.close();
    let msg = r?;
    g?;
    Ok(msg)
}

fn migrate_db(ctx: &Ctx, db: &Db, name: &str) -> Outcome<String> {
    let def = schema::current();
    let steps = plan(db, def)?;
    if steps.is_empty() {
        return Ok(format!(
            "{name} is already at the OpenSIPS {} schema level",
            schema::CURRENT_RELEASE
        ));
    }
    let list: Vec<String> = steps.iter().map(Step::describe).collect();
    let dropped: Vec<String> = steps
        .iter()
        .flat_map(|s| {
            s.dropped
                .iter()
                .map(move |c| format!("{}.{c}", s.table.name))
        })
        .collect();
    let dropping = if dropped.is_empty() {
        String::new()
    } else {
        format!(" (dropping columns {})", dropped.join(", "))
    };
    ctx.confirm(&format!("Migrate {} in {name}{dropping}", list.join(", ")))?;
    let engine = db.engine();
    let mysql_engine = ctx.rc.mysql_engine()?.to_string();
    let mut needs_reset = 0u64;
    let mut rows_kept = 0usize;
    let mut old_rows = Vec::new();
    for s in &steps {
        let rows = db.query(
            &format!("SELECT * FROM {}", engine.quote(&s.table.name)),
            &[],
        )?;
        rows_kept += rows.len();
        old_rows.push(rows);
    }
    if engine == Engine::Mysql {
        mysql_swap(db, &steps, &old_rows, &mysql_engine, &mut needs_reset)?;
    } else {
        db.transaction(|tx| {
            for (s, rows) in steps.iter().zip(&old_rows) {
                tx.execute(&s.table.drop_sql(engine), &[])?;
                for stmt in s.table.create_sql_with(engine, &mysql_engine) {
                    tx.execute(&stmt, &[])?;
                }
                insert_rows(tx, engine, &s.table.name, s.table, rows, &mut needs_reset)?;
                tx.execute(
                    "UPDATE version SET table_version = ? WHERE table_name = ?",
                    &[Value::Int(s.table.version as i64), Value::from(s.table.name.as_str())],
                )?;
                if engine == Engine::Postgres
                    && let Some(serial) = s.table.serial_column()
                {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({}), 0) + 1, false) FROM {}",
                        engine.quote(&serial.name),
                        engine.quote(&s.table.name)
                    );
                    tx.query(&sql, &[Value::from(s.table.name.as_str()), Value::from(serial.name.as_str())])?;
                }
            }
            Ok::<_, DbError>(())
        })?;
    }
    let mut msg = format!(
        "migrated {name} to OpenSIPS {}: {} ({rows_kept} rows kept)",
        schema::CURRENT_RELEASE,
        list.join(", ")
    );
    if !dropped.is_empty() {
        msg.push_str(&format!(
            "; columns not in OpenSIPS {} were dropped: {}",
            schema::CURRENT_RELEASE,
            dropped.join(", ")
        ));
    }
    if needs_reset > 0 {
        msg.push_str(&format!(
            "; {needs_reset} subscriber(s) have no clear password: their ha1_sha256/ha1_sha512t256 are empty until a new password is set (osipsctl passwd)"
        ));
    }
    Ok(msg)
}

fn mysql_swap(
    db: &Db,
    steps: &[Step<'_>],
    old_rows: &[Vec<Row>],
    mysql_engine: &str,
    needs_reset: &mut u64,
) -> Outcome<()> {
    let engine = Engine::Mysql;
    let mut made: Vec<String> = Vec::new();
    let build = (|| -> Result<(), DbError> {
        for (s, rows) in steps.iter().zip(old_rows) {
            let mut t = s.table.clone();
            t.name = format!("{}{TMP_NEW}", s.table.name);
            db.execute(&t.drop_sql(engine), &[])?;
            for stmt in t.create_sql_with(engine, mysql_engine) {
                db.execute(&stmt, &[])?;
            }
            made.push(t.name.clone());
            db.transaction(|tx| insert_rows(tx, engine, &t.name, s.table, rows, needs_reset))?;
        }
        Ok(())
    })();
    if let Err(e) = build {
        for t in &made {
            let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", engine.quote(t)), &[]);
        }
        return Err(e.into());
    }
    let renames: Vec<String> = steps
        .iter()
        .map(|s| {
            let n = &s.table.name;
            format!(
                "{} TO {}, {} TO {}",
                engine.quote(n),
                engine.quote(&format!("{n}{TMP_OLD}")),
                engine.quote(&format!("{n}{TMP_NEW}")),
                engine.quote(n)
            )
        })
        .collect();
    if let Err(e) = db.execute(&format!("RENAME TABLE {}", renames.join(", ")), &[]) {
        for t in &made {
            let _ = db.execute(&format!("DROP TABLE IF EXISTS {}", engine.quote(t)), &[]);
        }
        return Err(e.into());
    }
    db.transaction(|tx| {
        for s in steps {
            tx.execute(
                "UPDATE version SET table_version = ? WHERE table_name = ?",
                &[
                    Value::Int(s.table.version as i64),
                    Value::from(s.table.name.as_str()),
                ],
            )?;
        }
        Ok::<_, DbError>(())
    })?;
    for s in steps {
        db.execute(
            &format!(
                "DROP TABLE {}",
                engine.quote(&format!("{}{TMP_OLD}", s.table.name))
            ),
            &[],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(
            digest_hex::<Sha256>("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_hex::<Sha512_256>("abc"),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn subscriber_rows_get_sha_columns_from_the_password() {
        let t = schema::current().table("subscriber").unwrap();
        let cols: Arc<[String]> = [
            "id", "username", "domain", "password", "ha1", "ha1b", "rpid",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let row = |pw: &str| Row {
            columns: cols.clone(),
            values: vec![
                Value::Int(1),
                "alice".into(),
                "example.com".into(),
                pw.into(),
                "h".into(),
                "hb".into(),
                Value::Null,
            ],
        };
        let mut reset = 0;
        let (c, v) = transform(t, &row("secret"), &mut reset);
        assert!(!c.contains(&"ha1b".to_string()) && !c.contains(&"rpid".to_string()));
        let i = c.iter().position(|c| c == "ha1_sha256").unwrap();
        assert_eq!(
            v[i],
            Value::Text(digest_hex::<Sha256>("alice:example.com:secret"))
        );
        assert_eq!(reset, 0);
        let (c, v) = transform(t, &row(""), &mut reset);
        let i = c.iter().position(|c| c == "ha1_sha512t256").unwrap();
        assert_eq!(v[i], Value::Text(String::new()));
        assert_eq!(reset, 1);
    }

    #[test]
    fn integers_become_text_for_char_columns() {
        assert_eq!(
            convert(Value::Int(5), &ColumnType::Char(255)),
            Value::Text("5".into())
        );
        assert_eq!(convert(Value::Null, &ColumnType::Char(255)), Value::Null);
    }
}
