//! osipsctl's failures: an exit code, a one-line message and what to do next.

use crate::ctlrc::RcError;
use crate::db::DbError;

/// Exit codes (also in `osipsctl --help`).
pub mod exit {
    pub const OK: i32 = 0;
    /// The operation failed: exists, not found, refused, SQL error.
    pub const FAILED: i32 = 1;
    /// Bad command line, bad argument value, bad rc file or input file.
    pub const USAGE: i32 = 2;
    /// The database or the running osips (MI) cannot be reached.
    pub const UNREACHABLE: i32 = 3;
}

/// One failure, printed as `osipsctl: error: <message>; <hint>`.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    pub hint: String,
}

pub type Outcome<T> = Result<T, Failure>;

impl Failure {
    pub fn new(code: i32, message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The operation was refused or found nothing (exit 1).
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure::new(exit::FAILED, message, hint)
    }

    /// A bad argument or input value (exit 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure::new(exit::USAGE, message, hint)
    }

    /// `<message>; <hint>` on one line.
    pub fn line(&self) -> String {
        let msg = self.message.replace(['\n', '\r'], " ");
        if self.hint.is_empty() {
            msg
        } else {
            format!("{msg}; {}", self.hint)
        }
    }
}

impl From<RcError> for Failure {
    fn from(e: RcError) -> Failure {
        Failure::usage(
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
                "check that the database server runs and DBHOST/DBPORT in the rc file point to it",
            ),
            DbError::AuthFailed { .. } => (
                exit::UNREACHABLE,
                "check DBRWUSER and DBRWPW in the rc file",
            ),
            DbError::DatabaseMissing(_) => (
                exit::UNREACHABLE,
                "create it with `osipsdbctl create`, or check DBNAME / DB_PATH in the rc file",
            ),
            DbError::PermissionDenied(_) => (
                exit::UNREACHABLE,
                "use a database user (or SQLite file) you may write to",
            ),
            DbError::TableMissing(_) => (
                exit::FAILED,
                "install the module's tables with `osipsdbctl add <module>`",
            ),
            DbError::Invalid(_) => (exit::USAGE, "see `osipsctl --help`"),
            DbError::Constraint(_) => (
                exit::FAILED,
                "the row conflicts with an existing one; nothing was changed",
            ),
            DbError::DatabaseExists(_) | DbError::Sql(_) | DbError::Convert(_) => {
                (exit::FAILED, "nothing was changed")
            }
        };
        Failure::new(code, e.to_string(), hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_map_to_exit_codes() {
        let f = Failure::from(DbError::Unreachable {
            target: "127.0.0.1:1".into(),
            detail: "refused".into(),
        });
        assert_eq!(f.code, exit::UNREACHABLE);
        assert_eq!(
            Failure::from(DbError::Constraint("x".into())).code,
            exit::FAILED
        );
        assert_eq!(
            Failure::from(DbError::Invalid("x".into())).code,
            exit::USAGE
        );
        let f = Failure::failed("a\nb", "do c");
        assert_eq!(f.line(), "a b; do c");
    }
}
