//! `start`, `stop`, `restart`: the osips process, as opensipsctl ran it — `OSIPSBIN -P PID_FILE
//! STARTOPTIONS` (plus `-E` when `SYSLOG=0`), and SIGTERM to the pid in `PID_FILE`.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::output::Report;

/// How long `start` waits for the pid file and `stop` for the process to end.
const WAIT: Duration = Duration::from_secs(10);
const STEP: Duration = Duration::from_millis(50);

/// The pid a pid file names (`None`: no file); a file without a number is an error.
pub fn read_pid(path: &Path) -> Outcome<Option<i32>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::failed(
                format!("cannot read PID_FILE {}: {e}", path.display()),
                "check PID_FILE in the rc file and its permissions",
            ));
        }
    };
    match text.trim().parse::<i32>() {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => Err(Failure::failed(
            format!(
                "PID_FILE {} does not hold a process id (`{}`)",
                path.display(),
                text.trim().chars().take(40).collect::<String>()
            ),
            "remove the file if no osips runs",
        )),
    }
}

/// Whether `pid` runs (a zombie waiting for its parent does not count).
pub fn alive(pid: i32) -> bool {
    if let Err(e) = kill(Pid::from_raw(pid), None) {
        // ESRCH: gone; EPERM: runs as another user
        return e == nix::errno::Errno::EPERM;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_none_or(|state| state != 'Z' && state != 'X'),
        Err(_) => true,
    }
}

/// The binary: `OSIPSBIN`, else `osips` beside osipsctl, else `osips` on PATH.
fn osips_bin(ctx: &Ctx) -> PathBuf {
    if ctx.rc.get("OSIPSBIN").is_some_and(|v| !v.trim().is_empty()) {
        return PathBuf::from(ctx.rc.osips_bin());
    }
    if let Some(sibling) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("osips")))
        .filter(|p| p.is_file())
    {
        return sibling;
    }
    PathBuf::from("osips")
}

/// The command line `start` runs.
pub fn start_args(ctx: &Ctx) -> Outcome<(PathBuf, Vec<String>)> {
    let mut args = vec!["-P".to_string(), ctx.rc.pid_file().display().to_string()];
    args.extend(ctx.rc.start_options());
    if !ctx.rc.syslog().map_err(Failure::from)? {
        args.push("-E".into());
    }
    Ok((osips_bin(ctx), args))
}

fn tail(mut f: File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.read_to_string(&mut s);
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// A temporary file already removed from its directory (gone when closed).
fn unlinked_file() -> std::io::Result<File> {
    let path = std::env::temp_dir().join(format!(
        "osipsctl-start-{}-{}",
        std::process::id(),
        super::ctx::unix_now()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

/// `start`.
pub fn start(ctx: &Ctx) -> Outcome<Report> {
    let pid_file = ctx.rc.pid_file();
    let mut notes = Vec::new();
    if let Some(pid) = read_pid(&pid_file)? {
        if alive(pid) {
            return Err(Failure::failed(
                format!(
                    "osips is already running (pid {pid} in {})",
                    pid_file.display()
                ),
                "use `osipsctl restart` to restart it",
            ));
        }
        std::fs::remove_file(&pid_file).map_err(|e| {
            Failure::failed(
                format!(
                    "cannot remove the stale PID_FILE {}: {e}",
                    pid_file.display()
                ),
                "remove it by hand",
            )
        })?;
        notes.push(format!(
            "removed the stale PID_FILE {} (pid {pid} is gone)",
            pid_file.display()
        ));
    }
    let (bin, args) = start_args(ctx)?;
    let shown = format!("{} {}", bin.display(), args.join(" "));
    // stderr goes to an unlinked file: read back if osips dies before writing its pid
    let log = unlinked_file()
        .map_err(|e| Failure::failed(format!("cannot create a temporary file: {e}"), ""))?;
    let log2 = log
        .try_clone()
        .map_err(|e| Failure::failed(format!("cannot create a temporary file: {e}"), ""))?;
    let mut child = Command::new(&bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log2))
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Failure::failed(
                format!("cannot run `{shown}`: {e}"),
                "set OSIPSBIN in the rc file to the osips binary",
            )
        })?;
    let end = Instant::now() + WAIT;
    loop {
        if let Some(pid) = read_pid(&pid_file).ok().flatten()
            && alive(pid)
        {
            return Ok(Report {
                message: Some(format!("osips started (pid {pid}, {})", pid_file.display())),
                notes,
                ..Report::default()
            }
            .field("pid", json!(pid))
            .field("command", json!(shown)));
        }
        if let Ok(Some(status)) = child.try_wait()
            && !status.success()
        {
            let why = tail(log);
            return Err(Failure::failed(
                format!(
                    "`{shown}` exited with {status} before writing {}{}",
                    pid_file.display(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                ),
                "fix the error above, or run the command by hand to see all its output",
            ));
        }
        if Instant::now() > end {
            return Err(Failure::failed(
                format!(
                    "`{shown}` (pid {}) did not write {} within {} s",
                    child.id(),
                    pid_file.display(),
                    WAIT.as_secs()
                ),
                "check that PID_FILE is writable and STARTOPTIONS are right; the process was left running",
            ));
        }
        std::thread::sleep(STEP);
    }
}

/// `stop`.
pub fn stop(ctx: &Ctx) -> Outcome<Report> {
    let pid_file = ctx.rc.pid_file();
    let Some(pid) = read_pid(&pid_file)? else {
        return Err(Failure::failed(
            format!("osips is not running (no {})", pid_file.display()),
            "nothing to stop; check PID_FILE in the rc file if osips does run",
        ));
    };
    if !alive(pid) {
        let _ = std::fs::remove_file(&pid_file);
        return Err(Failure::failed(
            format!(
                "osips is not running (pid {pid} from {} is gone; the stale file was removed)",
                pid_file.display()
            ),
            "nothing to stop",
        ));
    }
    kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| {
        Failure::failed(
            format!("cannot send SIGTERM to osips (pid {pid}): {e}"),
            "run osipsctl as the user osips runs as",
        )
    })?;
    let end = Instant::now() + WAIT;
    while alive(pid) {
        if Instant::now() > end {
            return Err(Failure::failed(
                format!(
                    "osips (pid {pid}) still runs {} s after SIGTERM",
                    WAIT.as_secs()
                ),
                format!("look at its log, or end it with `kill -9 {pid}`"),
            ));
        }
        std::thread::sleep(STEP);
    }
    // osips removes its pid file; a killed one leaves it
    if read_pid(&pid_file).ok().flatten() == Some(pid) {
        let _ = std::fs::remove_file(&pid_file);
    }
    Ok(Report::message(format!("osips stopped (pid {pid})")).field("pid", json!(pid)))
}

/// `restart`: stop when running, then start.
pub fn restart(ctx: &Ctx) -> Outcome<Report> {
    let pid_file = ctx.rc.pid_file();
    let running = matches!(read_pid(&pid_file)?, Some(p) if alive(p));
    let note = if running {
        stop(ctx)?.message
    } else {
        Some("osips was not running".to_string())
    };
    let mut r = start(ctx)?;
    r.notes.insert(0, note.unwrap_or_default());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        assert_eq!(read_pid(&p).unwrap(), None);
        std::fs::write(&p, "1234\n").unwrap();
        assert_eq!(read_pid(&p).unwrap(), Some(1234));
        std::fs::write(&p, "garbage").unwrap();
        assert!(read_pid(&p).is_err());
        assert!(alive(std::process::id() as i32));
    }
}
