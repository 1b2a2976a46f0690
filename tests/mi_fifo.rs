//! MI over the FIFO: framing, pipelining, no-reply requests, bad input, deleted FIFO, clients
//! that never read their reply.

mod mi_support;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use mi_support::{TIMEOUT, start};
use osips::mi::client::{self, MiTarget};
use serde_json::{Value, json};

fn write_fifo(path: &std::path::Path, data: &str) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all(data.as_bytes()).unwrap();
}

/// Creates a reply FIFO, writes `request` (with `:{name}:` framing done by the caller via the
/// `{name}` placeholder) and reads the reply.
fn exchange(h: &mi_support::Harness, name: &str, request: &str) -> String {
    let reply = h.fifo_cfg.reply_dir.join(name);
    nix::unistd::mkfifo(&reply, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let path = reply.clone();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    });
    write_fifo(&h.fifo_cfg.path, request);
    let out = reader.join().unwrap();
    std::fs::remove_file(reply).unwrap();
    out
}

#[test]
fn fifo_is_created_with_mode_0660() {
    let h = start();
    let m = std::fs::metadata(&h.fifo_cfg.path).unwrap();
    assert!(m.file_type().is_fifo());
    assert_eq!(m.permissions().mode() & 0o777, 0o660);
}

#[test]
fn uptime_and_reply_framing() {
    let h = start();
    let out = exchange(
        &h,
        "reply_a",
        r#":reply_a:{"jsonrpc":"2.0","id":"101","method":"uptime","params":[]}"#,
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["id"], "101");
    assert!(v["result"]["Up since"].is_string());
    let r = client::call(&h.fifo_target(), "which", json!({}), TIMEOUT).unwrap();
    assert!(r.as_array().unwrap().iter().any(|c| c == "get_statistics"));
}

#[test]
fn pipelined_and_no_reply_requests() {
    let h = start();
    // a request asking for no reply, then one that reads what the first stored
    let out = exchange(
        &h,
        "reply_b",
        concat!(
            r#"::{"jsonrpc":"2.0","id":1,"method":"cache_store","params":["local","k","v1"]}"#,
            "\n",
            r#":reply_b:{"jsonrpc":"2.0","id":2,"method":"cache_fetch","params":{"system":"local","attr":"k"}}"#
        ),
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","result":{"key":"k","value":"v1"},"id":2})
    );
}

#[test]
fn malformed_json_gets_parse_error() {
    let h = start();
    let out = exchange(&h, "reply_c", ":reply_c:{\"jsonrpc\":\"2.0\",]}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"]["code"], -32700);
    let out = exchange(
        &h,
        "reply_d",
        r#":reply_d:{"jsonrpc":"2.0","id":3,"method":"nope"}"#,
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"]["code"], -32601);
}

#[test]
fn bad_framing_and_forbidden_names_do_not_stop_the_server() {
    let h = start();
    write_fifo(&h.fifo_cfg.path, "garbage without colon\n");
    write_fifo(
        &h.fifo_cfg.path,
        r#":../../etc/x:{"jsonrpc":"2.0","id":1,"method":"uptime"}"#,
    );
    write_fifo(&h.fifo_cfg.path, r#":half:{"jsonrpc":"2.0","#);
    // the incomplete request is dropped after `stale_after` (1 s in the harness)
    std::thread::sleep(Duration::from_millis(1500));
    let r = client::call(&h.fifo_target(), "version", json!({}), TIMEOUT).unwrap();
    assert!(r["Server"].as_str().unwrap().starts_with("osips"));
}

#[test]
fn client_that_never_reads_its_reply_is_given_up() {
    let h = start();
    // reply FIFO exists but nobody opens it for reading: the server retries, then gives up
    let reply = h.fifo_cfg.reply_dir.join("never_read");
    nix::unistd::mkfifo(&reply, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    write_fifo(
        &h.fifo_cfg.path,
        r#":never_read:{"jsonrpc":"2.0","id":1,"method":"which"}"#,
    );
    // a reply file that is not a FIFO is refused
    std::fs::write(h.fifo_cfg.reply_dir.join("plain_file"), "").unwrap();
    write_fifo(
        &h.fifo_cfg.path,
        r#":plain_file:{"jsonrpc":"2.0","id":1,"method":"which"}"#,
    );
    let r = client::call(&h.fifo_target(), "pwd", json!({}), TIMEOUT).unwrap();
    assert!(r["WD"].is_string());
    assert_eq!(
        std::fs::read_to_string(h.fifo_cfg.reply_dir.join("plain_file")).unwrap(),
        ""
    );
}

#[test]
fn deleted_fifo_is_recreated() {
    let h = start();
    std::fs::remove_file(&h.fifo_cfg.path).unwrap();
    let mut ok = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        if std::fs::metadata(&h.fifo_cfg.path)
            .map(|m| m.file_type().is_fifo())
            .unwrap_or(false)
        {
            ok = true;
            break;
        }
    }
    assert!(ok, "FIFO not re-created");
    let target = MiTarget::Fifo {
        fifo: h.fifo_cfg.path.clone(),
        reply_dir: h.fifo_cfg.reply_dir.clone(),
    };
    let r = client::call(&target, "uptime", json!({}), TIMEOUT).unwrap();
    assert!(r["Up time"].is_string());
}
