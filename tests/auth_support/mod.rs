//! Support for the auth / domain / permissions tests: a throw-away database on one engine with
//! the OpenSIPS tables, users provisioned through the library's database layer, `osips -f`
//! started on a free port, sipp runs, and a small raw-UDP SIP client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osips::ctl::digest::Ha1;
use osips::db::{Db, DbUrl, Engine, Value, admin, schema};

#[path = "../common/mod.rs"]
pub mod common;

/// A database with the subscriber, domain, dbaliases, grp, address and uri tables.
pub struct TestDb {
    pub engine: Engine,
    pub db: Db,
    pub url: DbUrl,
    server: Option<(Db, String)>,
    _dir: tempfile::TempDir,
}

const TABLES: &[&str] = &["subscriber", "domain", "dbaliases", "grp", "address", "uri"];

impl TestDb {
    /// None only when the server is not configured and not required (see `common`).
    pub fn new(engine: Engine) -> Option<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        let (db, url, server) = match engine {
            Engine::Sqlite => {
                let path = dir.path().join("auth.sqlite");
                let db = Db::open_sqlite(&path, true).unwrap();
                (db, DbUrl::sqlite(path), None)
            }
            _ => {
                let admin_url = match engine {
                    Engine::Postgres => common::pgsql_admin_url()?,
                    _ => common::mysql_admin_url()?,
                };
                let admin_url = DbUrl::parse(&admin_url).unwrap();
                let admin_db = Db::connect(&admin_url).expect("admin connection");
                let name = common::unique_name("osauth");
                admin::create_database(&admin_db, &name).unwrap();
                let url = admin_url.with_database(Some(&name));
                let db = Db::connect(&url).unwrap();
                (db, url, Some((admin_db, name)))
            }
        };
        for t in TABLES {
            let table = schema::current().table(t).unwrap();
            for sql in table.create_sql(engine) {
                db.execute(&sql, &[])
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
        Some(TestDb {
            engine,
            db,
            url,
            server,
            _dir: dir,
        })
    }

    pub fn url_string(&self) -> String {
        self.url.to_url_string()
    }

    /// A subscriber with every HA1 column filled (realm = domain) and the clear password.
    pub fn add_user(&self, user: &str, domain: &str, password: &str) {
        let h = Ha1::compute(user, domain, password);
        self.db
            .execute(
                "INSERT INTO subscriber (username, domain, password, ha1, ha1_sha256, ha1_sha512t256) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    Value::Text(user.into()),
                    Value::Text(domain.into()),
                    Value::Text(password.into()),
                    Value::Text(h.md5),
                    Value::Text(h.sha256),
                    Value::Text(h.sha512t256),
                ],
            )
            .unwrap();
    }

    pub fn add_domain(&self, domain: &str, attrs: Option<&str>, accept_subdomain: bool) {
        self.db
            .execute(
                "INSERT INTO domain (domain, attrs, accept_subdomain) VALUES (?, ?, ?)",
                &[
                    Value::Text(domain.into()),
                    attrs.map_or(Value::Null, |a| Value::Text(a.into())),
                    Value::Int(accept_subdomain as i64),
                ],
            )
            .unwrap();
    }

    pub fn add_alias(&self, alias_user: &str, alias_domain: &str, user: &str, domain: &str) {
        self.db
            .execute(
                "INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES (?, ?, ?, ?)",
                &[
                    Value::Text(alias_user.into()),
                    Value::Text(alias_domain.into()),
                    Value::Text(user.into()),
                    Value::Text(domain.into()),
                ],
            )
            .unwrap();
    }

    pub fn add_group(&self, user: &str, domain: &str, grp: &str) {
        self.db
            .execute(
                "INSERT INTO grp (username, domain, grp) VALUES (?, ?, ?)",
                &[
                    Value::Text(user.into()),
                    Value::Text(domain.into()),
                    Value::Text(grp.into()),
                ],
            )
            .unwrap();
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_address(
        &self,
        grp: i64,
        ip: &str,
        mask: i64,
        port: i64,
        proto: &str,
        pattern: Option<&str>,
        info: Option<&str>,
    ) {
        self.db
            .execute(
                "INSERT INTO address (grp, ip, mask, port, proto, pattern, context_info) VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    Value::Int(grp),
                    Value::Text(ip.into()),
                    Value::Int(mask),
                    Value::Int(port),
                    Value::Text(proto.into()),
                    pattern.map_or(Value::Null, |a| Value::Text(a.into())),
                    info.map_or(Value::Null, |a| Value::Text(a.into())),
                ],
            )
            .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_db, name)) = &self.server {
            let _ = admin::drop_database(admin_db, name);
        }
    }
}

/// A running `osips -f`; SIGTERM when dropped.
pub struct Osips {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    pub dir: tempfile::TempDir,
}

impl Osips {
    /// Writes `script` (`@PORT@` replaced by a free port) and runs it.
    pub fn start(script: &str) -> Osips {
        let port = common::free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osips.cfg");
        std::fs::write(&path, script.replace("@PORT@", &port.to_string())).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osips"));
        cmd.args(["-f", path.to_str().unwrap(), "-E", "-F"])
            .env("HOME", dir.path())
            .env_remove("OSIPSCTLRC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("osips starts");
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
            child,
            port,
            log,
            dir,
        };
        o.wait_for("listening on");
        o
    }

