//! osipsdbctl on each engine, through the real binary: every command, the backup/restore and
//! copy round trips, migration from OpenSIPS 2.4, the bad-input cases with their exit codes.
//! PostgreSQL and MariaDB come from scripts/test.sh (tests fail without them when CI is set).

mod dbctl_support;

use dbctl_support::{Env, fill_standard, snapshot};
use osips::db::schema::{self, ColumnType, Group, Table};
use osips::db::{Db, Engine, Value, admin};
use osips::dbctl::dump::Writer;
use osips::dbctl::exit;

/// Checks one live table against its definition: column names in order, NOT NULL, type family
/// and CHAR length.
fn assert_table_matches(db: &Db, t: &Table) {
    let live = admin::columns(db, &t.name).unwrap();
    let names: Vec<String> = live.iter().map(|c| c.name.to_ascii_lowercase()).collect();
    let want: Vec<String> = t
        .columns
        .iter()
        .map(|c| c.name.to_ascii_lowercase())
        .collect();
    assert_eq!(names, want, "columns of {}", t.name);
    for (l, c) in live.iter().zip(&t.columns) {
        let ty = l.data_type.to_ascii_lowercase();
        let ok = match &c.ty {
            ColumnType::Int { .. } => ty.contains("int") || ty.contains("serial"),
            ColumnType::Char(n) => ty.contains("char") && ty.contains(&format!("({n})")),
            ColumnType::Text(_) | ColumnType::MediumText | ColumnType::LongText => {
                ty.contains("text")
            }
            ColumnType::Blob(_) | ColumnType::MediumBlob | ColumnType::LongBlob => {
                ty.contains("blob") || ty.contains("bytea")
            }
            ColumnType::DateTime => ty.contains("datetime") || ty.contains("timestamp"),
            ColumnType::Float(_) | ColumnType::Double => {
                ty.contains("float") || ty.contains("real") || ty.contains("double")
            }
        };
        assert!(
            ok,
            "{}.{}: live type `{}` for {:?}",
            t.name, c.name, l.data_type, c.ty
        );
        // SQLite reports NOT NULL of an INTEGER PRIMARY KEY as declared; others always NOT NULL.
        if !c.primary_key {
            assert_eq!(l.not_null, c.not_null, "{}.{} NOT NULL", t.name, c.name);
        }
    }
}

fn versions(db: &Db) -> std::collections::HashMap<String, i64> {
    db.query("SELECT table_name, table_version FROM version", &[])
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0).to_text().unwrap(), r.get(1).as_i64().unwrap()))
        .collect()
}

fn create_has_every_table_of_the_definition(engine: Engine) {
    let Some(env) = Env::with_rc(
        engine,
        "INSTALL_EXTRA_TABLES=yes\nINSTALL_PRESENCE_TABLES=yes",
    ) else {
        return;
    };
    let out = env.ok(&["create"]);
    assert!(out.contains("created"), "{out}");
    env.ok(&["check"]);
    let db = env.open(None);
    let def = schema::current();
    let live = admin::list_tables(&db).unwrap();
    let want: Vec<&str> = def.tables().map(|t| t.name.as_str()).collect();
    for t in &want {
        assert!(
            live.iter().any(|l| l == t),
            "table {t} missing on {engine:?}"
        );
    }
    assert_eq!(live.len(), want.len(), "extra tables: {live:?}");
    let v = versions(&db);
    for t in def.tables() {
        assert_table_matches(&db, t);
        if t.name != schema::VERSION_TABLE {
            assert_eq!(
                v.get(&t.name),
                Some(&(t.version as i64)),
                "version of {}",
                t.name
            );
        }
    }
    db.close();
    if engine != Engine::Sqlite {
        assert!(env.user_exists(), "create makes the rw user");
        // The rw user can read and write every table (PostgreSQL needs explicit grants).
        let mut url = osips::ctlrc::Rc::load(Some(&env.rc))
            .unwrap()
            .db_url()
            .unwrap();
        url.database = Some(env.db.clone());
        let rw = Db::connect(&url).unwrap();
        rw.execute(
            "INSERT INTO subscriber (username, domain, password, ha1, ha1_sha256, ha1_sha512t256) VALUES (?, ?, ?, ?, ?, ?)",
            osips::params!["alice", "example.com", "", "h", "s", "t"],
        )
        .unwrap();
        assert_eq!(rw.query("SELECT id FROM subscriber", &[]).unwrap().len(), 1);
        rw.close();
    }
}

