//! osipsctl (the real binary) against real MI servers started in this process (HTTP, FIFO, UDP
//! datagram and UNIX datagram, with the core commands): ps, uptime, version, mi, monitor, the
//! usrloc and ping commands, unreachable and refusing interfaces, and the reload after
//! `domain add` over each transport.
//!
//! osips has no usrloc or tm module yet: the tests check the honest "method not found" error,
//! then register small stand-ins with OpenSIPS's recipes on the same server to check that
//! osipsctl sends the right calls.

mod ctl_support;
mod mi_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use mi_support::Harness;
use osips::mi::{MiDynHandler, MiError, MiParams, MiRegistry, RegCommand, RegRecipe};
use serde_json::{Value, json};

/// The rc lines that point osipsctl at one of the harness's transports.
fn rc_for(h: &Harness, transport: &str) -> String {
    match transport {
        "http" => format!("CTLENGINE=HTTP\nOSIPS_MI_URL=http://{}/mi\n", h.http),
        "fifo" => format!(
            "CTLENGINE=FIFO\nOSIPS_FIFO={}\nOSIPS_FIFO_REPLY_DIR={}\n",
            h.fifo_cfg.path.display(),
            h.fifo_cfg.reply_dir.display()
        ),
        "datagram" => format!("CTLENGINE=DATAGRAM\nOSIPS_DATAGRAM=udp:{}\n", h.udp),
        "unixsock" => format!("CTLENGINE=UNIXSOCK\nOSIPS_UNIXSOCK={}\n", h.unix.display()),
        _ => unreachable!(),
    }
}

const TRANSPORTS: &[&str] = &["http", "fifo", "datagram", "unixsock"];

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn osipsctl(rc: &str, dir: &std::path::Path, args: &[&str]) -> Run {
    let file = dir.join(format!("rc-{}", ctl_support::unique_name("x")));
    std::fs::write(&file, format!("SIP_DOMAIN=example.com\n{rc}")).unwrap();
    let mut c = Command::cargo_bin("osipsctl").unwrap();
    for v in [
        "OSIPSCTLRC",
        "osipsctlrc",
        "CTLENGINE",
        "OSIPS_FIFO",
        "OSIPS_MI_URL",
        "OSIPS_DATAGRAM",
        "OSIPS_UNIXSOCK",
        "WATCH_PERIOD",
        "SIP_DOMAIN",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", dir);
    c.arg("--rc").arg(&file).args(args);
    c.timeout(std::time::Duration::from_secs(60));
    let o = c.write_stdin("").output().unwrap();
    let r = Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(!r.err.contains("panicked"), "{args:?}: {}", r.err);
    r
}

fn ok(rc: &str, dir: &std::path::Path, args: &[&str]) -> Run {
    let r = osipsctl(rc, dir, args);
    assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.out, r.err);
    r
}

/// Runs, expects `code`, and checks the error is one line naming `needle`.
fn fails(rc: &str, dir: &std::path::Path, args: &[&str], code: i32, needle: &str) -> Run {
    let r = osipsctl(rc, dir, args);
    assert_eq!(r.code, code, "{args:?}: {}\n{}", r.out, r.err);
    assert_eq!(r.err.trim().lines().count(), 1, "{}", r.err);
    assert!(r.err.starts_with("osipsctl: error: "), "{}", r.err);
    assert!(r.err.contains(needle), "{args:?}: {}", r.err);
    r
}

