//! create, drop, reinit, add, presence, extra.

use std::path::{Path, PathBuf};

use super::ctx::{Ctx, Place};
use super::error::{Failure, Outcome, exit};
use crate::db::schema::{self, Group, Module, Table};
use crate::db::{Db, DbError, Engine, admin};

/// What `make_database` made, so a failure can take it all back.
pub struct Made {
    pub place: Place,
    created_user: Option<String>,
    created_dirs: Vec<PathBuf>,
}

/// Creates the empty database (SQLite file with its folders; server database and rw user)
/// and returns a connection able to create tables in it.
pub fn make_database(ctx: &Ctx, place: &Place) -> Outcome<(Db, Made)> {
    match place {
        Place::Sqlite(path) => {
            if path.exists() {
                return Err(DbError::DatabaseExists(path.display().to_string()).into());
            }
            let mut created_dirs = Vec::new();
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
                created_dirs.push(d.to_path_buf());
                dir = d.parent();
            }
            let made = Made {
                place: place.clone(),
                created_user: None,
                created_dirs,
            };
            match Db::open_sqlite(path, true) {
                Ok(db) => Ok((db, made)),
                Err(e) => {
                    undo(ctx, made);
                    Err(e.into())
                }
            }
        }
        Place::Server(name) => {
            let admin = ctx.admin()?;
            admin::create_database(&admin, name)?;
            let mut made = Made {
                place: place.clone(),
                created_user: None,
                created_dirs: Vec::new(),
            };
            let engine = admin.engine();
            let rw = ctx.rc.db_rw_user();
            if rw != ctx.rc.db_root_user(engine) {
                match admin::ensure_user(&admin, rw, ctx.rc.db_rw_password()) {
                    Ok(true) => made.created_user = Some(rw.to_string()),
                    Ok(false) => {}
                    Err(e) => {
                        admin.close();
                        undo(ctx, made);
                        return Err(e.into());
                    }
                }
            }
            admin.close();
            match ctx.admin_in(place) {
                Ok(db) => Ok((db, made)),
                Err(e) => {
                    undo(ctx, made);
                    Err(e)
                }
            }
        }
    }
}

/// Removes what [`make_database`] made (best effort: the original error is what matters).
pub fn undo(ctx: &Ctx, made: Made) {
    match &made.place {
        Place::Sqlite(path) => {
            remove_sqlite(path);
            for d in &made.created_dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        Place::Server(name) => {
            if let Ok(admin) = ctx.admin() {
                let _ = admin::drop_database(&admin, name);
                if let Some(u) = &made.created_user {
                    let _ = admin::drop_user(&admin, u);
                }
                admin.close();
            }
        }
    }
}

fn remove_sqlite(path: &Path) {
    let _ = std::fs::remove_file(path);
    for ext in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The modules `create` installs: standard, plus extra / presence as the rc (or the user) says.
pub fn create_modules(ctx: &Ctx) -> Outcome<Vec<&'static Module>> {
    let s = schema::current();
    let mut mods: Vec<&Module> = s.group(Group::Standard).collect();
    if ctx.want(ctx.rc.install_presence_tables()?, "presence")? {
        mods.extend(s.group(Group::Presence));
    }
    if ctx.want(ctx.rc.install_extra_tables()?, "extra")? {
        mods.extend(s.group(Group::Extra));
    }
    Ok(mods)
}

/// Runs the modules' create statements in one transaction.
pub fn install(ctx: &Ctx, db: &Db, modules: &[&Module]) -> Outcome<usize> {
    let engine = db.engine();
    let mysql_engine = ctx.rc.mysql_engine()?.to_string();
    let mut tables = 0;
    db.transaction(|tx| {
        for m in modules {
            for stmt in m.create_sql_with(engine, &mysql_engine) {
                tx.execute(&stmt, &[])?;
            }
            tables += m.tables.len();
        }
        Ok::<_, DbError>(())
    })?;
    Ok(tables)
}

/// Creates single tables (no version rows): used by restore and copy.
pub fn install_tables(ctx: &Ctx, db: &Db, tables: &[&Table]) -> Outcome<()> {
    let engine = db.engine();
    let mysql_engine = ctx.rc.mysql_engine()?.to_string();
    db.transaction(|tx| {
        for t in tables {
            for stmt in t.create_sql_with(engine, &mysql_engine) {
                tx.execute(&stmt, &[])?;
            }
        }
        Ok::<_, DbError>(())
    })?;
    Ok(())
}

/// Gives the rw user access to what was created (PostgreSQL needs per-object grants).
pub fn grant(ctx: &Ctx, place: &Place, db: &Db) -> Outcome<()> {
    let Place::Server(name) = place else {
        return Ok(());
    };
    let engine = db.engine();
    let rw = ctx.rc.db_rw_user();
    if rw == ctx.rc.db_root_user(engine) {
        return Ok(());
    }
    let admin = ctx.admin()?;
    let r = admin::grant_all(&admin, db, name, rw);
    admin.close();
    Ok(r?)
}

/// `create [db]`.
pub fn create(ctx: &Ctx, arg: Option<&str>) -> Outcome<String> {
    let place = ctx.place(arg)?;
    let modules = create_modules(ctx)?;
    let (db, made) = make_database(ctx, &place)?;
    let result = install(ctx, &db, &modules).and_then(|n| grant(ctx, &place, &db).map(|_| n));
    let engine = db.engine();
    db.close();
    match result {
        Ok(n) => Ok(format!(
            "created {} database {} with {n} tables ({} modules)",
            engine_name(engine),
            place.name(),
            modules.len()
        )),
        Err(e) => {
            undo(ctx, made);
            Err(e)
        }
    }
}

pub fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
        Engine::Mysql => "MySQL",
    }
}

