//! One accounting record and where it goes: a log line in OpenSIPS's format
//! (`ACC: transaction answered: timestamp=...;method=...;...`), a row of the `acc` or
//! `missed_calls` table (parameterised SQL), an `E_ACC_*` event.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::db::{Db, Value as DbValue};
use crate::events::{EventParams, EventRegistry};
use crate::modules::auth_db::db::ident;
use crate::modules::usrloc::store::datetime;
use crate::sip::Msg;

use super::config::{AccConfig, Extra};
use super::mark::AccMark;

/// Why a record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Answered,
    Failed,
    Missed,
    /// A whole call (cdr), written when the dialog ends.
    CallEnded,
}

impl Kind {
    fn log_header(self) -> &'static str {
        match self {
            Kind::Answered => "ACC: transaction answered: ",
            Kind::Failed => "ACC: transaction failed: ",
            Kind::Missed => "ACC: call missed: ",
            Kind::CallEnded => "ACC: call ended: ",
        }
    }
    fn event(self) -> &'static str {
        match self {
            Kind::Missed => "E_ACC_MISSED_EVENT",
            Kind::CallEnded => "E_ACC_CDR",
            _ => "E_ACC_EVENT",
        }
    }
}

/// The CDR part: when the call was created and answered, how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cdr {
    pub created: SystemTime,
    pub start: SystemTime,
    pub ms_duration: u64,
}

impl Cdr {
    pub fn setuptime(&self) -> u64 {
        secs_between(self.created, self.start)
    }
    pub fn duration(&self) -> u64 {
        // As OpenSIPS: whole seconds, rounded to the nearest.
        (self.ms_duration + 500) / 1000
    }
}

fn secs_between(a: SystemTime, b: SystemTime) -> u64 {
    b.duration_since(a).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub method: String,
    pub from_tag: String,
    pub to_tag: String,
    pub callid: String,
    pub code: u16,
    pub reason: String,
    /// When the request arrived (the `time` column, `timestamp=` of the log).
    pub time: SystemTime,
    pub cdr: Option<Cdr>,
    pub extra: Vec<(String, String)>,
    /// The `$acc_leg` sets, one per call leg.
    pub legs: Vec<Vec<(String, String)>>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Record {
    /// The default record of `req` answered by `reply` (`code reason`).
    pub fn of(
        kind: Kind,
        req: &Msg,
        reply: Option<&Msg>,
        code: u16,
        reason: &str,
        time: SystemTime,
        mark: &AccMark,
    ) -> Record {
        let tag = |m: &Msg, from: bool| {
            let h = if from { m.from() } else { m.to() };
            h.ok().and_then(|n| n.tag().map(text)).unwrap_or_default()
        };
        let to_tag = reply
            .map(|r| tag(r, false))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| tag(req, false));
        Record {
            kind,
            method: req.method().as_str().to_string(),
            from_tag: tag(req, true),
            to_tag,
            callid: text(req.call_id()),
            code,
            reason: reason.to_string(),
            time,
            cdr: None,
            extra: mark.extra.clone(),
            legs: mark.legs.clone(),
        }
    }

    /// The record of a provisional reply (`early_media`): the request's fields read from it.
    pub fn of_reply(kind: Kind, rpl: &Msg, mark: &AccMark) -> Record {
        let tag = |from: bool| {
            let h = if from { rpl.from() } else { rpl.to() };
            h.ok().and_then(|n| n.tag().map(text)).unwrap_or_default()
        };
        Record {
            kind,
            method: rpl.cseq().method.as_str().to_string(),
            from_tag: tag(true),
            to_tag: tag(false),
            callid: text(rpl.call_id()),
            code: rpl.status().unwrap_or(0),
            reason: text(rpl.reason()),
            time: SystemTime::now(),
            cdr: None,
            extra: mark.extra.clone(),
            legs: mark.legs.clone(),
        }
    }

    fn extra_value(&self, tag: &str) -> &str {
        self.extra
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The leg sets a record is written with: at least one (empty) set.
    fn leg_sets(&self) -> Vec<&[(String, String)]> {
        if self.legs.is_empty() {
            vec![&[]]
        } else {
            self.legs.iter().map(Vec::as_slice).collect()
        }
    }

    /// The log line, as OpenSIPS's acc writes it: every leg's set appended in order.
    pub fn log_line(&self, extras: &[Extra], legs: &[Extra]) -> String {
        let mut s = format!(
            "{}timestamp={};method={};from_tag={};to_tag={};call_id={};code={};reason={}",
            self.kind.log_header(),
            unix(self.time),
            self.method,
            self.from_tag,
            self.to_tag,
            self.callid,
            self.code,
            self.reason
        );
        for e in extras {
            s.push_str(&format!(";{}={}", e.name, self.extra_value(&e.tag)));
        }
        if !legs.is_empty() {
            for set in self.leg_sets() {
                for e in legs {
                    s.push_str(&format!(";{}={}", e.name, value_of(set, &e.tag)));
                }
            }
        }
        if let Some(c) = &self.cdr {
            s.push_str(&format!(
                ";duration={};ms_duration={};setuptime={};created={}",
                c.duration(),
                c.ms_duration,
                c.setuptime(),
                unix(c.created)
            ));
        }
        s
    }
}

fn value_of<'a>(set: &'a [(String, String)], tag: &str) -> &'a str {
    set.iter()
        .find(|(t, _)| t == tag)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Logs `line` at an OpenSIPS log level.
