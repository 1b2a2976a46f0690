//! Logging as OpenSIPS configures it: `log_level` sets the verbosity, `stderror_enabled` /
//! `syslog_enabled` (or `-E`) pick where lines go; syslog uses `syslog_name` and
//! `syslog_facility`.

use std::ffi::CString;
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use super::Settings;

/// Writes one log line to syslog when dropped.
pub struct SyslogLine {
    buf: Vec<u8>,
    priority: libc::c_int,
}

impl Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        while self.buf.last().is_some_and(|b| *b == b'\n') {
            self.buf.pop();
        }
        self.buf.retain(|b| *b != 0);
        if let Ok(c) = CString::new(std::mem::take(&mut self.buf)) {
            // SAFETY: both strings are NUL-terminated; "%s" makes the line data, not a format.
            unsafe { libc::syslog(self.priority, c"%s".as_ptr(), c.as_ptr()) };
        }
    }
}

/// Hands out [`SyslogLine`]s with the event's priority.
pub struct Syslog;

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            buf: Vec::new(),
            priority: libc::LOG_NOTICE,
        }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        let priority = match *meta.level() {
            tracing::Level::ERROR => libc::LOG_ERR,
            tracing::Level::WARN => libc::LOG_WARNING,
            tracing::Level::INFO => libc::LOG_NOTICE,
            _ => libc::LOG_DEBUG,
        };
        SyslogLine {
            buf: Vec::with_capacity(128),
            priority,
        }
    }
}

/// `LOG_LOCAL0` ... `LOG_LOCAL7`, `LOG_DAEMON` (default), `LOG_USER`.
pub fn facility(name: Option<&str>) -> Result<libc::c_int, String> {
    Ok(match name.map(|n| n.to_ascii_uppercase()).as_deref() {
        None | Some("LOG_DAEMON") => libc::LOG_DAEMON,
        Some("LOG_USER") => libc::LOG_USER,
        Some("LOG_LOCAL0") => libc::LOG_LOCAL0,
        Some("LOG_LOCAL1") => libc::LOG_LOCAL1,
        Some("LOG_LOCAL2") => libc::LOG_LOCAL2,
        Some("LOG_LOCAL3") => libc::LOG_LOCAL3,
        Some("LOG_LOCAL4") => libc::LOG_LOCAL4,
        Some("LOG_LOCAL5") => libc::LOG_LOCAL5,
        Some("LOG_LOCAL6") => libc::LOG_LOCAL6,
        Some("LOG_LOCAL7") => libc::LOG_LOCAL7,
        Some(other) => return Err(format!("unknown syslog_facility `{other}`")),
    })
}

/// Installs the global logger. `force_stderr` is `-E`.
pub fn init(settings: &Settings, force_stderr: bool) -> Result<(), String> {
    let level = crate::mi::process::level_to_tracing(settings.log_level);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    let to_syslog = settings.syslog_enabled && !force_stderr;
    let r = if to_syslog {
        let fac = facility(settings.syslog_facility.as_deref())?;
        let ident = settings
            .syslog_name
            .clone()
            .unwrap_or_else(|| "osips".to_string());
        // openlog keeps the pointer: the name lives for the whole process.
        let ident: &'static std::ffi::CStr = Box::leak(
            CString::new(ident)
                .map_err(|_| "bad syslog_name")?
                .into_boxed_c_str(),
        );
        // SAFETY: ident is a 'static NUL-terminated string.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, fac) };
        builder
            .with_ansi(false)
            .without_time()
            .with_writer(Syslog)
            .try_init()
    } else if settings.stderror_enabled || force_stderr {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.with_writer(std::io::sink).try_init()
    };
    r.map_err(|e| format!("cannot install the logger: {e}"))
}
