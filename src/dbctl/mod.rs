//! osipsdbctl: creates, drops, backs up, restores, copies, migrates and checks the OpenSIPS
//! database on SQLite, PostgreSQL and MySQL/MariaDB. The binary only parses arguments into a
//! [`Command`] and calls [`run`].

pub mod backup;
pub mod check;
pub mod create;
pub mod ctx;
pub mod dump;
pub mod error;
pub mod migrate;

use std::path::PathBuf;

pub use error::{Failure, exit};

use crate::ctlrc::Rc;
use crate::db::schema::{self, Group};
use ctx::Ctx;

/// One osipsdbctl command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Create { db: Option<String> },
    Drop { db: Option<String> },
    Reinit { db: Option<String> },
    Backup { file: PathBuf },
    Restore { file: PathBuf, force: bool },
    Copy { new_db: String },
    Presence,
    Extra,
    Add { module: String },
    Migrate,
    Check,
    Version,
}

/// Global options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--rc FILE`: the one rc file to read.
    pub rc_file: Option<PathBuf>,
    /// `--json`: one JSON object on stdout.
    pub json: bool,
    /// `--yes`: confirm destructive commands.
    pub yes: bool,
}

/// Runs `cmd`, prints its result (text or JSON) and returns the exit code.
pub fn run(cmd: Command, opts: &Options) -> i32 {
    let rc = match Rc::load(opts.rc_file.as_deref()) {
        Ok(rc) => rc,
        Err(e) => return report(opts, &cmd, Err(Failure::from(e)), &[]),
    };
    if !opts.json {
        for w in rc.warnings() {
            eprintln!("osipsdbctl: {w}");
        }
    }
    let ctx = Ctx::new(rc, opts.yes);
    let mut issues = Vec::new();
    let result = match &cmd {
        Command::Create { db } => create::create(&ctx, db.as_deref()),
        Command::Drop { db } => create::drop(&ctx, db.as_deref()),
        Command::Reinit { db } => create::reinit(&ctx, db.as_deref()),
        Command::Backup { file } => backup::backup(&ctx, file),
        Command::Restore { file, force } => backup::restore(&ctx, file, *force),
        Command::Copy { new_db } => backup::copy(&ctx, new_db),
        Command::Presence => create::group(&ctx, Group::Presence),
        Command::Extra => create::group(&ctx, Group::Extra),
        Command::Add { module } => create::add(&ctx, module),
        Command::Migrate => migrate::migrate(&ctx),
        Command::Check => check::check(&ctx).map(|(summary, found)| {
            issues = found;
            summary
        }),
        Command::Version => Ok(version()),
    };
    report(opts, &cmd, result, &issues)
}

/// `osipsdbctl <version> (OpenSIPS <schema> schema)`.
pub fn version() -> String {
    format!(
        "osipsdbctl {} (OpenSIPS {} schema; engines: sqlite, postgres, mysql)",
        crate::VERSION,
        schema::CURRENT_RELEASE
    )
}

fn command_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Create { .. } => "create",
        Command::Drop { .. } => "drop",
        Command::Reinit { .. } => "reinit",
        Command::Backup { .. } => "backup",
        Command::Restore { .. } => "restore",
        Command::Copy { .. } => "copy",
        Command::Presence => "presence",
        Command::Extra => "extra",
        Command::Add { .. } => "add",
        Command::Migrate => "migrate",
        Command::Check => "check",
        Command::Version => "version",
    }
}

fn report(
    opts: &Options,
    cmd: &Command,
    result: Result<String, Failure>,
    issues: &[check::Issue],
) -> i32 {
    let code = match &result {
        Ok(_) if !issues.is_empty() => exit::MISMATCH,
        Ok(_) => exit::OK,
        Err(f) => f.code,
    };
    if opts.json {
        let v = match &result {
            Ok(msg) => serde_json::json!({
                "ok": code == exit::OK,
                "command": command_name(cmd),
                "message": msg,
                "issues": issues,
                "exit": code,
            }),
            Err(f) => serde_json::json!({
                "ok": false,
                "command": command_name(cmd),
                "error": f.message,
                "hint": f.hint,
                "exit": code,
            }),
        };
        println!("{v}");
    } else {
        match &result {
            Ok(msg) => {
                for i in issues {
                    println!("{i}");
                }
                if issues.is_empty() {
                    println!("{msg}");
                } else {
                    eprintln!(
                        "osipsdbctl: {msg}; run `osipsdbctl migrate` or `add <module>` to fix what can be fixed"
                    );
                }
            }
            Err(f) => eprintln!("osipsdbctl: error: {}", f.line()),
        }
    }
    code
}
