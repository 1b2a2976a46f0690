//! Wire compatibility with the real `opensips-cli` (PyPI package `opensipscli`), installed into a
//! virtualenv under the target directory on first use, driving the MI servers over HTTP, FIFO and
//! datagram. With `CI` set the test fails when python3 / pip cannot provide the tool.

mod mi_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use mi_support::start;
use serde_json::Value;

static INSTALL: Mutex<()> = Mutex::new(());

fn required() -> bool {
    let set = |k: &str| std::env::var(k).map(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI").unwrap_or(false) || set("OSIPS_REQUIRE_SERVERS").unwrap_or(false)
}

/// The opensips-cli binary, installing it on first use. `None` (test skipped with a message) only
/// on a developer machine without python3 venv / pip; with `CI` set a missing tool fails the test.
fn opensips_cli() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("OSIPS_OPENSIPS_CLI") {
        return Some(PathBuf::from(p));
    }
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("opensips-cli-venv");
    let bin = venv.join("bin/opensips-cli");
    if bin.exists() {
        return Some(bin);
    }
    let install = || -> Result<(), String> {
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3: {e}"))?;
        if !st.success() {
            return Err("python3 -m venv failed (Debian: apt-get install python3-venv)".into());
        }
        let st = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "opensipscli"])
            .status()
            .map_err(|e| format!("pip: {e}"))?;
        if !st.success() || !bin.exists() {
            return Err("pip install opensipscli failed".into());
        }
        Ok(())
    };
    match install() {
        Ok(()) => Some(bin),
        Err(e) if required() => panic!("opensips-cli is required: {e}"),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&venv);
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// Runs `opensips-cli -f cfg -x mi <args>` and parses its pretty-printed JSON output.
fn run(cli: &Path, home: &Path, cfg: &str, args: &[&str]) -> Value {
    let cfg_path = home.join(format!("cli-{}.cfg", args.join("_")));
    std::fs::write(&cfg_path, cfg).unwrap();
    let out = Command::new(cli)
        .env("HOME", home)
        .arg("-f")
        .arg(&cfg_path)
        .args(["-x", "mi"])
        .args(args)
        .output()
        .expect("run opensips-cli");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "opensips-cli {args:?} failed: {stdout} {stderr}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("opensips-cli {args:?} printed non-JSON ({e}): {stdout} {stderr}")
    })
}

fn check_all(cli: &Path, h: &mi_support::Harness, cfg: &str) {
    let home = h.dir.path();
    let up = run(cli, home, cfg, &["uptime"]);
    assert!(up["Up time"].as_str().unwrap().ends_with("[sec]"), "{up}");
    let which = run(cli, home, cfg, &["which"]);
    assert!(
        which.as_array().unwrap().iter().any(|c| c == "uptime"),
        "{which}"
    );
    let ps = run(cli, home, cfg, &["ps"]);
    assert!(
        ps["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Type"] == "MI FIFO"),
        "{ps}"
    );
    h.core_stats.rcv_requests.add(1);
    let stats = run(cli, home, cfg, &["get_statistics", "all"]);
    assert!(stats["core:rcv_requests"].as_u64().unwrap() >= 1, "{stats}");
    let one = run(cli, home, cfg, &["get_statistics", "core:", "tm:"]);
    assert!(one.get("core:fwd_requests").is_some(), "{one}");
    let named = run(cli, home, cfg, &["which", "command=get_statistics"]);
    assert_eq!(named, serde_json::json!([["statistics"]]));
}

const COMMON: &str = "[default]\nlog_level: WARNING\noutput_type: pretty-print\nprompt_emptyline_repeat_cmd: False\n";

#[test]
fn opensips_cli_over_http() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: http\nurl: http://{}/mi\n",
        h.http
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_fifo() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: fifo\nfifo_file: {f}\nfifo_file_fallback: {f}\nfifo_reply_dir: {d}\n",
        f = h.fifo_cfg.path.display(),
        d = h.fifo_cfg.reply_dir.display()
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_datagram() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: datagram\ndatagram_ip: {}\ndatagram_port: {}\ndatagram_timeout: 5\n",
        h.udp.ip(),
        h.udp.port()
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_unix_datagram() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: datagram\ndatagram_unix_socket: {}\ndatagram_timeout: 5\n",
        h.unix.display()
    );
    check_all(&cli, &h, &cfg);
}
