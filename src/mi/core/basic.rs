//! uptime, version, pwd, arg, which, ps, kill, log_level, xlog_level, reload_routes, help.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::{Def, MiCore};
use crate::mi::{MiError, MiParams, MiResult, ok};

pub(super) const DEFS: &[Def] = &[
    Def {
        name: "uptime",
        aliases: &[],
        help: "prints various time information about OpenSIPS - when it started to run, for how long it runs",
        recipes: &[(&[], uptime)],
    },
    Def {
        name: "version",
        aliases: &[],
        help: "prints the version string of a running OpenSIPS",
        recipes: &[(&[], version), (&["revision"], version)],
    },
    Def {
        name: "pwd",
        aliases: &[],
        help: "prints the working directory of OpenSIPS",
        recipes: &[(&[], pwd)],
    },
    Def {
        name: "arg",
        aliases: &[],
        help: "returns the full list of arguments used at startup",
        recipes: &[(&[], arg)],
    },
    Def {
        name: "which",
        aliases: &[],
        help: "lists all available MI commands",
        recipes: &[(&[], which), (&["command"], which_cmd)],
    },
    Def {
        name: "ps",
        aliases: &[],
        help: "lists all processes used by OpenSIPS",
        recipes: &[(&[], ps)],
    },
    Def {
        name: "kill",
        aliases: &[],
        help: "terminates OpenSIPS",
        recipes: &[(&[], kill)],
    },
    Def {
        name: "log_level",
        aliases: &["debug"],
        help: "gets/sets the per process or global log level in OpenSIPS",
        recipes: &[
            (&[], log_level_list),
            (&["level"], log_level_set),
            (&["level", "pid"], log_level_set),
        ],
    },
    Def {
        name: "xlog_level",
        aliases: &[],
        help: "gets/sets the per process or global xlog level in OpenSIPS",
        recipes: &[(&[], xlog_level), (&["level"], xlog_level)],
    },
];

pub(super) const LATE_DEFS: &[Def] = &[
    Def {
        name: "reload_routes",
        aliases: &[],
        help: "triggers the script (routes only) reload",
        recipes: &[(&[], reload_routes)],
    },
    Def {
        name: "help",
        aliases: &[],
        help: "prints information about MI commands usage",
        recipes: &[(&[], help), (&["mi_cmd"], help)],
    },
];

/// `ctime()` text without the trailing newline, in local time.
pub fn ctime(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into the 64-byte buffer and NUL-terminates it.
    let p = unsafe { libc::ctime_r(&secs, buf.as_mut_ptr()) };
    if p.is_null() {
        return secs.to_string();
    }
    // SAFETY: p points into buf, NUL-terminated by ctime_r.
    let s = unsafe { std::ffi::CStr::from_ptr(p) };
    s.to_string_lossy().trim_end().to_string()
}

fn uptime(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    let now = SystemTime::now();
    let up = now
        .duration_since(core.started)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(json!({
        "Now": ctime(now),
        "Up since": ctime(core.started),
        "Up time": format!("{up} [sec]"),
    }))
}

/// The `Server` value: what OpenSIPS puts after `Server: ` in its header.
pub fn server_string() -> String {
    format!(
        "osips ({} ({}/{}))",
        crate::VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn version(_: &MiCore, _: &MiParams<'_>) -> MiResult {
    Ok(json!({ "Server": server_string() }))
}

fn pwd(_: &MiCore, _: &MiParams<'_>) -> MiResult {
    let wd = std::env::current_dir()
        .map_err(|e| MiError::server_error(format!("getcwd failed: {e}")))?;
    Ok(json!({ "WD": wd.display().to_string() }))
}

fn arg(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    Ok(Value::from(core.argv.clone()))
}

fn which(_: &MiCore, p: &MiParams<'_>) -> MiResult {
    Ok(Value::from(p.registry().names()))
}

fn which_cmd(_: &MiCore, p: &MiParams<'_>) -> MiResult {
    let name = p.string("command")?;
    let cmd = p
        .registry()
        .get(&name)
        .ok_or_else(|| MiError::new(404, "unknown MI command"))?;
    Ok(Value::Array(
        cmd.recipes
            .iter()
            .map(|r| Value::from(r.params.to_vec()))
            .collect(),
    ))
}

fn ps(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    let procs: Vec<Value> = core
        .procs
        .list()
        .iter()
        .map(|p| json!({ "ID": p.id, "PID": p.pid, "Type": p.desc }))
        .collect();
    Ok(json!({ "Processes": procs }))
}

fn kill(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    match core.kill_handler() {
        Some(h) => h(),
        None => {
            let _ =
                nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM);
        }
    }
    ok()
}

fn log_level_list(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    let procs: Vec<Value> = core
        .procs
        .list()
        .iter()
        .map(|p| json!({ "PID": p.pid, "Log level": p.log_level(), "Type": p.desc }))
        .collect();
    Ok(json!({ "Processes": procs }))
}

fn log_level_set(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    let level = p.int("level")? as i32;
    match p.opt_int("pid")? {
        Some(pid) => {
            if !core.procs.set_process_level(pid, level) {
                return Err(MiError::invalid_params("Bad PID"));
            }
            Ok(json!({ "Log level": level }))
        }
        None => {
            core.procs.set_global_level(level);
            Ok(json!({ "New global log level": level }))
        }
    }
}

fn xlog_level(core: &MiCore, p: &MiParams<'_>) -> MiResult {
    match p.opt_int("level")? {
        Some(l) => {
            core.procs.set_xlog_level(l as i32);
            Ok(json!({ "New xLog level": l }))
        }
        None => Ok(json!({ "xLog Level": core.procs.xlog_level() })),
    }
}

fn reload_routes(core: &MiCore, _: &MiParams<'_>) -> MiResult {
    let Some(h) = core.reload_handler() else {
        return Err(MiError::with_data(
            500,
            "reload failed",
            "no script engine attached",
        ));
    };
    match h() {
        Ok(()) => ok(),
        Err(errors) => Err(MiError::with_data(500, "reload failed", errors.join("\n"))),
    }
}

fn help(_: &MiCore, p: &MiParams<'_>) -> MiResult {
    let Some(name) = p.opt_string("mi_cmd")? else {
        return Ok(Value::from(
            "Usage: help mi_cmd - returns information about 'mi_cmd'",
        ));
    };
    let cmd = p
        .registry()
        .get(&name)
        .ok_or_else(|| MiError::new(404, "unknown MI command"))?;
    let mut m = Map::new();
    let text = if cmd.help.is_empty() {
        "not available for this command"
    } else {
        cmd.help.as_str()
    };
    m.insert("Help".into(), Value::from(text));
    m.insert("Exported by".into(), Value::from(cmd.module.clone()));
    Ok(Value::Object(m))
}
