//! The storage interface (`osips::db`) on each engine: typed values both ways, parameters,
//! transactions, introspection and typed errors.

mod dbctl_support;

use dbctl_support::Env;
use osips::db::{Db, DbError, DbUrl, Engine, Value, admin};

fn with_db(engine: Engine, f: impl FnOnce(&Env, &Db)) {
    let Some(env) = Env::new(engine) else { return };
    env.ok(&["create"]);
    let db = env.open(None);
    f(&env, &db);
    db.close();
}

fn values_round_trip(engine: Engine) {
    with_db(engine, |_, db| {
        let long: String = "ü'\"\\;–🎉\n".repeat(300);
        let blob: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        let n = db
            .execute(
                "INSERT INTO dialog (dlg_id, callid, from_uri, from_tag, to_uri, to_tag, caller_cseq, callee_cseq, \
                 caller_ping_cseq, callee_ping_cseq, caller_route_set, caller_sock, callee_sock, state, start_time, timeout, vars, script_flags) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    Value::Int(i64::MAX),
                    Value::from("call-'?'-id"),
                    "sip:a@b".into(),
                    "ft".into(),
                    "sip:c@d".into(),
                    "tt".into(),
                    // numbers into CHAR columns and text into INT columns are converted
                    Value::Int(17),
                    "18".into(),
                    Value::from("4294"),
                    Value::Int(5),
                    Value::Text(long.clone()),
                    "udp:127.0.0.1:5060".into(),
                    "udp:127.0.0.1:5060".into(),
                    Value::Int(4),
                    Value::Int(1_700_000_000),
                    Value::Int(0),
                    Value::Blob(blob.clone()),
                    Value::Null,
                ],
            )
            .unwrap();
        assert_eq!(n, 1);
        let rows = db
            .query(
                "SELECT dlg_id, callid, caller_cseq, callee_cseq, caller_ping_cseq, caller_route_set, vars, script_flags, '?' AS q \
                 FROM dialog WHERE callid = ? AND state = ?",
                &[Value::from("call-'?'-id"), Value::Int(4)],
            )
            .unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.get(0), &Value::Int(i64::MAX));
        assert_eq!(r.by_name("callid"), &Value::from("call-'?'-id"));
        assert_eq!(r.get(2), &Value::from("17"));
        assert_eq!(r.get(3), &Value::from("18"));
        assert_eq!(r.get(4), &Value::Int(4294));
        assert_eq!(r.get(5), &Value::Text(long));
        assert_eq!(r.get(6), &Value::Blob(blob));
        assert_eq!(r.get(7), &Value::Null);
        assert_eq!(r.get(8), &Value::from("?"));
        // date-times and floats
        db.execute(
            "INSERT INTO location (username, contact, expires, q, last_modified) VALUES (?, ?, ?, ?, ?)",
            osips::params!["alice", "sip:alice@127.0.0.1", 0, 0.5, "2024-02-29 23:59:58"],
        )
        .unwrap();
        let r = db
            .query_opt(
                "SELECT q, last_modified, contact_id FROM location WHERE username = ?",
                osips::params!["alice"],
            )
            .unwrap()
            .unwrap();
        assert_eq!(r.get(0), &Value::Float(0.5));
        assert_eq!(r.get(1), &Value::from("2024-02-29 23:59:58"));
        assert!(r.get(2).as_i64().unwrap() >= 1);
        assert!(
            db.query_opt(
                "SELECT 1 FROM location WHERE username = ?",
                osips::params!["nobody"]
            )
            .unwrap()
            .is_none()
        );
    });
}

fn transactions(engine: Engine) {
    with_db(engine, |_, db| {
        let count = |db: &Db| db.query("SELECT id FROM domain", &[]).unwrap().len();
        let r: Result<(), DbError> = db.transaction(|tx| {
            tx.execute(
                "INSERT INTO domain (domain) VALUES (?)",
                osips::params!["a.example"],
            )?;
            assert_eq!(tx.query("SELECT id FROM domain", &[])?.len(), 1);
            tx.execute(
                "INSERT INTO domain (domain) VALUES (?)",
                osips::params!["a.example"],
            )?; // unique
            Ok(())
        });
        assert!(matches!(r, Err(DbError::Constraint(_))), "{r:?}");
        assert_eq!(count(db), 0, "rolled back");
        db.transaction(|tx| {
            tx.execute(
                "INSERT INTO domain (domain) VALUES (?)",
                osips::params!["b.example"],
            )?;
            tx.execute(
                "INSERT INTO domain (domain) VALUES (?)",
                osips::params!["c.example"],
            )?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        assert_eq!(count(db), 2, "committed");
        assert_eq!(
            db.execute(
                "UPDATE domain SET attrs = ? WHERE domain <> ?",
                osips::params!["x", "b.example"]
            )
            .unwrap(),
            1
        );
    });
}

fn introspection_and_errors(engine: Engine) {
    with_db(engine, |env, db| {
        let tables = admin::list_tables(db).unwrap();
        assert!(tables.contains(&"subscriber".to_string()));
        let cols = admin::columns(db, "subscriber").unwrap();
        assert_eq!(cols[1].name, "username");
        assert!(cols[1].not_null);
        assert!(admin::columns(db, "no_such_table").unwrap().is_empty());
        let e = db.query("SELECT * FROM no_such_table", &[]).unwrap_err();
        assert!(matches!(e, DbError::TableMissing(_)), "{e:?}");
        let e = db
            .execute(
                "INSERT INTO domain (domain) VALUES (?, ?)",
                osips::params!["a"],
            )
            .unwrap_err();
        assert!(!matches!(e, DbError::Unreachable { .. }), "{e:?}");
        // a database that does not exist
        let e = match engine {
            Engine::Sqlite => Db::connect(&DbUrl::sqlite(env.dir.path().join("none.sqlite")))
                .err()
                .unwrap(),
            _ => {
                let mut u = DbUrl::parse(&env.admin().url().to_url_string()).unwrap();
                u.database = Some("osips_no_such_db".into());
                Db::connect(&u).err().unwrap()
            }
        };
        assert!(matches!(e, DbError::DatabaseMissing(_)), "{e:?}");
        // a file that is not a database
        if engine == Engine::Sqlite {
            let f = env.dir.path().join("text.sqlite");
            std::fs::write(
                &f,
                "hello, this is not SQLite, but long enough to have a header...........",
            )
            .unwrap();
            assert!(Db::open_sqlite(&f, false).is_err());
        }
    });
}

macro_rules! engine_tests {
    ($($engine:ident => $e:expr),*) => {$(
        mod $engine {
            use super::*;
            #[test] fn values_round_trip() { super::values_round_trip($e) }
            #[test] fn transactions() { super::transactions($e) }
            #[test] fn introspection_and_errors() { super::introspection_and_errors($e) }
        }
    )*};
}

engine_tests!(sqlite => Engine::Sqlite, pgsql => Engine::Postgres, mysql => Engine::Mysql);
