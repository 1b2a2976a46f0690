//! The OpenSIPS database tables, defined once as data (`schema/*.toml`, embedded in the binary)
//! and rendered as DDL for SQLite, PostgreSQL and MySQL/MariaDB the way OpenSIPS's own
//! `scripts/<engine>/<module>-create.sql` create them.

mod load;
mod render;
mod types;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod sqlite_tests;
#[cfg(test)]
mod versions_tests;

use std::sync::OnceLock;

pub use load::{LoadError, embedded_files, parse_module};
pub use types::{ColumnType, DefaultValue, IntKind};

/// A database engine osips can create tables on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    /// Quotes an identifier for this engine (backticks for MySQL, double quotes otherwise).
    pub fn quote(self, ident: &str) -> String {
        match self {
            Engine::Mysql => format!("`{}`", ident.replace('`', "``")),
            Engine::Sqlite | Engine::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }
}

/// The table groups of opensipsdbctl / opensips-cli.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// `standard` (the `version` table) and the STANDARD_DB_MODULES.
    Standard,
    /// EXTRA_DB_MODULES and the other modules OpenSIPS ships a create script for.
    Extra,
    /// presence and rls.
    Presence,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Standard => "standard",
            Group::Extra => "extra",
            Group::Presence => "presence",
        }
    }

    pub fn parse(s: &str) -> Option<Group> {
        match s {
            "standard" => Some(Group::Standard),
            "extra" => Some(Group::Extra),
            "presence" => Some(Group::Presence),
            _ => None,
        }
    }
}

/// A set of modules (the current 3.6 schema, or an older release's).
#[derive(Clone, Debug)]
pub struct Schema {
    /// The OpenSIPS release the definitions describe ("3.6", "2.4", ...).
    pub release: String,
    /// In create order: `standard` first, then the standard modules, extra, presence.
    pub modules: Vec<Module>,
}

/// One OpenSIPS module's tables (one `<module>-create.sql`).
#[derive(Clone, Debug)]
pub struct Module {
    pub name: String,
    /// Other names the module answers to (e.g. `avpops` for `sqlops`).
    pub aliases: Vec<String>,
    pub group: Group,
    pub tables: Vec<Table>,
}

/// One table with its `version` row number.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub version: u32,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub not_null: bool,
    pub default: Option<DefaultValue>,
    pub auto_increment: bool,
    pub primary_key: bool,
}

/// A unique constraint or plain index; `name` is the MySQL name (PostgreSQL and SQLite prefix
/// it with the table name).
#[derive(Clone, Debug)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// The name OpenSIPS's SQLite script uses when it is not `<table>_<name>` (a few indexes
    /// carry their Oracle name there, e.g. `ORA_userblacklist_idx`).
    pub sqlite_name: Option<String>,
}

/// The table that holds every other table's version.
pub const VERSION_TABLE: &str = "version";

/// The OpenSIPS release [`current`] describes.
pub const CURRENT_RELEASE: &str = "3.6";

/// The OpenSIPS 3.6 schema, parsed once from the embedded files.
pub fn current() -> &'static Schema {
    static CURRENT: OnceLock<Schema> = OnceLock::new();
    CURRENT.get_or_init(|| load::load_release(CURRENT_RELEASE).0)
}

/// An older release's schema (tables that differ from 3.6, plus the unchanged 3.6 ones):
/// "2.4" and "3.4".
pub fn legacy(release: &str) -> Option<&'static Schema> {
    static V24: OnceLock<Schema> = OnceLock::new();
    static V34: OnceLock<Schema> = OnceLock::new();
    let cell = match release {
        "2.4" => &V24,
        "3.4" => &V34,
        _ => return None,
    };
    Some(cell.get_or_init(|| load::load_release(release).0))
}

/// Releases [`legacy`] knows.
pub const LEGACY_RELEASES: &[&str] = &["2.4", "3.4"];

/// Problems found while loading the embedded files of `release` (empty when all is well;
/// a malformed file is skipped by [`current`]/[`legacy`] and reported here).
pub fn load_errors(release: &str) -> Vec<LoadError> {
    load::load_release(release).1
}

impl Schema {
    /// The module named `name` or answering to it as an alias (`avpops` → `sqlops`).
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name).or_else(|| {
            self.modules
                .iter()
                .find(|m| m.aliases.iter().any(|a| a == name))
        })
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables().find(|t| t.name == name)
    }

    /// The module that owns table `name`.
    pub fn module_of(&self, table: &str) -> Option<&Module> {
        self.modules
            .iter()
            .find(|m| m.tables.iter().any(|t| t.name == table))
    }

    pub fn group(&self, g: Group) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(move |m| m.group == g)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.modules.iter().flat_map(|m| m.tables.iter())
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The auto-increment column, if any (its PostgreSQL sequence is `<table>_<column>_seq`).
    pub fn serial_column(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.auto_increment)
    }

    /// Names of the primary key columns.
    pub fn primary_key(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The index name as created on engine `e` (PostgreSQL/SQLite prefix the table name).
    pub fn index_name(&self, index: &Index, e: Engine) -> String {
        match (e, &index.sqlite_name) {
            (Engine::Mysql, _) => index.name.clone(),
            (Engine::Sqlite, Some(name)) => name.clone(),
            (Engine::Postgres | Engine::Sqlite, _) => format!("{}_{}", self.name, index.name),
        }
    }
}
