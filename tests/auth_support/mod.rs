//! Support for the auth / domain / permissions tests: a throw-away database on one engine with
//! the OpenSIPS tables, users provisioned through the library's database layer, `osips -f`
//! started on a free port, sipp runs, and a small raw-UDP SIP client.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::time::Duration;

use osips::ctl::digest::Ha1;
use osips::db::{Db, DbUrl, Engine, Value, admin, schema};

#[path = "../common/mod.rs"]
pub mod common;

use common::scenario;
use common::sipp::Run;

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

/// A running `osips -f` (the common launcher; `dir` holds the script and is HOME); SIGTERM
/// when dropped.
pub struct Osips(common::osips::Osips);

impl Osips {
    /// Writes `script` (`@PORT@` replaced by a free port) and runs it.
    pub fn start(script: &str) -> Osips {
        Osips(common::osips::Osips::script(script).start())
    }

    pub fn wait_for(&mut self, text: &str) {
        self.0.wait_for(text)
    }

    pub fn log(&self) -> String {
        self.0.log()
    }
}

impl std::ops::Deref for Osips {
    type Target = common::osips::Osips;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Osips {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Runs sipp with `scenario` against osips from `local_ip`; `extra`: more arguments
/// (`-au`, `-ap`...). Panics with sipp's errors and the osips log when the scenario fails.
pub fn sipp(osips: &Osips, scenario: &str, local_ip: &str, extra: &[&str]) {
    Run::new("sipp", scenario)
        .ip(local_ip)
        .towards_port(osips.port)
        .args(extra)
        .done(&osips.0);
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
    scenario::request(
        method,
        ruri,
        from,
        to,
        cseq,
        "<sip:u@[local_ip]:[local_port]>",
        &format!("      Expires: 60\n{extra}"),
    )
}

/// `<recv>` of a response, checking the whole message against `regex` when given.
pub fn sipp_expect(code: u16, auth: bool, regex: Option<&str>, var: &str) -> String {
    scenario::expect(code, auth, regex, var)
}

pub fn sipp_scenario(body: &str, vars: &[&str]) -> String {
    let vars: Vec<String> = vars.iter().map(|v| v.to_string()).collect();
    scenario::wrap("osips test", body, &vars)
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
