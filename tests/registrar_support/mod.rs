//! Shared by the registrar / usrloc end-to-end tests: an `osips -f script` child that can be
//! killed with SIGKILL and started again on the same ports and files, REGISTER scenarios for
//! sipp, the MI over HTTP, and throw-away databases with the `location` table.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use osips::db::{Db, DbUrl, Engine};
use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;

use common::scenario::{self, Check};
use common::sipp::Run;

/// A running `osips` (the common launcher); SIGTERM when dropped.
pub struct Osips {
    inner: common::osips::Osips,
    pub port: u16,
    pub http: SocketAddr,
    pub script: PathBuf,
}

/// Replaces `@PORT@`, `@HTTP@` and `@DIR@` in a script.
pub fn expand(script: &str, port: u16, http: u16, dir: &Path) -> String {
    script
        .replace("@PORT@", &port.to_string())
        .replace("@HTTP@", &http.to_string())
        .replace("@DIR@", dir.to_str().unwrap())
}

/// The lines every test script starts with: one UDP socket, sl, the MI over HTTP, usrloc and
/// registrar.
pub const HEAD: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"sipmsgops.so\"\nloadmodule \"textops.so\"\n\
loadmodule \"httpd.so\"\nloadmodule \"mi_http.so\"\n\
modparam(\"httpd\", \"ip\", \"127.0.0.1\")\nmodparam(\"httpd\", \"port\", @HTTP@)\n\
loadmodule \"usrloc.so\"\nloadmodule \"registrar.so\"\n";

impl Osips {
    /// Writes `script` into `dir` (placeholders expanded, fresh ports) and runs it.
    pub fn start(dir: &Path, script: &str) -> Osips {
        let port = common::free_udp_port();
        let http = common::free_tcp_port();
        let path = dir.join(format!("osips-{port}.cfg"));
        std::fs::write(&path, expand(script, port, http, dir)).unwrap();
        Self::run(path, port, http)
    }

    /// Runs an already written script listening on `port` (SIP) and `http` (MI).
    pub fn run(script: PathBuf, port: u16, http: u16) -> Osips {
        let inner = common::osips::Osips::file(&script)
            .port(port)
            .http_port(http)
            .start();
        Osips {
            port,
            http: inner.http,
            script,
            inner,
        }
    }

    /// The same script, ports and files again (after [`Osips::kill9`]).
    pub fn restart(&mut self) {
        self.inner.restart()
    }

    pub fn wait_for(&mut self, text: &str) {
        self.inner.wait_for(text)
    }

    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// SIGKILL: no chance to write anything.
    pub fn kill9(&mut self) {
        self.inner.kill9()
    }

    /// SIGTERM and wait: a clean stop.
    pub fn terminate(&mut self) {
        self.inner.terminate()
    }

    /// An MI command over HTTP.
    pub fn mi(&self, method: &str, params: Value) -> Result<Value, String> {
        self.inner.mi(method, params)
    }

    /// Number of AORs `ul_dump` lists.
    pub fn dumped_aors(&self) -> usize {
        let v = self.mi("ul_dump", serde_json::json!([])).unwrap();
        v["Domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["AORs"].as_array().map_or(0, |a| a.len()))
            .sum()
    }
}

impl std::ops::Deref for Osips {
    type Target = common::osips::Osips;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// One REGISTER and what its reply must be.
pub struct Reg<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    /// The Contact header value(s).
    pub contact: String,
    pub expires: Option<u32>,
    pub call_id: Option<&'a str>,
    pub cseq: u32,
    pub headers: Vec<String>,
    pub code: u16,
    /// Regular expressions the reply must match (sipp `ereg` on the whole message).
    pub expect: Vec<String>,
    /// Regular expressions the reply must not match.
    pub refuse: Vec<String>,
}

impl Default for Reg<'_> {
    fn default() -> Self {
        Reg {
            user: "alice",
            domain: "example.com",
            contact: "<sip:alice@127.0.0.2:5070>".into(),
            expires: Some(300),
            call_id: None,
            cseq: 1,
            headers: Vec::new(),
            code: 200,
            expect: Vec::new(),
            refuse: Vec::new(),
        }
    }
}

