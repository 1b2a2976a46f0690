//! On a terminal (tmux), osipsctl asks for a missing password twice, without echo; two
//! different answers change nothing. The prompt does not depend on the engine: SQLite only.

mod ctl_support;

use std::process::Command;
use std::time::{Duration, Instant};

use ctl_support::{Ctl, digest_tool};
use osips::db::Engine;

struct Tmux(String);

impl Tmux {
    fn start() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "tmux is required for this test (apt-get install tmux)");
            eprintln!("skipping: tmux not installed");
            return None;
        }
        let t = Tmux(format!("osipsctl-test-{}", ctl_support::unique_name("t")));
        let ok = t
            .cmd()
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "s",
                "-x",
                "120",
                "-y",
                "30",
                "sh",
            ])
            .env("PS1", "$ ")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Some(t)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0]);
        c
    }

    fn send(&self, keys: &[&str]) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", "s"])
                .args(keys)
                .status()
                .unwrap()
                .success()
        );
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "s"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waiting for {text:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

#[test]
fn password_is_asked_twice_on_a_terminal() {
    let Some(ctl) = Ctl::new(Engine::Sqlite) else {
        return;
    };
    let Some(t) = Tmux::start() else { return };
    let bin = assert_cmd::cargo::cargo_bin("osipsctl");
    let line = format!(
        "{} --rc '{}' add bob; echo RC\"\"=$?",
        bin.display(),
        ctl.env.rc.display()
    );
    t.send(&[&line, "Enter"]);
    t.wait_for("Password for bob@example.com:");
    t.send(&["tErCeS 1", "Enter"]);
    t.wait_for("Again:");
    t.send(&["tErCeS 1", "Enter"]);
    let s = t.wait_for("RC=");
    assert!(s.contains("RC=0"), "{s}");
    assert!(!s.contains("tErCeS"), "the password was echoed:\n{s}");
    let rows = ctl.rows("SELECT ha1 FROM subscriber WHERE username = 'bob'", &[]);
    assert_eq!(rows[0][0], digest_tool("md5", "bob:example.com:tErCeS 1"));
    // Two different answers: refused, nothing written.
    t.send(&["clear", "Enter"]);
    let line = format!(
        "{} --rc '{}' passwd bob; echo RC\"\"=$?",
        bin.display(),
        ctl.env.rc.display()
    );
    t.send(&[&line, "Enter"]);
    t.wait_for("Password for bob@example.com:");
    t.send(&["one", "Enter"]);
    t.wait_for("Again:");
    t.send(&["two", "Enter"]);
    let s = t.wait_for("RC=");
    assert!(
        s.contains("the two passwords differ") && s.contains("RC=2"),
        "{s}"
    );
    let rows = ctl.rows("SELECT ha1 FROM subscriber WHERE username = 'bob'", &[]);
    assert_eq!(rows[0][0], digest_tool("md5", "bob:example.com:tErCeS 1"));
}
