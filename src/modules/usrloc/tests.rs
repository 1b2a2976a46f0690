use super::*;
use crate::db::{Db, Engine};

fn sqlite_url(dir: &std::path::Path) -> String {
    let path = dir.join("ul.sqlite");
    let db = Db::open_sqlite(&path, true).unwrap();
    let t = crate::db::schema::current().table("location").unwrap();
    for stmt in t.create_sql(Engine::Sqlite) {
        db.execute(&stmt, &[]).unwrap();
    }
    format!("sqlite://{}", path.display())
}

fn cfg(mode: DbMode, url: Option<String>) -> Config {
    Config {
        db_mode: mode,
        db_url: url,
        use_domain: true,
        hash_bits: 4,
        ..Config::default()
    }
}

fn ci(contact: &str, expires: i64) -> ContactInfo<'_> {
    ContactInfo {
        contact,
        callid: "cid",
        user_agent: "test",
        expires,
        q: Q_UNSPECIFIED,
        cseq: 1,
        methods: ALL_METHODS,
        last_modified: now(),
        ..ContactInfo::default()
    }
}

fn contacts(d: &Domain, aor: &str) -> Vec<String> {
    d.with_record(aor, |r| {
        r.map(|r| r.contacts.iter().map(|c| c.contact().to_string()).collect())
            .unwrap_or_default()
    })
    .unwrap()
}

#[test]
fn memory_table_inserts_updates_deletes_and_expires() {
    let ul = Usrloc::new(cfg(DbMode::None, None), None).unwrap();
    let d = ul.domain("location").unwrap();
    let t = now();
    {
        let mut g = d.lock("alice@x", true).unwrap();
        g.insert(&ci("sip:alice@127.0.0.2", t + 100)).unwrap();
        let mut best = ci("sip:alice@127.0.0.3", t + 100);
        best.q = 900;
        g.insert(&best).unwrap();
        g.insert(&ci("sip:alice@127.0.0.4", t - 1)).unwrap();
    }
    assert_eq!(d.users(), 1);
    assert_eq!(d.contact_count(), 3);
    assert_eq!(
        contacts(&d, "alice@x")[0],
        "sip:alice@127.0.0.3",
        "highest q first"
    );
    assert_eq!(d.expire(t).unwrap(), 1);
    assert_eq!(d.contact_count(), 2);
    assert_eq!(d.expired_count(), 1);
    {
        let mut g = d.lock("alice@x", true).unwrap();
        let id = g.contacts()[1].contact_id;
        let mut upd = ci("sip:alice@127.0.0.2", t + 200);
        upd.cseq = 2;
        g.update(id, &upd).unwrap();
        assert_eq!(
            g.contacts()
                .iter()
                .find(|c| c.contact_id == id)
                .unwrap()
                .cseq,
            2
        );
        g.delete_all().unwrap();
    }
    assert_eq!(d.users(), 0);
    assert!(contacts(&d, "alice@x").is_empty());
    assert_eq!(d.expire(t + 1000).unwrap(), 0);
}

#[test]
fn write_through_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let t = now();
    {
        let ul = Usrloc::new(cfg(DbMode::WriteThrough, Some(url.clone())), None).unwrap();
        let d = ul.domain("location").unwrap();
        for i in 0..20 {
            let aor = format!("u{i}@x");
            let c = format!("sip:u{i}@127.0.0.2");
            d.lock(&aor, true)
                .unwrap()
                .insert(&ci(&c, t + 300))
                .unwrap();
        }
        let mut g = d.lock("mem@x", false).unwrap();
        g.insert(&ci("sip:mem@127.0.0.2", t + 300)).unwrap();
        drop(g);
        let mut g = d.lock("u0@x", true).unwrap();
        let id = g.contacts()[0].contact_id;
        g.delete(id).unwrap();
    }
    let ul = Usrloc::new(cfg(DbMode::WriteThrough, Some(url)), None).unwrap();
    let d = ul.domain("location").unwrap();
    assert_eq!(d.users(), 19, "memory-only contacts are not written");
    assert_eq!(contacts(&d, "u7@x"), vec!["sip:u7@127.0.0.2"]);
    assert!(contacts(&d, "u0@x").is_empty());
}

#[test]
fn write_back_writes_at_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let t = now();
    let ul = Usrloc::new(cfg(DbMode::WriteBack, Some(url.clone())), None).unwrap();
    let d = ul.domain("location").unwrap();
    d.lock("a@x", true)
        .unwrap()
        .insert(&ci("sip:a@127.0.0.2", t + 300))
        .unwrap();
    let fresh = || {
        let ul2 = Usrloc::new(cfg(DbMode::WriteBack, Some(url.clone())), None).unwrap();
        let d2 = ul2.domain("location").unwrap();
        d2.users()
    };
    assert_eq!(fresh(), 0, "nothing written before the flush");
    assert_eq!(d.flush().unwrap(), 1);
    assert_eq!(fresh(), 1);
    assert_eq!(
        d.flush().unwrap(),
        0,
        "synced contacts are not written again"
    );
    let mut g = d.lock("a@x", true).unwrap();
    let id = g.contacts()[0].contact_id;
    g.delete(id).unwrap();
    drop(g);
    assert_eq!(d.flush().unwrap(), 1);
    assert_eq!(fresh(), 0);
}

