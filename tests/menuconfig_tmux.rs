//! Drives the real `osipsconfig` binary in a tmux terminal: navigate the menus, toggle a feature,
//! edit a value, generate (and overwrite after a question), quit; the script appears, passes the
//! check, and the terminal is restored.

use osips::menuconfig::checker::{CheckOutcome, LibraryChecker, ScriptChecker};
use osips::menuconfig::structural::StructuralChecker;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One tmux server per test, so parallel tests do not share sessions.
static NEXT: AtomicU32 = AtomicU32::new(0);

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn start(width: u16, height: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "tmux is required for this test (apt-get install tmux)");
            eprintln!("skipping: tmux not installed");
            return None;
        }
        let t = Tmux {
            socket: format!(
                "osipsconfig-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            session: "mc".into(),
        };
        let ok = t
            .cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", &t.session])
            .args(["-x", &width.to_string(), "-y", &height.to_string(), "sh"])
            .env("PS1", "$ ")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Some(t)
    }

    fn send(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn literal(&self, text: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn capture(&self) -> String {
        let o = self
            .cmd()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("waited 20 s for {text:?}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alternate_screen(&self) -> bool {
        let o = self
            .cmd()
            .args([
                "display-message",
                "-p",
                "-t",
                &self.session,
                "#{alternate_on}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn navigate_toggle_edit_generate_in_a_real_terminal() {
    let Some(t) = Tmux::start(100, 30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_osipsconfig"));
    t.literal(&format!(
        "cd {} && {} --no-rc --dir .; echo EXITED=$?",
        shell_quote(dir.path()),
        shell_quote(&bin)
    ));
    t.send(&["Enter"]);
    t.wait_for("---> Generate OpenSIPS Script");
    assert!(t.alternate_screen());
    t.send(&["Enter"]);
    t.wait_for("---> Residential Script");
    t.send(&["Right"]);
    t.wait_for("---> Configure Residential Script");
    t.send(&["Enter"]);
    t.wait_for("[ ] USE_AUTH");

    // toggle USE_AUTH (13th option)
    for _ in 0..12 {
        t.send(&["Down"]);
    }
    t.send(&["Space"]);
    t.wait_for("[*] USE_AUTH");
    t.wait_for("USE_AUTH switched on");

    // edit LISTEN_IP (first option)
    for _ in 0..12 {
        t.send(&["Up"]);
    }
    t.send(&["Enter"]);
    t.wait_for("LISTEN_IP (address)");
    t.send(&["C-u"]);
    t.literal("127.0.0.9");
    t.send(&["Enter"]);
    t.wait_for("LISTEN_IP: 127.0.0.9");

    // generate to the default file
    t.send(&["g"]);
    t.wait_for("Generate Residential Script to file");
    t.send(&["Enter"]);
    t.wait_for("= SUCCESS");
    let script_path = dir.path().join("opensips_residential.cfg");
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert!(script.contains("socket=udp:127.0.0.9:5060"));
    assert!(script.contains("www_authorize(\"\", \"subscriber\")"));
    assert_eq!(StructuralChecker.check(&script), CheckOutcome::Passed);
    // the check of `osips -C`: no error; only modules osips does not implement yet are named
    match LibraryChecker::new().check(&script) {
        CheckOutcome::Passed | CheckOutcome::NotImplemented(_) => {}
        CheckOutcome::Failed(e) => panic!("{e:?}\n{script}"),
    }
    let options =
        std::fs::read_to_string(dir.path().join("opensips_residential.cfg.options.toml")).unwrap();
    assert!(options.contains("USE_AUTH = true") && options.contains("LISTEN_IP = \"127.0.0.9\""));

    // generating again asks before overwriting
    t.send(&["Space"]);
    t.send(&["g"]);
    t.wait_for("Generate Residential Script to file");
    t.send(&["Enter"]);
    t.wait_for("exists. Overwrite it ? [y/n]");
    t.send(&["y"]);
    t.wait_for("= SUCCESS");
    t.send(&["Space"]);

    // back out of every menu and quit
    t.send(&["q"]);
    t.wait_for("---> Configure Residential Script");
    t.send(&["q"]);
    t.wait_for("---> Residential Script");
    t.send(&["q"]);
    t.wait_for("---> Generate OpenSIPS Script");
    t.send(&["q"]);
    t.wait_for("EXITED=0");
    assert!(!t.alternate_screen(), "terminal not restored");
}

#[test]
fn tiny_terminal_says_what_it_needs() {
    let Some(t) = Tmux::start(40, 10) else { return };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_osipsconfig"));
    let dir = tempfile::tempdir().unwrap();
    t.literal(&format!(
        "{} --no-rc --dir {}; echo EXITED=$?",
        shell_quote(&bin),
        shell_quote(dir.path())
    ));
    t.send(&["Enter"]);
    t.wait_for("Terminal too small: osipsconfig needs");
    // grown to a usable size, it redraws the menu
    let ok = t
        .cmd()
        .args(["resize-window", "-t", &t.session, "-x", "90", "-y", "26"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    t.wait_for("---> Generate OpenSIPS Script");
    t.send(&["q"]);
    t.wait_for("EXITED=0");
}
