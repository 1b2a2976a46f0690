//! The synchronous database handle every tool (and the proxy's workers) uses.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use sqlx::Connection;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres};

use super::error::{ErrCtx, Failure, from_sqlite};
use super::{DbError, DbUrl, Engine, Result, Row, Value, mysql, pg, sql, sqlite};

/// The private runtime that drives sqlx for synchronous callers. Never call [`Db`] from inside
/// an async task (block_on would panic): the proxy's workers are plain threads.
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("osips-db")
            .enable_all()
            .build()
            .expect("cannot start the database runtime")
    })
}

enum Backend {
    Sqlite(Mutex<rusqlite::Connection>),
    Pg(PgPool),
    My(MySqlPool),
}

/// A connection (pool) to one database on one engine.
pub struct Db {
    url: DbUrl,
    backend: Backend,
    pg_types: pg::TypeCache,
}

/// How many connections a server pool may open.
const POOL_SIZE: u32 = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What error messages say about `url`.
fn err_ctx(url: &DbUrl) -> ErrCtx {
    ErrCtx {
        target: url.target(),
        user: url.user.clone().unwrap_or_default(),
        database: url
            .database
            .clone()
            .or_else(|| url.path.as_ref().map(|p| p.display().to_string()))
            .unwrap_or_default(),
    }
}

fn lock(c: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

impl Db {
    /// Connects to `url`. A SQLite file must exist (use [`Db::open_sqlite`] to create one).
    pub fn connect(url: &DbUrl) -> Result<Db> {
        match url.engine {
            Engine::Sqlite => {
                let path = url
                    .path
                    .as_deref()
                    .ok_or_else(|| DbError::Invalid("the SQLite URL names no file".into()))?;
                Db::open_sqlite(path, false)
            }
            Engine::Postgres => {
                let mut o = PgConnectOptions::new_without_pgpass()
                    .host(&url.host)
                    .port(url.port.unwrap_or(5432))
                    .username(url.user.as_deref().unwrap_or("postgres"))
                    .database(url.database.as_deref().unwrap_or("postgres"))
                    .application_name("osips");
                if let Some(p) = &url.password {
                    o = o.password(p);
                }
                let ctx = err_ctx(url);
                // One direct attempt first: the pool would retry a refused connection until
                // its timeout, the user wants to know at once.
                rt().block_on(async {
                    let c = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&o))
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)??;
                    c.close().await
                })
                .map_err(|e| Failure::Sqlx(e).classify(&ctx))?;
                let _in_runtime = rt().enter();
                let pool = PgPoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .min_connections(0)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(o);
                Ok(Db {
                    url: url.clone(),
                    backend: Backend::Pg(pool),
                    pg_types: Default::default(),
                })
            }
            Engine::Mysql => {
                let mut o = MySqlConnectOptions::new()
                    .host(&url.host)
                    .port(url.port.unwrap_or(3306))
                    .username(url.user.as_deref().unwrap_or("root"))
                    .charset("utf8mb4");
                if let Some(p) = &url.password {
                    o = o.password(p);
                }
                if let Some(d) = &url.database {
                    o = o.database(d);
                }
                let ctx = err_ctx(url);
                rt().block_on(async {
                    let c =
                        tokio::time::timeout(CONNECT_TIMEOUT, MySqlConnection::connect_with(&o))
                            .await
                            .map_err(|_| sqlx::Error::PoolTimedOut)??;
                    c.close().await
                })
                .map_err(|e| Failure::Sqlx(e).classify(&ctx))?;
                let _in_runtime = rt().enter();
                let pool = MySqlPoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .min_connections(0)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(o);
                Ok(Db {
                    url: url.clone(),
                    backend: Backend::My(pool),
                    pg_types: Default::default(),
                })
            }
        }
    }

    /// Connects as the rc file's read-write user (`DBENGINE`, `DB_PATH` / `DBHOST`, `DBPORT`,
    /// `DBNAME`, `DBRWUSER`, `DBRWPW`, or `DBURL`).
    pub fn connect_rc(rc: &crate::ctlrc::Rc) -> Result<Db> {
        let url = rc.db_url().map_err(|e| DbError::Invalid(e.to_string()))?;
        Db::connect(&url)
    }

    /// Opens a SQLite file; with `create`, makes the file (and its parent folder) when missing.
    pub fn open_sqlite(path: &Path, create: bool) -> Result<Db> {
        use rusqlite::OpenFlags as F;
        let shown = path.display().to_string();
        if !create && !path.exists() {
            return Err(DbError::DatabaseMissing(shown));
        }
        if create && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                DbError::PermissionDenied(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
        let mut flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_URI;
        if create {
            flags |= F::SQLITE_OPEN_CREATE;
        }
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| from_sqlite(e, &shown))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| from_sqlite(e, &shown))?;
        // A file that is not a database only fails on first read.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| from_sqlite(e, &shown))?;
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(|e| from_sqlite(e, &shown))?;
        Ok(Db {
            url: DbUrl::sqlite(path),
            backend: Backend::Sqlite(Mutex::new(conn)),
            pg_types: Default::default(),
        })
    }

    pub fn engine(&self) -> Engine {
        self.url.engine
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    pub(crate) fn ctx(&self) -> ErrCtx {
        err_ctx(&self.url)
    }

    fn sqlite_err(&self, e: rusqlite::Error) -> DbError {
        from_sqlite(e, &self.url.target())
    }

    /// Runs one statement with `?` placeholders; returns the number of rows changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let sql = sql::placeholders(sql, self.engine());
        match &self.backend {
            Backend::Sqlite(c) => {
                sqlite::execute(&lock(c), &sql, params).map_err(|e| self.sqlite_err(e))
            }
            Backend::Pg(pool) => rt()
                .block_on(async {
                    let mut conn = pool.acquire().await?;
                    pg::execute(&mut conn, &self.pg_types, &sql, params).await
                })
                .map_err(|f| f.classify(&self.ctx())),
            Backend::My(pool) => rt()
                .block_on(async {
                    let mut conn = pool.acquire().await?;
                    mysql::execute(&mut conn, &sql, params).await
                })
                .map_err(|f| f.classify(&self.ctx())),
        }
    }

    /// Runs one query with `?` placeholders; returns every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let sql = sql::placeholders(sql, self.engine());
        match &self.backend {
            Backend::Sqlite(c) => {
                sqlite::query(&lock(c), &sql, params).map_err(|e| self.sqlite_err(e))
            }
            Backend::Pg(pool) => rt()
                .block_on(async {
                    let mut conn = pool.acquire().await?;
                    pg::query(&mut conn, &self.pg_types, &sql, params).await
                })
                .map_err(|f| f.classify(&self.ctx())),
            Backend::My(pool) => rt()
                .block_on(async {
                    let mut conn = pool.acquire().await?;
                    mysql::query(&mut conn, &sql, params).await
                })
                .map_err(|f| f.classify(&self.ctx())),
        }
    }

    /// The first row, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs `f` in one transaction: committed when it returns Ok, rolled back otherwise.
    /// (MySQL commits DDL statements implicitly; PostgreSQL and SQLite roll DDL back too.)
    pub fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let inner = match &self.backend {
            Backend::Sqlite(c) => {
                let g = lock(c);
                g.execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| self.sqlite_err(e))?;
                TxInner::Sqlite(g)
            }
            Backend::Pg(pool) => TxInner::Pg(
                rt().block_on(pool.begin())
                    .map_err(|e| Failure::Sqlx(e).classify(&self.ctx()))?,
            ),
            Backend::My(pool) => TxInner::My(
                rt().block_on(pool.begin())
                    .map_err(|e| Failure::Sqlx(e).classify(&self.ctx()))?,
            ),
        };
        let mut tx = Tx { db: self, inner };
        let out = f(&mut tx);
        let Tx { inner, .. } = tx;
        match (&out, inner) {
            (Ok(_), TxInner::Sqlite(g)) => {
                g.execute_batch("COMMIT").map_err(|e| self.sqlite_err(e))?
            }
            (Err(_), TxInner::Sqlite(g)) => {
                let _ = g.execute_batch("ROLLBACK");
            }
            (Ok(_), TxInner::Pg(t)) => rt()
                .block_on(t.commit())
                .map_err(|e| Failure::Sqlx(e).classify(&self.ctx()))?,
            (Err(_), TxInner::Pg(t)) => {
                let _ = rt().block_on(t.rollback());
            }
            (Ok(_), TxInner::My(t)) => rt()
                .block_on(t.commit())
                .map_err(|e| Failure::Sqlx(e).classify(&self.ctx()))?,
            (Err(_), TxInner::My(t)) => {
                let _ = rt().block_on(t.rollback());
            }
        }
        out
    }

    /// Closes the server connections now (before the database is dropped, for instance).
    pub fn close(self) {
        match self.backend {
            Backend::Sqlite(_) => {}
            Backend::Pg(p) => rt().block_on(p.close()),
            Backend::My(p) => rt().block_on(p.close()),
        }
    }
}