pub fn log_at(level: i32, line: &str) {
    match level {
        i32::MIN..=-1 => tracing::error!(target: "acc", "{line}"),
        0 | 1 => tracing::warn!(target: "acc", "{line}"),
        2 | 3 => tracing::info!(target: "acc", "{line}"),
        _ => tracing::debug!(target: "acc", "{line}"),
    }
}

/// Inserts the record into `table` (the `acc` layout, or `missed_calls` for missed calls): one
/// row per call leg when `leg_fields` names db columns, the rows differing only in those.
pub fn insert(db: &Db, cfg: &AccConfig, table: &str, r: &Record) -> Result<u64, String> {
    if cfg.legs.db.is_empty() {
        return insert_row(db, cfg, table, r, &[]);
    }
    let mut n = 0;
    for set in r.leg_sets() {
        n += insert_row(db, cfg, table, r, set)?;
    }
    Ok(n)
}

fn insert_row(
    db: &Db,
    cfg: &AccConfig,
    table: &str,
    r: &Record,
    leg: &[(String, String)],
) -> Result<u64, String> {
    let c = &cfg.columns;
    let mut cols: Vec<&str> = vec![
        &c.method,
        &c.from_tag,
        &c.to_tag,
        &c.callid,
        &c.sip_code,
        &c.sip_reason,
        &c.time,
    ];
    let mut vals = vec![
        DbValue::Text(r.method.clone()),
        DbValue::Text(r.from_tag.clone()),
        DbValue::Text(r.to_tag.clone()),
        DbValue::Text(r.callid.clone()),
        DbValue::Text(r.code.to_string()),
        DbValue::Text(r.reason.chars().take(32).collect()),
        DbValue::Text(datetime(unix(r.time))),
    ];
    if let Some(cdr) = &r.cdr {
        if r.kind == Kind::CallEnded {
            cols.extend(["duration", "ms_duration"]);
            vals.push(DbValue::Int(cdr.duration() as i64));
            vals.push(DbValue::Int(cdr.ms_duration as i64));
        }
        cols.extend(["setuptime", "created"]);
        vals.push(DbValue::Int(cdr.setuptime() as i64));
        vals.push(DbValue::Text(datetime(unix(cdr.created))));
    }
    for e in &cfg.extras.db {
        cols.push(&e.name);
        vals.push(DbValue::Text(r.extra_value(&e.tag).to_string()));
    }
    for e in &cfg.legs.db {
        cols.push(&e.name);
        vals.push(DbValue::Text(value_of(leg, &e.tag).to_string()));
    }
    let table = ident(db, "table", table)?;
    let cols = cols
        .iter()
        .map(|c| ident(db, "column", c))
        .collect::<Result<Vec<_>, _>>()?;
    let marks = vec!["?"; cols.len()].join(", ");
    let sql = format!("INSERT INTO {table} ({}) VALUES ({marks})", cols.join(", "));
    db.execute(&sql, &vals).map_err(|e| e.to_string())
}

/// Raises the record's `E_ACC_*` event: one per call leg when `leg_fields` names evi
/// parameters.
pub fn raise(events: &EventRegistry, cfg: &AccConfig, r: &Record) {
    if cfg.legs.evi.is_empty() {
        return raise_one(events, cfg, r, &[]);
    }
    for set in r.leg_sets() {
        raise_one(events, cfg, r, set);
    }
}

fn raise_one(events: &EventRegistry, cfg: &AccConfig, r: &Record, leg: &[(String, String)]) {
    let mut p = EventParams::new()
        .with("method", r.method.as_str())
        .with("from_tag", r.from_tag.as_str())
        .with("to_tag", r.to_tag.as_str())
        .with("callid", r.callid.as_str())
        .with("sip_code", r.code.to_string())
        .with("sip_reason", r.reason.as_str())
        .with("time", unix(r.time).to_string());
    if let Some(c) = &r.cdr {
        p = p
            .with("duration", c.duration().to_string())
            .with("ms_duration", c.ms_duration.to_string())
            .with("setuptime", c.setuptime().to_string())
            .with("created", unix(c.created).to_string());
    }
    for e in &cfg.extras.evi {
        p = p.with(&e.name, r.extra_value(&e.tag));
    }
    for e in &cfg.legs.evi {
        p = p.with(&e.name, value_of(leg, &e.tag));
    }
    events.raise_by_name(r.kind.event(), p);
}