fn backup_drop_restore_keeps_every_row(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    let db = env.open(None);
    let n = fill_standard(&db);
    assert!(n > 60, "filled {n} rows");
    let before = snapshot(&db);
    db.close();
    let dump = env.dir.path().join("backup.dump");
    let out = env.ok(&["backup", dump.to_str().unwrap()]);
    assert!(out.contains("backed up"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dump).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the dump is private: {mode:o}");
    env.ok(&["drop", "--yes"]);
    assert!(!env.exists(None));
    env.ok(&["restore", dump.to_str().unwrap()]);
    let db = env.open(None);
    let after = snapshot(&db);
    db.close();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (t, rows) in &before {
        assert_eq!(rows, &after[t], "rows of {t} after restore");
    }
    env.ok(&["check"]);
    // New rows still get fresh ids after a restore (sequences follow the restored ids).
    let db = env.open(None);
    db.execute(
        "INSERT INTO domain (domain, attrs, accept_subdomain, last_modified) VALUES (?, ?, ?, ?)",
        osips::params!["new.example", None::<String>, 0, "2025-01-01 00:00:00"],
    )
    .unwrap();
    db.close();
}

fn copy_keeps_every_row(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    let db = env.open(None);
    fill_standard(&db);
    let before = snapshot(&db);
    db.close();
    let other = env.other("copy");
    env.ok(&["copy", &other]);
    let copy = env.open(Some(&other));
    assert_eq!(snapshot(&copy), before);
    copy.close();
    let src = env.open(None);
    assert_eq!(snapshot(&src), before, "the source is unchanged");
    src.close();
    // copy onto an existing database is refused
    env.expect(&["copy", &other], exit::EXISTS);
}

fn restore_needs_force_on_a_non_empty_database(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    let db = env.open(None);
    fill_standard(&db);
    let full = snapshot(&db);
    db.close();
    let dump = env.dir.path().join("full.dump");
    env.ok(&["backup", dump.to_str().unwrap()]);
    let db = env.open(None);
    db.execute("DELETE FROM subscriber WHERE id > ?", osips::params![1])
        .unwrap();
    let changed = snapshot(&db);
    db.close();
    let (_, err) = env.expect(&["restore", dump.to_str().unwrap()], exit::EXISTS);
    assert!(err.contains("--force"), "{err}");
    env.expect(
        &["restore", dump.to_str().unwrap(), "--force"],
        exit::NOT_CONFIRMED,
    );
    let db = env.open(None);
    assert_eq!(snapshot(&db), changed, "a refused restore changes nothing");
    db.close();
    env.ok(&["restore", "--force", "-y", dump.to_str().unwrap()]);
    let db = env.open(None);
    assert_eq!(snapshot(&db), full);
    db.close();
}

fn bad_dumps_are_refused_and_change_nothing(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    let db = env.open(None);
    fill_standard(&db);
    db.close();
    let dump = env.dir.path().join("good.dump");
    env.ok(&["backup", dump.to_str().unwrap()]);
    env.ok(&["drop", "-y"]);
    let good = std::fs::read(&dump).unwrap();
    let bad = env.dir.path().join("bad.dump");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'x' { b'y' } else { b'x' };
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("trailer cut", good[..good.len() - 1].to_vec()),
        ("damaged", flipped),
        ("empty", Vec::new()),
        ("garbage", b"DROP TABLE subscriber;\n".to_vec()),
    ] {
        std::fs::write(&bad, bytes).unwrap();
        let (_, err) = env.expect(&["restore", bad.to_str().unwrap()], exit::BAD_DUMP);
        assert!(err.contains("bad.dump"), "{what}: {err}");
        assert!(
            !env.exists(None),
            "{what}: a refused restore creates nothing"
        );
    }
    // A well-formed dump of another engine.
    let other = match engine {
        Engine::Sqlite => Engine::Postgres,
        _ => Engine::Sqlite,
    };
    let f = std::fs::File::create(&bad).unwrap();
    let mut w = Writer::new(f, other, "elsewhere", "3.6").unwrap();
    w.table("version", &["table_name".into(), "table_version".into()])
        .unwrap();
    w.row(&[Value::from("subscriber"), Value::Int(8)]).unwrap();
    w.end_table("version").unwrap();
    w.finish().unwrap();
    let (_, err) = env.expect(&["restore", bad.to_str().unwrap()], exit::BAD_DUMP);
    assert!(err.contains("made from a"), "{err}");
    assert!(!env.exists(None));
    // the good one still works
    env.ok(&["restore", dump.to_str().unwrap()]);
}

