//! The `location` table (OpenSIPS 3.x, version 1013) through `crate::db`: loading at start,
//! write-through statements, the write-back flush and the SQL-only reads. Parameterised SQL only;
//! the table name comes from the script and is checked and quoted.

use crate::db::{Db, DbError, Engine, Tx, Value, sql};

use super::contact::{CState, ContactInfo, Ucontact};

const COLUMNS: &str = "contact_id, username, domain, contact, received, path, expires, q, callid, \
cseq, last_modified, flags, cflags, user_agent, socket, methods, sip_instance, kv_store, attr";

/// A connection to the database holding the usrloc tables.
pub struct Store {
    db: Db,
}

/// One statement runner: the connection or an open transaction.
pub enum Exec<'a, 'b> {
    Db(&'a Db),
    Tx(&'a mut Tx<'b>),
}

impl Exec<'_, '_> {
    fn execute(&mut self, q: &str, p: &[Value]) -> Result<u64, DbError> {
        match self {
            Exec::Db(db) => db.execute(q, p),
            Exec::Tx(tx) => tx.execute(q, p),
        }
    }
}

/// The username / domain columns of an AOR (`domain` only with `use_domain`).
pub fn split_aor(aor: &str, use_domain: bool) -> (&str, Option<&str>) {
    if use_domain && let Some((u, d)) = aor.split_once('@') {
        return (u, Some(d));
    }
    (aor, None)
}

fn text(v: Option<&str>) -> Value {
    v.map(|s| Value::Text(s.to_string())).unwrap_or(Value::Null)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a unix time.
pub fn datetime(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    // civil_from_days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Unix time of a `YYYY-MM-DD HH:MM:SS` text (0 when unreadable).
pub fn parse_datetime(s: &str) -> i64 {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0, 4), num(5, 7), num(8, 10)) else {
        return 0;
    };
    let (hh, mm, ss) = (
        num(11, 13).unwrap_or(0),
        num(14, 16).unwrap_or(0),
        num(17, 19).unwrap_or(0),
    );
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

impl Store {
    pub fn connect(url: &str) -> Result<Store, String> {
        let parsed = crate::db::DbUrl::parse(url)?;
        let db = Db::connect(&parsed).map_err(|e| e.to_string())?;
        Ok(Store { db })
    }

    pub fn from_db(db: Db) -> Store {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    fn table(&self, name: &str) -> Result<String, DbError> {
        sql::check_name("table", name)?;
        Ok(self.engine().quote(name))
    }

    /// Checks that `table` exists with the columns usrloc writes.
    pub fn check(&self, table: &str) -> Result<(), DbError> {
        let t = self.table(table)?;
        self.db
            .query(
                &format!("SELECT {COLUMNS} FROM {t} WHERE contact_id = ?"),
                &[Value::Int(0)],
            )
            .map(|_| ())
    }

    /// Every contact unexpired at `now` (permanent ones included), with its AOR.
    pub fn load(
        &self,
        table: &str,
        now: i64,
        use_domain: bool,
    ) -> Result<Vec<(String, Ucontact)>, DbError> {
        let t = self.table(table)?;
        let rows = self.db.query(
            &format!("SELECT {COLUMNS} FROM {t} WHERE expires = 0 OR expires > ?"),
            &[Value::Int(now)],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| row_contact(r, use_domain))
            .collect())
    }

    /// The contacts of one AOR (SQL-only mode).
    pub fn load_aor(
        &self,
        table: &str,
        aor: &str,
        use_domain: bool,
    ) -> Result<Vec<Ucontact>, DbError> {
        let t = self.table(table)?;
        let (user, domain) = split_aor(aor, use_domain);
        let rows = match domain {
            Some(d) => self.db.query(
                &format!("SELECT {COLUMNS} FROM {t} WHERE username = ? AND domain = ?"),
                &[Value::Text(user.into()), Value::Text(d.into())],
            )?,
            None => self.db.query(
                &format!("SELECT {COLUMNS} FROM {t} WHERE username = ?"),
                &[Value::Text(user.into())],
            )?,
        };
        Ok(rows
            .iter()
            .filter_map(|r| row_contact(r, use_domain).map(|(_, c)| c))
            .collect())
    }

    /// Distinct AORs of the table (SQL-only `ul_dump`).
    pub fn aors(&self, table: &str, use_domain: bool) -> Result<Vec<String>, DbError> {
        let t = self.table(table)?;
        let rows = self
            .db
            .query(&format!("SELECT DISTINCT username, domain FROM {t}"), &[])?;
        Ok(rows
            .iter()
            .map(|r| {
                let user = r.get(0).to_text().unwrap_or_default();
                match r.get(1).to_text().filter(|d| use_domain && !d.is_empty()) {
                    Some(d) => format!("{user}@{d}"),
                    None => user,
                }
            })
            .collect())
    }

    pub fn insert(
        &self,
        ex: &mut Exec<'_, '_>,
        table: &str,
        aor: &str,
        use_domain: bool,
        c: &Ucontact,
    ) -> Result<(), DbError> {
        let t = self.table(table)?;
        let (user, domain) = split_aor(aor, use_domain);
        let ci = c.info();
        let mut p = vec![
            Value::Int(c.contact_id as i64),
            Value::Text(user.into()),
            text(domain),
        ];
        p.extend(values(&ci));
        ex.execute(
            &format!(
                "INSERT INTO {t} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            &p,
        )
        .map(|_| ())
    }

    /// Updates the row of `c`; false when there is none.
    pub fn update(
        &self,
        ex: &mut Exec<'_, '_>,
        table: &str,
        c: &Ucontact,
    ) -> Result<bool, DbError> {
        let t = self.table(table)?;
        let mut p = values(&c.info());
        p.push(Value::Int(c.contact_id as i64));
        let n = ex.execute(
            &format!(
                "UPDATE {t} SET contact = ?, received = ?, path = ?, expires = ?, q = ?, callid = ?, \
                 cseq = ?, last_modified = ?, flags = ?, cflags = ?, user_agent = ?, socket = ?, \
                 methods = ?, sip_instance = ?, kv_store = ?, attr = ? WHERE contact_id = ?"
            ),
            &p,
        )?;
        Ok(n > 0)
    }

    pub fn delete(&self, ex: &mut Exec<'_, '_>, table: &str, id: u64) -> Result<(), DbError> {
        let t = self.table(table)?;
        ex.execute(
            &format!("DELETE FROM {t} WHERE contact_id = ?"),
            &[Value::Int(id as i64)],
        )
        .map(|_| ())
    }

    /// Removes the rows expired at `now`; returns how many.
    pub fn delete_expired(&self, table: &str, now: i64) -> Result<u64, DbError> {
        let t = self.table(table)?;
        self.db.execute(
            &format!("DELETE FROM {t} WHERE expires > 0 AND expires <= ?"),
            &[Value::Int(now)],
        )
    }

    /// Every row of the table removed (`ul_sync`).
    pub fn delete_all(&self, ex: &mut Exec<'_, '_>, table: &str) -> Result<(), DbError> {
        let t = self.table(table)?;
        ex.execute(&format!("DELETE FROM {t}"), &[]).map(|_| ())
    }
}

/// Values of the columns after contact_id / username / domain, in `COLUMNS` order.
fn values(ci: &ContactInfo<'_>) -> Vec<Value> {
    let q = if ci.q < 0 {
        1.0
    } else {
        f64::from(ci.q) / 1000.0
    };
    vec![
        Value::Text(ci.contact.into()),
        text(ci.received),
        text(ci.path),
        Value::Int(ci.expires),
        Value::Float(q),
        Value::Text(ci.callid.into()),
        Value::Int(i64::from(ci.cseq)),
        Value::Text(datetime(ci.last_modified)),
        Value::Int(i64::from(ci.flags as i32)),
        if ci.cflags == 0 {
            Value::Null
        } else {
            Value::Text(ci.cflags.to_string())
        },
        Value::Text(ci.user_agent.into()),
        text(ci.socket),
        Value::Int(i64::from(ci.methods as i32)),
        text(ci.instance),
        text(ci.kv_store),
        text(ci.attr),
    ]
}

fn row_contact(r: &crate::db::Row, use_domain: bool) -> Option<(String, Ucontact)> {
    let s = |i: usize| r.get(i).to_text();
    let n = |i: usize| r.get(i).as_i64();
    let user = s(1)?;
    let aor = match s(2).filter(|d| use_domain && !d.is_empty()) {
        Some(d) => format!("{user}@{d}"),
        None => user,
    };
    let contact = s(3)?;
    let received = s(4);
    let path = s(5);
    let callid = s(8).unwrap_or_default();
    let user_agent = s(13).unwrap_or_default();
    let socket = s(14);
    let instance = s(16);
    let kv = s(17);
    let attr = s(18);
    let q = match r.get(7) {
        Value::Float(f) => (f * 1000.0).round() as i16,
        v => v
            .to_text()
            .and_then(|t| super::contact::parse_q(&t))
            .unwrap_or(1000),
    };
    let ci = ContactInfo {
        contact: &contact,
        received: received.as_deref(),
        path: path.as_deref(),
        callid: &callid,
        user_agent: &user_agent,
        socket: socket.as_deref(),
        instance: instance.as_deref(),
        attr: attr.as_deref(),
        kv_store: kv.as_deref(),
        expires: n(6).unwrap_or(0),
        q,
        cseq: n(9).unwrap_or(0) as u32,
        // Flag names written by OpenSIPS are not numbers: they read as no flags.
        cflags: s(12).and_then(|t| t.trim().parse().ok()).unwrap_or(0),
        flags: n(11).unwrap_or(0) as u32,
        methods: n(15)
            .map(|m| m as u32)
            .unwrap_or(super::contact::ALL_METHODS),
        reg_id: 0,
        last_modified: s(10).map(|t| parse_datetime(&t)).unwrap_or(0),
    };
    let id = n(0).unwrap_or(0) as u64;
    Ucontact::new(id, &ci, CState::Sync).ok().map(|c| (aor, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::usrloc::contact::ALL_METHODS;

    pub(crate) fn sqlite_store(dir: &std::path::Path) -> Store {
        let db = Db::open_sqlite(&dir.join("ul.sqlite"), true).unwrap();
        let t = crate::db::schema::current().table("location").unwrap();
        for stmt in t.create_sql(Engine::Sqlite) {
            db.execute(&stmt, &[]).unwrap();
        }
        Store::from_db(db)
    }

    #[test]
    fn datetimes_round_trip() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(parse_datetime("2023-11-14 22:13:20"), 1_700_000_000);
        assert_eq!(parse_datetime("garbage"), 0);
    }

    #[test]
    fn rows_are_written_read_updated_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let st = sqlite_store(dir.path());
        st.check("location").unwrap();
        assert!(st.check("no_such_table").is_err());
        assert!(st.check("bad;name").is_err());
        let ci = ContactInfo {
            contact: "sip:a@127.0.0.2",
            callid: "c1",
            user_agent: "ua",
            path: Some("<sip:p;lr>"),
            expires: 2_000_000_000,
            q: 500,
            cseq: 9,
            methods: ALL_METHODS,
            last_modified: 1_700_000_000,
            ..ContactInfo::default()
        };
        let mut c = Ucontact::new(42, &ci, CState::New).unwrap();
        st.insert(&mut Exec::Db(st.db()), "location", "a@x", true, &c)
            .unwrap();
        let loaded = st.load("location", 1_800_000_000, true).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].0, "a@x");
        assert_eq!(loaded[0].1.info(), ci);
        assert_eq!(loaded[0].1.contact_id, 42);
        assert!(st.load("location", 2_100_000_000, true).unwrap().is_empty());
        let mut ci2 = ci.clone();
        ci2.cseq = 10;
        c.update(&ci2).unwrap();
        assert!(st.update(&mut Exec::Db(st.db()), "location", &c).unwrap());
        assert_eq!(st.load_aor("location", "a@x", true).unwrap()[0].cseq, 10);
        assert_eq!(st.aors("location", true).unwrap(), vec!["a@x".to_string()]);
        st.delete(&mut Exec::Db(st.db()), "location", 42).unwrap();
        assert!(st.load_aor("location", "a@x", true).unwrap().is_empty());
        assert!(!st.update(&mut Exec::Db(st.db()), "location", &c).unwrap());
    }
}
