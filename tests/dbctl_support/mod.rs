//! A throw-away osipsdbctl set-up per test on one engine: an rc file naming a unique database
//! and read-write user, the binary, and library connections to look at the result.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use osips::db::schema::{self, ColumnType, IntKind, Table};
use osips::db::{Db, DbUrl, Engine, Value, admin};

#[path = "../common/mod.rs"]
mod common;

pub use common::unique_name;

pub struct Env {
    pub engine: Engine,
    pub dir: tempfile::TempDir,
    pub rc: PathBuf,
    /// Database name (server) or SQLite file.
    pub db: String,
    pub rw_user: String,
    pub rw_password: String,
    server: Option<DbUrl>,
    extra_rc: String,
    cleanup: std::cell::RefCell<Vec<String>>,
}

impl Env {
    pub fn new(engine: Engine) -> Option<Env> {
        Env::with_rc(engine, "")
    }

    /// `extra` is appended to the rc file (e.g. `INSTALL_EXTRA_TABLES=yes`).
    pub fn with_rc(engine: Engine, extra: &str) -> Option<Env> {
        let server = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(DbUrl::parse(&common::pgsql_admin_url()?).unwrap()),
            Engine::Mysql => Some(DbUrl::parse(&common::mysql_admin_url()?).unwrap()),
        };
        let dir = tempfile::tempdir().unwrap();
        let name = unique_name("osdb");
        let db = match engine {
            Engine::Sqlite => dir
                .path()
                .join("data")
                .join(format!("{name}.sqlite"))
                .display()
                .to_string(),
            _ => name.clone(),
        };
        let env = Env {
            engine,
            rc: dir.path().join("osipsctlrc"),
            dir,
            db,
            rw_user: unique_name("osrw"),
            rw_password: "rw 'secret' pässword".into(),
            server,
            extra_rc: extra.to_string(),
            cleanup: Default::default(),
        };
        env.write_rc("");
        Some(env)
    }

    /// Rewrites the rc file with `more` appended.
    pub fn write_rc(&self, more: &str) {
        let mut rc = String::from(
            "# written by the osipsdbctl tests\nINSTALL_EXTRA_TABLES=no\nINSTALL_PRESENCE_TABLES=no\n",
        );
        match &self.server {
            None => {
                rc.push_str("DBENGINE=SQLITE\n");
                rc.push_str(&format!("DB_PATH=\"{}\"\n", self.db));
            }
            Some(url) => {
                rc.push_str(&format!(
                    "DBENGINE={}\n",
                    if self.engine == Engine::Postgres {
                        "PGSQL"
                    } else {
                        "MYSQL"
                    }
                ));
                rc.push_str(&format!("DBHOST={}\n", url.host));
                rc.push_str(&format!("DBPORT={}\n", url.port.unwrap()));
                rc.push_str(&format!("DBNAME={}\n", self.db));
                rc.push_str(&format!("DBRWUSER={}\n", self.rw_user));
                rc.push_str("DBRWPW='rw '\\''secret'\\'' pässword'\n");
                rc.push_str(&format!("DBROOTUSER={}\n", url.user.clone().unwrap()));
                rc.push_str(&format!(
                    "export DBROOTPW='{}'\n",
                    url.password.clone().unwrap()
                ));
            }
        }
        rc.push_str(&self.extra_rc);
        rc.push('\n');
        rc.push_str(more);
        rc.push('\n');
        std::fs::write(&self.rc, rc).unwrap();
    }

    /// The binary with `--rc` and a clean environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("osipsdbctl").unwrap();
        for v in [
            "OSIPSCTLRC",
            "osipsctlrc",
            "PW",
            "PGPASSWORD",
            "DBENGINE",
            "DBNAME",
            "DB_PATH",
            "DBURL",
            "DBHOST",
            "DBPORT",
            "DBRWUSER",
            "DBRWPW",
            "DBROOTUSER",
            "DBROOTPW",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", self.dir.path());
        c.arg("--rc").arg(&self.rc);
        c.timeout(std::time::Duration::from_secs(300));
        c
    }

    /// Runs the binary; returns (exit code, stdout, stderr) and fails on a panic.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !se.contains("panicked"),
            "osipsdbctl {args:?} panicked: {se}"
        );
        (out.status.code().unwrap_or(-1), so, se)
    }

    /// Runs and asserts the exit code.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0).0
    }

    pub fn expect(&self, args: &[&str], code: i32) -> (String, String) {
        let (c, so, se) = self.run(args);
        assert_eq!(
            c, code,
            "osipsdbctl {args:?}: exit {c}\nstdout: {so}\nstderr: {se}"
        );
        if code != 0 && code != 8 && !args.contains(&"--json") {
            assert_eq!(se.trim().lines().count(), 1, "error must be one line: {se}");
        }
        (so, se)
    }

    /// The other database name (or file) `copy` writes to.
    pub fn other(&self, tag: &str) -> String {
        let n = format!("{}_{tag}", unique_name("osdb"));
        let name = match self.engine {
            Engine::Sqlite => self
                .dir
                .path()
                .join(format!("{n}.sqlite"))
                .display()
                .to_string(),
            _ => n,
        };
        self.cleanup.borrow_mut().push(name.clone());
        name
    }

    pub fn admin(&self) -> Db {
        Db::connect(self.server.as_ref().expect("server engine")).unwrap()
    }

    /// A superuser connection to `name` (or the test's database).
    pub fn open(&self, name: Option<&str>) -> Db {
        let name = name.unwrap_or(&self.db);
        match &self.server {
            None => Db::open_sqlite(Path::new(name), false).unwrap(),
            Some(u) => Db::connect(&u.with_database(Some(name))).unwrap(),
        }
    }

    /// Whether the test's database (or `name`) exists.
    pub fn exists(&self, name: Option<&str>) -> bool {
        let name = name.unwrap_or(&self.db);
        match &self.server {
            None => Path::new(name).exists(),
            Some(_) => {
                let a = self.admin();
                let r = admin::database_exists(&a, name).unwrap();
                a.close();
                r
            }
        }
    }

    pub fn user_exists(&self) -> bool {
        let a = self.admin();
        let r = admin::user_exists(&a, &self.rw_user).unwrap();
        a.close();
        r
    }

    /// Makes an empty database with a legacy schema's standard tables (and the rw user).
    pub fn build_legacy(&self, release: &str) {
        let legacy = schema::legacy(release).expect("legacy schema");
        let db = match &self.server {
            None => {
                std::fs::create_dir_all(Path::new(&self.db).parent().unwrap()).unwrap();
                Db::open_sqlite(Path::new(&self.db), true).unwrap()
            }
            Some(_) => {
                let a = self.admin();
                admin::create_database(&a, &self.db).unwrap();
                admin::ensure_user(&a, &self.rw_user, &self.rw_password).unwrap();
                a.close();
                self.open(None)
            }
        };
        for m in legacy.group(schema::Group::Standard) {
            for stmt in m.create_sql(self.engine) {
                db.execute(&stmt, &[])
                    .unwrap_or_else(|e| panic!("{stmt}: {e}"));
            }
        }
        if self.server.is_some() {
            let a = self.admin();
            admin::grant_all(&a, &db, &self.db, &self.rw_user).unwrap();
            a.close();
        }
        db.close();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.server.is_none() {
            return;
        }
        let Ok(a) = Db::connect(self.server.as_ref().unwrap()) else {
            return;
        };
        let mut names = vec![self.db.clone()];
        names.extend(self.cleanup.borrow().iter().cloned());
        for n in names {
            if admin::database_exists(&a, &n).unwrap_or(false) {
                let _ = admin::drop_database(&a, &n);
            }
        }
        let _ = admin::drop_user(&a, &self.rw_user);
        a.close();
    }
}

