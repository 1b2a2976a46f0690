//! Runs every module's SQLite DDL in an in-memory database and checks what SQLite reports
//! (PRAGMA table_info / index_list / index_info) against the definition.

use rusqlite::Connection;

use super::{Engine, LEGACY_RELEASES, Schema, current, legacy};

fn create_all(schema: &Schema) -> Connection {
    let db = Connection::open_in_memory().unwrap();
    for m in &schema.modules {
        for stmt in m.create_sql(Engine::Sqlite) {
            db.execute_batch(&stmt)
                .unwrap_or_else(|e| panic!("{} {}: {e}\n{stmt}", schema.release, m.name));
        }
    }
    db
}

fn check(schema: &Schema) {
    let db = create_all(schema);
    for t in schema.tables() {
        let mut q = db
            .prepare(&format!("PRAGMA table_info({})", t.name))
            .unwrap();
        let cols: Vec<(String, String, bool, Option<String>, i64)> = q
            .query_map([], |r| {
                Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(cols.len(), t.columns.len(), "{}: column count", t.name);
        for (c, (name, ty, not_null, dflt, pk)) in t.columns.iter().zip(cols) {
            let at = format!("{}.{}", t.name, c.name);
            assert_eq!(name, c.name, "{at}");
            let want_ty = if c.auto_increment {
                "INTEGER".to_string()
            } else {
                c.ty.sql(Engine::Sqlite)
            };
            assert_eq!(ty, want_ty, "{at}: type");
            assert_eq!(not_null, c.not_null, "{at}: not null");
            assert_eq!(dflt, c.default.as_ref().map(|d| d.sql()), "{at}: default");
            assert_eq!(pk != 0, c.primary_key, "{at}: primary key");
        }

        let mut q = db
            .prepare(&format!("PRAGMA index_list({})", t.name))
            .unwrap();
        let idx: Vec<(String, bool, String)> = q
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for i in &t.indexes {
            let name = t.index_name(i, Engine::Sqlite);
            // UNIQUE constraints show up as sqlite_autoindex_<table>_N; find them by columns.
            let found = idx.iter().find(|(n, unique, origin)| {
                *unique == i.unique
                    && (n == &name || (i.unique && origin == "u"))
                    && index_columns(&db, n) == i.columns
            });
            assert!(
                found.is_some(),
                "{}: index {name} missing in {idx:?}",
                t.name
            );
        }
        let expected = t.indexes.len();
        let real = idx.iter().filter(|(_, _, origin)| origin != "pk").count();
        assert_eq!(real, expected, "{}: index count {idx:?}", t.name);

        let version: Option<u32> = db
            .query_row(
                "SELECT table_version FROM version WHERE table_name = ?1",
                [&t.name],
                |r| r.get(0),
            )
            .ok();
        if t.name == "version" {
            assert_eq!(version, None);
        } else {
            assert_eq!(version, Some(t.version), "{}: version row", t.name);
        }
    }
}

fn index_columns(db: &Connection, index: &str) -> Vec<String> {
    let mut q = db
        .prepare(&format!("PRAGMA index_info(\"{index}\")"))
        .unwrap();
    q.query_map([], |r| r.get(2))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn current_schema_creates_on_sqlite_as_defined() {
    check(current());
}

#[test]
fn legacy_schemas_create_on_sqlite_as_defined() {
    for r in LEGACY_RELEASES {
        check(legacy(r).unwrap());
    }
}

#[test]
fn drop_sql_removes_every_table() {
    let schema = current();
    let db = create_all(schema);
    for m in schema.modules.iter().rev() {
        for stmt in m.drop_sql(Engine::Sqlite) {
            db.execute_batch(&stmt).unwrap();
        }
    }
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}
