//! osipsdbctl on a real terminal (tmux): confirmations, the superuser password prompt and the
//! yes/no/ask table groups.

mod dbctl_support;

use std::path::Path;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use dbctl_support::{Env, unique_name};
use osips::db::{Engine, admin};
use osips::dbctl::exit;

/// One tmux server per test, running the binary in a wrapper that records its exit code.
struct Term {
    socket: String,
    exit_file: std::path::PathBuf,
}

impl Term {
    fn start(env: &Env, args: &[&str]) -> Term {
        let socket = unique_name("osipsdbctl-tty");
        let exit_file = env.dir.path().join(format!("{socket}.exit"));
        let script = env.dir.path().join(format!("{socket}.sh"));
        let bin = assert_cmd::cargo::cargo_bin("osipsdbctl");
        let mut sh = String::from("#!/bin/sh\nunset OSIPSCTLRC osipsctlrc PW PGPASSWORD\n");
        sh.push_str(&format!("export HOME='{}'\n", env.dir.path().display()));
        sh.push_str(&format!("'{}' --rc '{}'", bin.display(), env.rc.display()));
        for a in args {
            sh.push_str(&format!(" '{a}'"));
        }
        sh.push_str(&format!(
            "\necho $? > '{}'\nsleep 60\n",
            exit_file.display()
        ));
        std::fs::write(&script, sh).unwrap();
        let st = Proc::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "30",
            ])
            .arg(format!("sh '{}'", script.display()))
            .status()
            .unwrap();
        assert!(st.success(), "tmux did not start");
        Term { socket, exit_file }
    }

    fn screen(&self) -> String {
        let out = Proc::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no `{text}` on screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&self, keys: &str) {
        let st = Proc::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", keys])
            .status()
            .unwrap();
        assert!(st.success());
        Proc::new("tmux")
            .args(["-L", &self.socket, "send-keys", "Enter"])
            .status()
            .unwrap();
    }

    fn exit_code(&self) -> i32 {
        let start = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.exit_file)
                && let Ok(c) = s.trim().parse()
            {
                return c;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no exit:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = Proc::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn drop_asks_on_a_terminal() {
    let env = Env::new(Engine::Sqlite).unwrap();
    env.ok(&["create"]);
    let t = Term::start(&env, &["drop"]);
    t.wait_for("[y/N]");
    t.send("n");
    assert_eq!(t.exit_code(), exit::NOT_CONFIRMED);
    assert!(Path::new(&env.db).exists());
    drop(t);
    let t = Term::start(&env, &["drop"]);
    t.wait_for("Drop database");
    t.send("y");
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    assert!(!Path::new(&env.db).exists());
}

#[test]
fn table_groups_are_asked_for() {
    let env = Env::with_rc(
        Engine::Sqlite,
        "INSTALL_PRESENCE_TABLES=ask\nINSTALL_EXTRA_TABLES=ask",
    )
    .unwrap();
    let t = Term::start(&env, &["create"]);
    t.wait_for("Install the presence tables? [y/N]");
    t.send("y");
    t.wait_for("Install the extra tables? [y/N]");
    t.send("no");
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    let db = env.open(None);
    let tables = admin::list_tables(&db).unwrap();
    assert!(tables.iter().any(|t| t == "presentity"));
    assert!(!tables.iter().any(|t| t == "b2b_entities"));
}

fn password_prompt(engine: Engine) {
    let Some(env) = Env::new(engine) else { return };
    let real = env.admin().url().password.clone().unwrap();
    env.write_rc("DBROOTPW=");
    let t = Term::start(&env, &["create"]);
    t.wait_for("Password for the database superuser");
    t.send("wrong-password");
    assert_eq!(t.exit_code(), exit::DENIED, "{}", t.screen());
    assert!(!env.exists(None));
    drop(t);
    let t = Term::start(&env, &["create"]);
    t.wait_for("Password for the database superuser");
    t.send(&real);
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    assert!(!t.screen().contains(&real), "the password is not echoed");
    assert!(env.exists(None));
}

#[test]
fn pgsql_password_is_prompted() {
    password_prompt(Engine::Postgres)
}

#[test]
fn mysql_password_is_prompted() {
    password_prompt(Engine::Mysql)
}
