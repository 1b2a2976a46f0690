//! Dialogs kept in the `dialog` table (`db_mode` 1: written when confirmed and on every
//! change, removed when they end; 3: written at shutdown) and loaded again at start-up.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::db::{Db, Value as DbValue};
use crate::modules::auth_db::db::ident;

use super::dlg::{Dialog, State, Table, unix};

pub struct DlgDb {
    pub db: Arc<Db>,
    pub table: String,
    pub mode: i64,
}

/// `name#value` lines (`#` and newlines in values are escaped).
pub fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('#', "\\h")
            .replace('\n', "\\n")
    };
    pairs
        .map(|(n, v)| format!("{}#{}\n", esc(n), esc(v)))
        .collect()
}

pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
    let unesc = |s: &str| {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('h') => out.push('#'),
                    Some('n') => out.push('\n'),
                    Some(o) => out.push(o),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    text.lines()
        .filter_map(|l| l.split_once('#'))
        .map(|(n, v)| (unesc(n), unesc(v)))
        .collect()
}

const COLS: &[&str] = &[
    "dlg_id",
    "callid",
    "from_uri",
    "from_tag",
    "to_uri",
    "to_tag",
    "caller_cseq",
    "callee_cseq",
    "caller_ping_cseq",
    "callee_ping_cseq",
    "caller_route_set",
    "callee_route_set",
    "caller_contact",
    "callee_contact",
    "caller_sock",
    "callee_sock",
    "state",
    "start_time",
    "timeout",
    "vars",
    "profiles",
    "script_flags",
];

fn text(s: &str) -> DbValue {
    DbValue::Text(s.to_string())
}

impl DlgDb {
    fn table(&self) -> Result<String, String> {
        ident(&self.db, "table", &self.table)
    }

    /// Writes the dialog (replacing its row) in one transaction.
    pub fn save(&self, d: &Dialog) -> Result<(), String> {
        let table = self.table()?;
        let start = d.start.map(unix).unwrap_or(0);
        let profiles = encode_pairs(
            d.profiles
                .iter()
                .map(|(p, v)| (p.as_str(), v.as_deref().unwrap_or(""))),
        );
        let vars = encode_pairs(d.vals.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let vals = vec![
            DbValue::Int(d.id as i64),
            text(&d.callid),
            text(&d.from_uri),
            text(&d.from_tag),
            text(&d.to_uri),
            text(&d.to_tag),
            text(&d.caller_cseq.to_string()),
            text(&d.callee_cseq.to_string()),
            DbValue::Int(0),
            DbValue::Int(0),
            text(&d.caller_route_set.join(",")),
            text(&d.callee_route_set.join(",")),
            text(&d.caller_contact),
            text(&d.callee_contact),
            text(""),
            text(""),
            DbValue::Int(d.state as i64),
            DbValue::Int(start),
            DbValue::Int(start + d.timeout.as_secs() as i64),
            DbValue::Blob(vars.into_bytes()),
            text(&profiles),
            text(&d.flags),
        ];
        let marks = vec!["?"; COLS.len()].join(", ");
        let insert = format!("INSERT INTO {table} ({}) VALUES ({marks})", COLS.join(", "));
        let delete = format!("DELETE FROM {table} WHERE dlg_id = ?");
        self.db
            .transaction(|tx| -> Result<(), crate::db::DbError> {
                tx.execute(&delete, &[DbValue::Int(d.id as i64)])?;
                tx.execute(&insert, &vals)?;
                Ok(())
            })
            .map_err(|e| e.to_string())
    }

    pub fn remove(&self, id: u64) -> Result<(), String> {
        let table = self.table()?;
        self.db
            .execute(
                &format!("DELETE FROM {table} WHERE dlg_id = ?"),
                &[DbValue::Int(id as i64)],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Every stored dialog still within its lifetime (the expired ones are deleted).
    pub fn load(&self, t: &Table) -> Result<Vec<Dialog>, String> {
        let table = self.table()?;
        let rows = self
            .db
            .query(&format!("SELECT {} FROM {table}", COLS.join(", ")), &[])
            .map_err(|e| e.to_string())?;
        let now = unix(SystemTime::now());
        let mut out = Vec::new();
        for r in rows {
            let s = |c: &str| r.by_name(c).to_text().unwrap_or_default();
            let i = |c: &str| r.by_name(c).as_i64().unwrap_or(0);
            let id = i("dlg_id") as u64;
            let expires = i("timeout");
            if expires <= now || i("state") != State::Confirmed as i64 {
                self.remove(id)?;
                continue;
            }
            let vars = match r.by_name("vars") {
                DbValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                v => v.to_text().unwrap_or_default(),
            };
            let start = i("start_time");
            let split = |v: String| -> Vec<String> {
                v.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            t.bump_past(id);
            out.push(Dialog {
                id,
                state: State::Confirmed,
                callid: s("callid"),
                from_uri: s("from_uri"),
                from_tag: s("from_tag"),
                to_uri: s("to_uri"),
                to_tag: s("to_tag"),
                caller_contact: s("caller_contact"),
                callee_contact: s("callee_contact"),
                caller_route_set: split(s("caller_route_set")),
                callee_route_set: split(s("callee_route_set")),
                caller_cseq: s("caller_cseq").parse().unwrap_or(1),
                callee_cseq: s("callee_cseq").parse().unwrap_or(0),
                created: UNIX_EPOCH + Duration::from_secs(start.max(0) as u64),
                start: Some(UNIX_EPOCH + Duration::from_secs(start.max(0) as u64)),
                timeout: Duration::from_secs((expires - start).max(1) as u64),
                timer: None,
                flags: s("script_flags"),
                vals: decode_pairs(&vars),
                profiles: decode_pairs(&s("profiles"))
                    .into_iter()
                    .map(|(p, v)| (p, (!v.is_empty()).then_some(v)))
                    .collect(),
                cdr: None,
                dirty: false,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let pairs = [("a", "1"), ("b#x", "line\nnext\\"), ("calls", "")];
        let text = encode_pairs(pairs.iter().copied());
        let back = decode_pairs(&text);
        let want: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(back, want);
    }
}
