//! `osips -f SCRIPT` and sipp processes for the rr and DNS end-to-end tests (the pattern of
//! `tests/runtime_sipp.rs`, with environment variables and any sipp scenario).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common;

/// A running `osips` child; stopped with SIGTERM when dropped.
pub struct Osips {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Osips {
    /// Writes `script` (`@PORT@` replaced by `port`) and runs it with `env` set.
    pub fn start(script: &str, port: u16, env: &[(&str, String)]) -> Osips {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osips.cfg");
        std::fs::write(&path, script.replace("@PORT@", &port.to_string())).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osips"));
        cmd.args(["-f", path.to_str().unwrap(), "-E", "-F"])
            .env("HOME", dir.path())
            .env_remove("OSIPSCTLRC")
            .env_remove("OSIPS_DNS_SERVERS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
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
        let mut o = Osips {
            child,
            port,
            log,
            _dir: dir,
        };
        o.wait_for("listening on");
        o
    }

    fn wait_for(&mut self, text: &str) {
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
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

/// A sipp process with its scenario directory.
pub struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    what: String,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

impl Sipp {
    /// Runs sipp on 127.0.0.1:`port` with `scenario` (`-t t1` for TCP, `u1` for UDP), one call,
    /// towards `remote` when given (a UAC).
    pub fn run(what: &str, scenario: &str, port: u16, tcp: bool, remote: Option<String>) -> Sipp {
        let dir = tempfile::tempdir().unwrap();
        let sf = write(dir.path(), "scenario.xml", scenario);
        let err = dir.path().join("err.log");
        let mut args: Vec<String> = Vec::new();
        if let Some(r) = remote {
            args.push(r);
        }
        args.extend([
            "-sf".into(),
            sf.display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-t".into(),
            if tcp { "t1" } else { "u1" }.into(),
            "-m".into(),
            "1".into(),
            "-timeout".into(),
            "20s".into(),
            "-timeout_error".into(),
            "-trace_err".into(),
            "-trace_msg".into(),
            "-message_file".into(),
            dir.path().join("messages.log").display().to_string(),
            "-error_file".into(),
            err.display().to_string(),
        ]);
        let child = Command::new(common::sipp().expect("sipp"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        Sipp {
            child,
            dir,
            what: what.to_string(),
        }
    }

    /// A UAS: started, then given time to bind.
    pub fn uas(what: &str, scenario: &str, port: u16, tcp: bool) -> Sipp {
        let s = Sipp::run(what, scenario, port, tcp, None);
        std::thread::sleep(Duration::from_millis(300));
        s
    }

    /// Waits for sipp to end and fails the test (with sipp's errors and the osips log) unless it passed.
    pub fn done(mut self, osips: &Osips) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                if !st.success() {
                    let read = |f: &str| {
                        std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()
                    };
                    panic!(
                        "{} failed ({st}):\n{}\n--- sipp messages ---\n{}\n--- osips log ---\n{}",
                        self.what,
                        read("err.log"),
                        read("messages.log"),
                        osips.log()
                    );
                }
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "{} did not finish\n--- osips log ---\n{}",
                    self.what,
                    osips.log()
                );
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

/// sipp `<ereg>` checks, one per regex, on the whole message; all must match, except those
/// written `!regex`, which must not. sipp's regexes are POSIX extended (no `\n`: use `[[:space:]]`).
pub fn eregs(checks: &[&str]) -> (String, String) {
    let mut xml = String::new();
    let mut vars = Vec::new();
    for (i, re) in checks.iter().enumerate() {
        let (re, check) = match re.strip_prefix('!') {
            Some(r) => (r, "check_it_inverse"),
            None => (*re, "check_it"),
        };
        let re = re
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        xml.push_str(&format!(
            "      <ereg regexp=\"{re}\" search_in=\"msg\" {check}=\"true\" assign_to=\"c{i}\"/>\n"
        ));
        vars.push(format!("c{i}"));
    }
    (xml, vars.join(","))
}

/// A UAS answering one `method` request with 200 after `checks` (regexes on the whole request).
pub fn uas_once(method: &str, checks: &[&str]) -> String {
    let (eregs, vars) = eregs(checks);
    let reference = if vars.is_empty() {
        String::new()
    } else {
        format!("  <Reference variables=\"{vars}\"/>\n")
    };
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas once">
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
    )
}

/// A UAC sending one request (`request_line`, To `to_params` such as `;tag=x`, and `extra`
/// headers) and expecting `code`. The From tag is `caller1`.
pub fn uac_once(
    request_line: &str,
    method: &str,
    to_params: &str,
    extra: &[&str],
    code: u16,
) -> String {
    let mut headers = String::new();
    for h in extra {
        headers.push_str("      ");
        headers.push_str(h);
        headers.push('\n');
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac once">
  <send retrans="500">
    <![CDATA[
      {request_line} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=caller1
      To: <sip:bob@127.0.0.1>{to_params}
      Call-ID: [call_id]
      CSeq: 1 {method}
      Max-Forwards: 70
{headers}      Content-Length: 0

    ]]>
  </send>
  <recv response="{code}"/>
</scenario>
"#
    )
}