fn exists_missing_and_confirmation(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.expect(&["check"], exit::MISSING);
    env.expect(&["drop", "-y"], exit::MISSING);
    let dump = env.dir.path().join("x.dump");
    env.expect(&["backup", dump.to_str().unwrap()], exit::MISSING);
    assert!(!dump.exists(), "no backup file for a missing database");
    env.expect(&["add", "dialplan"], exit::MISSING);
    env.expect(&["migrate", "-y"], exit::MISSING);
    env.ok(&["create"]);
    let db = env.open(None);
    db.execute(
        "INSERT INTO domain (domain) VALUES (?)",
        osips::params!["keep.example"],
    )
    .unwrap();
    db.close();
    let (so, _) = env.expect(&["--json", "create"], exit::EXISTS);
    let v: serde_json::Value = serde_json::from_str(so.trim()).unwrap();
    assert_eq!(v["exit"], exit::EXISTS);
    assert_eq!(v["ok"], false);
    env.expect(&["drop"], exit::NOT_CONFIRMED);
    env.expect(&["reinit"], exit::NOT_CONFIRMED);
    let db = env.open(None);
    assert_eq!(
        db.query("SELECT domain FROM domain", &[]).unwrap().len(),
        1,
        "nothing dropped"
    );
    db.close();
    env.ok(&["reinit", "-y"]);
    let db = env.open(None);
    assert!(
        db.query("SELECT domain FROM domain", &[])
            .unwrap()
            .is_empty(),
        "reinit empties"
    );
    db.close();
    env.ok(&["check"]);
}

fn add_presence_and_extra(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    env.ok(&["add", "registrant"]);
    env.expect(&["add", "registrant"], exit::EXISTS);
    env.expect(&["add", "no_such_module"], exit::USAGE);
    env.ok(&["presence"]);
    env.expect(&["presence"], exit::EXISTS);
    // extra contains registrant, already there: refused as a whole, nothing added
    env.expect(&["extra"], exit::EXISTS);
    let db = env.open(None);
    let tables = admin::list_tables(&db).unwrap();
    assert!(tables.iter().any(|t| t == "registrant"));
    assert!(tables.iter().any(|t| t == "presentity"));
    assert!(
        !tables.iter().any(|t| t == "b2b_entities"),
        "a refused `extra` adds nothing"
    );
    db.close();
    env.ok(&["check"]);
}

fn unknown_engine_is_a_usage_error(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    env.write_rc("DBENGINE=informix");
    let (_, err) = env.expect(&["create"], exit::USAGE);
    assert!(err.contains("unknown database engine"), "{err}");
    env.write_rc("DBENGINE=ORACLE");
    env.expect(&["create"], exit::USAGE);
    env.write_rc("this is not an assignment");
    let (_, err) = env.expect(&["create"], exit::USAGE);
    assert!(err.contains("osipsctlrc:"), "{err}");
}

