//! mi_fifo: requests `:<reply_name>:<json>` written to a FIFO; the JSON-RPC reply goes to the FIFO
//! `<reply_dir>/<reply_name>` the client created (`::<json>` asks for no reply).
//!
//! As OpenSIPS: the reply name may not contain `.`, `/` or `\`; the reply file must be a real
//! FIFO (no symlink, no hard link) and is opened non-blocking with a few retries; the server FIFO
//! is re-created if it is deleted or replaced. In addition, a request left incomplete for
//! `stale_after` is dropped and a reply that cannot be written within `reply_timeout` is given up,
//! so a broken client never stalls the server for long.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{Gid, Uid, chown, mkfifo, read, write};

use super::MiRequest;
use super::codec::{Framed, handle_request, next_value, parse_error_reply};
use super::process::ProcessTable;
use super::registry::MiRegistry;

/// mi_fifo modparams.
#[derive(Debug, Clone)]
pub struct FifoConfig {
    /// `fifo_name` (OpenSIPS default `/tmp/opensips_fifo`).
    pub path: PathBuf,
    /// `fifo_mode` (0660).
    pub mode: u32,
    pub user: Option<u32>,
    pub group: Option<u32>,
    /// `reply_dir` (`/tmp/`).
    pub reply_dir: PathBuf,
    /// How often the FIFO file is checked (and re-created if gone).
    pub check_interval: Duration,
    pub stale_after: Duration,
    pub reply_timeout: Duration,
    pub max_request: usize,
}

impl Default for FifoConfig {
    fn default() -> Self {
        FifoConfig {
            path: PathBuf::from("/tmp/opensips_fifo"),
            mode: 0o660,
            user: None,
            group: None,
            reply_dir: PathBuf::from("/tmp/"),
            check_interval: Duration::from_millis(500),
            stale_after: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(2),
            max_request: 1 << 20,
        }
    }
}

/// The running server; dropping it stops the thread and removes the FIFO.
pub struct FifoServer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl FifoServer {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FifoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Fifo {
    read: OwnedFd,
    _keep_open: OwnedFd,
    dev: u64,
    ino: u64,
}

fn create_fifo(cfg: &FifoConfig) -> io::Result<Fifo> {
    match std::fs::symlink_metadata(&cfg.path) {
        Ok(m) if m.file_type().is_fifo() || m.file_type().is_socket() => {
            std::fs::remove_file(&cfg.path)?
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a FIFO", cfg.path.display()),
            ));
        }
        Err(_) => {}
    }
    let mode = Mode::from_bits_truncate(cfg.mode);
    mkfifo(&cfg.path, mode)
        .map_err(|e| io::Error::other(format!("can't create FIFO {}: {e}", cfg.path.display())))?;
    // mkfifo is subject to the umask; set the exact mode
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &cfg.path,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(io::Error::from)?;
    if cfg.user.is_some() || cfg.group.is_some() {
        chown(
            &cfg.path,
            cfg.user.map(Uid::from_raw),
            cfg.group.map(Gid::from_raw),
        )
        .map_err(io::Error::from)?;
    }
    let read = open(
        &cfg.path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // a writer of our own keeps the FIFO from reporting EOF between clients
    let keep = open(
        &cfg.path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(read.as_fd())?;
    Ok(Fifo {
        read,
        _keep_open: keep,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

fn still_ours(cfg: &FifoConfig, f: &Fifo) -> bool {
    std::fs::symlink_metadata(&cfg.path)
        .map(|m| m.file_type().is_fifo() && m.dev() == f.dev && m.ino() == f.ino)
        .unwrap_or(false)
}

/// Creates the FIFO and starts the server thread.
pub fn spawn(
    cfg: FifoConfig,
    registry: Arc<MiRegistry>,
    procs: Option<Arc<ProcessTable>>,
) -> io::Result<FifoServer> {
    let fifo = create_fifo(&cfg)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let path = cfg.path.clone();
    let handle = std::thread::Builder::new()
        .name("MI FIFO".into())
        .spawn(move || {
            let _guard = procs.map(|p| p.register_current("MI FIFO"));
            run(cfg, fifo, registry, st)
        })?;
    Ok(FifoServer {
        stop,
        handle: Some(handle),
        path,
    })
}

fn run(cfg: FifoConfig, mut fifo: Fifo, registry: Arc<MiRegistry>, stop: Arc<AtomicBool>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut last_data = Instant::now();
    let mut chunk = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            match poll_one(&fifo.read, libc::POLLIN, cfg.check_interval) {
                Ok(r) => r,
                Err(Errno::EINTR) => false,
                Err(e) => {
                    tracing::error!("MI FIFO poll failed: {e}");
                    std::thread::sleep(cfg.check_interval);
                    false
                }
            }
        };
        if !ready {
            if !still_ours(&cfg, &fifo) {
                tracing::info!(
                    "MI FIFO {} vanished or was replaced: creating a new one",
                    cfg.path.display()
                );
                match create_fifo(&cfg) {
                    Ok(f) => fifo = f,
                    Err(e) => tracing::error!("cannot re-create MI FIFO: {e}"),
                }
                buf.clear();
            }
            if !buf.is_empty() && last_data.elapsed() > cfg.stale_after {
                tracing::warn!(
                    "MI FIFO: dropping {} bytes of an incomplete request",
                    buf.len()
                );
                buf.clear();
            }
            continue;
        }
        match read(&fifo.read, &mut chunk) {
            Ok(0) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                last_data = Instant::now();
            }
            Err(e) => {
                tracing::error!("MI FIFO read failed: {e}");
                continue;
            }
        }
        if buf.len() > cfg.max_request {
            tracing::warn!(
                "MI FIFO: request larger than {} bytes dropped",
                cfg.max_request
            );
            buf.clear();
            continue;
        }
        process_buffer(&cfg, &registry, &mut buf);
    }
}

/// Waits until `fd` is ready for `events`; false on timeout.
fn poll_one(fd: &OwnedFd, events: libc::c_short, timeout: Duration) -> nix::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().min(60_000) as libc::c_int;
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    Errno::result(n).map(|n| n > 0)
}

