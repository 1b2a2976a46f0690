//! backup, restore, copy.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use super::create::{self, Made};
use super::ctx::{Ctx, Place};
use super::dump::{Item, Reader, TableSummary, Writer};
use super::error::{Failure, Outcome, exit};
use crate::db::schema::{self, Table, VERSION_TABLE};
use crate::db::url::engine_scheme;
use crate::db::{Db, DbError, Engine, Value, admin};

fn io_fail(what: &str, path: &Path, e: std::io::Error) -> Failure {
    let code = if e.kind() == std::io::ErrorKind::PermissionDenied {
        exit::DENIED
    } else if e.kind() == std::io::ErrorKind::NotFound {
        exit::MISSING
    } else {
        exit::FAILED
    };
    Failure::new(
        code,
        format!("cannot {what} {}: {e}", path.display()),
        "check the path and its permissions",
    )
}

/// Writes every table of `db` to `path` (through a temporary file renamed at the end, so a
/// failed backup leaves no half-written file). Returns (tables, rows).
pub fn dump_to(db: &Db, name: &str, path: &Path) -> Outcome<(u64, u64)> {
    let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
    let result = write_dump(db, name, &tmp);
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io_fail("write", path, e)
            })?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_dump(db: &Db, name: &str, path: &Path) -> Outcome<(u64, u64)> {
    // The dump holds password hashes: readable by its owner only.
    let f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_fail("write", path, e))?
    };
    let io = |e: std::io::Error| io_fail("write", path, e);
    let engine = db.engine();
    let mut w =
        Writer::new(BufWriter::new(f), engine, name, schema::CURRENT_RELEASE).map_err(io)?;
    let mut tables = Vec::new();
    for t in admin::list_tables(db)? {
        let cols: Vec<String> = admin::columns(db, &t)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        tables.push((t, cols));
    }
    db.transaction(|tx| {
        if engine == Engine::Postgres {
            // one snapshot for every table (MySQL's InnoDB default already gives one)
            tx.execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
                &[],
            )?;
        }
        for (t, cols) in tables {
            let list: Vec<String> = cols.iter().map(|c| engine.quote(c)).collect();
            let sql = format!("SELECT {} FROM {}", list.join(", "), engine.quote(&t));
            let rows = tx.query(&sql, &[])?;
            w.table(&t, &cols).map_err(io)?;
            for r in rows {
                w.row(&r.values).map_err(io)?;
            }
            w.end_table(&t).map_err(io)?;
        }
        Ok::<_, Failure>(())
    })?;
    w.finish().map_err(io)
}

/// `backup <file>`.
pub fn backup(ctx: &Ctx, file: &Path) -> Outcome<String> {
    let place = ctx.place(None)?;
    let db = ctx.rw_in(&place)?;
    let r = dump_to(&db, &place.name(), file);
    db.close();
    let (tables, rows) = r?;
    Ok(format!(
        "backed up {} ({tables} tables, {rows} rows) to {}",
        place.name(),
        file.display()
    ))
}

fn open_dump(path: &Path) -> Outcome<Reader<BufReader<File>>> {
    let f = File::open(path).map_err(|e| io_fail("read", path, e))?;
    Reader::new(BufReader::new(f)).map_err(|e| bad_dump(path, e))
}

fn bad_dump(path: &Path, e: super::dump::DumpError) -> Failure {
    Failure::new(
        exit::BAD_DUMP,
        format!("{}: {e}", path.display()),
        "nothing was changed; use a complete backup made by `osipsdbctl backup`",
    )
}

/// `restore <file>`.
pub fn restore(ctx: &Ctx, file: &Path, force: bool) -> Outcome<String> {
    let place = ctx.place(None)?;
    restore_into(ctx, &place, file, force)
}

/// Checks the whole dump, then loads it into `place`, creating the database and tables as
/// needed. All rows go in one transaction; whatever was created is removed on failure.
pub fn restore_into(ctx: &Ctx, place: &Place, file: &Path, force: bool) -> Outcome<String> {
    let (header, tables) = open_dump(file)?.verify().map_err(|e| bad_dump(file, e))?;
    let engine = ctx.engine()?;
    if header.engine != engine_scheme(engine) {
        return Err(Failure::new(
            exit::BAD_DUMP,
            format!(
                "{} was made from a {} database; the target is {}",
                file.display(),
                header.engine,
                engine_scheme(engine)
            ),
            format!(
                "restore it into a {} database (set DBENGINE), nothing was changed",
                header.engine
            ),
        ));
    }
    let def = schema::current();
    let existed = create::exists(ctx, place)?;
    let (db, made): (Db, Option<Made>) = if existed {
        (ctx.admin_in(place)?, None)
    } else {
        let (db, made) = create::make_database(ctx, place)?;
        (db, Some(made))
    };
    let result = load(ctx, &db, place, file, &tables, existed, force, def);
    match result {
        Ok(created_tables) => {
            let g = create::grant(ctx, place, &db);
            db.close();
            if let Err(e) = g {
                if let Some(m) = made {
                    create::undo(ctx, m);
                }
                return Err(e);
            }
            let rows: u64 = tables.iter().map(|t| t.rows).sum();
            Ok(format!(
                "restored {} tables ({rows} rows{}) into {}{}",
                tables.len(),
                if created_tables > 0 {
                    format!(", {created_tables} tables created")
                } else {
                    String::new()
                },
                place.name(),
                if existed { "" } else { " (new database)" }
            ))
        }
        Err((e, created)) => {
            if made.is_none() && !created.is_empty() {
                for t in &created {
                    let _ = db.execute(&t.drop_sql(db.engine()), &[]);
                }
            }
            db.close();
            if let Some(m) = made {
                create::undo(ctx, m);
            }
            Err(e)
        }
    }
}