/// Loads every standard table of an older release with rows, migrates, and compares.
fn migrate_keeps_rows(engine: Engine, release: &str, expect: &[&str]) {
    let Some(env) = Env::new(engine) else { return };
    env.build_legacy(release);
    let legacy = schema::legacy(release).unwrap();
    let current = schema::current();
    let db = env.open(None);
    let v24 = release == "2.4";
    if v24 {
        db.execute(
            "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)",
            osips::params!["alice", "example.com", "secret", "a-ha1", "a-ha1b"],
        )
        .unwrap();
        db.execute(
            "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)",
            osips::params!["bob", "example.com", "", "b-ha1", "b-ha1b"],
        )
        .unwrap();
    }
    // every other table whose definition changed gets rows too
    let changed: Vec<&Table> = legacy
        .group(Group::Standard)
        .flat_map(|m| m.tables.iter())
        .filter(|t| {
            current
                .table(&t.name)
                .is_some_and(|c| c.version != t.version)
        })
        .collect();
    assert!(!changed.is_empty());
    let mut before = std::collections::BTreeMap::new();
    for t in &changed {
        if !(v24 && t.name == "subscriber") {
            dbctl_support_fill(&db, t);
        }
        before.insert(
            t.name.clone(),
            db.query(&format!("SELECT * FROM {}", t.name), &[]).unwrap(),
        );
    }
    db.close();
    env.expect(&["check"], exit::MISMATCH);
    env.expect(&["migrate"], exit::NOT_CONFIRMED);
    let out = env.ok(&["migrate", "--yes"]);
    for e in expect {
        assert!(out.contains(e), "{e}: {out}");
    }
    if v24 {
        assert!(out.contains("1 subscriber(s)"), "{out}");
    }
    env.ok(&["check"]);
    env.ok(&["migrate", "-y"]); // nothing left to do
    let db = env.open(None);
    let v = versions(&db);
    for t in &changed {
        let new = current.table(&t.name).unwrap();
        assert_eq!(v[&t.name], new.version as i64, "version of {}", t.name);
        let old_rows = &before[&t.name];
        let rows = db.query(&format!("SELECT * FROM {}", t.name), &[]).unwrap();
        assert_eq!(rows.len(), old_rows.len(), "rows of {}", t.name);
        for (o, n) in old_rows.iter().zip(&rows) {
            for c in &new.columns {
                if o.columns.iter().any(|oc| oc.eq_ignore_ascii_case(&c.name)) {
                    assert_eq!(
                        o.by_name(&c.name).to_text(),
                        n.by_name(&c.name).to_text(),
                        "{}.{}",
                        t.name,
                        c.name
                    );
                }
            }
        }
    }
    if !v24 {
        db.close();
        return;
    }
    let alice = db
        .query(
            "SELECT ha1, ha1_sha256, ha1_sha512t256 FROM subscriber WHERE username = ?",
            osips::params!["alice"],
        )
        .unwrap();
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(b"alice:example.com:secret"));
    assert_eq!(alice[0].get(0), &Value::from("a-ha1"));
    assert_eq!(alice[0].get(1), &Value::Text(want));
    assert_eq!(alice[0].get(2).as_str().unwrap().len(), 64);
    let bob = db
        .query(
            "SELECT ha1_sha256 FROM subscriber WHERE username = ?",
            osips::params!["bob"],
        )
        .unwrap();
    assert_eq!(bob[0].get(0), &Value::from(""));
    db.close();
}

