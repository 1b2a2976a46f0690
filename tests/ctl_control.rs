//! `osipsctl start|stop|restart` with PID_FILE / STARTOPTIONS / OSIPSBIN. The osips binary
//! cannot run scripts in this branch yet, so OSIPSBIN is a small shell script that records its
//! arguments, writes its pid file as `osips -P` does, and runs until SIGTERM: this tests
//! osipsctl's own process handling.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    rc: PathBuf,
    pid_file: PathBuf,
}

const FAKE_OSIPS: &str = r#"#!/bin/sh
# records its arguments, writes the pid file named by -P, runs until SIGTERM
printf '%s\n' "$*" > "$(dirname "$0")/args"
[ -n "$FAIL" ] && { echo "bad option -x" >&2; exit 4; }
while [ $# -gt 0 ]; do
  if [ "$1" = "-P" ]; then PIDFILE="$2"; fi
  shift
done
sleep 600 &
child=$!
trap 'kill $child; rm -f "$PIDFILE"; exit 0' TERM
echo $$ > "$PIDFILE"
wait $child
"#;

impl Env {
    fn new(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("fake-osips");
        std::fs::write(&bin, FAKE_OSIPS).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pid_file = dir.path().join("run").join("osips.pid");
        std::fs::create_dir(dir.path().join("run")).unwrap();
        let rc = dir.path().join("osipsctlrc");
        std::fs::write(
            &rc,
            format!(
                "OSIPSBIN={}\nPID_FILE={}\nSTARTOPTIONS=\"-f /etc/osips/osips.cfg -m 64\"\n{extra}",
                bin.display(),
                pid_file.display()
            ),
        )
        .unwrap();
        Env { dir, rc, pid_file }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut c = Command::cargo_bin("osipsctl").unwrap();
        for v in [
            "OSIPSCTLRC",
            "osipsctlrc",
            "OSIPSBIN",
            "PID_FILE",
            "STARTOPTIONS",
            "SYSLOG",
        ] {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.env("HOME", self.dir.path());
        c.arg("--rc").arg(&self.rc).args(args);
        c.timeout(Duration::from_secs(60));
        let o = c.write_stdin("").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            err,
        )
    }

    fn expect(&self, args: &[&str], code: i32, needle: &str) -> String {
        let (c, out, err) = self.run(args, &[]);
        assert_eq!(c, code, "{args:?}: {out}\n{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        if code != 0 {
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
        err
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(&self.pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !matches!(
            s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()),
            Some('Z')
        ),
        Err(_) => false,
    }
}

fn wait_gone(pid: i32) {
    let end = Instant::now() + Duration::from_secs(10);
    while running(pid) {
        assert!(Instant::now() < end, "pid {pid} still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn args_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("args")).unwrap()
}

#[test]
fn start_stop_restart() {
    let e = Env::new("");
    e.expect(&["stop"], 1, "osips is not running (no ");
    let err = e.expect(&["start"], 0, "osips started (pid ");
    let pid = e.pid();
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(running(pid));
    assert_eq!(
        args_of(e.dir.path()).trim(),
        format!("-P {} -f /etc/osips/osips.cfg -m 64", e.pid_file.display())
    );
    e.expect(
        &["start"],
        1,
        &format!("osips is already running (pid {pid}"),
    );

    let err = e.expect(&["restart"], 0, "osips stopped");
    assert!(err.contains("osips started"), "{err}");
    wait_gone(pid);
    let pid2 = e.pid();
    assert_ne!(pid, pid2);

    let (c, out, _) = e.run(&["--json", "stop"], &[]);
    assert_eq!(c, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["pid"], serde_json::json!(pid2));
    assert!(!running(pid2));
    assert!(!e.pid_file.exists());
    e.expect(&["stop"], 1, "not running");
    // restart when stopped starts it
    let err = e.expect(&["restart"], 0, "osips was not running");
    assert!(err.contains("osips started"), "{err}");
    e.expect(&["stop"], 0, "osips stopped");
}

#[test]
fn stale_pid_file_and_failed_start() {
    let e = Env::new("SYSLOG=0\n");
    // a pid that does not run
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let id = c.id();
        c.wait().unwrap();
        id
    };
    std::fs::write(&e.pid_file, format!("{dead}\n")).unwrap();
    e.expect(&["stop"], 1, "stale file was removed");
    assert!(!e.pid_file.exists());
    std::fs::write(&e.pid_file, format!("{dead}\n")).unwrap();
    let err = e.expect(&["start"], 0, "removed the stale PID_FILE");
    assert!(err.contains("osips started"), "{err}");
    // SYSLOG=0 adds -E as opensipsctl did
    assert!(
        args_of(e.dir.path()).trim().ends_with(" -E"),
        "{}",
        args_of(e.dir.path())
    );
    e.expect(&["stop"], 0, "osips stopped");

    std::fs::write(&e.pid_file, "not a pid").unwrap();
    e.expect(&["stop"], 1, "does not hold a process id");
    std::fs::remove_file(&e.pid_file).unwrap();

    // the binary fails: its stderr is shown
    let (c, _, err) = e.run(&["start"], &[("FAIL", "1")]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("exited with exit status: 4"), "{err}");
    assert!(err.contains("bad option -x"), "{err}");
    // no such binary
    let e2 = Env::new(&format!(
        "OSIPSBIN={}\n",
        e.dir.path().join("missing").display()
    ));
    e2.expect(&["start"], 1, "cannot run");
}
