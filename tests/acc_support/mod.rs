//! Shared by the acc and dialog end-to-end tests: `osips -F -E -f script` with the MI over HTTP,
//! sipp callers and callees on loopback, and throw-away databases with the acc / missed_calls /
//! dialog tables on SQLite, PostgreSQL and MariaDB.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use osips::db::{Db, DbUrl, Engine, Value as DbValue};
use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;

use common::scenario::{self, RURI, TO_SERVICE, in_dialog, invite, reply};
use common::sipp::Run;

/// A running `osips` (the common launcher); SIGTERM when dropped.
pub struct Osips {
    inner: common::osips::Osips,
    pub port: u16,
    pub http: SocketAddr,
}

/// Modules and sockets every test script starts with (`@PORT@`, `@HTTP@` filled in).
pub const HEAD: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"tm.so\"\nloadmodule \"sl.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"rr.so\"\n\
loadmodule \"httpd.so\"\nloadmodule \"mi_http.so\"\n\
modparam(\"httpd\", \"ip\", \"127.0.0.1\")\nmodparam(\"httpd\", \"port\", @HTTP@)\n\
modparam(\"tm\", \"fr_timeout\", 2)\nmodparam(\"tm\", \"fr_inv_timeout\", 5)\n";

impl Osips {
    /// Runs `HEAD` + `script` with `@PORT@`, `@HTTP@` and `vars` replaced.
    pub fn start(script: &str, vars: &[(&str, String)]) -> Osips {
        Self::start_at(common::free_port(), script, vars)
    }

    /// As `start`, with SIP on `port` (a restart on the same address).
    pub fn start_at(port: u16, script: &str, vars: &[(&str, String)]) -> Osips {
        let inner = common::osips::Osips::script(&format!("{HEAD}{script}"))
            .port(port)
            .mi_http()
            .vars(vars)
            .start();
        Osips {
            port: inner.port,
            http: inner.http,
            inner,
        }
    }

    pub fn log(&self) -> String {
        self.inner.log()
    }

    pub fn mi(&self, method: &str, params: Value) -> Result<Value, String> {
        self.inner.mi(method, params)
    }

    /// Waits until `cond` holds on the log (10 s).
    pub fn wait_log(&self, what: &str, cond: impl Fn(&str) -> bool) {
        self.inner.wait_log(what, cond)
    }
}

impl std::ops::Deref for Osips {
    type Target = common::osips::Osips;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// One sipp process over UDP with its scenario directory (error file, message trace).
pub struct Sipp(common::sipp::Sipp);

impl Sipp {
    fn run(what: &str, scenario: &str) -> Run {
        Run::new(what, scenario).timeout(25)
    }

    /// A callee listening on `port`.
    pub fn uas(what: &str, scenario: &str, port: u16) -> Sipp {
        Sipp(Self::run(what, scenario).port(port).uas())
    }

    /// A caller placing one call to `user` through osips.
    pub fn uac(what: &str, scenario: &str, osips: &Osips, user: &str) -> Sipp {
        Sipp(
            Self::run(what, scenario)
                .towards_port(osips.port)
                .service(user)
                .start(),
        )
    }

    pub fn messages(&self) -> String {
        self.0.messages()
    }

    /// Whether the process ended.
    pub fn finished(&mut self) -> bool {
        self.0.finished()
    }

    /// Waits for the end and asserts success (exit code 0: the call passed every step).
    pub fn success(self, osips: &Osips) -> Sipp {
        Sipp(self.0.success(&osips.inner))
    }

    /// The Call-ID of the first message sipp sent.
    pub fn call_id(&self) -> String {
        self.0.call_id()
    }
}

fn wrap(body: &str) -> String {
    scenario::wrap("acc", body, &[])
}

/// Caller: INVITE, 200, ACK, talks for `talk_ms` (optionally waiting on `sync` first), BYE.
pub fn uac_call(talk_ms: u32) -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1, true);
    s += &format!("<pause milliseconds=\"{talk_ms}\"/>");
    s += &in_dialog("BYE", 2, true);
    s += r#"<recv response="200"/>"#;
    wrap(&s)
}

/// Caller: as `uac_call`, with a 183 before the 200.
pub fn uac_call_early(talk_ms: u32) -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="183"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1, true);
    s += &format!("<pause milliseconds=\"{talk_ms}\"/>");
    s += &in_dialog("BYE", 2, true);
    s += r#"<recv response="200"/>"#;
    wrap(&s)
}

/// Caller: INVITE answered with `code`, ACKed hop by hop.
pub fn uac_expect(code: u16) -> String {
    scenario::uac_expect("acc", code)
}

/// Callee: rings for `ring_ms`, answers, waits for the BYE.
pub fn uas_answer(ring_ms: u32) -> String {
    scenario::uas_answer("acc", ring_ms, true)
}

/// Callee: early media (183), then answers; waits for the BYE.
pub fn uas_early_media_answer() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("183 Session Progress", true, true, None, true);
    s += "<pause milliseconds=\"100\"/>";
    s += &reply("200 OK", true, true, None, true);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false, None, true);
    s += "<pause milliseconds=\"500\"/>";
    wrap(&s)
}

/// Callee: busy.
pub fn uas_busy() -> String {
    scenario::uas_busy("acc", true)
}

/// A fresh database with the tables of `tables` on `engine`; dropped with the value.
pub use common::db::TestDb;

/// None (skipped) only when the server is missing outside CI.
pub fn test_db(engine: Engine, tables: &[&str]) -> Option<TestDb> {
    common::db::test_db(engine, tables, "osacc")
}

/// Rows of `SELECT cols FROM table` as text (NULL as "NULL").
pub fn rows(url: &str, table: &str, cols: &str) -> Vec<Vec<String>> {
    let db = Db::connect(&DbUrl::parse(url).unwrap()).unwrap();
    let out = db
        .query(
            &format!(
                "SELECT {cols} FROM {table} ORDER BY {}",
                if table == "dialog" { "dlg_id" } else { "id" }
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.get(i) {
                    DbValue::Null => "NULL".to_string(),
                    v => v.to_text().unwrap_or_default(),
                })
                .collect()
        })
        .collect();
    db.close();
    out
}

/// Waits until `table` has `n` rows (10 s) and returns them.
pub fn wait_rows(url: &str, table: &str, cols: &str, n: usize, o: &Osips) -> Vec<Vec<String>> {
    let start = Instant::now();
    loop {
        let r = rows(url, table, cols);
        if r.len() >= n {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} rows in {table}, want {n}\n{}",
            r.len(),
            o.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn answer_bye() -> String {
    format!(
        "<recv request=\"BYE\"/>\n{}<pause milliseconds=\"300\"/>",
        scenario::ok_to_last()
    )
}

/// Caller: INVITE, 200, ACK, then waits for a BYE from the proxy and answers it.
pub fn uac_call_ended_by_proxy() -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1, true);
    s += &answer_bye();
    wrap(&s)
}

/// Callee: answers, then waits for a BYE from the proxy and answers it.
pub fn uas_answer_ended_by_proxy() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false, None, true);
    s += &reply("200 OK", true, true, None, true);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += &answer_bye();
    wrap(&s)
}
