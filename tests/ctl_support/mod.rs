//! A throw-away database per test, made by `osipsdbctl create` on one engine, and the osipsctl
//! binary run against it with the same rc file. The rc points OSIPS_MI_URL at a closed port
//! unless a test starts its own listener.
#![allow(dead_code)]

use std::net::TcpListener;

use assert_cmd::Command;
use osips::db::{Db, Engine, Value};

#[path = "../dbctl_support/mod.rs"]
mod dbctl_support;

#[allow(unused_imports)]
pub use dbctl_support::unique_name;

pub struct Ctl {
    pub env: dbctl_support::Env,
    pub mi_url: String,
    rc_more: std::cell::RefCell<String>,
}

/// A port nothing listens on (bound, then released).
pub fn closed_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/mi")
}

impl Ctl {
    /// A new database with the standard tables (None: the server is not configured and this
    /// is not CI).
    pub fn new(engine: Engine) -> Option<Ctl> {
        Ctl::with_rc(engine, "")
    }

    pub fn with_rc(engine: Engine, extra: &str) -> Option<Ctl> {
        let env = dbctl_support::Env::with_rc(engine, extra)?;
        env.ok(&["create"]);
        let ctl = Ctl {
            env,
            mi_url: closed_url(),
            rc_more: Default::default(),
        };
        ctl.set_rc("");
        Some(ctl)
    }

    /// An empty OpenSIPS 2.4 database (subscriber version 7, with ha1b).
    pub fn legacy_24(engine: Engine) -> Option<Ctl> {
        let env = dbctl_support::Env::with_rc(engine, "")?;
        env.build_legacy("2.4");
        let ctl = Ctl {
            env,
            mi_url: closed_url(),
            rc_more: Default::default(),
        };
        ctl.set_rc("");
        Some(ctl)
    }

    /// Rewrites the rc file: SIP_DOMAIN, the MI URL, and `more`.
    pub fn set_rc(&self, more: &str) {
        *self.rc_more.borrow_mut() = more.to_string();
        self.env.write_rc(&format!(
            "SIP_DOMAIN=example.com\nCTLENGINE=HTTP\nOSIPS_MI_URL={}\n{more}",
            self.mi_url
        ));
    }

    pub fn set_mi_url(&mut self, url: &str) {
        self.mi_url = url.to_string();
        let more = self.rc_more.borrow().clone();
        self.set_rc(&more);
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("osipsctl").unwrap();
        for v in [
            "OSIPSCTLRC",
            "osipsctlrc",
            "SIP_DOMAIN",
            "STORE_PLAINTEXT_PW",
            "ALIASES_TYPE",
            "VERIFY_ACL",
            "ACL_GROUPS",
            "OSIPS_MI_URL",
            "CTLENGINE",
            "OSIPS_FIFO",
            "OSIPS_DATAGRAM",
            "DBENGINE",
            "DBURL",
            "DBNAME",
            "DB_PATH",
            "USERCOL",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", self.env.dir.path());
        c.arg("--rc").arg(&self.env.rc);
        c.timeout(std::time::Duration::from_secs(120));
        c
    }

    /// Runs osipsctl with stdin closed; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).write_stdin("").output().unwrap();
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!se.contains("panicked"), "osipsctl {args:?} panicked: {se}");
        (out.status.code().unwrap_or(-1), so, se)
    }

    /// Runs and checks the exit code; an error is one line on stderr.
    pub fn expect(&self, args: &[&str], code: i32) -> (String, String) {
        let (c, so, se) = self.run(args);
        assert_eq!(
            c, code,
            "osipsctl {args:?}: exit {c}\nstdout: {so}\nstderr: {se}"
        );
        if code != 0 && !args.contains(&"--json") {
            if se.starts_with("error: ") {
                // clap's own usage message (several lines, with the usage).
                assert_eq!(code, 2, "{se}");
            } else {
                assert_eq!(se.trim().lines().count(), 1, "error must be one line: {se}");
                assert!(se.starts_with("osipsctl: error: "), "{se}");
            }
        }
        (so, se)
    }

    /// Runs, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0).0
    }

    /// Runs with --json, expects `code`, returns the parsed object.
    pub fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let (so, _) = self.expect(&a, code);
        let v: serde_json::Value = serde_json::from_str(so.trim())
            .unwrap_or_else(|e| panic!("osipsctl {args:?}: not one JSON object ({e}): {so}"));
        assert_eq!(v["ok"], serde_json::json!(code == 0), "{v}");
        assert_eq!(v["exit"], serde_json::json!(code), "{v}");
        v
    }

    pub fn db(&self) -> Db {
        self.env.open(None)
    }

    /// Rows of `sql` as text cells (NULL as "NULL").
    pub fn rows(&self, sql: &str, params: &[Value]) -> Vec<Vec<String>> {
        let db = self.db();
        let rows = db.query(sql, params).unwrap();
        db.close();
        rows.into_iter()
            .map(|r| {
                r.values
                    .iter()
                    .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        let db = self.db();
        let n = db
            .query(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .unwrap()[0]
            .get(0)
            .as_i64()
            .unwrap();
        db.close();
        n
    }
}

/// `printf '%s' s | md5sum` (and sha256sum, openssl dgst -sha512-256): digests computed by
/// other programs than osips.
pub fn digest_tool(algo: &str, s: &str) -> String {
    use std::io::Write;
    let (prog, args): (&str, &[&str]) = match algo {
        "md5" => ("md5sum", &[]),
        "sha256" => ("sha256sum", &[]),
        "sha512t256" => ("openssl", &["dgst", "-sha512-256", "-r"]),
        _ => panic!("{algo}"),
    };
    let mut child = std::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Generates one #[test] per engine for `fn body(engine: Engine)`.
#[macro_export]
macro_rules! on_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use osips::db::Engine;
            #[test]
            fn sqlite() {
                super::$name(Engine::Sqlite)
            }
            #[test]
            fn pgsql() {
                super::$name(Engine::Postgres)
            }
            #[test]
            fn mysql() {
                super::$name(Engine::Mysql)
            }
        }
    )*};
}
