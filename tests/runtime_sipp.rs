//! `osips -f SCRIPT` and the embedded default on real traffic: sipp (Debian `sip-tester`) sends
//! requests to the osips binary, and a sipp UAS checks what arrives on the far side.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `osips` child; stopped with SIGTERM when dropped.
struct Osips {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Osips {
    /// Writes `script` (with `@PORT@` replaced by a free port) and runs it.
    fn start(script: &str) -> Osips {
        let port = common::free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("osips.cfg");
        std::fs::write(&path, script.replace("@PORT@", &port.to_string())).unwrap();
        Self::spawn(&["-f", path.to_str().unwrap(), "-E", "-F"], port, dir, &[])
    }

    fn spawn(args: &[&str], port: u16, dir: tempfile::TempDir, env: &[(&str, &Path)]) -> Osips {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osips"));
        cmd.args(args)
            .env("HOME", dir.path())
            .env_remove("OSIPSCTLRC")
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

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("osips did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

impl Drop for Osips {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// One request and the reply it must get.
struct Req<'a> {
    method: &'a str,
    /// Request-URI user (empty: none).
    user: &'a str,
    headers: &'a [&'a str],
    max_forwards: u32,
    code: u16,
    reason: &'a str,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Req {
            method: "MESSAGE",
            user: "",
            headers: &[],
            max_forwards: 70,
            code: 200,
            reason: "OK",
        }
    }
}

fn uac_xml(r: &Req<'_>) -> String {
    let at = if r.user.is_empty() {
        String::new()
    } else {
        format!("{}@", r.user)
    };
    let mut headers = String::new();
    for h in r.headers {
        headers.push_str("      ");
        headers.push_str(h);
        headers.push('\n');
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="runtime uac">
  <send retrans="500">
    <![CDATA[
      {m} sip:{at}127.0.0.1:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{at}127.0.0.1:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 {m}
      Max-Forwards: {mf}
      User-Agent: sipp-runtime-test
{headers}      Content-Length: 0

    ]]>
  </send>
  <recv response="{code}">
    <action>
      <ereg regexp="^SIP/2.0 {code} {reason}" search_in="msg" check_it="true" assign_to="r"/>
    </action>
  </recv>
  <Reference variables="r"/>
</scenario>
"#,
        m = r.method,
        mf = r.max_forwards,
        code = r.code,
        reason = r.reason,
    )
}

/// A UAS answering one `method` with 200, after checking every (regex, where, header, inverse).
fn uas_xml(method: &str, checks: &[(&str, &str, Option<&str>, bool)]) -> String {
    let mut eregs = String::new();
    let mut vars = Vec::new();
    for (i, (re, place, hdr, inverse)) in checks.iter().enumerate() {
        let hdr = hdr.map(|h| format!(" header=\"{h}\"")).unwrap_or_default();
        let check = if *inverse {
            "check_it_inverse"
        } else {
            "check_it"
        };
        eregs.push_str(&format!(
            "      <ereg regexp=\"{re}\" search_in=\"{place}\"{hdr} {check}=\"true\" assign_to=\"c{i}\"/>\n"
        ));
        vars.push(format!("c{i}"));
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="runtime uas">
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
  <Reference variables="{vars}"/>
</scenario>
"#,
        vars = vars.join(",")
    )
}

fn sipp_run(args: &[String], what: &str) -> Child {
    let sipp = common::sipp().expect("sipp");
    Command::new(sipp)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn finish(mut child: Child, what: &str, osips: &Osips, err_file: &Path) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            if !st.success() {
                let errs = std::fs::read_to_string(err_file).unwrap_or_default();
                panic!(
                    "{what} failed ({st}):\n{errs}\n--- osips log ---\n{}",
                    osips.log()
                );
            }
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{what} did not finish\n--- osips log ---\n{}", osips.log());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Sends `r` to osips and checks the reply code and reason.
fn request(osips: &Osips, r: &Req<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let sf = write(dir.path(), "uac.xml", &uac_xml(r));
    let err = dir.path().join("uac_err.log");
    let args: Vec<String> = [
        format!("127.0.0.1:{}", osips.port),
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        common::free_udp_port().to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "15s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ]
    .into();
    let what = format!("{} {} → {}", r.method, r.user, r.code);
    finish(sipp_run(&args, &what), &what, osips, &err);
}

/// A check the UAS makes on the request: regex, `msg` or `hdr`, header name, inverted.
type Check = (String, &'static str, Option<&'static str>, bool);

/// Starts a sipp UAS on `port`; returns it with the directory of its error file.
fn uas(port: u16, method: &str, checks: &[Check]) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<(&str, &str, Option<&str>, bool)> = checks
        .iter()
        .map(|(r, p, h, i)| (r.as_str(), *p, *h, *i))
        .collect();
    let sf = write(dir.path(), "uas.xml", &uas_xml(method, &refs));
    let err = dir.path().join("uas_err.log");
    let args: Vec<String> = [
        "-sf".into(),
        sf.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-m".into(),
        "1".into(),
        "-timeout".into(),
        "20s".into(),
        "-timeout_error".into(),
        "-trace_err".into(),
        "-error_file".into(),
        err.display().to_string(),
    ]
    .into();
    let child = sipp_run(&args, "sipp UAS");
    std::thread::sleep(Duration::from_millis(300));
    (child, dir)
}

fn uas_done(child: Child, dir: &tempfile::TempDir, osips: &Osips) {
    finish(child, "sipp UAS", osips, &dir.path().join("uas_err.log"));
}

const HEAD: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n";

#[test]
fn replies_by_method() {
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  if (is_method(\"OPTIONS\")) {{ sl_send_reply(200, \"OK\"); exit; }}\n  sl_send_reply(403, \"Forbidden $rm\");\n}}\n"
    ));
    request(
        &o,
        &Req {
            method: "OPTIONS",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            method: "MESSAGE",
            user: "bob",
            code: 403,
            reason: "Forbidden MESSAGE",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            method: "INFO",
            user: "bob",
            code: 403,
            reason: "Forbidden INFO",
            ..Req::default()
        },
    );
}

#[test]
fn rewrites_the_request_uri_and_forwards() {
    if common::sipp().is_none() {
        return;
    }
    let far_port = common::free_udp_port();
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  if ($rU == \"alice\") {{\n    $rU = \"bob\";\n    $rp = {far_port};\n    forward();\n    exit;\n  }}\n  sl_send_reply(404, \"Not Found\");\n}}\n"
    ));
    let (far, dir) = uas(
        far_port,
        "MESSAGE",
        &[(
            format!("^MESSAGE sip:bob@127\\.0\\.0\\.1:{far_port} SIP/2\\.0"),
            "msg",
            None,
            false,
        )],
    );
    request(
        &o,
        &Req {
            user: "alice",
            ..Req::default()
        },
    );
    uas_done(far, &dir, &o);
}

#[test]
fn adds_and_removes_headers_seen_on_the_far_side() {
    if common::sipp().is_none() {
        return;
    }
    let far_port = common::free_udp_port();
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  append_hf(\"X-Added: from-$si\\r\\n\");\n  insert_hf(\"X-First: 1\\r\\n\");\n  if (!remove_hf(\"X-Secret\")) {{ sl_send_reply(500, \"No secret\"); exit; }}\n  forward(\"udp:127.0.0.1:{far_port}\");\n}}\n"
    ));
    let (far, dir) = uas(
        far_port,
        "MESSAGE",
        &[
            (
                "^ *from-127\\.0\\.0\\.1$".into(),
                "hdr",
                Some("X-Added:"),
                false,
            ),
            ("^ *1$".into(), "hdr", Some("X-First:"), false),
            ("^ *keep-me$".into(), "hdr", Some("X-Keep:"), false),
            ("X-Secret".into(), "msg", None, true),
            ("^ *69$".into(), "hdr", Some("Max-Forwards:"), false),
        ],
    );
    request(
        &o,
        &Req {
            user: "carol",
            headers: &["X-Secret: hunter2", "X-Keep: keep-me"],
            ..Req::default()
        },
    );
    uas_done(far, &dir, &o);
}

