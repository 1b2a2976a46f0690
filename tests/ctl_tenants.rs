//! osipsctl tenants and domains on SQLite, PostgreSQL and MariaDB, and the reload request to a
//! running osips's HTTP MI (a one-shot JSON-RPC listener stands in for osips, whose MI server
//! is not written yet).

mod ctl_support;

use std::io::{Read, Write};
use std::net::TcpListener;

use ctl_support::Ctl;
use osips::db::Engine;

fn tenants(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    let (_, err) = ctl.expect(
        &[
            "tenant",
            "add",
            "acme",
            "acme.example",
            "sip.acme.example",
            "--attr",
            "max_calls=10",
            "--attr",
            "region=eu-west",
        ],
        0,
    );
    assert!(err.contains("tenant 'acme' added with 2 domains"), "{err}");
    assert!(err.contains("no running osips answered at"), "{err}");
    let rows = ctl.rows("SELECT domain, attrs FROM domain ORDER BY domain", &[]);
    assert_eq!(
        rows,
        [
            ["acme.example", "tenant=acme;max_calls=10;region=eu-west"],
            [
                "sip.acme.example",
                "tenant=acme;max_calls=10;region=eu-west"
            ]
        ]
    );
    // A domain belongs to one tenant; the failed add leaves nothing behind.
    let (_, err) = ctl.expect(
        &["tenant", "add", "other", "new.example", "acme.example"],
        1,
    );
    assert!(err.contains("tenant 'acme'"), "{err}");
    assert_eq!(ctl.count("domain"), 2);
    ctl.expect(&["tenant", "add", "acme", "x.example"], 1);
    ctl.ok(&["tenant", "add", "beta", "beta.example"]);
    ctl.ok(&["domain", "add", "acme.test", "--tenant", "acme"]);
    ctl.expect(&["domain", "add", "z.test", "--tenant", "nosuch"], 1);
    // Users and online users.
    ctl.ok(&["add", "u1@acme.example", "pw"]);
    ctl.ok(&["add", "u2@acme.test", "pw"]);
    ctl.ok(&["add", "u3@beta.example", "pw"]);
    let db = ctl.db();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (u, d, exp) in [
        ("u1", "acme.example", now + 3600),
        ("u1", "acme.example", now + 60),
        ("u2", "acme.test", now - 10),
        ("u3", "beta.example", 0),
    ] {
        db.execute(
            "INSERT INTO location (username, domain, contact, expires) VALUES (?, ?, 'sip:x@127.0.0.3', ?)",
            osips::params![u, d, exp],
        )
        .unwrap();
    }
    db.close();
    let v = ctl.json(&["tenant", "show"], 0);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(rows[0]["tenant"], "acme");
    assert_eq!(
        rows[0]["domains"],
        serde_json::json!(["acme.example", "acme.test", "sip.acme.example"])
    );
    assert_eq!(
        rows[0]["attributes"],
        serde_json::json!({"max_calls": "10", "region": "eu-west"})
    );
    assert_eq!(
        (rows[0]["users"].as_i64(), rows[0]["online"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (rows[1]["users"].as_i64(), rows[1]["online"].as_i64()),
        (Some(1), Some(1))
    );
    let out = ctl.ok(&["tenant", "show", "beta"]);
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .starts_with("beta    beta.example"),
        "{out}"
    );
    ctl.expect(&["tenant", "show", "nosuch"], 1);
    // rm refuses while users exist; --cascade removes them and their rows.
    let (_, err) = ctl.expect(&["tenant", "rm", "acme"], 1);
    assert!(err.contains("--cascade"), "{err}");
    assert_eq!(ctl.count("subscriber"), 3);
    let v = ctl.json(&["tenant", "rm", "acme", "--cascade"], 0);
    assert_eq!(v["users_removed"], 2);
    assert_eq!(ctl.count("subscriber"), 1);
    assert_eq!(ctl.count("location"), 1);
    assert_eq!(
        ctl.rows("SELECT domain FROM domain", &[]),
        [["beta.example"]]
    );
    ctl.expect(&["tenant", "rm", "acme"], 1);
    // Bad names and attributes are refused (exit 2), nothing written.
    for args in [
        vec!["tenant", "add", "a b", "c.example"],
        vec![
            "tenant",
            "add",
            "c",
            "c.example",
            "--attr",
            "k=v;tenant=evil",
        ],
        vec!["tenant", "add", "c", "c.example", "--attr", "tenant=x"],
        vec!["tenant", "add", "c", "c.example", "c.example"],
        vec!["tenant", "add", "c", "bad domain"],
    ] {
        ctl.expect(&args, 2);
    }
    let long = format!("k={}", "v".repeat(250));
    ctl.expect(&["tenant", "add", "c", "c.example", "--attr", &long], 2);
    assert_eq!(ctl.count("domain"), 1);
}

fn domains(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&["domain", "add", "example.com"]);
    ctl.expect(&["domain", "add", "example.com"], 1);
    ctl.ok(&["domain", "add", "[::1]"]);
    let out = ctl.ok(&["domain", "showdb"]);
    assert!(
        out.contains("example.com") && out.contains("[::1]"),
        "{out}"
    );
    let v = ctl.json(&["domain", "showdb"], 0);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    ctl.ok(&["domain", "rm", "[::1]"]);
    ctl.expect(&["domain", "rm", "[::1]"], 1);
    // No osips: show and reload say so with exit 3.
    let (_, err) = ctl.expect(&["domain", "reload"], 3);
    assert!(err.contains("no running osips answered at"), "{err}");
    ctl.expect(&["domain", "show"], 3);
    ctl.expect(&["address", "dump"], 3);
    ctl.expect(&["dispatcher", "dump"], 3);
}