#[test]
fn core_commands_over_every_transport() {
    let h = mi_support::start();
    let dir = h.dir.path().to_path_buf();
    for t in TRANSPORTS {
        let rc = rc_for(&h, t);
        let r = ok(&rc, &dir, &["ps"]);
        let first = r.out.lines().next().unwrap_or_default();
        assert_eq!(
            first.split_whitespace().collect::<Vec<_>>(),
            ["ID", "PID", "Type"],
            "{t}: {}",
            r.out
        );
        assert!(r.out.contains("attendant"), "{t}: {}", r.out);
        assert!(r.out.contains("MI Datagram"), "{t}: {}", r.out);
        let v: Value = serde_json::from_str(&ok(&rc, &dir, &["--json", "ps"]).out).unwrap();
        assert_eq!(v["ok"], json!(true));
        assert!(
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["Type"] == json!("attendant")),
            "{v}"
        );

        let r = ok(&rc, &dir, &["uptime"]);
        assert!(r.out.contains("Up time"), "{t}: {}", r.out);
        assert!(r.out.contains("[sec]"), "{t}: {}", r.out);

        let r = ok(&rc, &dir, &["version"]);
        assert!(r.out.starts_with("osips ("), "{t}: {}", r.out);

        // named parameters
        let r = ok(&rc, &dir, &["mi", "log_level", "level=4"]);
        let v: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(v, json!({"New global log level": 4}), "{t}");
        assert!(r.out.contains("\n  "), "pretty JSON expected: {}", r.out);
        ok(&rc, &dir, &["mi", "log_level", "level=2"]);
        // positional parameters, and the `fifo` alias
        let r = ok(&rc, &dir, &["fifo", "which", "uptime"]);
        let v: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(v, json!([[]]), "{t}");
        // get_statistics takes its words as one array
        let r = ok(
            &rc,
            &dir,
            &["mi", "get_statistics", "rcv_requests", "fwd_replies"],
        );
        let v: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["core:rcv_requests", "core:fwd_replies"],
            "{t}"
        );
        // a string result prints bare
        let r = ok(&rc, &dir, &["mi", "reset_all_statistics"]);
        assert_eq!(r.out.trim(), "OK", "{t}");

        let r = ok(&rc, &dir, &["monitor", "--count", "1"]);
        assert!(r.out.contains("osips monitor: osips ("), "{t}: {}", r.out);
        assert!(r.out.contains("Transactions"), "{t}: {}", r.out);
        assert!(r.out.contains("Registrations"), "{t}: {}", r.out);
    }
}

#[test]
fn monitor_refreshes_every_watch_period_and_prints_json_lines() {
    let h = mi_support::start();
    let rc = format!("{}WATCH_PERIOD=1\n", rc_for(&h, "http"));
    let started = std::time::Instant::now();
    let r = ok(&rc, h.dir.path(), &["--json", "monitor", "--count", "2"]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let lines: Vec<Value> = r
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", r.out);
    assert_eq!(lines[1]["refresh"], json!(2));
    assert!(lines[0]["result"]["uptime"]["Up time"].is_string());
    // without tm/sl/usrloc the statistics are absent, not an error
    assert_eq!(lines[0]["result"]["statistics"], json!({}));
    let r = osipsctl(&rc, h.dir.path(), &["monitor", "--count", "0"]);
    assert_eq!(r.code, 2, "{}", r.err);
}

#[test]
fn unreachable_interfaces_exit_3_naming_the_transport() {
    let h = mi_support::start();
    let dir = h.dir.path();
    let missing = dir.join("no_such_fifo");
    fails(
        &format!("OSIPS_FIFO={}\n", missing.display()),
        dir,
        &["ps"],
        3,
        &format!("no running osips answered at FIFO {}", missing.display()),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = fails(
        &format!("CTLENGINE=HTTP\nOSIPS_MI_URL=http://127.0.0.1:{port}/mi\n"),
        dir,
        &["uptime"],
        3,
        &format!("HTTP http://127.0.0.1:{port}/mi"),
    );
    assert!(r.err.contains("OSIPS_MI_URL"), "{}", r.err);
    fails(
        &format!(
            "CTLENGINE=UNIXSOCK\nOSIPS_UNIXSOCK={}\n",
            dir.join("none.sock").display()
        ),
        dir,
        &["monitor", "--count", "1"],
        3,
        "UNIX socket",
    );
    let r = osipsctl(
        &format!("OSIPS_FIFO={}\n", missing.display()),
        dir,
        &["--json", "version"],
    );
    assert_eq!(r.code, 3);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["exit"].clone()),
        (json!(false), json!(3))
    );
    // a bad setting is a usage error
    fails(
        "CTLENGINE=HTTP\nOSIPS_MI_URL=https://127.0.0.1/mi\n",
        dir,
        &["ps"],
        2,
        "not an http:// URL",
    );
}