#[test]
fn switches_on_the_request_user() {
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  switch ($rU) {{\n    case \"100\": sl_send_reply(200, \"Sales\"); break;\n    case \"200\":\n    case \"201\": sl_send_reply(486, \"Support Busy\"); break;\n    default: sl_send_reply(404, \"No Extension $rU\");\n  }}\n}}\n"
    ));
    for (user, code, reason) in [
        ("100", 200, "Sales"),
        ("200", 486, "Support Busy"),
        ("201", 486, "Support Busy"),
        ("999", 404, "No Extension 999"),
    ] {
        request(
            &o,
            &Req {
                user,
                code,
                reason,
                ..Req::default()
            },
        );
    }
}

#[test]
fn matches_headers_with_regular_expressions() {
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  if ($ua !~ \"^sipp-\") {{ sl_send_reply(403, \"Unknown agent\"); exit; }}\n  if ($hdr(X-Tenant) =~ \"^ACME-[0-9]+$\") {{ sl_send_reply(200, \"Tenant $(hdr(X-Tenant){{s.select,1,-}})\"); exit; }}\n  sl_send_reply(403, \"No tenant\");\n}}\n"
    ));
    request(
        &o,
        &Req {
            user: "x",
            headers: &["X-Tenant: acme-42"],
            reason: "Tenant 42",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            user: "x",
            headers: &["X-Tenant: other-42"],
            code: 403,
            reason: "No tenant",
            ..Req::default()
        },
    );
}

