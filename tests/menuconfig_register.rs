//! Generated scripts run by the real proxy: `osips -f` on the residential and platform scripts,
//! and a sipp user registers through each (the platform one with digest authentication in its
//! tenant's realm, from an SQLite database).
//!
//! Both scenarios relay with tm (`t_relay`) and load acc, proto_udp (and the platform db_sqlite),
//! registrar, usrloc, auth, auth_db and domain, all in osips now.

use osips::menuconfig::{Library, OptionSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[field0] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[field0]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:alice@[field0]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true" optional="true" next="auth"/>
  <recv response="200" next="done"/>
  <label id="auth"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[field0] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[field0]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:alice@[field0]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      [field1]
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <label id="done"/>
</scenario>
"#;

/// sipp's path; a missing sipp fails the test in CI (`CI` set) and skips it elsewhere.
fn sipp() -> Option<String> {
    let found = ["/usr/bin/sipp", "/usr/local/bin/sipp"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        found.is_some() || !ci,
        "sipp is required: install Debian's sip-tester"
    );
    found.map(str::to_string)
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn render(name: &str, values: &[(&str, String)]) -> String {
    let lib = Library::embedded();
    let mut set = OptionSet::defaults(lib.catalogue(name).unwrap());
    for (k, v) in values {
        set.set_unchecked(k, v).unwrap();
    }
    set.validate().unwrap();
    lib.render(&set).unwrap()
}

fn start(dir: &Path, script: &str) -> Proxy {
    let file = dir.join("opensips.cfg");
    std::fs::write(&file, script).unwrap();
    let log = std::fs::File::create(dir.join("osips.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_osips"))
        .arg("-f")
        .arg(&file)
        .args(["-F", "-E"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Proxy(child)
}

/// Registers alice@domain through the proxy on 127.0.0.1:port, retrying while it starts.
fn register(dir: &Path, port: u16, domain: &str, auth: Option<(&str, &str)>) {
    let Some(sipp) = sipp() else { return };
    std::fs::write(dir.join("reg.xml"), REGISTER).unwrap();
    let auth = match auth {
        Some((u, p)) => format!("[authentication username={u} password={p}]"),
        None => String::new(),
    };
    std::fs::write(
        dir.join("users.csv"),
        format!("SEQUENTIAL\n{domain};{auth}\n"),
    )
    .unwrap();
    let start = Instant::now();
    loop {
        let out = Command::new(&sipp)
            .current_dir(dir)
            .args([
                "-sf",
                "reg.xml",
                "-inf",
                "users.csv",
                "-m",
                "1",
                "-i",
                "127.0.0.1",
                "-p",
                "0",
            ])
            .args(["-timeout", "5s", "-timeout_error", "-nostdin"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if out.status.success() {
            return;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(dir.join("osips.log")).unwrap_or_default();
            panic!(
                "REGISTER through osips failed: {}\nosips log:\n{log}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn residential_script_registers_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let fifo = dir.path().join("fifo").display().to_string();
    let script = render(
        "residential",
        &[("SIP_PORT", port.to_string()), ("MI_FIFO", fifo)],
    );
    let _proxy = start(dir.path(), &script);
    register(dir.path(), port, "127.0.0.1", None);
}

#[test]
fn platform_script_registers_a_tenant_user_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opensips.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE version (table_name CHAR(32) NOT NULL UNIQUE, table_version INTEGER DEFAULT 0 NOT NULL);
         INSERT INTO version VALUES ('domain', 4), ('subscriber', 8);
         CREATE TABLE domain (id INTEGER PRIMARY KEY AUTOINCREMENT, domain CHAR(64) DEFAULT '' NOT NULL UNIQUE,
             attrs CHAR(255) DEFAULT NULL, accept_subdomain INTEGER DEFAULT 0 NOT NULL,
             last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL);
         CREATE TABLE subscriber (id INTEGER PRIMARY KEY AUTOINCREMENT, username CHAR(64) DEFAULT '' NOT NULL,
             domain CHAR(64) DEFAULT '' NOT NULL, password CHAR(25) DEFAULT '' NOT NULL,
             ha1 CHAR(64) DEFAULT '' NOT NULL, ha1_sha256 CHAR(64) DEFAULT '' NOT NULL,
             ha1_sha512t256 CHAR(64) DEFAULT '' NOT NULL);
         INSERT INTO domain (domain) VALUES ('tenant1.example');
         ",
    )
    .unwrap();
    // The template reads the HA1 (what osipsctl stores), not a clear password.
    let ha1 = osips::ctl::digest::Ha1::compute("alice", "tenant1.example", "secret");
    conn.execute(
        "INSERT INTO subscriber (username, domain, ha1) VALUES ('alice', 'tenant1.example', ?1)",
        [ha1.md5],
    )
    .unwrap();
    drop(conn);
    let port = free_udp_port();
    let mi_port = free_tcp_port();
    let script = render(
        "platform",
        &[
            ("PRIVATE_IP", "127.0.0.1".into()),
            ("PUBLIC_IP", "127.0.0.1".into()),
            ("SIP_PORT", port.to_string()),
            ("DB_URL", format!("sqlite://{}", db.display())),
            ("MI_FIFO", dir.path().join("fifo").display().to_string()),
            ("MI_HTTP_PORT", mi_port.to_string()),
            ("ICE_PASSTHROUGH", "no".into()),
            ("USE_NAT", "no".into()),
            ("USE_CONFERENCE", "no".into()),
        ],
    );
    let _proxy = start(dir.path(), &script);
    register(
        dir.path(),
        port,
        "tenant1.example",
        Some(("alice", "secret")),
    );
}

/// What stops the scenario scripts today is only modules osips does not have yet: every error of
/// `osips -C` is a missing module, so the registrar / auth / domain parts already check.
#[test]
fn scenario_scripts_only_lack_modules() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo").display().to_string();
    let scripts = [
        (
            "residential",
            render(
                "residential",
                &[("SIP_PORT", "5060".into()), ("MI_FIFO", fifo.clone())],
            ),
        ),
        (
            "platform",
            render(
                "platform",
                &[
                    ("PRIVATE_IP", "127.0.0.1".into()),
                    ("PUBLIC_IP", "127.0.0.1".into()),
                    ("SIP_PORT", "5060".into()),
                    (
                        "DB_URL",
                        format!("sqlite://{}", dir.path().join("x.sqlite").display()),
                    ),
                    ("MI_FIFO", fifo),
                    ("ICE_PASSTHROUGH", "no".into()),
                    ("USE_NAT", "no".into()),
                    ("USE_CONFERENCE", "no".into()),
                ],
            ),
        ),
    ];
    for (name, script) in scripts {
        let file = dir.path().join(format!("{name}.cfg"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_osips"))
            .arg("-C")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error")).collect();
        for e in &errors {
            assert!(
                e.starts_with("error: module `") && e.ends_with("is not implemented in osips yet"),
                "{name}: {e}\n{text}"
            );
        }
        // registrar and auth are no longer among the missing ones
        for m in [
            "registrar",
            "usrloc",
            "auth",
            "auth_db",
            "domain",
            "sl",
            "rr",
        ] {
            assert!(
                !errors.iter().any(|e| e.contains(&format!("`{m}`"))),
                "{name}: {text}"
            );
        }
        assert_eq!(out.status.success(), errors.is_empty(), "{name}: {text}");
    }
}
