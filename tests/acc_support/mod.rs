//! Shared by the acc and dialog end-to-end tests: `osips -F -E -f script` with the MI over HTTP,
//! sipp callers and callees on loopback, and throw-away databases with the acc / missed_calls /
//! dialog tables on SQLite, PostgreSQL and MariaDB.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osips::db::{Db, DbUrl, Engine, Value as DbValue, admin};
use osips::mi::client::{MiTarget, call};
use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;

/// A running `osips`; SIGTERM when dropped.
pub struct Osips {
    child: Child,
    pub port: u16,
    pub http: SocketAddr,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
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
        let http = common::free_tcp_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osips.cfg");
        let mut text = format!("{HEAD}{script}")
            .replace("@PORT@", &port.to_string())
            .replace("@HTTP@", &http.to_string());
        for (k, v) in vars {
            text = text.replace(k, v);
        }
        std::fs::write(&path, text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_osips"))
            .args(["-f", path.to_str().unwrap(), "-E", "-F"])
            .env("HOME", dir.path())
            .env_remove("OSIPSCTLRC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("osips starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let o = Osips {
            child,
            port,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while !o.log().contains("listening on") {
            assert!(
                o.log.lock().unwrap().len() < 1 << 20 && start.elapsed() < Duration::from_secs(20),
                "osips did not start:\n{}",
                o.log()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
        o
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn mi(&self, method: &str, params: Value) -> Result<Value, String> {
        let t = MiTarget::Http {
            addr: self.http,
            path: "/mi".into(),
        };
        call(&t, method, params, Duration::from_secs(20)).map_err(|e| e.to_string())
    }

    /// Waits until `cond` holds on the log (10 s).
    pub fn wait_log(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while !cond(&self.log()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Osips {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

/// One sipp process over UDP with its scenario directory (error file, message trace).
pub struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    what: String,
}

impl Sipp {
    fn spawn(what: &str, scenario: &str, args: &[String]) -> Sipp {
        let sipp = common::sipp().expect("sipp");
        let dir = tempfile::tempdir().unwrap();
        let sf = dir.path().join("scenario.xml");
        std::fs::write(&sf, scenario).unwrap();
        let mut all: Vec<String> = vec![
            "-sf".into(),
            sf.display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-t".into(),
            "u1".into(),
            "-m".into(),
            "1".into(),
            "-timeout".into(),
            "25s".into(),
            "-timeout_error".into(),
            "-trace_err".into(),
            "-error_file".into(),
            dir.path().join("err.log").display().to_string(),
            "-trace_msg".into(),
            "-message_file".into(),
            dir.path().join("msg.log").display().to_string(),
        ];
        all.extend_from_slice(args);
        let child = Command::new(sipp)
            .args(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        Sipp {
            child,
            dir,
            what: what.to_string(),
        }
    }

    /// A callee listening on `port`.
    pub fn uas(what: &str, scenario: &str, port: u16) -> Sipp {
        let s = Self::spawn(what, scenario, &["-p".into(), port.to_string()]);
        std::thread::sleep(Duration::from_millis(300));
        s
    }

    /// A caller placing one call to `user` through osips.
    pub fn uac(what: &str, scenario: &str, osips: &Osips, user: &str) -> Sipp {
        Self::spawn(
            what,
            scenario,
            &[
                format!("127.0.0.1:{}", osips.port),
                "-s".into(),
                user.into(),
                "-p".into(),
                common::free_udp_port().to_string(),
            ],
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn messages(&self) -> String {
        std::fs::read_to_string(self.path("msg.log")).unwrap_or_default()
    }

    /// Whether the process ended.
    pub fn finished(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Waits for the end and asserts success (exit code 0: the call passed every step).
    pub fn success(mut self, osips: &Osips) -> Sipp {
        let start = Instant::now();
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!(
                    "{} did not finish\n--- messages ---\n{}\n--- osips log ---\n{}",
                    self.what,
                    self.messages(),
                    osips.log()
                );
            }
            std::thread::sleep(Duration::from_millis(30));
        };
        if !st.success() {
            panic!(
                "{} failed ({st}):\n{}\n--- messages ---\n{}\n--- osips log ---\n{}",
                self.what,
                std::fs::read_to_string(self.path("err.log")).unwrap_or_default(),
                self.messages(),
                osips.log()
            );
        }
        self
    }

    /// The Call-ID of the first message sipp sent.
    pub fn call_id(&self) -> String {
        self.messages()
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID:").map(|v| v.trim().to_string()))
            .expect("a Call-ID in the sipp trace")
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn scenario(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"acc\">\n{body}\n</scenario>\n"
    )
}

const FROM: &str = "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]";
const CONTACT: &str = "Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>";
const NEW_VIA: &str = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]";
const TO_SERVICE: &str = "To: [service] <sip:[service]@[remote_ip]:[remote_port]>";
const RURI: &str = "sip:[service]@[remote_ip]:[remote_port]";

fn invite() -> String {
    format!(
        r#"<send retrans="500"><![CDATA[
INVITE {RURI} SIP/2.0
{NEW_VIA}
{FROM}
{TO_SERVICE}
Call-ID: [call_id]
CSeq: 1 INVITE
{CONTACT}
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>"#
    )
}

fn in_dialog(method: &str, cseq: u32) -> String {
    format!(
        r#"<send><![CDATA[
{method} [next_url] SIP/2.0
{NEW_VIA}
{FROM}
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} {method}
{CONTACT}
Max-Forwards: 70
Content-Length: 0

]]></send>"#
    )
}

/// Caller: INVITE, 200, ACK, talks for `talk_ms` (optionally waiting on `sync` first), BYE.
pub fn uac_call(talk_ms: u32) -> String {
    let mut s = invite();
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1);
    s += &format!("<pause milliseconds=\"{talk_ms}\"/>");
    s += &in_dialog("BYE", 2);
    s += r#"<recv response="200"/>"#;
    scenario(&s)
}

/// Caller: as `uac_call`, with a 183 before the 200.
pub fn uac_call_early(talk_ms: u32) -> String {
    let mut s = invite();
    s += r#"<recv response="100" optional="true"/>
<recv response="183"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1);
    s += &format!("<pause milliseconds=\"{talk_ms}\"/>");
    s += &in_dialog("BYE", 2);
    s += r#"<recv response="200"/>"#;
    scenario(&s)
}

/// Caller: INVITE answered with `code`, ACKed hop by hop.
pub fn uac_expect(code: u16) -> String {
    let mut s = invite();
    s += &format!(
        r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="{code}"/>
<send><![CDATA[
ACK {RURI} SIP/2.0
[last_Via:]
{FROM}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>"#
    );
    scenario(&s)
}

fn reply(code: &str, with_tag: bool, sdp: bool) -> String {
    let to = if with_tag {
        "[last_To:];tag=[pid]SIPpTag01[call_number]"
    } else {
        "[last_To:]"
    };
    let (ct, body) = if sdp {
        (
            "Content-Type: application/sdp\nContent-Length: [len]",
            "\nv=0\no=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\ns=-\nc=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
        )
    } else {
        ("Content-Length: 0", "\n")
    };
    format!(
        r#"<send><![CDATA[
SIP/2.0 {code}
[last_Via:]
[last_Record-Route:]
[last_From:]
{to}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{ct}
{body}]]></send>"#
    )
}

/// Callee: rings for `ring_ms`, answers, waits for the BYE.
pub fn uas_answer(ring_ms: u32) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false);
    s += &format!("<pause milliseconds=\"{ring_ms}\"/>");
    s += &reply("200 OK", true, true);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false);
    s += "<pause milliseconds=\"500\"/>";
    scenario(&s)
}

/// Callee: early media (183), then answers; waits for the BYE.
pub fn uas_early_media_answer() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("183 Session Progress", true, true);
    s += "<pause milliseconds=\"100\"/>";
    s += &reply("200 OK", true, true);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false);
    s += "<pause milliseconds=\"500\"/>";
    scenario(&s)
}