// ------------------------------------------------------------------ row generation

const SAMPLE: &str =
    "Zürich ünïcödé ✓ 日本語 🎉 'single' \"double\" back\\slash semi;colon -- comment %_ ";

fn text_of(n: usize, row: usize, col: usize) -> String {
    let seed = format!("r{row}c{col} ");
    let mut s = seed.clone();
    while s.chars().count() < n {
        s.push_str(SAMPLE);
        if row == 2 {
            s.push_str("line\nbreak\ttab\r\n");
        }
    }
    s.chars().take(n).collect::<String>().trim_end().to_string()
}

fn int_max(kind: IntKind, unsigned: bool) -> i64 {
    match (kind, unsigned) {
        (IntKind::Tiny, false) => 127,
        (IntKind::Tiny, true) => 255,
        (IntKind::Small, false) => 32767,
        (IntKind::Small, true) => 32767, // PostgreSQL SMALLINT has no unsigned range
        (IntKind::Normal, false) => 2147483647,
        (IntKind::Normal, true) => 2147483647,
        (IntKind::Big, _) => i64::MAX,
    }
}

/// A value for column `col` of row `row` (0: long text and large numbers, 1: NULL where
/// allowed, 2: control characters and small values).
fn value_for(t: &Table, ci: usize, row: usize) -> Value {
    let c = &t.columns[ci];
    if row == 1 && !c.not_null && !c.primary_key {
        return Value::Null;
    }
    if c.primary_key && c.ty.is_integer() {
        return Value::Int(row as i64 + 1);
    }
    match &c.ty {
        ColumnType::Int { kind, unsigned, .. } => {
            let max = int_max(*kind, *unsigned);
            Value::Int(match row {
                0 => max - ci as i64,
                1 => 0,
                _ if *unsigned => 1 + ci as i64,
                _ => -(1 + ci as i64),
            })
        }
        ColumnType::Char(n) => Value::Text(text_of((*n as usize).min(255), row, ci)),
        ColumnType::Text(_) | ColumnType::MediumText | ColumnType::LongText => {
            Value::Text(text_of(if row == 0 { 3000 } else { 40 }, row, ci))
        }
        ColumnType::Blob(_) | ColumnType::MediumBlob | ColumnType::LongBlob => {
            let len = if row == 0 { 3000 } else { 256 };
            Value::Blob((0..len).map(|i| ((i + row * 7 + ci) % 256) as u8).collect())
        }
        ColumnType::DateTime => Value::Text(
            [
                "2024-02-29 23:59:59",
                "1900-01-01 00:00:01",
                "2038-01-19 03:14:07",
            ][row % 3]
                .into(),
        ),
        ColumnType::Float(_) | ColumnType::Double => Value::Float([1.5, 0.25, -2.75][row % 3]),
    }
}

