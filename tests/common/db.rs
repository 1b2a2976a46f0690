//! Throw-away databases with OpenSIPS tables for the end-to-end tests: a file on SQLite, a fresh
//! database on the PostgreSQL / MariaDB server of `scripts/test.sh` (dropped with the guard).
#![allow(dead_code)]

use osips::db::{Db, DbUrl, Engine, admin};

/// A fresh database; dropped (server engines) when the guard goes.
pub struct TestDb {
    /// `sqlite:///path` or the server URL with the database name.
    pub url: String,
    admin: Option<(Db, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin {
            let _ = admin::drop_database(admin, name);
        }
    }
}

/// Creates `tables` (from the current schema) in `db`.
pub fn install(db: &Db, engine: Engine, tables: &[&str]) {
    for name in tables {
        let t = osips::db::schema::current().table(name).unwrap();
        for stmt in t.create_sql(engine) {
            db.execute(&stmt, &[])
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
    }
}

/// A database on `engine` named after `prefix` with `tables`; None (skipped) only when the
/// server is missing outside CI.
pub fn test_db(engine: Engine, tables: &[&str], prefix: &str) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("osips.sqlite");
            let db = Db::open_sqlite(&path, true).unwrap();
            install(&db, engine, tables);
            Some(TestDb {
                url: format!("sqlite://{}", path.display()),
                admin: None,
                _dir: Some(dir),
            })
        }
        _ => {
            let admin_url = if engine == Engine::Postgres {
                super::pgsql_admin_url()?
            } else {
                super::mysql_admin_url()?
            };
            let admin = Db::connect(&DbUrl::parse(&admin_url).unwrap()).unwrap();
            let name = super::unique_name(prefix);
            admin::create_database(&admin, &name).unwrap();
            let url = format!("{}/{name}", admin_url.trim_end_matches('/'));
            let db = Db::connect(&DbUrl::parse(&url).unwrap()).unwrap();
            install(&db, engine, tables);
            db.close();
            Some(TestDb {
                url,
                admin: Some((admin, name)),
                _dir: None,
            })
        }
    }
}
