//! Shared by the registrar / usrloc end-to-end tests: an `osips -f script` child that can be
//! killed with SIGKILL and started again on the same ports and files, REGISTER scenarios for
//! sipp, the MI over HTTP, and throw-away databases with the `location` table.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osips::db::{Db, DbUrl, Engine, admin};
use osips::mi::client::{MiTarget, call};
use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;

/// A running `osips`; SIGTERM when dropped.
pub struct Osips {
    child: Option<Child>,
    pub port: u16,
    pub http: SocketAddr,
    pub script: PathBuf,
    log: Arc<Mutex<String>>,
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_osips"))
            .args(["-f", script.to_str().unwrap(), "-E", "-F"])
            .env("HOME", script.parent().unwrap())
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
        let mut o = Osips {
            child: Some(child),
            port,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            script,
            log,
        };
        o.wait_for("listening on");
        o
    }

    /// The same script, ports and files again (after [`Osips::kill9`]).
    pub fn restart(&mut self) {
        let again = Osips::run(self.script.clone(), self.port, self.http.port());
        self.stop();
        *self = again;
    }

    pub fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            if let Some(c) = self.child.as_mut()
                && let Some(st) = c.try_wait().unwrap()
            {
                panic!("osips exited ({st}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "osips did not print `{text}`:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to write anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a clean stop.
    pub fn terminate(&mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while c.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                let _ = c.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// An MI command over HTTP.
    pub fn mi(&self, method: &str, params: Value) -> Result<Value, String> {
        let t = MiTarget::Http {
            addr: self.http,
            path: "/mi".into(),
        };
        call(&t, method, params, Duration::from_secs(20)).map_err(|e| e.to_string())
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

impl Drop for Osips {
    fn drop(&mut self) {
        self.stop();
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

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The sipp scenario of one REGISTER (`[fieldN]` allowed in the texts).
pub fn register_xml(r: &Reg<'_>) -> String {
    let mut headers = String::new();
    if let Some(e) = r.expires {
        headers.push_str(&format!("      Expires: {e}\n"));
    }
    for h in &r.headers {
        headers.push_str(&format!("      {h}\n"));
    }
    let mut eregs = String::new();
    let mut vars = Vec::new();
    for (i, re) in r.expect.iter().enumerate() {
        eregs.push_str(&format!(
            "      <ereg regexp=\"{}\" search_in=\"msg\" check_it=\"true\" assign_to=\"e{i}\"/>\n",
            xml_escape(re)
        ));
        vars.push(format!("e{i}"));
    }
    for (i, re) in r.refuse.iter().enumerate() {
        eregs.push_str(&format!(
            "      <ereg regexp=\"{}\" search_in=\"msg\" check_it_inverse=\"true\" assign_to=\"n{i}\"/>\n",
            xml_escape(re)
        ));
        vars.push(format!("n{i}"));
    }
    let reference = if vars.is_empty() {
        String::new()
    } else {
        format!("  <Reference variables=\"{}\"/>\n", vars.join(","))
    };
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:{user}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@{domain}>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: {contact}
      Max-Forwards: 70
      User-Agent: sipp-registrar-test
{headers}      Content-Length: 0

    ]]>
  </send>
  <recv response="{code}">
    <action>
{eregs}    </action>
  </recv>
{reference}</scenario>
"#,
        domain = r.domain,
        user = r.user,
        cseq = r.cseq,
        contact = r.contact,
        code = r.code,
    )
}

/// Runs sipp to completion (30 s at most, `limit` for big runs); panics with its errors and
/// the osips log when it fails.
pub fn sipp(args: &[String], what: &str, osips: &Osips, err_file: &Path, limit: Duration) {
    let bin = common::sipp().expect("sipp");
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            if !st.success() {
                let errs = std::fs::read_to_string(err_file).unwrap_or_default();
                panic!(
                    "{what} failed ({st}):\n{errs}\n--- osips log ---\n{}",
                    osips.log()
                );
            }
            return;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish\n--- osips log ---\n{}", osips.log());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Sends one REGISTER from 127.0.0.1 (a fresh port) and checks the reply.
pub fn register(o: &Osips, r: &Reg<'_>) {
    register_from(o, r, common::free_udp_port());
}

/// Same, from the given local port.
pub fn register_from(o: &Osips, r: &Reg<'_>, local_port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("reg.xml");
    std::fs::write(&sf, register_xml(r)).unwrap();
    let err = dir.path().join("err.log");
    let args: Vec<String> = vec![
        format!("127.0.0.1:{}", o.port),
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        local_port.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "15s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ];
    let mut args = args;
    if let Some(cid) = r.call_id {
        // sipp maps replies by Call-ID: a fixed one goes through -cid_str.
        args.push("-cid_str".into());
        args.push(cid.into());
    }
    let what = format!("REGISTER {} {} → {}", r.user, r.contact, r.code);
    sipp(&args, &what, o, &err, Duration::from_secs(30));
}

/// Registers `n` users `user0000`.. each with one contact on 127.0.0.2:`contact_port`, from an
/// injection file.
pub fn register_many(o: &Osips, n: usize, contact_port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("SEQUENTIAL\n");
    for i in 0..n {
        csv.push_str(&format!("user{i:04};\n"));
    }
    let inf = dir.path().join("users.csv");
    std::fs::write(&inf, csv).unwrap();
    let r = Reg {
        user: "[field0]",
        contact: format!("<sip:[field0]@127.0.0.2:{contact_port}>"),
        expires: Some(3600),
        ..Reg::default()
    };
    let sf = dir.path().join("reg.xml");
    std::fs::write(&sf, register_xml(&r)).unwrap();
    let err = dir.path().join("err.log");
    let args: Vec<String> = vec![
        format!("127.0.0.1:{}", o.port),
        "-sf".into(),
        sf.display().to_string(),
        "-inf".into(),
        inf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        common::free_udp_port().to_string(),
        "-m".into(),
        n.to_string(),
        "-r".into(),
        "200".into(),
        "-l".into(),
        "50".into(),
        "-timeout".into(),
        "120s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ];
    sipp(
        &args,
        &format!("{n} REGISTERs"),
        o,
        &err,
        Duration::from_secs(150),
    );
}

/// A UAS on `ip:port` answering one `method` with 200 after checking the request against
/// `expect` (regexes on the whole message); returns the child and its error file.
pub fn uas(ip: &str, port: u16, method: &str, expect: &[String]) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut eregs = String::new();
    let mut vars = Vec::new();
    for (i, re) in expect.iter().enumerate() {
        eregs.push_str(&format!(
            "      <ereg regexp=\"{}\" search_in=\"msg\" check_it=\"true\" assign_to=\"c{i}\"/>\n",
            xml_escape(re)
        ));
        vars.push(format!("c{i}"));
    }
    let reference = if vars.is_empty() {
        String::new()
    } else {
        format!("  <Reference variables=\"{}\"/>\n", vars.join(","))
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas">
  <recv request="{method}">
    <action>
{eregs}    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
{reference}</scenario>
"#
    );
    let sf = dir.path().join("uas.xml");
    std::fs::write(&sf, xml).unwrap();
    let err = dir.path().join("uas_err.log");
    let bin = common::sipp().expect("sipp");
    let child = Command::new(bin)
        .args([
            "-sf",
            sf.to_str().unwrap(),
            "-i",
            ip,
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-timeout",
            "20s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            err.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp UAS");
    std::thread::sleep(Duration::from_millis(300));
    (child, dir)
}

/// Waits for the UAS to finish successfully.
pub fn uas_done(mut child: Child, dir: &tempfile::TempDir, o: &Osips) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            if !st.success() {
                let errs =
                    std::fs::read_to_string(dir.path().join("uas_err.log")).unwrap_or_default();
                panic!("UAS failed ({st}):\n{errs}\n--- osips log ---\n{}", o.log());
            }
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("UAS did not finish\n--- osips log ---\n{}", o.log());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Sends one `method` to `user@…` through osips and expects `code` back.
pub fn request(o: &Osips, method: &str, user: &str, code: u16) {
    let dir = tempfile::tempdir().unwrap();
    let xml = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac">
  <send retrans="500">
    <![CDATA[
      {method} sip:{user}@example.com SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@example.com>
      Call-ID: [call_id]
      CSeq: 1 {method}
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="{code}"/>
</scenario>
"#
    );
    let sf = dir.path().join("uac.xml");
    std::fs::write(&sf, xml).unwrap();
    let err = dir.path().join("err.log");
    let args: Vec<String> = vec![
        format!("127.0.0.1:{}", o.port),
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        common::free_udp_port().to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "15s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ];
    sipp(
        &args,
        &format!("{method} {user} → {code}"),
        o,
        &err,
        Duration::from_secs(30),
    );
}

/// A database with the `location` table, dropped (server engines) when the guard goes.
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

fn install_location(db: &Db, engine: Engine) {
    let t = osips::db::schema::current().table("location").unwrap();
    for stmt in t.create_sql(engine) {
        db.execute(&stmt, &[]).unwrap();
    }
}

/// A fresh database on `engine`; None (skipped) only when the server is missing outside CI.
pub fn test_db(engine: Engine) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("osips.sqlite");
            let db = Db::open_sqlite(&path, true).unwrap();
            install_location(&db, engine);
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
            let name = common::unique_name("osreg");
            admin::create_database(&admin, &name).unwrap();
            let url = format!("{}/{name}", admin_url.trim_end_matches('/'));
            let db = Db::connect(&DbUrl::parse(&url).unwrap()).unwrap();
            install_location(&db, engine);
            db.close();
            Some(TestDb {
                url,
                admin: Some((admin, name)),
                _dir: None,
            })
        }
    }
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