#[test]
fn max_forwards_handling() {
    if common::sipp().is_none() {
        return;
    }
    let o = Osips::start(&format!(
        "{HEAD}route {{\n  if (!mf_process_maxfwd_header(10)) {{ sl_send_reply(483, \"Too Many Hops\"); exit; }}\n  if (is_maxfwd_lt(5)) {{ sl_send_reply(403, \"Low Max-Forwards $hdr(Max-Forwards)\"); exit; }}\n  sl_send_reply(200, \"Plenty\");\n}}\n"
    ));
    request(
        &o,
        &Req {
            user: "a",
            reason: "Plenty",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            user: "a",
            max_forwards: 3,
            code: 403,
            reason: "Low Max-Forwards 3",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            user: "a",
            max_forwards: 0,
            code: 483,
            reason: "Too Many Hops",
            ..Req::default()
        },
    );
}

#[test]
fn default_script_runs_on_a_listen_override_and_creates_its_database() {
    if common::sipp().is_none() {
        return;
    }
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/osips.sqlite");
    let pid = dir.path().join("osips.pid");
    let listen = format!("udp:127.0.0.1:{port}");
    let mut o = Osips::spawn(
        &["-l", &listen, "-P", pid.to_str().unwrap(), "-F", "-E"],
        port,
        tempfile::tempdir().unwrap(),
        &[("DB_PATH", &db)],
    );
    assert!(o.log().contains("created SQLite database"), "{}", o.log());
    assert!(db.is_file());
    let n: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM version", [], |r| r.get(0))
        .unwrap();
    assert!(n > 0);
    let written: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(written, o.child.id());
    request(
        &o,
        &Req {
            method: "OPTIONS",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            method: "REGISTER",
            user: "alice",
            code: 200,
            reason: "OK",
            ..Req::default()
        },
    );
    request(
        &o,
        &Req {
            user: "nobody",
            code: 404,
            reason: "Not Found",
            ..Req::default()
        },
    );
    let st = o.stop();
    assert!(st.success(), "{st}: {}", o.log());
    assert!(!pid.exists(), "the pid file is removed on exit");
    assert!(o.log().contains("stopped (SIGTERM)"));
}

#[test]
fn a_script_without_sockets_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.cfg", "route { exit; }\n");
    let out = Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-f", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no socket to listen on"));
}
