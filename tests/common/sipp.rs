//! sipp (Debian `sip-tester`) runs for the end-to-end tests: one scenario as UAC or UAS on
//! loopback, its error file and message trace in a directory of its own, and a wait for
//! success that fails the test with sipp's errors, its messages and the osips log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::osips::Osips;
use super::scenario::{self, Check};

/// What the log of a failure shows beside sipp's own files (an `Osips` or a plain string).
pub trait ServerLog {
    fn server_log(&self) -> String;
}

impl ServerLog for super::osips::Osips {
    fn server_log(&self) -> String {
        self.log()
    }
}

impl ServerLog for str {
    fn server_log(&self) -> String {
        self.to_string()
    }
}

/// SIP transport of a sipp run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// sipp's `-t` value (one socket).
    pub fn sipp(self) -> &'static str {
        match self {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        }
    }

    pub fn tcp(tcp: bool) -> Transport {
        if tcp { Transport::Tcp } else { Transport::Udp }
    }

    /// A port free on `ip` for this transport.
    pub fn free_port(self, ip: &str) -> u16 {
        match self {
            Transport::Udp => std::net::UdpSocket::bind((ip, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
            Transport::Tcp => std::net::TcpListener::bind((ip, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
        }
    }
}

/// One sipp run being set up: `Run::new(what, scenario)`, options, then `start`/`uas`/`done`.
pub struct Run {
    what: String,
    dir: tempfile::TempDir,
    ip: String,
    port: Option<u16>,
    transport: Transport,
    remote: Option<String>,
    args: Vec<String>,
    calls: usize,
    timeout: u32,
    limit: Duration,
    trace_msg: bool,
}

impl Run {
    /// `scenario` (XML text) for one call from 127.0.0.1 over UDP; `what` names it in failures.
    pub fn new(what: &str, scenario: &str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scenario.xml"), scenario).unwrap();
        Run {
            what: what.to_string(),
            dir,
            ip: "127.0.0.1".into(),
            port: None,
            transport: Transport::Udp,
            remote: None,
            args: Vec::new(),
            calls: 1,
            timeout: 20,
            limit: Duration::from_secs(40),
            trace_msg: true,
        }
    }

    /// Local address (`-i`, default 127.0.0.1).
    pub fn ip(mut self, ip: &str) -> Run {
        self.ip = ip.to_string();
        self
    }

    /// Local port (`-p`, default: a free one for the transport).
    pub fn port(mut self, port: u16) -> Run {
        self.port = Some(port);
        self
    }

    pub fn transport(mut self, t: Transport) -> Run {
        self.transport = t;
        self
    }

    /// The remote `ip:port` a UAC sends to.
    pub fn towards(mut self, remote: impl ToString) -> Run {
        self.remote = Some(remote.to_string());
        self
    }

    /// The osips on 127.0.0.1:`port` as the remote.
    pub fn towards_port(self, port: u16) -> Run {
        self.towards(format!("127.0.0.1:{port}"))
    }

    /// `-s user` (`[service]` in the scenario).
    pub fn service(self, user: &str) -> Run {
        self.args(&["-s", user])
    }

    /// More sipp arguments (`-au`, `-ap`, `-cid_str`, `-r`...).
    pub fn args(mut self, args: &[&str]) -> Run {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Number of calls (`-m`, default 1); 0: no `-m` and no `-timeout`, it runs until killed.
    pub fn calls(mut self, n: usize) -> Run {
        self.calls = n;
        self
    }

    /// sipp's own `-timeout` in seconds (an error when reached; default 20).
    pub fn timeout(mut self, secs: u32) -> Run {
        self.timeout = secs;
        self
    }

    /// How long the test waits for sipp to end (default 40 s).
    pub fn limit(mut self, limit: Duration) -> Run {
        self.limit = limit;
        self
    }

    /// Without `-trace_msg` (big runs).
    pub fn no_trace(mut self) -> Run {
        self.trace_msg = false;
        self
    }

    /// Writes `text` to `name` in the run's directory (an injection file) and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The run's directory (for files the scenario's `<exec>` writes).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The sipp command line of this run, with its local `port`.
    fn command(&self, port: u16) -> Command {
        let d = self.dir.path();
        let mut all: Vec<String> = Vec::new();
        all.extend(self.remote.clone());
        all.extend([
            "-sf".into(),
            d.join("scenario.xml").display().to_string(),
            "-i".into(),
            self.ip.clone(),
            "-p".into(),
            port.to_string(),
            "-t".into(),
            self.transport.sipp().into(),
        ]);
        if self.calls > 0 {
            all.extend([
                "-m".into(),
                self.calls.to_string(),
                "-timeout".into(),
                format!("{}s", self.timeout),
                "-timeout_error".into(),
            ]);
        }
        all.extend([
            "-trace_err".into(),
            "-error_file".into(),
            d.join("err.log").display().to_string(),
        ]);
        if self.trace_msg {
            all.extend([
                "-trace_msg".into(),
                "-message_file".into(),
                d.join("messages.log").display().to_string(),
            ]);
        }
        all.extend(self.args.iter().cloned());
        let mut cmd = Command::new(super::sipp().expect("sipp"));
        // sipp's own complaints (bad arguments, a port in use) go to a file nobody has to drain.
        let stderr = std::fs::File::create(d.join("stderr.log")).unwrap();
        cmd.args(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        cmd
    }

    fn local_port(&self) -> u16 {
        self.port
            .unwrap_or_else(|| self.transport.free_port(&self.ip))
    }

    /// Starts sipp and hands back the bare process and its directory (`err.log`,
    /// `messages.log`); [`finish`] waits for it.
    pub fn spawn(self) -> (Child, tempfile::TempDir) {
        let child = self
            .command(self.local_port())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.what));
        (child, self.dir)
    }

    /// Starts sipp.
    pub fn start(self) -> Sipp {
        let port = self.local_port();
        let child = self
            .command(port)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.what));
        Sipp {
            child,
            dir: self.dir,
            what: self.what,
            port,
            limit: self.limit,
        }
    }

    /// Starts a UAS and gives it time to bind.
    pub fn uas(self) -> Sipp {
        let s = self.start();
        std::thread::sleep(Duration::from_millis(300));
        s
    }

    /// Starts sipp and waits for its success.
    pub fn done(self, log: &(impl ServerLog + ?Sized)) -> Sipp {
        self.start().success(log)
    }
}

/// A running (or ended) sipp; killed when dropped.
pub struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    what: String,
    /// Its local port.
    pub port: u16,
    limit: Duration,
}