#[test]
fn refusals_exit_1_with_the_message() {
    let h = mi_support::start();
    let dir = h.dir.path();
    for t in ["fifo", "datagram"] {
        let rc = rc_for(&h, t);
        fails(
            &rc,
            dir,
            &["mi", "get_statistics", "nosuchstat"],
            1,
            "osips refused get_statistics: 404 Statistics Not Found",
        );
        fails(
            &rc,
            dir,
            &["mi", "no_such_command"],
            1,
            "osips has no MI command no_such_command (-32601 Method not found)",
        );
        fails(
            &rc,
            dir,
            &["mi", "log_level", "level=x"],
            1,
            "osips refused log_level",
        );
        // usrloc and tm are not in osips yet: an honest error, exit 1
        for args in [
            &["ul", "show"][..],
            &["ul", "show", "alice"],
            &["ul", "rm", "alice"],
            &["ul", "add", "alice", "sip:alice@127.0.0.2"],
            &["online"],
        ] {
            let r = fails(&rc, dir, args, 1, "osips has no MI command ul_");
            assert!(r.err.contains("usrloc module"), "{}", r.err);
        }
        fails(
            &rc,
            dir,
            &["ping", "sip:127.0.0.2"],
            1,
            "osips has no MI command t_uac_dlg",
        );
    }
    fails(
        &rc_for(&h, "http"),
        dir,
        &["mi", "x", "a=1", "b"],
        2,
        "mixed named",
    );
    fails(
        &rc_for(&h, "http"),
        dir,
        &["ping", "bob"],
        2,
        "not a SIP URI",
    );
}

type Location = Arc<Mutex<BTreeMap<String, Vec<(String, i64)>>>>;

fn command(
    reg: &MiRegistry,
    module: &str,
    name: &str,
    params: &'static [&'static str],
    f: MiDynHandler,
) {
    reg.register(RegCommand {
        name: name.into(),
        module: module.into(),
        aliases: vec![],
        help: String::new(),
        flags: 0,
        recipes: vec![RegRecipe { params, handler: f }],
    })
    .unwrap();
}

/// A usrloc stand-in with OpenSIPS 3.x recipes and result shapes, over an in-memory map.
fn stand_in_usrloc(reg: &MiRegistry) -> Location {
    let loc: Location = Arc::default();
    let table_ok = |p: &MiParams<'_>| -> Result<(), MiError> {
        if p.string("table_name")? != "location" {
            return Err(MiError::new(404, "Table not found"));
        }
        Ok(())
    };
    let l = loc.clone();
    command(
        reg,
        "usrloc",
        "ul_add",
        &[
            "table_name",
            "aor",
            "contact",
            "expires",
            "q",
            "flags",
            "cflags",
            "methods",
        ],
        Arc::new(move |p: &MiParams<'_>| {
            table_ok(p)?;
            let expires = p.int("expires")?;
            p.int("methods")?;
            l.lock()
                .unwrap()
                .entry(p.string("aor")?)
                .or_default()
                .push((p.string("contact")?, expires));
            Ok(json!("OK"))
        }),
    );
    let l = loc.clone();
    let dump: MiDynHandler = Arc::new(move |_p: &MiParams<'_>| {
        let aors: Vec<Value> = l
            .lock()
            .unwrap()
            .iter()
            .map(|(a, cs)| {
                json!({"AOR": a, "Contacts": cs.iter().map(|(c, e)| json!({
                    "Contact": c, "Expires": if *e == 0 { json!("permanent") } else { json!(e) },
                    "Q": "", "User-agent": "sipp", "Socket": "udp:127.0.0.1:5060"
                })).collect::<Vec<_>>()})
            })
            .collect();
        Ok(json!({"Domains": [{"name": "location", "hash_size": 512, "AORs": aors}]}))
    });
    reg.register(RegCommand {
        name: "ul_dump".into(),
        module: "usrloc".into(),
        aliases: vec![],
        help: String::new(),
        flags: 0,
        recipes: vec![
            RegRecipe {
                params: &[],
                handler: dump.clone(),
            },
            RegRecipe {
                params: &["brief"],
                handler: dump,
            },
        ],
    })
    .unwrap();
    let l = loc.clone();
    command(
        reg,
        "usrloc",
        "ul_show_contact",
        &["table_name", "aor"],
        Arc::new(move |p: &MiParams<'_>| {
            table_ok(p)?;
            let aor = p.string("aor")?;
            let map = l.lock().unwrap();
            let cs = map
                .get(&aor)
                .ok_or_else(|| MiError::new(404, "AOR not found"))?;
            Ok(
                json!({"AOR": aor, "Contacts": cs.iter().map(|(c, _)| json!({"Contact": c})).collect::<Vec<_>>()}),
            )
        }),
    );
    let l = loc.clone();
    command(
        reg,
        "usrloc",
        "ul_rm",
        &["table_name", "aor"],
        Arc::new(move |p: &MiParams<'_>| {
            table_ok(p)?;
            l.lock()
                .unwrap()
                .remove(&p.string("aor")?)
                .ok_or_else(|| MiError::new(404, "AOR not found"))?;
            Ok(json!("OK"))
        }),
    );
    let l = loc.clone();
    command(
        reg,
        "usrloc",
        "ul_rm_contact",
        &["table_name", "aor", "contact"],
        Arc::new(move |p: &MiParams<'_>| {
            table_ok(p)?;
            let mut map = l.lock().unwrap();
            let cs = map
                .get_mut(&p.string("aor")?)
                .ok_or_else(|| MiError::new(404, "AOR not found"))?;
            let c = p.string("contact")?;
            let before = cs.len();
            cs.retain(|(x, _)| *x != c);
            if cs.len() == before {
                return Err(MiError::new(404, "Contact not found"));
            }
            Ok(json!("OK"))
        }),
    );
    loc
}

