//! One `osips -f SCRIPT -F -E` child for the end-to-end tests: the script written with its
//! placeholders filled in, stderr collected as the log, started when it prints `listening on`,
//! SIGTERM when dropped; restart on the same ports and files, SIGKILL, MI over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osips::mi::client::{MiTarget, call};
use serde_json::Value;

/// How long osips may take to print what a test waits for.
const READY: Duration = Duration::from_secs(30);

/// What to run: built with [`Osips::script`] or [`Osips::args`], started with [`Launch::start`].
pub struct Launch {
    script: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    port: Option<u16>,
    http: bool,
    http_port: Option<u16>,
    dir: Option<PathBuf>,
    file: Option<String>,
}

impl Launch {
    /// SIP port for `@PORT@` (default: free for UDP and TCP).
    pub fn port(mut self, port: u16) -> Launch {
        self.port = Some(port);
        self
    }

    /// A free TCP port for `@HTTP@` and [`Osips::mi`] (implied when the script names `@HTTP@`).
    pub fn mi_http(mut self) -> Launch {
        self.http = true;
        self
    }

    /// A fixed port for `@HTTP@` and [`Osips::mi`] (a restart on the same address).
    pub fn http_port(mut self, port: u16) -> Launch {
        self.http = true;
        self.http_port = Some(port);
        self
    }

    /// Replaces `key` by `value` in the script.
    pub fn var(mut self, key: &str, value: impl ToString) -> Launch {
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    pub fn vars(mut self, vars: &[(&str, String)]) -> Launch {
        for (k, v) in vars {
            self.vars.push((k.to_string(), v.clone()));
        }
        self
    }

    /// An environment variable for the child.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Launch {
        let v = value.as_ref().to_string_lossy().into_owned();
        self.env.push((key.to_string(), v));
        self
    }

    pub fn envs(mut self, env: &[(&str, String)]) -> Launch {
        for (k, v) in env {
            self.env.push((k.to_string(), v.clone()));
        }
        self
    }

    /// More command-line arguments (after `-f SCRIPT -E -F`, or all of them with [`Osips::args`]).
    pub fn arg(mut self, a: impl ToString) -> Launch {
        self.args.push(a.to_string());
        self
    }

    /// Writes the script into `dir` (also HOME and `@DIR@`) instead of a fresh temporary one.
    pub fn dir(mut self, dir: &Path) -> Launch {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// The script's file name (default `osips.cfg`).
    pub fn file_name(mut self, name: &str) -> Launch {
        self.file = Some(name.to_string());
        self
    }

    /// Writes the script and runs osips until it prints `listening on`.
    pub fn start(self) -> Osips {
        let tmp = tempfile::tempdir().unwrap();
        let home = self.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
        let port = self.port.unwrap_or_else(super::free_port);
        let named = self.script.as_deref().is_some_and(|s| s.contains("@HTTP@"));
        let http = if let Some(p) = self.http_port {
            p
        } else if self.http || named {
            super::free_tcp_port()
        } else {
            0
        };
        let mut args = Vec::new();
        let mut script = match (&self.script, &self.file) {
            (None, Some(f)) => home.join(f),
            _ => PathBuf::new(),
        };
        if let Some(text) = &self.script {
            script = home.join(self.file.as_deref().unwrap_or("osips.cfg"));
            let mut text = text
                .replace("@PORT@", &port.to_string())
                .replace("@HTTP@", &http.to_string())
                .replace("@DIR@", home.to_str().unwrap());
            for (k, v) in &self.vars {
                text = text.replace(k.as_str(), v);
            }
            std::fs::write(&script, text).unwrap();
            args = vec![
                "-f".to_string(),
                script.display().to_string(),
                "-E".into(),
                "-F".into(),
            ];
        }
        args.extend(self.args);
        let mut o = Osips {
            child: None,
            port,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            script,
            dir: tmp,
            home,
            args,
            env: self.env,
            log: Arc::default(),
        };
        o.spawn();
        o
    }
}

/// A running `osips`; SIGTERM when dropped.
pub struct Osips {
    child: Option<Child>,
    /// The SIP port (`@PORT@`).
    pub port: u16,
    /// The MI over HTTP (`@HTTP@`); port 0 when the launch asked for none.
    pub http: SocketAddr,
    /// The script file (empty with [`Osips::args`]).
    pub script: PathBuf,
    /// A temporary directory of the child's own (HOME and the script unless [`Launch::dir`]).
    pub dir: tempfile::TempDir,
    home: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: Arc<Mutex<String>>,
}

impl Osips {
    /// `osips -f SCRIPT -E -F` with `@PORT@`, `@HTTP@`, `@DIR@` and the launch's vars filled in.
    pub fn script(text: &str) -> Launch {
        Launch {
            script: Some(text.to_string()),
            args: Vec::new(),
            env: Vec::new(),
            vars: Vec::new(),
            port: None,
            http: false,
            http_port: None,
            dir: None,
            file: None,
        }
    }

