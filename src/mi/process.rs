//! The process table `ps` and `log_level` report, and the shared log levels the logger reads.
//!
//! osips runs OpenSIPS's processes as threads: each registers itself with a description
//! ("SIP receiver udp:127.0.0.1:5060", "MI FIFO", "HTTPD 127.0.0.1:8888", "timer", …) and is listed
//! with its thread id as `PID`, as `ps -L` shows it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use parking_lot::RwLock;

/// OpenSIPS log levels (`L_ALERT` … `L_DBG`).
pub const L_ALERT: i32 = -3;
pub const L_CRIT: i32 = -2;
pub const L_ERR: i32 = -1;
pub const L_WARN: i32 = 1;
pub const L_NOTICE: i32 = 2;
pub const L_INFO: i32 = 3;
pub const L_DBG: i32 = 4;

/// The tracing filter matching an OpenSIPS level.
pub fn level_to_tracing(level: i32) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match level {
        i32::MIN..=L_ERR => LevelFilter::ERROR,
        0..=L_WARN => LevelFilter::WARN,
        L_NOTICE | L_INFO => LevelFilter::INFO,
        L_DBG => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// One process (thread) of the server.
#[derive(Debug)]
pub struct ProcessInfo {
    pub id: usize,
    pub pid: i64,
    pub desc: String,
    log_level: AtomicI32,
    follows_global: std::sync::atomic::AtomicBool,
}

impl ProcessInfo {
    pub fn log_level(&self) -> i32 {
        self.log_level.load(Ordering::Relaxed)
    }
}

type LevelListener = Box<dyn Fn(i32) + Send + Sync>;

/// The table of running processes and their log levels.
pub struct ProcessTable {
    procs: RwLock<Vec<Arc<ProcessInfo>>>,
    next_id: AtomicUsize,
    global_level: AtomicI32,
    xlog_level: AtomicI32,
    listeners: RwLock<Vec<LevelListener>>,
}

impl Default for ProcessTable {
    fn default() -> Self {
        Self::new(L_NOTICE)
    }
}

/// Removes the process from the table when the thread ends.
pub struct ProcessGuard {
    table: Arc<ProcessTable>,
    pub info: Arc<ProcessInfo>,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.table
            .procs
            .write()
            .retain(|p| !Arc::ptr_eq(p, &self.info));
    }
}

/// The calling thread's id (the `PID` column of `ps`).
pub fn current_tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as i64 }
}

impl ProcessTable {
    pub fn new(log_level: i32) -> Self {
        ProcessTable {
            procs: RwLock::new(Vec::new()),
            next_id: AtomicUsize::new(0),
            global_level: AtomicI32::new(log_level),
            xlog_level: AtomicI32::new(L_ERR),
            listeners: RwLock::new(Vec::new()),
        }
    }

    /// Registers the calling thread under `desc`.
    pub fn register_current(self: &Arc<Self>, desc: impl Into<String>) -> ProcessGuard {
        self.register(current_tid(), desc)
    }

    /// Registers a process with an explicit pid.
    pub fn register(self: &Arc<Self>, pid: i64, desc: impl Into<String>) -> ProcessGuard {
        let info = Arc::new(ProcessInfo {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            pid,
            desc: desc.into(),
            log_level: AtomicI32::new(self.global_level()),
            follows_global: std::sync::atomic::AtomicBool::new(true),
        });
        self.procs.write().push(info.clone());
        ProcessGuard {
            table: self.clone(),
            info,
        }
    }

    pub fn list(&self) -> Vec<Arc<ProcessInfo>> {
        self.procs.read().clone()
    }

    pub fn by_pid(&self, pid: i64) -> Option<Arc<ProcessInfo>> {
        self.procs.read().iter().find(|p| p.pid == pid).cloned()
    }

    pub fn global_level(&self) -> i32 {
        self.global_level.load(Ordering::Relaxed)
    }

    /// The level the calling thread logs at (its own if set by `log_level level pid`).
    pub fn current_level(&self) -> i32 {
        let tid = current_tid();
        self.by_pid(tid)
            .map(|p| p.log_level())
            .unwrap_or_else(|| self.global_level())
    }

    /// Sets the global level; processes that did not get their own level follow it.
    pub fn set_global_level(&self, level: i32) {
        self.global_level.store(level, Ordering::Relaxed);
        for p in self.procs.read().iter() {
            if p.follows_global.load(Ordering::Relaxed) {
                p.log_level.store(level, Ordering::Relaxed);
            }
        }
        for l in self.listeners.read().iter() {
            l(level);
        }
    }

    /// Sets one process's level; false if there is no such pid.
    pub fn set_process_level(&self, pid: i64, level: i32) -> bool {
        match self.by_pid(pid) {
            Some(p) => {
                p.follows_global.store(false, Ordering::Relaxed);
                p.log_level.store(level, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Called with the new global level (the logger reloads its filter here).
    pub fn on_global_level_change(&self, f: impl Fn(i32) + Send + Sync + 'static) {
        self.listeners.write().push(Box::new(f));
    }

    pub fn xlog_level(&self) -> i32 {
        self.xlog_level.load(Ordering::Relaxed)
    }

    pub fn set_xlog_level(&self, level: i32) {
        self.xlog_level.store(level, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_levels_and_drop() {
        let t = Arc::new(ProcessTable::new(L_NOTICE));
        let seen = Arc::new(AtomicI32::new(0));
        let s = seen.clone();
        t.on_global_level_change(move |l| s.store(l, Ordering::Relaxed));
        let a = t.register(100, "SIP receiver udp:127.0.0.1:5060");
        let b = t.register_current("MI FIFO");
        assert_eq!(t.list().len(), 2);
        assert!(t.set_process_level(100, L_DBG));
        t.set_global_level(L_ERR);
        assert_eq!(a.info.log_level(), L_DBG);
        assert_eq!(b.info.log_level(), L_ERR);
        assert_eq!(t.current_level(), L_ERR);
        assert_eq!(seen.load(Ordering::Relaxed), L_ERR);
        assert!(!t.set_process_level(99999999, 1));
        drop(a);
        assert_eq!(t.list().len(), 1);
        assert_eq!(
            level_to_tracing(L_DBG),
            tracing::level_filters::LevelFilter::DEBUG
        );
    }
}
