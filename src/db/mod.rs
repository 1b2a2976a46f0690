//! One storage interface for every tool and the proxy: SQLite through rusqlite, PostgreSQL and
//! MySQL/MariaDB through sqlx behind a synchronous handle ([`Db`]).
//!
//! Statements are always parameterised: write `?` placeholders (translated to `$1...` for
//! PostgreSQL) and pass [`Value`]s. Names that cannot be parameters (databases, users, tables)
//! go through [`sql::check_name`] and [`Engine::quote`].

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
