//! DDL rendering, statement for statement what OpenSIPS's `<engine>/<module>-create.sql` run.
//! Statements carry no trailing `;`.

use super::{Column, ColumnType, Engine, IntKind, Module, Table, VERSION_TABLE};

/// MySQL storage engine OpenSIPS's scripts use (opensipsdbctl's `MYSQL_ENGINE` replaces it).
pub const DEFAULT_MYSQL_ENGINE: &str = "InnoDB";

impl Table {
    /// CREATE TABLE, then PostgreSQL's ALTER SEQUENCE, then CREATE INDEX for plain indexes.
    pub fn create_sql(&self, e: Engine) -> Vec<String> {
        self.create_sql_with(e, DEFAULT_MYSQL_ENGINE)
    }

    /// Like [`Table::create_sql`] with `ENGINE=<mysql_engine>` on MySQL.
    pub fn create_sql_with(&self, e: Engine, mysql_engine: &str) -> Vec<String> {
        let pk = self.primary_key();
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| column_sql(c, e, pk.len() == 1))
            .collect();
        if pk.len() > 1 {
            lines.push(format!("PRIMARY KEY ({})", pk.join(", ")));
        }
        for i in self.indexes.iter().filter(|i| i.unique) {
            lines.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                self.index_name(i, e),
                i.columns.join(", ")
            ));
        }
        let mut create = format!(
            "CREATE TABLE {} (\n    {}\n)",
            self.name,
            lines.join(",\n    ")
        );
        if e == Engine::Mysql {
            create.push_str(&format!(" ENGINE={mysql_engine}"));
        }
        let mut out = vec![create];
        if e == Engine::Postgres
            && let Some(serial) = self.serial_column()
        {
            out.push(format!(
                "ALTER SEQUENCE {} MAXVALUE 2147483647 CYCLE",
                self.sequence_name(serial)
            ));
        }
        for i in self.indexes.iter().filter(|i| !i.unique) {
            out.push(format!(
                "CREATE INDEX {} ON {} ({})",
                self.index_name(i, e),
                self.name,
                i.columns.join(", ")
            ));
        }
        out
    }

    /// `DROP TABLE IF EXISTS <name>` (PostgreSQL drops the SERIAL sequence with the table).
    pub fn drop_sql(&self, _e: Engine) -> String {
        format!("DROP TABLE IF EXISTS {}", self.name)
    }

    /// The PostgreSQL sequence behind a SERIAL column: `<table>_<column>_seq`.
    pub fn sequence_name(&self, column: &Column) -> String {
        format!("{}_{}_seq", self.name, column.name)
    }

    /// The `INSERT INTO version` statement OpenSIPS's scripts run before creating the table
    /// (none for the `version` table itself).
    pub fn version_insert_sql(&self) -> Option<String> {
        (self.name != VERSION_TABLE).then(|| {
            format!(
                "INSERT INTO version (table_name, table_version) values ('{}','{}')",
                self.name, self.version
            )
        })
    }
}

impl Module {
    /// Every statement of `<module>-create.sql`: per table its version row, then its DDL.
    pub fn create_sql(&self, e: Engine) -> Vec<String> {
        self.create_sql_with(e, DEFAULT_MYSQL_ENGINE)
    }

    pub fn create_sql_with(&self, e: Engine, mysql_engine: &str) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tables {
            out.extend(t.version_insert_sql());
            out.extend(t.create_sql_with(e, mysql_engine));
        }
        out
    }

    /// Drops every table of the module and deletes its rows from `version`.
    pub fn drop_sql(&self, e: Engine) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tables {
            out.push(t.drop_sql(e));
            if t.name != VERSION_TABLE {
                out.push(format!(
                    "DELETE FROM version WHERE table_name = '{}'",
                    t.name
                ));
            }
        }
        out
    }
}

fn column_sql(c: &Column, e: Engine, inline_pk: bool) -> String {
    let mut s = format!("{} ", c.name);
    if c.auto_increment {
        let big = matches!(
            c.ty,
            ColumnType::Int {
                kind: IntKind::Big,
                ..
            }
        );
        match e {
            Engine::Mysql => s.push_str(&format!("{} AUTO_INCREMENT PRIMARY KEY", c.ty.sql(e))),
            Engine::Postgres => s.push_str(if big {
                "BIGSERIAL PRIMARY KEY"
            } else {
                "SERIAL PRIMARY KEY"
            }),
            Engine::Sqlite => s.push_str("INTEGER PRIMARY KEY AUTOINCREMENT"),
        }
    } else {
        s.push_str(&c.ty.sql(e));
        if c.primary_key && inline_pk {
            s.push_str(" PRIMARY KEY");
        }
    }
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&d.sql());
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    s
}
