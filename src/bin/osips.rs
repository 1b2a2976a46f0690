//! `osips`: the SIP proxy. Command-line flags follow OpenSIPS (`opensips -h`).

use clap::Parser;
use osips::runtime::default_db::DefaultDb;
use osips::runtime::{DEFAULT_SCRIPT, Runtime, RuntimeError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "osips",
    version = osips::VERSION,
    disable_version_flag = true,
    about = "SIP proxy running OpenSIPS 3.x scripts (opensips.cfg)"
)]
struct Cli {
    /// Configuration file (`-` reads it from standard input)
    #[arg(short = 'f', value_name = "FILE")]
    config: Option<PathBuf>,

    /// Check the configuration file, report every error and exit (0 when clean)
    #[arg(short = 'C')]
    check: bool,

    /// Stay in the foreground (without -F or -D osips goes to the background once it has started,
    /// as OpenSIPS does; use -F under systemd or a container)
    #[arg(short = 'F')]
    foreground: bool,

    /// Do not fork at all (same as -F for osips)
    #[arg(short = 'D')]
    no_daemon: bool,

    /// Listen on this socket (`proto:ip:port`), replacing the script's `socket=` lines; repeatable
    #[arg(short = 'l', long = "listen", value_name = "SOCKET")]
    listen: Vec<String>,

    /// Log to standard error (same as `stderror_enabled = yes` in the script)
    #[arg(short = 'E')]
    log_stderr: bool,

    /// Write the main process id to this file
    #[arg(short = 'P', value_name = "PIDFILE")]
    pid_file: Option<PathBuf>,

    /// Working directory
    #[arg(short = 'w', value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Shared memory size in MB (accepted for compatibility; osips does not preallocate memory)
    #[arg(short = 'm', value_name = "MB")]
    shm_mb: Option<String>,

    /// Private memory size in MB (accepted for compatibility; ignored)
    #[arg(short = 'M', value_name = "MB")]
    pkg_mb: Option<String>,

    /// Pipe the script through this preprocessor command before parsing (e.g. `m4`)
    #[arg(short = 'p', value_name = "CMD")]
    preprocessor: Option<String>,

    /// Print version and exit
    #[arg(short = 'V', long = "version")]
    version: bool,
}

fn read_script(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read the script from standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

fn check(path: &Path, preprocessor: Option<&str>) -> ExitCode {
    use osips::script::{check_file, check_str, source::preprocess};
    let reg = osips::script::Registry::builtin();
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let checked = match (path.as_os_str() == "-", preprocessor) {
        (false, None) => check_file(path, &reg),
        (_, pp) => read_script(path)
            .and_then(|text| match pp {
                Some(cmd) => preprocess(&text, cmd),
                None => Ok(text),
            })
            .map(|text| check_str(&name, &text, &reg)),
    };
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            eprintln!("osips: {e}");
            return ExitCode::from(2);
        }
    };
    eprint!("{}", checked.render());
    if checked.has_errors() {
        eprintln!("osips: {}: configuration check failed", path.display());
        ExitCode::from(1)
    } else {
        eprintln!("osips: {}: configuration file is valid", path.display());
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!("osips {} (OpenSIPS 3.x script compatible)", osips::VERSION);
        return ExitCode::SUCCESS;
    }
    if cli.shm_mb.is_some() || cli.pkg_mb.is_some() {
        eprintln!(
            "osips: note: -m / -M are accepted for compatibility and ignored (memory is not preallocated)"
        );
    }
    if cli.check {
        let Some(path) = &cli.config else {
            eprintln!("osips: -C needs a configuration file: osips -C -f FILE");
            return ExitCode::from(2);
        };
        return check(path, cli.preprocessor.as_deref());
    }
    run(&cli)
}

