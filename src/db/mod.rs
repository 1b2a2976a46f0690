//! One storage interface for every tool and the proxy: SQLite through rusqlite, PostgreSQL and
//! MySQL/MariaDB through sqlx behind a synchronous handle ([`Db`]).
//!
//! Statements are always parameterised: write `?` placeholders (translated to `$1...` for
//! PostgreSQL) and pass [`Value`]s. Names that cannot be parameters (databases, users, tables)
//! go through [`sql::check_name`] and [`Engine::quote`].
//!
//! ```no_run
//! use osips::db::{Db, DbUrl, Value};
//! use osips::params;
//!
//! let db = Db::connect(&DbUrl::parse("postgres://opensips:opensipsrw@127.0.0.1/opensips")?)?;
//! let rows = db.query(
//!     "SELECT ha1 FROM subscriber WHERE username = ? AND domain = ?",
//!     params!["alice", "example.com"],
//! )?;
//! let ha1 = rows.first().and_then(|r| r.by_name("ha1").as_str().map(str::to_string));
//! db.transaction(|tx| {
//!     tx.execute("DELETE FROM location WHERE expires < ?", &[Value::Int(1_700_000_000)])?;
//!     Ok::<_, osips::db::DbError>(())
//! })?;
//! # let _ = ha1;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod admin;
mod conn;
mod error;
mod mysql;
mod pg;
pub mod schema;
pub mod sql;
mod sqlite;
mod time;
pub mod url;
mod value;

pub use conn::{Db, Tx};
pub use error::{DbError, Result};
pub use schema::Engine;
pub use url::DbUrl;
pub use value::{Row, Value};
