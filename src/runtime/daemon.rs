//! Going to the background as OpenSIPS does without `-F` / `-D`: fork, start a new session, and let
//! the parent exit only when the child says whether it started, with the child's exit code, so
//! `osips -f x.cfg && echo up` tells the truth.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::{ForkResult, fork, pipe, setsid};

/// The child's end of the start-up report.
pub struct Daemon {
    report: File,
    keep_stderr: bool,
}

impl Daemon {
    /// Tells the waiting parent the proxy is up (the parent exits 0), then detaches from the
    /// terminal: standard input and output go to /dev/null, standard error too unless it is the log
    /// (`-E`).
    pub fn started(mut self) {
        let _ = self.report.write_all(&[0]);
        if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
            let fd = null.as_raw_fd();
            // SAFETY: dup2 onto the standard descriptors of this process; `null` stays open until
            // the calls return.
            unsafe {
                libc::dup2(fd, 0);
                libc::dup2(fd, 1);
                if !self.keep_stderr {
                    libc::dup2(fd, 2);
                }
            }
        }
    }

    /// Tells the waiting parent start-up failed; it exits with `code`.
    pub fn failed(mut self, code: u8) {
        let _ = self.report.write_all(&[code.max(1)]);
    }
}

fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(1)
}

/// Forks. In the parent this never returns: it waits for the child's report and exits. In the
/// child it returns the handle to report through. Must run before any thread is started.
pub fn daemonize(keep_stderr: bool) -> Result<Daemon, String> {
    if thread_count() > 1 {
        return Err("cannot go to the background once threads run (use -F)".into());
    }
    let (read_end, write_end): (OwnedFd, OwnedFd) =
        pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    // SAFETY: the process has one thread (checked above), so the child may run any code.
    match unsafe { fork() }.map_err(|e| format!("cannot fork: {e}"))? {
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut report = File::from(read_end);
            let mut b = [0u8; 1];
            let code = match report.read(&mut b) {
                Ok(1) if b[0] == 0 => {
                    eprintln!("osips: running in the background (pid {child})");
                    0
                }
                Ok(1) => b[0] as i32,
                _ => {
                    eprintln!("osips: the background process exited during start-up");
                    1
                }
            };
            std::process::exit(code)
        }
        ForkResult::Child => {
            drop(read_end);
            let _ = setsid();
            Ok(Daemon {
                report: File::from(write_end),
                keep_stderr,
            })
        }
    }
}
