//! `osips`: the SIP proxy. Command-line flags follow OpenSIPS (`opensips -h`).

use clap::Parser;
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

    /// Stay in the foreground, do not daemonize (workers still run)
    #[arg(short = 'F')]
    foreground: bool,

    /// Stay in the foreground (same as -F; OpenSIPS: no fork at all)
    #[arg(short = 'D')]
    no_daemon: bool,

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

    /// Print version and exit
    #[arg(short = 'V', long = "version")]
    version: bool,
}

fn check(path: &Path) -> ExitCode {
    let reg = osips::script::Registry::builtin();
    let checked = if path.as_os_str() == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("osips: cannot read the script from standard input: {e}");
            return ExitCode::from(2);
        }
        osips::script::check_str("<stdin>", &text, &reg)
    } else {
        match osips::script::check_file(path, &reg) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("osips: {e}");
                return ExitCode::from(2);
            }
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
        return check(path);
    }
    let _ = (
        cli.foreground,
        cli.no_daemon,
        cli.log_stderr,
        &cli.pid_file,
        &cli.work_dir,
    );
    eprintln!(
        "osips: the runtime is not built yet: only `osips -C -f FILE` (configuration check) works in this version"
    );
    ExitCode::from(3)
}