impl<'a> Reg<'a> {
    /// `user` behind a NAT: its Contact names 127.0.0.9:`contact_port`, an address the UA
    /// cannot be reached on (it sends from another one).
    pub fn behind_nat(user: &'a str, contact_port: u16) -> Reg<'a> {
        Reg {
            user,
            contact: format!("<sip:{user}@127.0.0.9:{contact_port}>"),
            ..Reg::default()
        }
    }
}

/// The sipp scenario of one REGISTER (`[fieldN]` allowed in the texts).
pub fn register_xml(r: &Reg<'_>) -> String {
    let mut headers = vec![
        format!(
            "From: <sip:{}@{}>;tag=[pid]SIPpTag00[call_number]",
            r.user, r.domain
        ),
        format!("To: <sip:{}@{}>", r.user, r.domain),
        format!("CSeq: {} REGISTER", r.cseq),
        format!("Contact: {}", r.contact),
        "Max-Forwards: 70".to_string(),
        "User-Agent: sipp-registrar-test".to_string(),
    ];
    if let Some(e) = r.expires {
        headers.push(format!("Expires: {e}"));
    }
    headers.extend(r.headers.iter().cloned());
    let mut checks: Vec<Check<'_>> = r
        .expect
        .iter()
        .map(|re| Check {
            re,
            search_in: "msg",
            header: None,
            inverse: false,
        })
        .collect();
    checks.extend(r.refuse.iter().map(|re| Check {
        re,
        search_in: "msg",
        header: None,
        inverse: true,
    }));
    scenario::uac_request(
        "register",
        &format!("REGISTER sip:{}", r.domain),
        &headers,
        r.code,
        &checks,
    )
}

/// Runs sipp to completion (30 s at most, `limit` for big runs); panics with its errors and
/// the osips log when it fails.
pub fn sipp(args: &[String], what: &str, osips: &Osips, err_file: &Path, limit: Duration) {
    let bin = common::sipp().expect("sipp");
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    common::sipp::finish(child, what, err_file, &osips.inner, limit);
}

/// Sends one REGISTER from 127.0.0.1 (a fresh port) and checks the reply.
pub fn register(o: &Osips, r: &Reg<'_>) {
    register_from(o, r, common::free_udp_port());
}

/// Same, from the given local port.
pub fn register_from(o: &Osips, r: &Reg<'_>, local_port: u16) {
    let what = format!("REGISTER {} {} → {}", r.user, r.contact, r.code);
    let mut run = Run::new(&what, &register_xml(r))
        .towards_port(o.port)
        .port(local_port)
        .timeout(15)
        .limit(Duration::from_secs(30));
    if let Some(cid) = r.call_id {
        // sipp maps replies by Call-ID: a fixed one goes through -cid_str.
        run = run.args(&["-cid_str", cid]);
    }
    run.done(&o.inner);
}

/// Registers `n` users `user0000`.. each with one contact on 127.0.0.2:`contact_port`, from an
/// injection file.
pub fn register_many(o: &Osips, n: usize, contact_port: u16) {
    let mut csv = String::from("SEQUENTIAL\n");
    for i in 0..n {
        csv.push_str(&format!("user{i:04};\n"));
    }
    let r = Reg {
        user: "[field0]",
        contact: format!("<sip:[field0]@127.0.0.2:{contact_port}>"),
        expires: Some(3600),
        ..Reg::default()
    };
    let run = Run::new(&format!("{n} REGISTERs"), &register_xml(&r));
    let inf = run.file("users.csv", &csv);
    run.towards_port(o.port)
        .args(&["-inf", inf.to_str().unwrap(), "-r", "200", "-l", "50"])
        .calls(n)
        .timeout(120)
        .limit(Duration::from_secs(150))
        .no_trace()
        .done(&o.inner);
}

/// A UAS on `ip:port` answering one `method` with 200 after checking the request against
/// `expect` (regexes on the whole message); returns the child and its directory.
pub fn uas(ip: &str, port: u16, method: &str, expect: &[String]) -> (Child, tempfile::TempDir) {
    let checks: Vec<Check<'_>> = expect
        .iter()
        .map(|re| Check {
            re,
            search_in: "msg",
            header: None,
            inverse: false,
        })
        .collect();
    let (child, dir) = Run::new("UAS", &scenario::uas_200_checked("uas", method, &checks))
        .ip(ip)
        .port(port)
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    (child, dir)
}

/// Waits for a UAS of [`uas`] to finish successfully.
pub fn uas_done(child: Child, dir: &tempfile::TempDir, o: &Osips) {
    let mut err = dir.path().join("err.log");
    if !err.exists() && dir.path().join("uas_err.log").exists() {
        err = dir.path().join("uas_err.log");
    }
    common::sipp::finish(child, "UAS", &err, &o.inner, Duration::from_secs(30));
}

/// Sends one `method` to `user@…` through osips and expects `code` back.
pub fn request(o: &Osips, method: &str, user: &str, code: u16) {
    request_expect(o, method, user, code, None);
}

/// As `request`, and the reply must match the regex `expect` (searched in the whole message).
pub fn request_expect(o: &Osips, method: &str, user: &str, code: u16, expect: Option<&str>) {
    let headers = [
        "From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]".to_string(),
        format!("To: <sip:{user}@example.com>"),
        format!("CSeq: 1 {method}"),
        "Contact: <sip:caller@[local_ip]:[local_port]>".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    let checks: Vec<Check> = expect
        .map(|re| Check {
            re,
            search_in: "msg",
            header: None,
            inverse: false,
        })
        .into_iter()
        .collect();
    let xml = scenario::uac_request(
        "uac",
        &format!("{method} sip:{user}@example.com"),
        &headers,
        code,
        &checks,
    );
    Run::new(&format!("{method} {user} → {code}"), &xml)
        .towards_port(o.port)
        .timeout(15)
        .limit(Duration::from_secs(30))
        .done(&o.inner);
}

/// A database with the `location` table, dropped (server engines) when the guard goes.
pub use common::db::TestDb;

/// A fresh database on `engine`; None (skipped) only when the server is missing outside CI.
pub fn test_db(engine: Engine) -> Option<TestDb> {
    common::db::test_db(engine, &["location"], "osreg")
}

/// Rows in the `location` table.
pub fn location_rows(url: &str) -> i64 {
    let db = Db::connect(&DbUrl::parse(url).unwrap()).unwrap();
    let n = db
        .query("SELECT count(*) FROM location", &[])
        .unwrap()
        .first()
        .and_then(|r| r.get(0).as_i64())
        .unwrap_or(-1);
    db.close();
    n
}