/// Callee: busy.
pub fn uas_busy() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("486 Busy Here", true, false);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += "<pause milliseconds=\"300\"/>";
    scenario(&s)
}

/// A fresh database with the tables of `tables` on `engine`; dropped with the value.
pub struct TestDb {
    pub url: String,
    admin: Option<(Db, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin {
            let _ = admin::drop_database(admin, name);
        }
    }
}

fn install(db: &Db, engine: Engine, tables: &[&str]) {
    for name in tables {
        let t = osips::db::schema::current().table(name).unwrap();
        for stmt in t.create_sql(engine) {
            db.execute(&stmt, &[]).unwrap();
        }
    }
}

/// None (skipped) only when the server is missing outside CI.
pub fn test_db(engine: Engine, tables: &[&str]) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("osips.sqlite");
            let db = Db::open_sqlite(&path, true).unwrap();
            install(&db, engine, tables);
            Some(TestDb {
                url: format!("sqlite://{}", path.display()),
                admin: None,
                _dir: Some(dir),
            })
        }
        _ => {
            let admin_url = if engine == Engine::Postgres {
                common::pgsql_admin_url()?
            } else {
                common::mysql_admin_url()?
            };
            let admin = Db::connect(&DbUrl::parse(&admin_url).unwrap()).unwrap();
            let name = common::unique_name("osacc");
            admin::create_database(&admin, &name).unwrap();
            let url = format!("{}/{name}", admin_url.trim_end_matches('/'));
            let db = Db::connect(&DbUrl::parse(&url).unwrap()).unwrap();
            install(&db, engine, tables);
            db.close();
            Some(TestDb {
                url,
                admin: Some((admin, name)),
                _dir: None,
            })
        }
    }
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
    r#"<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<pause milliseconds="300"/>"#
        .to_string()
}

/// Caller: INVITE, 200, ACK, then waits for a BYE from the proxy and answers it.
pub fn uac_call_ended_by_proxy() -> String {
    let mut s = invite();
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1);
    s += &answer_bye();
    scenario(&s)
}

/// Callee: answers, then waits for a BYE from the proxy and answers it.
pub fn uas_answer_ended_by_proxy() -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false);
    s += &reply("200 OK", true, true);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += &answer_bye();
    scenario(&s)
}
