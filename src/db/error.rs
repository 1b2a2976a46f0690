//! Typed database errors, the same for every engine.

/// What went wrong, sorted so that a tool can tell the user what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server did not answer (refused, timeout, TLS failure, DNS).
    #[error("cannot reach the database server at {target}: {detail}")]
    Unreachable { target: String, detail: String },
    /// The server refused the user or password.
    #[error("the server at {target} refused user `{user}`: {detail}")]
    AuthFailed {
        user: String,
        target: String,
        detail: String,
    },
    #[error("database `{0}` already exists")]
    DatabaseExists(String),
    #[error("database `{0}` does not exist")]
    DatabaseMissing(String),
    /// The user may not do this, or the SQLite file / folder is not writable.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("table `{0}` does not exist")]
    TableMissing(String),
    /// A unique, not-null or foreign-key constraint refused a row.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// Any other error reported by the server or SQLite.
    #[error("{0}")]
    Sql(String),
    /// A value could not be converted to or from the column type.
    #[error("value conversion: {0}")]
    Convert(String),
    /// The caller passed something unusable (bad name, wrong engine for the operation).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Context for classifying a driver error.
pub(crate) struct ErrCtx {
    pub target: String,
    pub user: String,
    pub database: String,
}

pub(crate) fn from_sqlx(e: sqlx::Error, ctx: &ErrCtx) -> DbError {
    use sqlx::Error as E;
    match e {
        E::Io(io) => DbError::Unreachable {
            target: ctx.target.clone(),
            detail: io.to_string(),
        },
        E::Tls(t) => DbError::Unreachable {
            target: ctx.target.clone(),
            detail: format!("TLS: {t}"),
        },
        E::PoolTimedOut => DbError::Unreachable {
            target: ctx.target.clone(),
            detail: "timed out waiting for a connection".into(),
        },
        E::Database(db) => {
            let msg = db.message().to_string();
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return match my.number() {
                    1045 | 1698 => DbError::AuthFailed {
                        user: ctx.user.clone(),
                        target: ctx.target.clone(),
                        detail: msg,
                    },
                    1049 => DbError::DatabaseMissing(ctx.database.clone()),
                    1007 => DbError::DatabaseExists(ctx.database.clone()),
                    1044 | 1142 | 1227 | 1410 | 1396 => DbError::PermissionDenied(msg),
                    1146 => DbError::TableMissing(msg),
                    1048 | 1062 | 1451 | 1452 | 1364 => DbError::Constraint(msg),
                    _ => DbError::Sql(msg),
                };
            }
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                "28P01" | "28000" => DbError::AuthFailed {
                    user: ctx.user.clone(),
                    target: ctx.target.clone(),
                    detail: msg,
                },
                "3D000" => DbError::DatabaseMissing(ctx.database.clone()),
                "42P04" => DbError::DatabaseExists(ctx.database.clone()),
                "42501" => DbError::PermissionDenied(msg),
                "42P01" => DbError::TableMissing(msg),
                c if c.starts_with("23") => DbError::Constraint(msg),
                _ => DbError::Sql(msg),
            }
        }
        E::Protocol(m) if m.to_ascii_lowercase().contains("password") => DbError::AuthFailed {
            user: ctx.user.clone(),
            target: ctx.target.clone(),
            detail: m,
        },
        E::Configuration(m) if m.to_string().to_ascii_lowercase().contains("password") => {
            DbError::AuthFailed {
                user: ctx.user.clone(),
                target: ctx.target.clone(),
                detail: m.to_string(),
            }
        }
        E::ColumnDecode { index, source } => DbError::Convert(format!("column {index}: {source}")),
        E::Encode(e) => DbError::Convert(e.to_string()),
        other => DbError::Sql(other.to_string()),
    }
}

pub(crate) fn from_sqlite(e: rusqlite::Error, path: &str) -> DbError {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
        let detail = msg.clone().unwrap_or_else(|| f.to_string());
        return match f.code {
            C::CannotOpen | C::ReadOnly | C::PermissionDenied => {
                DbError::PermissionDenied(format!("{path}: {detail}"))
            }
            C::ConstraintViolation => DbError::Constraint(detail),
            C::NotADatabase => DbError::Invalid(format!("{path} is not an SQLite database")),
            _ if detail.starts_with("no such table") => DbError::TableMissing(detail),
            _ => DbError::Sql(detail),
        };
    }
    DbError::Sql(e.to_string())
}

/// A driver failure not yet classified, or an already typed error.
pub(crate) enum Failure {
    Db(DbError),
    Sqlx(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sqlx(e)
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::Db(e)
    }
}

impl Failure {
    pub(crate) fn classify(self, ctx: &ErrCtx) -> DbError {
        match self {
            Failure::Db(e) => e,
            Failure::Sqlx(e) => from_sqlx(e, ctx),
        }
    }
}