impl Sipp {
    /// A file of the run's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The message trace (`-trace_msg`).
    pub fn messages(&self) -> String {
        std::fs::read_to_string(self.path("messages.log")).unwrap_or_default()
    }

    /// The error file (`-trace_err`) and what sipp wrote on stderr.
    pub fn errors(&self) -> String {
        read(self.dir.path(), "err.log") + &read(self.dir.path(), "stderr.log")
    }

    /// Whether the process ended.
    pub fn finished(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Waits for the end (failing the test after the run's limit) and returns the exit status.
    pub fn wait(&mut self, log: &(impl ServerLog + ?Sized)) -> ExitStatus {
        wait_child(
            &mut self.child,
            &self.what,
            self.dir.path(),
            log,
            self.limit,
        )
    }

    /// Waits for the end and asserts success (exit code 0: the scenario passed every step).
    pub fn success(mut self, log: &(impl ServerLog + ?Sized)) -> Sipp {
        let st = self.wait(log);
        if !st.success() {
            panic!(
                "{} failed ({st}):\n{}\n--- sipp messages ---\n{}\n--- osips log ---\n{}",
                self.what,
                self.errors(),
                self.messages(),
                log.server_log()
            );
        }
        self
    }

    /// How many received messages start with `start` (e.g. `INVITE sip:`).
    pub fn received(&self, start: &str) -> usize {
        count(&self.messages(), "message received", start)
    }

    /// How many sent messages start with `start`.
    pub fn sent(&self, start: &str) -> usize {
        count(&self.messages(), "message sent", start)
    }

    /// The Call-ID of the first message sipp sent.
    pub fn call_id(&self) -> String {
        self.messages()
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID:").map(|v| v.trim().to_string()))
            .expect("a Call-ID in the sipp trace")
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn wait_child(
    child: &mut Child,
    what: &str,
    dir: &Path,
    log: &(impl ServerLog + ?Sized),
    limit: Duration,
) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish\n--- sipp messages ---\n{}\n--- osips log ---\n{}",
                read(dir, "messages.log"),
                log.server_log()
            );
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Waits (up to `limit`) for a sipp process whose error file is `err_file` and fails the test
/// unless it succeeded, with its errors, the message trace beside the error file (if any) and
/// the osips log.
pub fn finish(
    mut child: Child,
    what: &str,
    err_file: &Path,
    log: &(impl ServerLog + ?Sized),
    limit: Duration,
) {
    let dir = err_file.parent().unwrap_or(Path::new("."));
    let st = wait_child(&mut child, what, dir, log, limit);
    if !st.success() {
        panic!(
            "{what} failed ({st}):\n{}{}\n--- sipp messages ---\n{}\n--- osips log ---\n{}",
            std::fs::read_to_string(err_file).unwrap_or_default(),
            read(dir, "stderr.log"),
            read(dir, "messages.log"),
            log.server_log()
        );
    }
}

/// Counts the messages of a sipp message trace after `marker` lines whose first line starts
/// with `start`.
fn count(log: &str, marker: &str, start: &str) -> usize {
    log.split(marker)
        .skip(1)
        .filter(|m| {
            m.lines()
                .skip(1)
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with(start))
        })
        .count()
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A peer of osips (a gateway, a destination: `role`) on `ip:port` answering one INVITE with
/// 200 after `checks`; the call stays up.
pub fn invite_200(role: &str, ip: &str, port: u16, checks: &[Check<'_>]) -> Sipp {
    Run::new(
        &format!("{role} {ip}"),
        &scenario::uas_200_checked("peer", "INVITE", checks),
    )
    .ip(ip)
    .port(port)
    .timeout(30)
    .limit(Duration::from_secs(40))
    .uas()
}

/// A peer of osips on `ip:port` refusing one INVITE with `status` (`503 Service
/// Unavailable`), then taking the ACK.
pub fn invite_refused(role: &str, ip: &str, port: u16, status: &str) -> Sipp {
    Run::new(
        &format!("{role} {ip} ({status})"),
        &scenario::uas_refuse_invite("refusing", status),
    )
    .ip(ip)
    .port(port)
    .timeout(30)
    .limit(Duration::from_secs(40))
    .uas()
}

/// A caller dialling `user` through osips (Call-ID `call_id`) whose INVITE must end with
/// `code`, the reply matching `reply_re`.
pub fn call(o: &Osips, user: &str, call_id: &str, code: u16, reply_re: &str) -> Sipp {
    Run::new(
        &format!("call {user} ({call_id}) → {code}"),
        &scenario::call_expect(user, code, reply_re),
    )
    .towards_port(o.port)
    .args(&["-cid_str", call_id])
    .timeout(20)
    .limit(Duration::from_secs(40))
    .done(o)
}

/// The caller's INVITE to `user` through osips ([`scenario::uac_answered`] named `name`):
/// answered, ACKed and hung up within `timeout` seconds.
pub fn call_answered(o: &Osips, name: &str, user: &str, timeout: u32) -> Sipp {
    Run::new("caller", &scenario::uac_answered(name))
        .towards_port(o.port)
        .service(user)
        .timeout(timeout)
        .done(o)
}

/// An OPTIONS from `user@example.com` on `ip` to osips that must get `code`, the reply
/// matching `reply_re`.
pub fn options_from(o: &Osips, ip: &str, user: &str, code: u16, reply_re: &str) -> Sipp {
    let hdrs = vec![
        format!("From: <sip:{user}@example.com>;tag=[pid]SIPpTag00[call_number]"),
        "To: <sip:proxy@example.com>".to_string(),
        "CSeq: 1 OPTIONS".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    let xml = scenario::uac_request(
        "options",
        "OPTIONS sip:proxy@127.0.0.1",
        &hdrs,
        code,
        &[Check::msg(reply_re)],
    );
    Run::new(&format!("OPTIONS from {ip} → {code}"), &xml)
        .ip(ip)
        .towards_port(o.port)
        .done(o)
}

/// A UAS on `ip:port` answering every OPTIONS with 200 until killed; its directory holds the
/// message log (`messages.log`).
pub fn options_answerer(ip: &str, port: u16) -> (Child, tempfile::TempDir) {
    Run::new(
        &format!("OPTIONS answerer {ip}:{port}"),
        &scenario::uas_200("OPTIONS", &[]),
    )
    .ip(ip)
    .port(port)
    .calls(0)
    .spawn()
}