/// Accepts `n` HTTP requests, records their bodies and answers each with `answer`.
fn fake_mi(n: usize, answer: &'static str) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mi", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..n {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let k = c.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    if buf.len() >= i + 4 + len {
                        bodies.push(text[i + 4..].to_string());
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
            write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
        }
        bodies
    });
    (url, h)
}

fn reload_after_changes(engine: Engine) {
    let Some(mut ctl) = Ctl::new(engine) else {
        return;
    };
    let (url, server) = fake_mi(5, r#"{"jsonrpc":"2.0","result":"OK","id":1}"#);
    ctl.set_mi_url(&url);
    let (_, err) = ctl.expect(&["domain", "add", "example.com"], 0);
    assert!(err.contains("osips reloaded domains"), "{err}");
    let (_, err) = ctl.expect(
        &["address", "add", "1", "127.0.0.5", "32", "5060", "udp"],
        0,
    );
    assert!(err.contains("osips reloaded addresses"), "{err}");
    let (_, err) = ctl.expect(
        &[
            "dispatcher",
            "addgw",
            "1",
            "sip:127.0.0.6:5060",
            "",
            "0",
            "1",
            "",
        ],
        0,
    );
    assert!(err.contains("osips reloaded dispatcher sets"), "{err}");
    let (_, err) = ctl.expect(
        &[
            "dialplan", "addrule", "1", "1", "equal", "100", "0", "", "", "",
        ],
        0,
    );
    assert!(err.contains("osips reloaded dialplans"), "{err}");
    ctl.ok(&["domain", "reload"]);
    let bodies = server.join().unwrap();
    let methods: Vec<String> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        methods,
        [
            "domain_reload",
            "address_reload",
            "ds_reload",
            "dp_reload",
            "domain_reload"
        ]
    );
    // osips answers with an error: the change stays, the note says so; `reload` fails with 1.
    let (url, server) = fake_mi(
        2,
        r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#,
    );
    ctl.set_mi_url(&url);
    let (_, err) = ctl.expect(&["domain", "add", "b.example.com"], 0);
    assert!(
        err.contains("refused domain_reload (-32601 Method not found)"),
        "{err}"
    );
    ctl.expect(&["domain", "reload"], 1);
    server.join().unwrap();
    assert_eq!(ctl.count("domain"), 2);
}

on_engines!(tenants, domains, reload_after_changes);
