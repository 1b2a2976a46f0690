//! The presence tables in the database (`presentity`, `active_watchers`, `watchers`), with the
//! columns and version numbers of OpenSIPS 3.x. Table names come from modparams (checked and
//! quoted); values are always parameters.

use std::sync::Arc;

use crate::db::{Db, Value};

use super::pres::Publication;
use super::subs::{DialogKey, Status, Subscription};

/// A watcher of a presentity for an event (a `watchers` row's key).
pub struct Watcher<'a> {
    pub pres_uri: &'a str,
    pub user: &'a str,
    pub domain: &'a str,
    pub event: &'a str,
}

pub struct Store {
    pub db: Arc<Db>,
    presentity: String,
    active_watchers: String,
    watchers: String,
}

fn text(v: &Value) -> String {
    v.to_text().unwrap_or_default()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn i(n: impl Into<i64>) -> Value {
    Value::Int(n.into())
}

const SUBS_COLS: &str = "presentity_uri, watcher_username, watcher_domain, to_user, to_domain, \
    event, event_id, to_tag, from_tag, callid, local_cseq, remote_cseq, contact, record_route, \
    expires, status, reason, version, socket_info, local_contact";

const PRES_COLS: &str = "username, domain, event, etag, expires, received_time, body, sender";

impl Store {
    /// `names`: the presentity, active_watchers and watchers table names.
    pub fn new(db: Arc<Db>, names: [&str; 3]) -> Result<Store, String> {
        let q = |what: &str, n: &str| crate::modules::auth_db::db::ident(&db, what, n);
        Ok(Store {
            presentity: q("presentity_table", names[0])?,
            active_watchers: q("active_watchers_table", names[1])?,
            watchers: q("watchers_table", names[2])?,
            db: db.clone(),
        })
    }

    /// Each table's row in `version` must hold the version this module writes (OpenSIPS
    /// refuses to start otherwise); a database without a `version` table is not checked.
    pub fn check_versions(&self, names: [&str; 3]) -> Result<(), String> {
        for (name, default) in names
            .iter()
            .zip(["presentity", "active_watchers", "watchers"])
        {
            check_version(&self.db, name, default)?;
        }
        Ok(())
    }

    // --- presentity ---

    pub fn insert_publication(&self, p: &Publication) -> Result<(), String> {
        let sql = format!(
            "INSERT INTO {} ({PRES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self.presentity
        );
        self.db
            .execute(&sql, &pres_values(p))
            .map(drop)
            .map_err(|e| format!("presentity insert: {e}"))
    }

    /// Replaces the publication `old_etag` by `p` (a refresh or a modification).
    pub fn update_publication(&self, old_etag: &str, p: &Publication) -> Result<(), String> {
        let sql = format!(
            "UPDATE {} SET etag = ?, expires = ?, received_time = ?, body = ?, sender = ? \
             WHERE username = ? AND domain = ? AND event = ? AND etag = ?",
            self.presentity
        );
        let v = [
            t(&p.etag),
            i(p.expires as i64),
            i(p.received as i64),
            Value::Blob(p.body.clone()),
            p.sender.as_deref().map_or(Value::Null, t),
            t(&p.user),
            t(&p.domain),
            t(&p.event),
            t(old_etag),
        ];
        match self.db.execute(&sql, &v) {
            Ok(0) => self.insert_publication(p),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("presentity update: {e}")),
        }
    }

    pub fn delete_publication(&self, p: &Publication) -> Result<(), String> {
        let sql = format!(
            "DELETE FROM {} WHERE username = ? AND domain = ? AND event = ? AND etag = ?",
            self.presentity
        );
        let v = [t(&p.user), t(&p.domain), t(&p.event), t(&p.etag)];
        self.db
            .execute(&sql, &v)
            .map(drop)
            .map_err(|e| format!("presentity delete: {e}"))
    }

    fn publications(&self, filter: &str, v: &[Value]) -> Result<Vec<Publication>, String> {
        let sql = format!("SELECT {PRES_COLS} FROM {} WHERE {filter}", self.presentity);
        let rows = self
            .db
            .query(&sql, v)
            .map_err(|e| format!("presentity query: {e}"))?;
        Ok(rows
            .iter()
            .map(|r| Publication {
                user: text(r.get(0)),
                domain: text(r.get(1)),
                event: text(r.get(2)),
                etag: text(r.get(3)),
                expires: int(r.get(4)).max(0) as u64,
                received: int(r.get(5)).max(0) as u64,
                body: match r.get(6) {
                    Value::Blob(b) => b.clone(),
                    other => text(other).into_bytes(),
                },
                sender: r.get(7).to_text().filter(|s| !s.is_empty()),
            })
            .collect())
    }

    /// The publication `etag` (fallback2db: one another server made).
    pub fn find_publication(
        &self,
        user: &str,
        domain: &str,
        event: &str,
        etag: &str,
    ) -> Result<Option<Publication>, String> {
        let v = [t(user), t(domain), t(event), t(etag)];
        Ok(self
            .publications("username = ? AND domain = ? AND event = ? AND etag = ?", &v)?
            .pop())
    }

    /// Every publication that has not ended at `now`.
    pub fn live_publications(&self, now: u64) -> Result<Vec<Publication>, String> {
        self.publications("expires >= ?", &[i(now as i64)])
    }

    pub fn delete_expired_publications(&self, now: u64) -> Result<(), String> {
        let sql = format!("DELETE FROM {} WHERE expires < ?", self.presentity);
        self.db
            .execute(&sql, &[i(now as i64)])
            .map(drop)
            .map_err(|e| format!("presentity cleanup: {e}"))
    }

    // --- active_watchers ---

    /// Writes a subscription (update, else insert).
    pub fn save_subscription(&self, s: &Subscription) -> Result<(), String> {
        let upd = format!(
            "UPDATE {} SET remote_cseq = ?, local_cseq = ?, contact = ?, expires = ?, \
             status = ?, reason = ?, version = ? \
             WHERE presentity_uri = ? AND callid = ? AND to_tag = ? AND from_tag = ?",
            self.active_watchers
        );
        let v = [
            i(s.remote_cseq),
            i(s.local_cseq),
            t(&s.contact),
            i(s.expires as i64),
            i(s.status as i64),
            t(&s.reason),
            i(s.version),
            t(&s.pres_uri),
            t(&s.key.callid),
            t(&s.key.to_tag),
            t(&s.key.from_tag),
        ];
        let n = self
            .db
            .execute(&upd, &v)
            .map_err(|e| format!("active_watchers update: {e}"))?;
        if n > 0 {
            return Ok(());
        }
        let ins = format!(
            "INSERT INTO {} ({SUBS_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.active_watchers
        );
        let v = [
            t(&s.pres_uri),
            t(&s.watcher_user),
            t(&s.watcher_domain),
            t(&s.to_user),
            t(&s.to_domain),
            t(&s.event),
            t(&s.event_id),
            t(&s.key.to_tag),
            t(&s.key.from_tag),
            t(&s.key.callid),
            i(s.local_cseq),
            i(s.remote_cseq),
            t(&s.contact),
            t(&s.record_route),
            i(s.expires as i64),
            i(s.status as i64),
            t(&s.reason),
            i(s.version),
            t(&s.socket_info),
            t(&s.local_contact),
        ];
        self.db
            .execute(&ins, &v)
            .map(drop)
            .map_err(|e| format!("active_watchers insert: {e}"))
    }

    pub fn delete_subscription(&self, key: &DialogKey) -> Result<(), String> {
        let sql = format!(
            "DELETE FROM {} WHERE callid = ? AND to_tag = ? AND from_tag = ?",
            self.active_watchers
        );
        let v = [t(&key.callid), t(&key.to_tag), t(&key.from_tag)];
        self.db
            .execute(&sql, &v)
            .map(drop)
            .map_err(|e| format!("active_watchers delete: {e}"))
    }

    fn subscriptions(&self, filter: &str, v: &[Value]) -> Result<Vec<Subscription>, String> {
        let sql = format!(
            "SELECT {SUBS_COLS} FROM {} WHERE {filter}",
            self.active_watchers
        );
        let rows = self
            .db
            .query(&sql, v)
            .map_err(|e| format!("active_watchers query: {e}"))?;
        Ok(rows
            .iter()
            .map(|r| Subscription {
                pres_uri: text(r.get(0)),
                watcher_user: text(r.get(1)),
                watcher_domain: text(r.get(2)),
                to_user: text(r.get(3)),
                to_domain: text(r.get(4)),
                event: text(r.get(5)),
                event_id: text(r.get(6)),
                key: DialogKey {
                    to_tag: text(r.get(7)),
                    from_tag: text(r.get(8)),
                    callid: text(r.get(9)),
                },
                local_cseq: int(r.get(10)).max(0) as u32,
                remote_cseq: int(r.get(11)).max(0) as u32,
                contact: text(r.get(12)),
                record_route: text(r.get(13)),
                expires: int(r.get(14)).max(0) as u64,
                status: Status::from_db(int(r.get(15))).unwrap_or(Status::Pending),
                reason: text(r.get(16)),
                version: int(r.get(17)).max(0) as u32,
                socket_info: text(r.get(18)),
                local_contact: text(r.get(19)),
                dirty: false,
            })
            .collect())
    }

    pub fn find_subscription(&self, key: &DialogKey) -> Result<Option<Subscription>, String> {
        let v = [t(&key.callid), t(&key.to_tag), t(&key.from_tag)];
        Ok(self
            .subscriptions("callid = ? AND to_tag = ? AND from_tag = ?", &v)?
            .pop())
    }

    /// Subscriptions to `pres_uri` for `event` (fallback2db: made through another server).
    pub fn subscriptions_to(
        &self,
        pres_uri: &str,
        event: &str,
    ) -> Result<Vec<Subscription>, String> {
        self.subscriptions("presentity_uri = ? AND event = ?", &[t(pres_uri), t(event)])
    }

    pub fn live_subscriptions(&self, now: u64) -> Result<Vec<Subscription>, String> {
        self.subscriptions("expires >= ?", &[i(now as i64)])
    }

    pub fn delete_expired_subscriptions(&self, now: u64) -> Result<(), String> {
        let sql = format!("DELETE FROM {} WHERE expires < ?", self.active_watchers);
        self.db
            .execute(&sql, &[i(now as i64)])
            .map(drop)
            .map_err(|e| format!("active_watchers cleanup: {e}"))
    }

    // --- watchers ---

    /// The stored authorization of a watcher.
    pub fn watcher_status(&self, w: &Watcher<'_>) -> Result<Option<(Status, String)>, String> {
        let sql = format!(
            "SELECT status, reason FROM {} WHERE presentity_uri = ? AND watcher_username = ? \
             AND watcher_domain = ? AND event = ?",
            self.watchers
        );
        let row = self
            .db
            .query_opt(&sql, &[t(w.pres_uri), t(w.user), t(w.domain), t(w.event)])
            .map_err(|e| format!("watchers query: {e}"))?;
        Ok(row.and_then(|r| {
            Status::from_db(int(r.get(0))).map(|s| (s, r.get(1).to_text().unwrap_or_default()))
        }))
    }

    pub fn insert_watcher(
        &self,
        w: &Watcher<'_>,
        status: Status,
        reason: &str,
        now: u64,
    ) -> Result<(), String> {
        let sql = format!(
            "INSERT INTO {} (presentity_uri, watcher_username, watcher_domain, event, status, \
             reason, inserted_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.watchers
        );
        let v = [
            t(w.pres_uri),
            t(w.user),
            t(w.domain),
            t(w.event),
            i(status as i64),
            if reason.is_empty() {
                Value::Null
            } else {
                t(reason)
            },
            i(now as i64),
        ];
        self.db
            .execute(&sql, &v)
            .map(drop)
            .map_err(|e| format!("watchers insert: {e}"))
    }

    /// Records a new decision for a watcher (update, else insert).
    pub fn update_watcher(
        &self,
        w: &Watcher<'_>,
        status: Status,
        reason: &str,
        now: u64,
    ) -> Result<(), String> {
        let sql = format!(
            "UPDATE {} SET status = ?, reason = ? WHERE presentity_uri = ? AND \
             watcher_username = ? AND watcher_domain = ? AND event = ?",
            self.watchers
        );
        let v = [
            i(status as i64),
            if reason.is_empty() {
                Value::Null
            } else {
                t(reason)
            },
            t(w.pres_uri),
            t(w.user),
            t(w.domain),
            t(w.event),
        ];
        match self.db.execute(&sql, &v) {
            Ok(0) => self.insert_watcher(w, status, reason, now),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("watchers update: {e}")),
        }
    }

    /// Forgets pending authorizations older than `before` (`waiting_subs_daysno`).
    pub fn delete_old_pending_watchers(&self, before: u64) -> Result<(), String> {
        let sql = format!(
            "DELETE FROM {} WHERE inserted_time < ? AND status = ?",
            self.watchers
        );
        self.db
            .execute(&sql, &[i(before as i64), i(Status::Pending as i64)])
            .map(drop)
            .map_err(|e| format!("watchers cleanup: {e}"))
    }
}