/// Loads the script (the file, or the embedded default) and its settings.
fn load(cli: &Cli) -> Result<Runtime, ExitCode> {
    let loaded = match &cli.config {
        Some(path) if path.as_os_str() == "-" || cli.preprocessor.is_some() => {
            let text = read_script(path).and_then(|text| match &cli.preprocessor {
                Some(cmd) => osips::script::source::preprocess(&text, cmd),
                None => Ok(text),
            });
            match text {
                Ok(text) => Runtime::load_str(&path.display().to_string(), &text),
                Err(e) => {
                    eprintln!("osips: {e}");
                    return Err(ExitCode::from(2));
                }
            }
        }
        Some(path) => Runtime::load(path),
        None => Runtime::load_str("<embedded default>", DEFAULT_SCRIPT),
    };
    match loaded {
        Ok(rt) => Ok(rt),
        Err(RuntimeError::Script(text)) => {
            eprint!("{text}");
            eprintln!("osips: the script has errors; not starting");
            Err(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("osips: {e}");
            Err(ExitCode::from(1))
        }
    }
}

/// Blocks SIGINT / SIGTERM in this thread (and the workers it starts) so `sigwait` gets them.
fn block_stop_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
        eprintln!("osips: cannot block signals: {e}");
    }
    set
}

fn run(cli: &Cli) -> ExitCode {
    let mut rt = match load(cli) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if !cli.listen.is_empty()
        && let Err(e) = rt.settings.set_listen(&cli.listen)
    {
        eprintln!("osips: {e}");
        return ExitCode::from(1);
    }
    // As OpenSIPS: the script is read first, then the working directory changes.
    if let Some(dir) = &cli.work_dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("osips: -w {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    if rt.settings.sockets.is_empty() {
        eprintln!(
            "osips: no socket to listen on: add `socket = udp:IP:PORT` to the script or use -l"
        );
        return ExitCode::from(1);
    }
    let background = !(cli.foreground || cli.no_daemon);
    if background && !cli.log_stderr {
        // A background process has no terminal: as OpenSIPS, it logs to syslog unless -E.
        rt.settings.syslog_enabled = true;
    }
    if let Err(e) = osips::runtime::log::init(&rt.settings, cli.log_stderr) {
        eprintln!("osips: {e}");
        return ExitCode::from(1);
    }
    if !rt.warnings.is_empty() {
        eprint!("{}", rt.warnings);
    }
    if cli.config.is_none() {
        match osips::runtime::default_db::ensure() {
            Ok(DefaultDb::Created(path, msg)) => {
                eprintln!("osips: {msg} at {}", path.display())
            }
            Ok(DefaultDb::Existing(path)) => {
                tracing::info!("using the database {}", path.display())
            }
            Ok(DefaultDb::Server(engine)) => tracing::info!(
                "the rc names a {engine} database: create it with `osipsdbctl create`"
            ),
            Err(e) => {
                eprintln!("osips: cannot create the default database: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let daemon = if !background {
        None
    } else {
        match osips::runtime::daemon::daemonize(cli.log_stderr) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("osips: {e}; staying in the foreground");
                None
            }
        }
    };
    let fail = |daemon: Option<osips::runtime::daemon::Daemon>| {
        if let Some(d) = daemon {
            d.failed(1);
        }
        ExitCode::from(1)
    };
    let signals = block_stop_signals();
    let running = match rt.start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("osips: {e}");
            return fail(daemon);
        }
    };
    for s in running.sockets() {
        eprintln!("osips: listening on {s}");
    }
    if let Some(p) = &cli.pid_file
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        eprintln!("osips: -P {}: {e}", p.display());
        running.shutdown();
        return fail(daemon);
    }
    if let Some(d) = daemon {
        d.started();
    }
    let sig = loop {
        match signals.wait() {
            Ok(nix::sys::signal::Signal::SIGHUP) => {
                tracing::info!("SIGHUP ignored (reload the script by restarting osips)")
            }
            Ok(s) => break s.as_str(),
            Err(e) => {
                eprintln!("osips: waiting for signals: {e}");
                break "error";
            }
        }
    };
    tracing::info!("{sig} received, shutting down");
    running.shutdown();
    if let Some(p) = &cli.pid_file {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("osips: stopped ({sig})");
    ExitCode::SUCCESS
}
