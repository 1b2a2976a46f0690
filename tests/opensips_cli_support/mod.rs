//! The real `opensips-cli` (PyPI package `opensipscli`), installed into a virtualenv under the
//! target directory on first use, for tests that drive osips's MI with it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

static INSTALL: Mutex<()> = Mutex::new(());

pub fn required() -> bool {
    let set = |k: &str| std::env::var(k).map(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI").unwrap_or(false) || set("OSIPS_REQUIRE_SERVERS").unwrap_or(false)
}

/// The opensips-cli binary, installing it on first use. `None` (test skipped with a message) only
/// on a developer machine without python3 venv / pip; with `CI` set a missing tool fails the test.
pub fn opensips_cli() -> Option<PathBuf> {
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

/// Makes sure the virtualenv of `cli` can import `module`, installing `package` with its pip
/// when it cannot (opensips-cli's database commands need a driver: `psycopg2` for PostgreSQL).
/// False (test skipped, with a message) only outside CI.
pub fn python_module(cli: &Path, module: &str, package: &str) -> bool {
    let bin = cli.parent().expect("opensips-cli lives in a bin directory");
    let imports = || {
        Command::new(bin.join("python"))
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if imports() {
        return true;
    }
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let installed = Command::new(bin.join("pip"))
        .args(["install", "--quiet", package])
        .status()
        .is_ok_and(|s| s.success());
    match installed && imports() {
        true => true,
        false if required() => panic!("opensips-cli needs the python module {module} ({package})"),
        false => {
            eprintln!("skipping: cannot install {package} for opensips-cli");
            false
        }
    }
}

/// Runs `opensips-cli -f cfg -x mi <args>` and parses its pretty-printed JSON output.
pub fn run(cli: &Path, home: &Path, cfg: &str, args: &[&str]) -> Value {
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