enum TxInner<'a> {
    Sqlite(MutexGuard<'a, rusqlite::Connection>),
    Pg(sqlx::Transaction<'static, Postgres>),
    My(sqlx::Transaction<'static, MySql>),
}

/// An open transaction (see [`Db::transaction`]).
pub struct Tx<'a> {
    db: &'a Db,
    inner: TxInner<'a>,
}

impl Tx<'_> {
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let sql = sql::placeholders(sql, self.db.engine());
        let db = self.db;
        match &mut self.inner {
            TxInner::Sqlite(c) => sqlite::execute(c, &sql, params).map_err(|e| db.sqlite_err(e)),
            TxInner::Pg(t) => rt()
                .block_on(pg::execute(t, &db.pg_types, &sql, params))
                .map_err(|f| f.classify(&db.ctx())),
            TxInner::My(t) => rt()
                .block_on(mysql::execute(t, &sql, params))
                .map_err(|f| f.classify(&db.ctx())),
        }
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let sql = sql::placeholders(sql, self.db.engine());
        let db = self.db;
        match &mut self.inner {
            TxInner::Sqlite(c) => sqlite::query(c, &sql, params).map_err(|e| db.sqlite_err(e)),
            TxInner::Pg(t) => rt()
                .block_on(pg::query(t, &db.pg_types, &sql, params))
                .map_err(|f| f.classify(&db.ctx())),
            TxInner::My(t) => rt()
                .block_on(mysql::query(t, &sql, params))
                .map_err(|f| f.classify(&db.ctx())),
        }
    }
}

impl From<Failure> for DbError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Db(e) => e,
            Failure::Sqlx(e) => DbError::Sql(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_is_shareable_between_worker_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Db>();
    }

    #[test]
    fn sqlite_handle_works_from_several_threads() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.sqlite"), true).unwrap();
        db.execute("CREATE TABLE t (n INTEGER)", &[]).unwrap();
        std::thread::scope(|s| {
            for i in 0..4 {
                let db = &db;
                s.spawn(move || {
                    db.execute("INSERT INTO t (n) VALUES (?)", &[Value::Int(i)])
                        .unwrap()
                });
            }
        });
        assert_eq!(db.query("SELECT n FROM t", &[]).unwrap().len(), 4);
        assert!(matches!(
            Db::open_sqlite(&dir.path().join("missing.sqlite"), false),
            Err(DbError::DatabaseMissing(_))
        ));
    }
}