    /// `osips -f PATH -E -F` on a script already written (HOME is its directory).
    pub fn file(path: &Path) -> Launch {
        let mut l = Osips::args(&["-f", path.to_str().unwrap(), "-E", "-F"]);
        l.dir = path.parent().map(Path::to_path_buf);
        l.file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        l
    }

    /// `osips` with exactly these arguments (no script written).
    pub fn args(args: &[&str]) -> Launch {
        let mut l = Osips::script("");
        l.script = None;
        l.args = args.iter().map(|a| a.to_string()).collect();
        l
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osips"));
        cmd.args(&self.args)
            .env("HOME", &self.home)
            .env_remove("OSIPSCTLRC")
            .env_remove("OSIPS_DNS_SERVERS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
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
        self.child = Some(child);
        self.log = log;
        self.wait_for("listening on");
    }

    /// Waits until the log shows `text`; fails the test when osips exits first.
    pub fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            if let Some(c) = self.child.as_mut()
                && let Some(st) = c.try_wait().unwrap()
            {
                panic!("osips exited ({st}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < READY,
                "osips did not print `{text}`:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Waits until `cond` holds on the log (10 s); `what` names it in the failure.
    pub fn wait_log(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while !cond(&self.log()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything osips wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id (None once stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The same script, arguments, ports and files again (stops the running child first).
    pub fn restart(&mut self) {
        self.terminate();
        self.spawn();
    }

    /// SIGKILL: no chance to write anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (SIGKILL after 10 s): a clean stop.
    pub fn terminate(&mut self) {
        let _ = self.stop_within(Duration::from_secs(10));
    }

    /// SIGTERM, then the exit status; fails the test when osips does not stop within 10 s.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_within(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("osips did not stop on SIGTERM:\n{}", self.log()))
    }

    /// SIGTERM and wait up to `limit`; None (and SIGKILL) when it did not stop, or was not running.
    fn stop_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        if let Ok(Some(st)) = c.try_wait() {
            return Some(st);
        }
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if start.elapsed() > limit {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Waits (10 s) for the child to exit by itself and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let c = self.child.as_mut().expect("osips is running");
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                self.child = None;
                return st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                panic!("osips did not exit:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// An MI command over HTTP (the launch needs `@HTTP@` or [`Launch::mi_http`]).
    pub fn mi(&self, method: &str, params: Value) -> Result<Value, String> {
        assert_ne!(
            self.http.port(),
            0,
            "osips was started without the MI over HTTP"
        );
        let t = MiTarget::Http {
            addr: self.http,
            path: "/mi".into(),
        };
        call(&t, method, params, Duration::from_secs(20)).map_err(|e| e.to_string())
    }
}

impl Drop for Osips {
    fn drop(&mut self) {
        self.terminate();
    }
}