/// Writes `r` to every backend the mark asks for; errors are logged (accounting never blocks
/// the call).
pub fn emit(
    cfg: &AccConfig,
    db: Option<&Arc<Db>>,
    events: &EventRegistry,
    mark: &AccMark,
    r: &Record,
) {
    if mark.types.log {
        log_at(cfg.log_level, &r.log_line(&cfg.extras.log, &cfg.legs.log));
    }
    if mark.types.db {
        let default = if r.kind == Kind::Missed {
            &cfg.table_missed
        } else {
            &cfg.table_acc
        };
        let table = mark.table.as_deref().unwrap_or(default);
        match db {
            None => tracing::error!("acc: db accounting asked for but modparam db_url is not set"),
            Some(db) => {
                if let Err(e) = insert(db, cfg, table, r) {
                    tracing::error!("acc: cannot write to table {table}: {e}");
                }
            }
        }
    }
    if mark.types.evi {
        raise(events, cfg, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rec(kind: Kind) -> Record {
        Record {
            kind,
            method: "INVITE".into(),
            from_tag: "ft".into(),
            to_tag: "tt".into(),
            callid: "cid@h".into(),
            code: 200,
            reason: "OK".into(),
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            cdr: None,
            extra: vec![("caller".into(), "sip:a@h".into())],
            legs: Vec::new(),
        }
    }

    #[test]
    fn log_line_as_opensips() {
        let extras = vec![Extra {
            tag: "caller".into(),
            name: "src".into(),
        }];
        assert_eq!(
            rec(Kind::Answered).log_line(&extras, &[]),
            "ACC: transaction answered: timestamp=1700000000;method=INVITE;from_tag=ft;\
             to_tag=tt;call_id=cid@h;code=200;reason=OK;src=sip:a@h"
        );
        assert!(
            rec(Kind::Missed)
                .log_line(&[], &[])
                .starts_with("ACC: call missed: ")
        );
    }

    #[test]
    fn log_line_has_every_leg() {
        let legs = vec![
            Extra {
                tag: "src".into(),
                name: "src_leg".into(),
            },
            Extra {
                tag: "dst".into(),
                name: "dst_leg".into(),
            },
        ];
        let mut r = rec(Kind::Answered);
        assert!(
            r.log_line(&[], &legs)
                .ends_with("reason=OK;src_leg=;dst_leg=")
        );
        r.legs = vec![
            vec![("src".into(), "a".into()), ("dst".into(), "b".into())],
            vec![("dst".into(), "c".into())],
        ];
        assert!(
            r.log_line(&[], &legs)
                .ends_with("reason=OK;src_leg=a;dst_leg=b;src_leg=;dst_leg=c"),
            "{}",
            r.log_line(&[], &legs)
        );
        assert_eq!(r.leg_sets().len(), 2);
    }

    #[test]
    fn one_row_per_leg() {
        let db = Db::open_sqlite(std::path::Path::new(":memory:"), true).unwrap();
        db.execute(
            "CREATE TABLE acc (id INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT, from_tag TEXT, \
             to_tag TEXT, callid TEXT, sip_code TEXT, sip_reason TEXT, time TEXT, dst_col TEXT)",
            &[],
        )
        .unwrap();
        let mut legs = super::super::config::Extras::default();
        legs.add("db: dst->dst_col").unwrap();
        let cfg = cfg_with_legs(legs);
        let mut r = rec(Kind::Answered);
        insert(&db, &cfg, "acc", &r).unwrap();
        r.legs = vec![
            vec![("dst".into(), "sip:b@h".into())],
            vec![("dst".into(), "sip:c@h".into())],
        ];
        insert(&db, &cfg, "acc", &r).unwrap();
        let rows: Vec<String> = db
            .query("SELECT dst_col, callid FROM acc ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|row| {
                format!(
                    "{}|{}",
                    row.get(0).to_text().unwrap(),
                    row.get(1).to_text().unwrap()
                )
            })
            .collect();
        assert_eq!(rows, ["|cid@h", "sip:b@h|cid@h", "sip:c@h|cid@h"]);
    }

    fn cfg_with_legs(legs: super::super::config::Extras) -> AccConfig {
        AccConfig {
            log_level: 2,
            log_facility: "LOG_DAEMON".into(),
            table_acc: "acc".into(),
            table_missed: "missed_calls".into(),
            report_cancels: false,
            early_media: false,
            failed_transaction_flag: None,
            created_avp: None,
            extras: Default::default(),
            legs,
            columns: super::super::config::Columns {
                method: "method".into(),
                from_tag: "from_tag".into(),
                to_tag: "to_tag".into(),
                callid: "callid".into(),
                sip_code: "sip_code".into(),
                sip_reason: "sip_reason".into(),
                time: "time".into(),
            },
        }
    }

    #[test]
    fn cdr_times() {
        let t0 = UNIX_EPOCH + Duration::from_secs(100);
        let c = Cdr {
            created: t0,
            start: t0 + Duration::from_millis(2_400),
            ms_duration: 3_600,
        };
        assert_eq!(c.setuptime(), 2);
        assert_eq!(c.duration(), 4);
        let mut r = rec(Kind::CallEnded);
        r.cdr = Some(c);
        assert!(
            r.log_line(&[], &[])
                .ends_with(";duration=4;ms_duration=3600;setuptime=2;created=100")
        );
    }
}