fn pres_values(p: &Publication) -> Vec<Value> {
    vec![
        t(&p.user),
        t(&p.domain),
        t(&p.event),
        t(&p.etag),
        i(p.expires as i64),
        i(p.received as i64),
        Value::Blob(p.body.clone()),
        p.sender.as_deref().map_or(Value::Null, t),
    ]
}

/// Checks the `version` row of `table` (named `default` in the schema) against the schema's.
pub fn check_version(db: &Db, table: &str, default: &str) -> Result<(), String> {
    let Some(want) = crate::db::schema::current()
        .table(default)
        .map(|t| t.version)
    else {
        return Ok(());
    };
    let row = match db.query_opt(
        "SELECT table_version FROM version WHERE table_name = ?",
        &[t(table)],
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("no version table to check {table} against: {e}");
            return Ok(());
        }
    };
    match row.map(|r| int(r.get(0))) {
        Some(v) if v == want as i64 => Ok(()),
        Some(v) => Err(format!(
            "table {table} has version {v}, this module needs {want} (osipsdbctl migrate)"
        )),
        None => Err(format!(
            "table {table} is not in the version table (create it with osipsdbctl create / presence)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Engine;

    fn db(with_versions: bool) -> (tempfile::TempDir, Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("p.sqlite"), true).unwrap();
        let schema = crate::db::schema::current();
        let mut tables = vec!["presentity", "active_watchers", "watchers"];
        if with_versions {
            tables.push("version");
        }
        for name in tables {
            for stmt in schema.table(name).unwrap().create_sql(Engine::Sqlite) {
                db.execute(&stmt, &[]).unwrap();
            }
        }
        (dir, Arc::new(db))
    }

    fn sub(to_tag: &str, expires: u64) -> Subscription {
        Subscription {
            key: DialogKey {
                callid: "call-1".into(),
                to_tag: to_tag.into(),
                from_tag: "ft".into(),
            },
            pres_uri: "sip:alice@example.com".into(),
            event: "presence".into(),
            event_id: String::new(),
            watcher_user: "bob".into(),
            watcher_domain: "example.com".into(),
            to_user: "alice".into(),
            to_domain: "example.com".into(),
            local_cseq: 1,
            remote_cseq: 7,
            contact: "sip:bob@127.0.0.1:5070".into(),
            record_route: "<sip:127.0.0.2;lr>".into(),
            expires,
            status: Status::Active,
            reason: String::new(),
            version: 1,
            socket_info: "udp:127.0.0.1:5060".into(),
            local_contact: "sip:presence@127.0.0.1:5060".into(),
            dirty: false,
        }
    }

    const NAMES: [&str; 3] = ["presentity", "active_watchers", "watchers"];

    #[test]
    fn subscriptions_round_trip() {
        let (_d, db) = db(false);
        let st = Store::new(db, NAMES).unwrap();
        let mut s = sub("tt", 1000);
        st.save_subscription(&s).unwrap();
        s.remote_cseq = 8;
        s.status = Status::Pending;
        st.save_subscription(&s).unwrap();
        assert_eq!(st.find_subscription(&s.key).unwrap(), Some(s.clone()));
        assert_eq!(
            st.subscriptions_to("sip:alice@example.com", "presence")
                .unwrap()
                .len(),
            1
        );
        st.save_subscription(&sub("old", 10)).unwrap();
        assert_eq!(st.live_subscriptions(500).unwrap(), vec![s.clone()]);
        st.delete_expired_subscriptions(500).unwrap();
        st.delete_subscription(&s.key).unwrap();
        assert!(st.live_subscriptions(0).unwrap().is_empty());
    }

    #[test]
    fn publications_round_trip() {
        let (_d, db) = db(false);
        let st = Store::new(db, NAMES).unwrap();
        let p = Publication {
            user: "alice".into(),
            domain: "example.com".into(),
            event: "presence".into(),
            etag: "e1".into(),
            expires: 1000,
            received: 5,
            body: b"<presence/>".to_vec(),
            sender: None,
        };
        st.insert_publication(&p).unwrap();
        let q = Publication {
            etag: "e2".into(),
            body: b"<presence>2</presence>".to_vec(),
            ..p.clone()
        };
        st.update_publication("e1", &q).unwrap();
        assert_eq!(
            st.find_publication("alice", "example.com", "presence", "e1")
                .unwrap(),
            None
        );
        assert_eq!(
            st.find_publication("alice", "example.com", "presence", "e2")
                .unwrap(),
            Some(q.clone())
        );
        // an update of a row another server removed writes it again
        st.update_publication(
            "gone",
            &Publication {
                etag: "e3".into(),
                ..p.clone()
            },
        )
        .unwrap();
        assert_eq!(st.live_publications(0).unwrap().len(), 2);
        st.delete_publication(&q).unwrap();
        st.delete_expired_publications(2000).unwrap();
        assert!(st.live_publications(0).unwrap().is_empty());
    }

    #[test]
    fn watchers_decisions() {
        let (_d, db) = db(false);
        let st = Store::new(db, NAMES).unwrap();
        let w = Watcher {
            pres_uri: "sip:alice@example.com",
            user: "bob",
            domain: "example.com",
            event: "presence",
        };
        assert_eq!(st.watcher_status(&w).unwrap(), None);
        st.insert_watcher(&w, Status::Pending, "", 100).unwrap();
        assert_eq!(
            st.watcher_status(&w).unwrap(),
            Some((Status::Pending, String::new()))
        );
        st.update_watcher(&w, Status::Terminated, "rejected", 200)
            .unwrap();
        assert_eq!(
            st.watcher_status(&w).unwrap(),
            Some((Status::Terminated, "rejected".into()))
        );
        st.update_watcher(&w, Status::Pending, "", 200).unwrap();
        // inserted at 100: older than 101, not than 100
        st.delete_old_pending_watchers(100).unwrap();
        assert!(st.watcher_status(&w).unwrap().is_some());
        st.delete_old_pending_watchers(101).unwrap();
        assert_eq!(st.watcher_status(&w).unwrap(), None);
    }

    #[test]
    fn table_versions() {
        let (_d, db) = db(true);
        let st = Store::new(db.clone(), NAMES).unwrap();
        assert!(
            st.check_versions(NAMES)
                .unwrap_err()
                .contains("not in the version table")
        );
        for (t, v) in [("presentity", 5), ("active_watchers", 12), ("watchers", 4)] {
            db.execute(
                "INSERT INTO version (table_name, table_version) VALUES (?, ?)",
                &[Value::Text(t.into()), Value::Int(v)],
            )
            .unwrap();
        }
        st.check_versions(NAMES).unwrap();
        db.execute(
            "UPDATE version SET table_version = 4 WHERE table_name = 'presentity'",
            &[],
        )
        .unwrap();
        let e = st.check_versions(NAMES).unwrap_err();
        assert!(
            e.contains("presentity has version 4") && e.contains("needs 5"),
            "{e}"
        );
        assert!(Store::new(db, ["presentity; DROP", "a", "w"]).is_err());
    }
}