type LoadResult<'a> = Result<usize, (Failure, Vec<&'a Table>)>;

#[allow(clippy::too_many_arguments)]
fn load<'a>(
    ctx: &Ctx,
    db: &Db,
    place: &Place,
    file: &Path,
    tables: &[TableSummary],
    existed: bool,
    force: bool,
    def: &'a schema::Schema,
) -> LoadResult<'a> {
    let engine = db.engine();
    let fail = |f: Failure| (f, Vec::new());
    let live = admin::list_tables(db).map_err(|e| fail(e.into()))?;
    let mut to_create: Vec<&Table> = Vec::new();
    for TableSummary {
        name,
        columns: cols,
        ..
    } in tables
    {
        if live.iter().any(|l| l == name) {
            let have: Vec<String> = admin::columns(db, name)
                .map_err(|e| fail(e.into()))?
                .into_iter()
                .map(|c| c.name)
                .collect();
            if let Some(c) = cols.iter().find(|c| !have.contains(c)) {
                return Err(fail(Failure::new(
                    exit::FAILED,
                    format!(
                        "table {name} of {} has no column {c} (the dump has)",
                        place.name()
                    ),
                    "bring the database to the dump's schema first (`osipsdbctl migrate`), nothing was changed",
                )));
            }
        } else {
            let t = def.table(name).ok_or_else(|| {
                fail(Failure::new(
                    exit::MISSING,
                    format!(
                        "the dump's table {name} is neither in {} nor in the osips schema",
                        place.name()
                    ),
                    "create that table first, nothing was changed",
                ))
            })?;
            to_create.push(t);
        }
    }
    if existed {
        let mut busy = Vec::new();
        for name in tables
            .iter()
            .map(|t| &t.name)
            .filter(|n| *n != VERSION_TABLE)
        {
            if live.iter().any(|l| l == name) {
                let sql = format!("SELECT 1 FROM {} LIMIT 1", engine.quote(name));
                if !db.query(&sql, &[]).map_err(|e| fail(e.into()))?.is_empty() {
                    busy.push(name.as_str());
                }
            }
        }
        if !busy.is_empty() {
            if !force {
                return Err(fail(Failure::new(
                    exit::EXISTS,
                    format!(
                        "{} is not empty (rows in {})",
                        place.name(),
                        busy.join(", ")
                    ),
                    "add --force to replace those tables' rows with the dump's, nothing was changed",
                )));
            }
            ctx.confirm(&format!(
                "Replace the rows of {} tables in {} with the dump's",
                busy.len(),
                place.name()
            ))
            .map_err(fail)?;
        }
    }
    create::install_tables(ctx, db, &to_create).map_err(|e| (e, Vec::new()))?;
    let created = to_create.clone();
    let created_n = created.len();
    let r = db.transaction(|tx| {
        for name in tables.iter().map(|t| &t.name) {
            if existed {
                tx.execute(&format!("DELETE FROM {}", engine.quote(name)), &[])?;
            }
        }
        let mut reader = open_dump(file)?;
        let mut insert = String::new();
        let mut table = String::new();
        while let Some(item) = reader.next_item().map_err(|e| bad_dump(file, e))? {
            match item {
                Item::Table { name, columns } => {
                    let cols: Vec<String> = columns.iter().map(|c| engine.quote(c)).collect();
                    let marks = vec!["?"; cols.len()].join(", ");
                    insert = format!("INSERT INTO {} ({}) VALUES ({marks})", engine.quote(&name), cols.join(", "));
                    table = name;
                }
                Item::Row(values) => {
                    tx.execute(&insert, &values).map_err(|e| {
                        let mut f = Failure::from(e);
                        f.message = format!("table {table}: {}", f.message);
                        f
                    })?;
                }
                Item::End { .. } => {}
            }
        }
        if engine == Engine::Postgres {
            for name in tables.iter().map(|t| &t.name) {
                if let Some(serial) = def.table(name).and_then(|t| t.serial_column()) {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({c}), 0) + 1, false) FROM {t}",
                        c = engine.quote(&serial.name),
                        t = engine.quote(name)
                    );
                    tx.query(&sql, &[Value::from(name.as_str()), Value::from(serial.name.as_str())])?;
                }
            }
        }
        Ok::<_, Failure>(())
    });
    match r {
        Ok(()) => Ok(created_n),
        Err(e) => Err((e, created)),
    }
}

/// `copy <new_db>`: the current database into a new one (same engine, same server).
pub fn copy(ctx: &Ctx, new_db: &str) -> Outcome<String> {
    let from = ctx.place(None)?;
    let to = ctx.place(Some(new_db))?;
    if from == to {
        return Err(Failure::new(
            exit::USAGE,
            "copy: source and target are the same database",
            "name another target",
        ));
    }
    if create::exists(ctx, &to)? {
        return Err(DbError::DatabaseExists(to.name()).into());
    }
    let tmp = std::env::temp_dir().join(format!(
        "osipsdbctl-copy-{}-{}.dump",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let src = ctx.rw_in(&from)?;
    let dumped = dump_to(&src, &from.name(), &tmp);
    src.close();
    let r = dumped.and_then(|_| restore_into(ctx, &to, &tmp, false));
    let _ = std::fs::remove_file(&tmp);
    r?;
    Ok(format!("copied {} to {}", from.name(), to.name()))
}
