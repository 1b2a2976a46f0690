//! db
pub mod schema;