/// A reply name as mi_fifo accepts it.
fn valid_reply_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.iter().any(|b| matches!(b, b'.' | b'/' | b'\\' | 0))
}

/// Runs every complete request at the front of `buf`, leaving an incomplete one in place.
fn process_buffer(cfg: &FifoConfig, registry: &MiRegistry, buf: &mut Vec<u8>) {
    loop {
        let start = buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(buf.len());
        buf.drain(..start);
        if buf.is_empty() {
            return;
        }
        if buf[0] != b':' {
            tracing::warn!("MI FIFO: command must begin with ':'; dropping input");
            buf.clear();
            return;
        }
        let Some(sep) = buf[1..].iter().position(|b| *b == b':').map(|i| i + 1) else {
            if buf.len() > 300 {
                buf.clear();
            }
            return;
        };
        let name = &buf[1..sep];
        let reply = if name.is_empty() {
            None
        } else if valid_reply_name(name) {
            Some(cfg.reply_dir.join(String::from_utf8_lossy(name).as_ref()))
        } else {
            tracing::warn!(
                "MI FIFO: forbidden reply file name {:?}",
                String::from_utf8_lossy(name)
            );
            buf.clear();
            return;
        };
        match next_value(&buf[sep + 1..]) {
            Framed::Incomplete => return,
            Framed::Invalid => {
                if let Some(r) = &reply {
                    write_reply(cfg, r, &parse_error_reply());
                }
                buf.clear();
                return;
            }
            Framed::Value(v, used) => {
                buf.drain(..sep + 1 + used);
                let req = MiRequest::from_value(v);
                if let (Some(text), Some(r)) = (handle_request(registry, &req), &reply) {
                    write_reply(cfg, r, &text.to_string());
                }
            }
        }
    }
}

fn open_reply(path: &Path) -> io::Result<OwnedFd> {
    let mut retries = 4;
    loop {
        match open(
            path,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENXIO) if retries > 0 => {
                retries -= 1;
                std::thread::sleep(Duration::from_millis(80));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The reply file must be the FIFO the client made: not a link, not hard-linked.
fn check_reply_fifo(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    let st = fstat(fd.as_fd())?;
    let l = std::fs::symlink_metadata(path)?;
    if (st.st_mode & libc::S_IFMT) != libc::S_IFIFO {
        return Err(io::Error::other("reply file is not a FIFO"));
    }
    if st.st_nlink > 1 || l.file_type().is_symlink() || l.dev() != st.st_dev || l.ino() != st.st_ino
    {
        return Err(io::Error::other("reply FIFO is linked"));
    }
    Ok(())
}

fn write_reply(cfg: &FifoConfig, path: &Path, text: &str) {
    let result = (|| -> io::Result<()> {
        let fd = open_reply(path)?;
        check_reply_fifo(&fd, path)?;
        let mut data = Vec::with_capacity(text.len() + 1);
        data.extend_from_slice(text.as_bytes());
        data.push(b'\n');
        let deadline = Instant::now() + cfg.reply_timeout;
        let mut off = 0;
        while off < data.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client does not read its reply",
                ));
            }
            if !poll_one(&fd, libc::POLLOUT, left)? {
                continue;
            }
            match write(&fd, &data[off..]) {
                Ok(n) => off += n,
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!("MI FIFO: cannot reply to {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_names() {
        assert!(valid_reply_name(b"opensips_fifo_reply_1_2_3"));
        for bad in [&b""[..], b"../x", b"a.b", b"a/b", b"a\\b"] {
            assert!(!valid_reply_name(bad));
        }
    }
}