/// `drop [db]`.
pub fn drop(ctx: &Ctx, arg: Option<&str>) -> Outcome<String> {
    let place = ctx.place(arg)?;
    ensure_exists(ctx, &place)?;
    ctx.confirm(&format!("Drop database {} and all its data", place.name()))?;
    drop_place(ctx, &place)?;
    Ok(format!("dropped database {}", place.name()))
}

fn ensure_exists(ctx: &Ctx, place: &Place) -> Outcome<()> {
    match place {
        Place::Sqlite(p) if !p.exists() => {
            Err(DbError::DatabaseMissing(p.display().to_string()).into())
        }
        Place::Sqlite(_) => Ok(()),
        Place::Server(name) => {
            let admin = ctx.admin()?;
            let exists = admin::database_exists(&admin, name);
            admin.close();
            if exists? {
                Ok(())
            } else {
                Err(DbError::DatabaseMissing(name.clone()).into())
            }
        }
    }
}

pub fn exists(ctx: &Ctx, place: &Place) -> Outcome<bool> {
    match ensure_exists(ctx, place) {
        Ok(()) => Ok(true),
        Err(f) if f.code == exit::MISSING => Ok(false),
        Err(f) => Err(f),
    }
}

pub fn drop_place(ctx: &Ctx, place: &Place) -> Outcome<()> {
    match place {
        Place::Sqlite(p) => {
            std::fs::remove_file(p).map_err(|e| {
                Failure::new(
                    exit::DENIED,
                    format!("cannot remove {}: {e}", p.display()),
                    "check the permissions of the file and its folder",
                )
            })?;
            remove_sqlite(p);
            Ok(())
        }
        Place::Server(name) => {
            let admin = ctx.admin()?;
            let r = admin::drop_database(&admin, name);
            admin.close();
            Ok(r?)
        }
    }
}

/// `reinit [db]`: drop (when present) and create.
pub fn reinit(ctx: &Ctx, arg: Option<&str>) -> Outcome<String> {
    let place = ctx.place(arg)?;
    let present = exists(ctx, &place)?;
    if present {
        ctx.confirm(&format!(
            "Drop and re-create database {} (all data is lost)",
            place.name()
        ))?;
        drop_place(ctx, &place)?;
    }
    let msg = create(ctx, arg)?;
    Ok(if present { format!("re-{msg}") } else { msg })
}

/// `add <module>`, `presence`, `extra`: installs modules into an existing database.
pub fn add_modules(ctx: &Ctx, modules: &[&Module], what: &str) -> Outcome<String> {
    let place = ctx.place(None)?;
    let db = ctx.admin_in(&place)?;
    let present = admin::list_tables(&db)?;
    let clash: Vec<&str> = modules
        .iter()
        .flat_map(|m| m.tables.iter())
        .filter(|t| present.iter().any(|p| p == &t.name))
        .map(|t| t.name.as_str())
        .collect();
    if !clash.is_empty() {
        db.close();
        return Err(Failure::new(
            exit::EXISTS,
            format!(
                "{what}: table(s) {} already exist in {}",
                clash.join(", "),
                place.name()
            ),
            "the module is already installed; `osipsdbctl check` shows what differs",
        ));
    }
    let r = install(ctx, &db, modules).and_then(|n| grant(ctx, &place, &db).map(|_| n));
    db.close();
    let n = r?;
    Ok(format!("{what}: created {n} tables in {}", place.name()))
}

pub fn add(ctx: &Ctx, module: &str) -> Outcome<String> {
    let s = schema::current();
    let m = s.module(module).ok_or_else(|| {
        let names: Vec<&str> = s.modules.iter().map(|m| m.name.as_str()).collect();
        Failure::new(
            exit::USAGE,
            format!("unknown module `{module}`"),
            format!("known modules: {}", names.join(" ")),
        )
    })?;
    add_modules(ctx, &[m], &format!("module {}", m.name))
}

pub fn group(ctx: &Ctx, g: Group) -> Outcome<String> {
    let mods: Vec<&Module> = schema::current().group(g).collect();
    add_modules(ctx, &mods, &format!("{} tables", g.name()))
}
