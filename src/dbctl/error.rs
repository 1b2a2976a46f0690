//! osipsdbctl's failures, each with an exit code and a hint saying what to do next.

use crate::ctlrc::RcError;
use crate::db::DbError;

/// Exit codes (also listed in `osipsdbctl --help` and README.md).
pub mod exit {
    pub const OK: i32 = 0;
    /// The operation failed (SQL error, I/O error, ...).
    pub const FAILED: i32 = 1;
    /// Bad command line, bad rc file or value, unknown engine.
    pub const USAGE: i32 = 2;
    /// The database server cannot be reached.
    pub const UNREACHABLE: i32 = 3;
    /// Wrong user or password, or no permission (server grant, SQLite file or folder).
    pub const DENIED: i32 = 4;
    /// The database (or a table) already exists, or restore target is not empty.
    pub const EXISTS: i32 = 5;
    /// The database (or a table) does not exist.
    pub const MISSING: i32 = 6;
    /// The dump file is unusable: other engine, truncated, corrupt.
    pub const BAD_DUMP: i32 = 7;
    /// `check` found differences from the schema definition.
    pub const MISMATCH: i32 = 8;
    /// A destructive command was not confirmed (no terminal and no --yes, or answered no).
    pub const NOT_CONFIRMED: i32 = 9;
}

/// One failure: a one-line message and what the user can do about it.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    pub hint: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// `error: <message>; <hint>` on one line.
    pub fn line(&self) -> String {
        let msg = self.message.replace('\n', " ");
        if self.hint.is_empty() {
            msg
        } else {
            format!("{msg}; {}", self.hint)
        }
    }
}

impl From<RcError> for Failure {
    fn from(e: RcError) -> Failure {
        Failure::new(
            exit::USAGE,
            e.to_string(),
            "fix the rc file (or --rc FILE) and try again",
        )
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Failure {
        let (code, hint) = match &e {
            DbError::Unreachable { .. } => (
                exit::UNREACHABLE,
                "check that the server runs and DBHOST/DBPORT in the rc file point to it",
            ),
            DbError::AuthFailed { .. } => (
                exit::DENIED,
                "check DBROOTUSER and its password (PW / PGPASSWORD / DBROOTPW), or DBRWUSER/DBRWPW",
            ),
            DbError::PermissionDenied(_) => (
                exit::DENIED,
                "use a user with the needed rights, or for SQLite a DB_PATH you may write to",
            ),
            DbError::DatabaseExists(_) => (
                exit::EXISTS,
                "pick another name, or remove it first with `osipsdbctl drop` (or use `reinit`)",
            ),
            DbError::DatabaseMissing(_) => (
                exit::MISSING,
                "create it first with `osipsdbctl create`, or check DBNAME / DB_PATH",
            ),
            DbError::TableMissing(_) => (
                exit::MISSING,
                "install the module's tables with `osipsdbctl add <module>`",
            ),
            DbError::Invalid(_) => (exit::USAGE, "see `osipsdbctl --help`"),
            DbError::Constraint(_) | DbError::Sql(_) | DbError::Convert(_) => (
                exit::FAILED,
                "nothing was changed; fix the cause above and retry",
            ),
        };
        Failure::new(code, e.to_string(), hint)
    }
}

pub type Outcome<T> = Result<T, Failure>;