#[test]
fn usrloc_and_ping_send_opensips_calls() {
    let h = mi_support::start();
    let loc = stand_in_usrloc(&h.registry);
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = sent.clone();
    command(
        &h.registry,
        "tm",
        "t_uac_dlg",
        &["method", "ruri", "headers"],
        Arc::new(move |p: &MiParams<'_>| {
            s.lock().unwrap().push(json!({
                "method": p.string("method")?,
                "ruri": p.string("ruri")?,
                "headers": p.string("headers")?,
            }));
            Ok(json!({"Status": "200 OK", "Message": "SIP/2.0 200 OK\r\n"}))
        }),
    );
    let dir = h.dir.path();
    let rc = rc_for(&h, "fifo");
    let r = ok(
        &rc,
        dir,
        &["ul", "add", "alice", "sip:alice@127.0.0.2:5060", "3600"],
    );
    assert!(
        r.err.contains(
            "added contact sip:alice@127.0.0.2:5060 to 'alice@example.com' (expires in 3600 s)"
        ),
        "{}",
        r.err
    );
    ok(
        &rc,
        dir,
        &["ul", "add", "alice@example.com", "sip:alice@127.0.0.3"],
    );
    ok(
        &rc,
        dir,
        &["ul", "add", "bob", "sip:bob@127.0.0.4", "--q", "0.5"],
    );
    assert_eq!(
        loc.lock().unwrap().get("alice@example.com").unwrap(),
        &vec![
            ("sip:alice@127.0.0.2:5060".to_string(), 3600),
            ("sip:alice@127.0.0.3".to_string(), 0)
        ]
    );
    let r = ok(&rc, dir, &["ul", "show"]);
    assert!(r.out.starts_with("AOR "), "{}", r.out);
    assert_eq!(r.out.lines().count(), 2 + 3, "{}", r.out);
    assert!(r.out.contains("permanent"), "{}", r.out);
    let r = ok(&rc, dir, &["ul", "show", "alice"]);
    assert_eq!(r.out.lines().count(), 2 + 2, "{}", r.out);
    let v: Value = serde_json::from_str(&ok(&rc, dir, &["--json", "online"]).out).unwrap();
    assert_eq!(
        v["rows"],
        json!([{"AOR": "alice@example.com"}, {"AOR": "bob@example.com"}])
    );
    assert_eq!(v["count"], json!(2));
    ok(&rc, dir, &["ul", "rm", "alice", "sip:alice@127.0.0.3"]);
    fails(
        &rc,
        dir,
        &["ul", "rm", "alice", "sip:alice@127.0.0.3"],
        1,
        "404 Contact not found",
    );
    ok(&rc, dir, &["ul", "rm", "bob"]);
    fails(
        &rc,
        dir,
        &["ul", "show", "bob"],
        1,
        "osips refused ul_show_contact: 404 AOR not found",
    );
    let r = ok(&rc, dir, &["online"]);
    assert_eq!(
        r.out.lines().collect::<Vec<_>>(),
        ["AOR", "-----------------", "alice@example.com"]
    );
    // UL_TABLE names the usrloc table
    fails(
        &format!("{rc}UL_TABLE=other\n"),
        dir,
        &["ul", "show", "alice"],
        1,
        "404 Table not found",
    );
    fails(
        &rc,
        dir,
        &["ul", "add", "alice", "sip:a@127.0.0.2", "soon"],
        2,
        "expires",
    );

    let r = ok(&rc, dir, &["ping", "sip:bob@127.0.0.4:5060"]);
    assert_eq!(r.out.trim(), "200 OK");
    let got = sent.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["method"], json!("OPTIONS"));
    assert_eq!(got[0]["ruri"], json!("sip:bob@127.0.0.4:5060"));
    let hdrs = got[0]["headers"].as_str().unwrap();
    assert!(
        hdrs.starts_with("From: <sip:daemon@example.com>;tag="),
        "{hdrs}"
    );
    assert!(
        hdrs.contains("\r\nTo: <sip:bob@127.0.0.4:5060>\r\n"),
        "{hdrs}"
    );
}