    pub fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("osips exited ({st}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "osips did not print `{text}`:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs sipp with `scenario` against osips from `local_ip`; `extra`: more arguments
/// (`-au`, `-ap`...). Panics with sipp's errors and the osips log when the scenario fails.
pub fn sipp(osips: &Osips, scenario: &str, local_ip: &str, extra: &[&str]) {
    let sipp = common::sipp().expect("sipp");
    let dir = tempfile::tempdir().unwrap();
    let sf = write(dir.path(), "scenario.xml", scenario);
    let err = dir.path().join("err.log");
    let port = {
        let s = UdpSocket::bind((local_ip, 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let mut args: Vec<String> = vec![
        format!("127.0.0.1:{}", osips.port),
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        local_ip.into(),
        "-p".into(),
        port.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "20s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = Command::new(sipp)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            if !st.success() {
                let errs = std::fs::read_to_string(&err).unwrap_or_default();
                panic!(
                    "sipp failed ({st}):\n{errs}\n--- osips log ---\n{}",
                    osips.log()
                );
            }
            return;
        }
        if start.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            panic!("sipp did not finish\n--- osips log ---\n{}", osips.log());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// A request line and headers for one sipp `<send>`; `{extra}` lines go before Content-Length.
pub fn sipp_request(
    method: &str,
    ruri: &str,
    from: &str,
    to: &str,
    cseq: u32,
    extra: &str,
) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      {method} {ruri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <{from}>;tag=[pid]T[call_number]
      To: <{to}>
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:u@[local_ip]:[local_port]>
      Max-Forwards: 70
      Expires: 60
{extra}      Content-Length: 0

    ]]>
  </send>
"#
    )
}

/// `<recv>` of a response, checking the whole message against `regex` when given.
pub fn sipp_expect(code: u16, auth: bool, regex: Option<&str>, var: &str) -> String {
    let auth = if auth { " auth=\"true\"" } else { "" };
    match regex {
        None => format!("  <recv response=\"{code}\"{auth}/>\n"),
        Some(re) => format!(
            "  <recv response=\"{code}\"{auth}>\n    <action>\n      <ereg regexp=\"{re}\" search_in=\"msg\" check_it=\"true\" assign_to=\"{var}\"/>\n    </action>\n  </recv>\n"
        ),
    }
}

pub fn sipp_scenario(body: &str, vars: &[&str]) -> String {
    let refs = if vars.is_empty() {
        String::new()
    } else {
        format!("  <Reference variables=\"{}\"/>\n", vars.join(","))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"osips test\">\n{body}{refs}</scenario>\n"
    )
}

/// A bare UDP SIP client for what sipp cannot do (replaying a request, SHA-256 digests).
pub struct Uac {
    pub sock: UdpSocket,
    pub to: String,
    n: u32,
}

impl Uac {
    pub fn new(local_ip: &str, osips: &Osips) -> Uac {
        Uac::with_socket(UdpSocket::bind((local_ip, 0)).unwrap(), osips)
    }

    /// A client on a socket the test bound itself (a known source port).
    pub fn with_socket(sock: UdpSocket, osips: &Osips) -> Uac {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Uac {
            sock,
            to: format!("127.0.0.1:{}", osips.port),
            n: 0,
        }
    }

    /// Sends `method ruri` with From/To `aor` and the extra header lines; returns the reply.
    pub fn send(&mut self, method: &str, ruri: &str, aor: &str, extra: &[String]) -> String {
        self.fire(method, ruri, aor, extra);
        let mut buf = vec![0u8; 65536];
        let (n, _) = self.sock.recv_from(&mut buf).expect("a reply from osips");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Sends a request without waiting for a reply (one osips forwards).
    pub fn fire(&mut self, method: &str, ruri: &str, aor: &str, extra: &[String]) {
        self.n += 1;
        let local = self.sock.local_addr().unwrap();
        let mut m = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKuac{}x{}\r\n\
             From: <{aor}>;tag=f{}\r\nTo: <{aor}>\r\nCall-ID: uac-{}@test\r\nCSeq: {} {method}\r\n\
             Max-Forwards: 70\r\nContact: <sip:u@{local}>\r\n",
            std::process::id(),
            self.n,
            std::process::id(),
            local.port(),
            self.n
        );
        for h in extra {
            m.push_str(h);
            m.push_str("\r\n");
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        self.sock.send_to(m.as_bytes(), &self.to).unwrap();
    }
}

/// The value of header `name` (first line) in a reply.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Every value of header `name`.
pub fn headers<'a>(msg: &'a str, name: &'a str) -> Vec<&'a str> {
    msg.split("\r\n")
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// A quoted or bare parameter of a challenge.
pub fn param(challenge: &str, name: &str) -> Option<String> {
    let i = challenge.find(&format!("{name}="))?;
    let rest = &challenge[i + name.len() + 1..];
    if let Some(q) = rest.strip_prefix('"') {
        Some(q[..q.find('"')?].to_string())
    } else {
        Some(rest.split([',', ' ']).next()?.to_string())
    }
}

/// Status code of a reply.
pub fn status(msg: &str) -> u16 {
    msg.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}
