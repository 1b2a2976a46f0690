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