#[test]
fn sql_only_reads_and_writes_the_table_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let t = now();
    let a = Usrloc::new(cfg(DbMode::SqlOnly, Some(url.clone())), None).unwrap();
    let b = Usrloc::new(cfg(DbMode::SqlOnly, Some(url)), None).unwrap();
    let da = a.domain("location").unwrap();
    let db = b.domain("location").unwrap();
    da.lock("bob@x", true)
        .unwrap()
        .insert(&ci("sip:bob@127.0.0.2", t + 300))
        .unwrap();
    assert_eq!(
        contacts(&db, "bob@x"),
        vec!["sip:bob@127.0.0.2"],
        "the other node sees it"
    );
    db.lock("bob@x", true).unwrap().delete_all().unwrap();
    assert!(contacts(&da, "bob@x").is_empty());
    assert_eq!(da.aors().unwrap().len(), 0);
}

#[test]
fn a_failed_write_through_changes_nothing_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let ul = Usrloc::new(cfg(DbMode::WriteThrough, Some(url)), None).unwrap();
    let d = ul.domain("location").unwrap();
    ul.ctx
        .store
        .as_ref()
        .unwrap()
        .db()
        .execute("DROP TABLE location", &[])
        .unwrap();
    let r = d
        .lock("c@x", true)
        .unwrap()
        .insert(&ci("sip:c@127.0.0.2", now() + 100));
    assert!(matches!(r, Err(UlError::Db(_))), "{r:?}");
    assert!(contacts(&d, "c@x").is_empty());
    assert_eq!(d.users(), 0);
}

#[test]
fn config_reads_presets_and_refuses_bad_values() {
    let mut p = ModParams::default();
    p.0.insert(
        "working_mode_preset".into(),
        vec![ParamValue::Str("sql-only".into())],
    );
    p.0.insert(
        "db_url".into(),
        vec![ParamValue::Str("sqlite:///tmp/x".into())],
    );
    assert_eq!(Config::from_params(&p).unwrap().db_mode, DbMode::SqlOnly);
    p.0.insert("db_mode".into(), vec![ParamValue::Int(2)]);
    assert_eq!(Config::from_params(&p).unwrap().db_mode, DbMode::WriteBack);
    p.0.insert("db_mode".into(), vec![ParamValue::Int(7)]);
    assert!(Config::from_params(&p).is_err());
    let mut q = ModParams::default();
    q.0.insert("db_mode".into(), vec![ParamValue::Int(1)]);
    assert!(
        Config::from_params(&q).unwrap_err().contains("db_url"),
        "a database mode without db_url"
    );
    let mut r = ModParams::default();
    r.0.insert("hash_size".into(), vec![ParamValue::Int(40)]);
    assert!(Config::from_params(&r).is_err());
}

#[test]
fn memory_per_contact_stays_small() {
    let ul = Usrloc::new(cfg(DbMode::None, None), None).unwrap();
    let d = ul.domain("location").unwrap();
    let t = now();
    let c = "sip:user000000@127.0.0.2:5060;transport=udp";
    let mut g = d.lock("user000000@example.com", true).unwrap();
    g.insert(&ContactInfo {
        callid: "a84b4c76e66710-1234567890@127.0.0.2",
        user_agent: "Linphone/5.2.0 (belle-sip/5.2.0)",
        socket: Some("udp:127.0.0.1:5060"),
        received: Some("sip:127.0.0.2:40000"),
        ..ci(c, t + 3600)
    })
    .unwrap();
    let heap = g.contacts()[0].heap_size();
    let inline = std::mem::size_of::<Ucontact>() + std::mem::size_of::<Urecord>();
    assert!(heap + inline < 512, "heap {heap} + inline {inline}");
}

#[test]
fn the_aor_key_value_store_lives_with_the_record() {
    let ul = Usrloc::new(cfg(DbMode::None, None), None).unwrap();
    let d = ul.domain("location").unwrap();
    {
        let mut g = d.lock("kv@x", true).unwrap();
        g.insert(&ci("sip:kv@127.0.0.2", now() + 100)).unwrap();
        g.set_key("tier", "gold");
        g.set_key("tier", "silver");
    }
    {
        let mut g = d.lock("kv@x", false).unwrap();
        assert_eq!(g.key("tier"), Some("silver"));
        assert!(g.del_key("tier"));
        assert!(!g.del_key("tier"));
        assert_eq!(g.key("tier"), None);
        g.set_key("a", "1");
        g.delete_all().unwrap();
    }
    // The record went with its last contact, keys included.
    let g = d.lock("kv@x", false).unwrap();
    assert_eq!(g.key("a"), None);
}