/// Three rows into a legacy table, by its own definition.
fn dbctl_support_fill(db: &Db, t: &Table) {
    let e = db.engine();
    for row in 0..3i64 {
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for c in &t.columns {
            if c.auto_increment {
                continue;
            }
            cols.push(e.quote(&c.name));
            vals.push(match &c.ty {
                ColumnType::Int { .. } => Value::Int(row + 10),
                ColumnType::Char(n) => Value::Text(
                    format!("{}-{row}-ü", c.name)
                        .chars()
                        .take(*n as usize)
                        .collect(),
                ),
                ColumnType::Text(_) | ColumnType::MediumText | ColumnType::LongText => {
                    Value::Text(format!("text '{row}'"))
                }
                ColumnType::Blob(_) | ColumnType::MediumBlob | ColumnType::LongBlob => {
                    Value::Blob(vec![row as u8, 0, 255])
                }
                ColumnType::DateTime => Value::from("2020-05-28 21:32:15"),
                ColumnType::Float(_) | ColumnType::Double => Value::Float(0.5),
            });
        }
        let marks = vec!["?"; cols.len()].join(", ");
        db.execute(
            &format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                t.name,
                cols.join(", ")
            ),
            &vals,
        )
        .unwrap_or_else(|err| panic!("{}: {err}", t.name));
    }
}

fn version_help_and_flag_positions(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    let out = env.ok(&["version"]);
    assert!(out.contains("osipsdbctl") && out.contains("3.6"), "{out}");
    let help = env.ok(&["--help"]);
    for want in [
        "Exit codes",
        "Examples",
        "osipsctlrc",
        "--rc",
        "--yes",
        "--json",
        "migrate",
    ] {
        assert!(help.contains(want), "--help lacks {want}: {help}");
    }
    let out = env.ok(&["version", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ok"], true);
    env.ok(&["create", "--yes"]);
    let out = env.ok(&["check", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["issues"].as_array().unwrap().len(), 0);
    // --rc after the command name too
    let mut c = assert_cmd::Command::cargo_bin("osipsdbctl").unwrap();
    let out = c
        .args(["check", "--rc", env.rc.to_str().unwrap()])
        .env_remove("OSIPSCTLRC")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["-y", "drop"]);
    if engine == Engine::Sqlite {
        // the DBURL shortcut names the file
        let file = env.dir.path().join("by-url.sqlite");
        env.write_rc(&format!("DBURL=sqlite://{}", file.display()));
        env.ok(&["create"]);
        assert!(file.exists());
    }
}

macro_rules! engine_tests {
    ($($engine:ident => $e:expr),*) => {$(
        mod $engine {
            use super::*;
            #[test] fn create_has_every_table_of_the_definition() { super::create_has_every_table_of_the_definition($e) }
            #[test] fn backup_drop_restore_keeps_every_row() { super::backup_drop_restore_keeps_every_row($e) }
            #[test] fn copy_keeps_every_row() { super::copy_keeps_every_row($e) }
            #[test] fn restore_needs_force_on_a_non_empty_database() { super::restore_needs_force_on_a_non_empty_database($e) }
            #[test] fn bad_dumps_are_refused_and_change_nothing() { super::bad_dumps_are_refused_and_change_nothing($e) }
            #[test] fn exists_missing_and_confirmation() { super::exists_missing_and_confirmation($e) }
            #[test] fn add_presence_and_extra() { super::add_presence_and_extra($e) }
            #[test] fn unknown_engine_is_a_usage_error() { super::unknown_engine_is_a_usage_error($e) }
            #[test] fn migrate_from_2_4_keeps_rows() {
                super::migrate_keeps_rows($e, "2.4", &["subscriber 7→8", "domain 3→4", "dispatcher 8→9", "dialog 10→12"])
            }
            #[test] fn migrate_from_3_4_keeps_rows() { super::migrate_keeps_rows($e, "3.4", &["domain 3→4", "subscriber v8 (columns)", "subscriber.email_address"]) }
            #[test] fn version_help_and_flag_positions() { super::version_help_and_flag_positions($e) }
        }
    )*};
}

engine_tests!(sqlite => Engine::Sqlite, pgsql => Engine::Postgres, mysql => Engine::Mysql);
