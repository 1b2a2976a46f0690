//! `osips -f SCRIPT` and the embedded default on real traffic: sipp (Debian `sip-tester`) sends
//! requests to the osips binary, and a sipp UAS checks what arrives on the far side.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::osips::Osips;
use common::scenario;
use common::sipp::{Run, Sipp};

/// Writes `script` (with `@PORT@` replaced by a free port) and runs it.
fn start(script: &str) -> Osips {
    Osips::script(script).start()
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
    let m = r.method;
    let mut headers = vec![
        "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]".to_string(),
        format!("To: <sip:{at}127.0.0.1:[remote_port]>"),
        format!("CSeq: 1 {m}"),
        format!("Max-Forwards: {}", r.max_forwards),
        "User-Agent: sipp-runtime-test".to_string(),
    ];
    headers.extend(r.headers.iter().map(|h| h.to_string()));
    let status = format!("^SIP/2.0 {} {}", r.code, r.reason);
    scenario::uac_request(
        "runtime uac",
        &format!("{m} sip:{at}127.0.0.1:[remote_port]"),
        &headers,
        r.code,
        &[scenario::Check::msg(&status)],
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Sends `r` to osips and checks the reply code and reason.
fn request(osips: &Osips, r: &Req<'_>) {
    let what = format!("{} {} → {}", r.method, r.user, r.code);
    Run::new(&what, &uac_xml(r))
        .towards_port(osips.port)
        .timeout(15)
        .limit(std::time::Duration::from_secs(30))
        .done(osips);
}

/// A check the UAS makes on the request: regex, `msg` or `hdr`, header name, inverted.
type Check = (String, &'static str, Option<&'static str>, bool);

/// Starts a sipp UAS on `port` answering one `method` with 200 after `checks`.
fn uas(port: u16, method: &str, checks: &[Check]) -> Sipp {
    let checks: Vec<scenario::Check<'_>> = checks
        .iter()
        .map(|(re, search_in, header, inverse)| scenario::Check {
            re,
            search_in,
            header: *header,
            inverse: *inverse,
        })
        .collect();
    let xml = scenario::uas_200_checked("runtime uas", method, &checks);
    Run::new("sipp UAS", &xml)
        .port(port)
        .limit(std::time::Duration::from_secs(30))
        .uas()
}

const HEAD: &str = "socket = udp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sipmsgops.so\"\n";

#[test]
fn replies_by_method() {
    if common::sipp().is_none() {
        return;
    }
    let o = start(&format!(
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
    let o = start(&format!(
        "{HEAD}route {{\n  if ($rU == \"alice\") {{\n    $rU = \"bob\";\n    $rp = {far_port};\n    forward();\n    exit;\n  }}\n  sl_send_reply(404, \"Not Found\");\n}}\n"
    ));
    let far = uas(
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
    far.success(&o);
}

#[test]
fn adds_and_removes_headers_seen_on_the_far_side() {
    if common::sipp().is_none() {
        return;
    }
    let far_port = common::free_udp_port();
    let o = start(&format!(
        "{HEAD}route {{\n  append_hf(\"X-Added: from-$si\\r\\n\");\n  insert_hf(\"X-First: 1\\r\\n\");\n  if (!remove_hf(\"X-Secret\")) {{ sl_send_reply(500, \"No secret\"); exit; }}\n  forward(\"udp:127.0.0.1:{far_port}\");\n}}\n"
    ));
    let far = uas(
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
    far.success(&o);
}

#[test]
fn switches_on_the_request_user() {
    if common::sipp().is_none() {
        return;
    }
    let o = start(&format!(
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
    let o = start(&format!(
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
    let o = start(&format!(
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
    let mut o = Osips::args(&["-l", &listen, "-P", pid.to_str().unwrap(), "-F", "-E"])
        .port(port)
        .env("DB_PATH", &db)
        .start();
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
    assert_eq!(Some(written), o.pid());
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
