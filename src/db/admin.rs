//! Administrative operations: databases, users, grants, introspection.
//!
//! These take a [`Db`] connected as a superuser (no database selected) for the server engines.
//! Names are checked with [`check_name`] because DDL cannot take them as parameters.

use super::sql::{check_name, literal};
use super::{Db, DbError, Engine, Result, Value};

/// One column of a live table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// The engine's type as it reports it (`character varying(64)`, `int(10) unsigned`, `CHAR(64)`).
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
}

fn q(db: &Db, ident: &str) -> String {
    db.engine().quote(ident)
}

fn server_only(db: &Db, what: &str) -> Result<()> {
    if db.engine() == Engine::Sqlite {
        return Err(DbError::Invalid(format!(
            "{what} is not an SQLite operation"
        )));
    }
    Ok(())
}

/// Whether database `name` exists on the server.
pub fn database_exists(admin: &Db, name: &str) -> Result<bool> {
    server_only(admin, "database_exists")?;
    let sql = match admin.engine() {
        Engine::Postgres => "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?",
        _ => "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?",
    };
    Ok(!admin.query(sql, &[Value::from(name)])?.is_empty())
}

/// `CREATE DATABASE` (UTF-8); fails with [`DbError::DatabaseExists`] if it exists.
pub fn create_database(admin: &Db, name: &str) -> Result<()> {
    server_only(admin, "create_database")?;
    check_name("database", name)?;
    if database_exists(admin, name)? {
        return Err(DbError::DatabaseExists(name.into()));
    }
    let sql = match admin.engine() {
        Engine::Postgres => format!(
            "CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0",
            q(admin, name)
        ),
        _ => format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            q(admin, name)
        ),
    };
    admin.execute(&sql, &[]).map(|_| ()).map_err(|e| match e {
        DbError::Sql(m) if m.contains("exists") => DbError::DatabaseExists(name.into()),
        e => e,
    })
}

/// `DROP DATABASE` (PostgreSQL: closes other sessions first); fails with
/// [`DbError::DatabaseMissing`] if there is none.
pub fn drop_database(admin: &Db, name: &str) -> Result<()> {
    server_only(admin, "drop_database")?;
    check_name("database", name)?;
    if !database_exists(admin, name)? {
        return Err(DbError::DatabaseMissing(name.into()));
    }
    let sql = match admin.engine() {
        Engine::Postgres => format!("DROP DATABASE {} WITH (FORCE)", q(admin, name)),
        _ => format!("DROP DATABASE {}", q(admin, name)),
    };
    admin.execute(&sql, &[]).map(|_| ())
}

/// Whether a login role / user exists.
pub fn user_exists(admin: &Db, user: &str) -> Result<bool> {
    server_only(admin, "user_exists")?;
    let sql = match admin.engine() {
        Engine::Postgres => "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?",
        _ => "SELECT 1 FROM mysql.user WHERE User = ?",
    };
    Ok(!admin.query(sql, &[Value::from(user)])?.is_empty())
}

/// Creates the user with `password`, or sets the password of an existing one.
/// Returns true when the user was created (so a failed set-up can drop it again).
pub fn ensure_user(admin: &Db, user: &str, password: &str) -> Result<bool> {
    server_only(admin, "ensure_user")?;
    check_name("user", user)?;
    let e = admin.engine();
    let exists = user_exists(admin, user)?;
    match e {
        Engine::Postgres => {
            let verb = if exists { "ALTER" } else { "CREATE" };
            admin.execute(
                &format!(
                    "{verb} ROLE {} WITH LOGIN PASSWORD {}",
                    q(admin, user),
                    literal(e, password)
                ),
                &[],
            )?;
        }
        _ => {
            for host in ["localhost", "%"] {
                admin.execute(
                    &format!(
                        "CREATE USER IF NOT EXISTS {}@{} IDENTIFIED BY {}",
                        literal(e, user),
                        literal(e, host),
                        literal(e, password)
                    ),
                    &[],
                )?;
                admin.execute(
                    &format!(
                        "ALTER USER {}@{} IDENTIFIED BY {}",
                        literal(e, user),
                        literal(e, host),
                        literal(e, password)
                    ),
                    &[],
                )?;
            }
        }
    }
    Ok(!exists)
}

/// Drops a user (MySQL: both host entries osips creates).
pub fn drop_user(admin: &Db, user: &str) -> Result<()> {
    server_only(admin, "drop_user")?;
    check_name("user", user)?;
    let e = admin.engine();
    match e {
        Engine::Postgres => {
            admin.execute(&format!("DROP ROLE IF EXISTS {}", q(admin, user)), &[])?;
        }
        _ => {
            for host in ["localhost", "%"] {
                admin.execute(
                    &format!(
                        "DROP USER IF EXISTS {}@{}",
                        literal(e, user),
                        literal(e, host)
                    ),
                    &[],
                )?;
            }
        }
    }
    Ok(())
}

/// Grants `user` everything on database `name`. On PostgreSQL `in_db` must be connected to
/// that database (schema, table and sequence grants are per database); MySQL uses `admin`.
pub fn grant_all(admin: &Db, in_db: &Db, name: &str, user: &str) -> Result<()> {
    server_only(admin, "grant_all")?;
    check_name("database", name)?;
    check_name("user", user)?;
    let e = admin.engine();
    match e {
        Engine::Postgres => {
            let u = q(admin, user);
            admin.execute(
                &format!("GRANT ALL PRIVILEGES ON DATABASE {} TO {u}", q(admin, name)),
                &[],
            )?;
            for stmt in [
                format!("GRANT ALL ON SCHEMA public TO {u}"),
                format!("GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {u}"),
                format!("GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO {u}"),
                format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO {u}"),
                format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO {u}"),
            ] {
                in_db.execute(&stmt, &[])?;
            }
        }
        _ => {
            for host in ["localhost", "%"] {
                admin.execute(
                    &format!(
                        "GRANT ALL PRIVILEGES ON {}.* TO {}@{}",
                        q(admin, name),
                        literal(e, user),
                        literal(e, host)
                    ),
                    &[],
                )?;
            }
        }
    }
    Ok(())
}

/// Names of the tables of the connected database, sorted.
pub fn list_tables(db: &Db) -> Result<Vec<String>> {
    let sql = match db.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        }
        Engine::Postgres => {
            "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        Engine::Mysql => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    Ok(db
        .query(sql, &[])?
        .into_iter()
        .filter_map(|r| r.get(0).to_text())
        .collect())
}

/// Columns of `table` in order; empty when the table does not exist.
pub fn columns(db: &Db, table: &str) -> Result<Vec<ColumnInfo>> {
    let sql = match db.engine() {
        Engine::Sqlite => {
            "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?) ORDER BY cid"
        }
        Engine::Postgres => {
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
             pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        }
        Engine::Mysql => {
            "SELECT column_name, column_type, is_nullable, column_default FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
        }
    };
    let rows = db.query(sql, &[Value::from(table)])?;
    Ok(rows
        .into_iter()
        .map(|r| ColumnInfo {
            name: r.get(0).to_text().unwrap_or_default(),
            data_type: r.get(1).to_text().unwrap_or_default(),
            not_null: match r.get(2) {
                Value::Text(s) => s == "NO",
                v => v.as_i64().unwrap_or(0) != 0,
            },
            default: r.get(3).to_text(),
        })
        .collect())
}