/// `domain add` on SQLite, then the reload over each transport.
#[test]
fn reload_after_domain_add_over_each_transport() {
    let Some(ctl) = ctl_support::Ctl::new(osips::db::Engine::Sqlite) else {
        panic!("SQLite is always available");
    };
    let h = mi_support::start();
    let reloads = Arc::new(AtomicUsize::new(0));
    let n = reloads.clone();
    command(
        &h.registry,
        "domain",
        "domain_reload",
        &[],
        Arc::new(move |_p: &MiParams<'_>| {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(json!("OK"))
        }),
    );
    for (i, t) in TRANSPORTS.iter().enumerate() {
        ctl.set_rc(&rc_for(&h, t));
        let domain = format!("d{i}.example.com");
        let (_, err) = ctl.expect(&["domain", "add", &domain], 0);
        assert!(err.contains("osips reloaded domains"), "{t}: {err}");
        assert_eq!(reloads.load(Ordering::SeqCst), i + 1, "{t}");
        let (_, err) = ctl.expect(&["domain", "reload"], 0);
        assert!(err.contains("osips reloaded domains"), "{t}: {err}");
        assert_eq!(reloads.load(Ordering::SeqCst), i + 2, "{t}");
        reloads.fetch_sub(1, Ordering::SeqCst);
    }
    // no osips on the FIFO: the change is made, the note says so
    ctl.set_rc(&format!(
        "CTLENGINE=FIFO\nOSIPS_FIFO={}\n",
        h.dir.path().join("gone").display()
    ));
    let (_, err) = ctl.expect(&["domain", "add", "late.example.com"], 0);
    assert!(err.contains("no running osips answered at FIFO"), "{err}");
    assert_eq!(ctl.count("domain"), 5);
}

/// `rm` of a subscriber also drops its registrations from the running osips (MI ul_rm).
#[test]
fn rm_drops_live_contacts() {
    let Some(ctl) = ctl_support::Ctl::new(osips::db::Engine::Sqlite) else {
        panic!("SQLite is always available");
    };
    let h = mi_support::start();
    ctl.set_rc(&rc_for(&h, "fifo"));
    // no usrloc in osips: the user is removed, the note says why memory keeps nothing
    ctl.ok(&["add", "carol", "pw"]);
    let (_, err) = ctl.expect(&["rm", "carol"], 0);
    assert!(err.contains("user 'carol@example.com' removed"), "{err}");
    assert!(err.contains("refused ul_rm (-32601"), "{err}");
    let loc = stand_in_usrloc(&h.registry);
    ctl.ok(&["add", "alice", "pw"]);
    ctl.ok(&["ul", "add", "alice", "sip:alice@127.0.0.2"]);
    let (_, err) = ctl.expect(&["rm", "alice"], 0);
    assert!(
        err.contains("osips dropped the registered contacts of 'alice@example.com'"),
        "{err}"
    );
    assert!(loc.lock().unwrap().is_empty());
    ctl.ok(&["add", "bob", "pw"]);
    let (_, err) = ctl.expect(&["rm", "bob"], 0);
    assert!(
        err.contains("osips had no registered contacts of 'bob@example.com'"),
        "{err}"
    );
}