/// Inserts 3 rows into every table of the standard group (after the rows `create` made).
pub fn fill_standard(db: &Db) -> usize {
    let e = db.engine();
    let mut n = 0;
    for m in schema::current().group(schema::Group::Standard) {
        for t in &m.tables {
            if t.name == schema::VERSION_TABLE {
                continue;
            }
            for row in 0..3 {
                let cols: Vec<String> = t.columns.iter().map(|c| e.quote(&c.name)).collect();
                let vals: Vec<Value> = (0..t.columns.len())
                    .map(|ci| value_for(t, ci, row))
                    .collect();
                let marks = vec!["?"; cols.len()].join(", ");
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({marks})",
                    t.name,
                    cols.join(", ")
                );
                db.execute(&sql, &vals)
                    .unwrap_or_else(|err| panic!("{}: row {row}: {err}", t.name));
                n += 1;
            }
        }
    }
    n
}

/// Every row of every table, sorted, keyed by table.
pub fn snapshot(db: &Db) -> BTreeMap<String, Vec<Vec<Value>>> {
    let mut out = BTreeMap::new();
    for t in admin::list_tables(db).unwrap() {
        let cols: Vec<String> = admin::columns(db, &t)
            .unwrap()
            .into_iter()
            .map(|c| db.engine().quote(&c.name))
            .collect();
        let rows = db
            .query(
                &format!("SELECT {} FROM {}", cols.join(", "), db.engine().quote(&t)),
                &[],
            )
            .unwrap();
        let mut vals: Vec<Vec<Value>> = rows.into_iter().map(|r| r.values).collect();
        vals.sort_by_key(|a| format!("{a:?}"));
        out.insert(t, vals);
    }
    out
}
