//! Generic column types and defaults, rendered per engine as OpenSIPS's
//! `db/schema` generator renders them (reference §5.2).

use std::fmt;

use super::Engine;

/// Integer widths OpenSIPS uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    Tiny,
    Small,
    Normal,
    Big,
}

/// A column type independent of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `INT`, `INT(11)`, `INT(10) UNSIGNED`, `SMALLINT(5) UNSIGNED`, `BIGINT(10) UNSIGNED` ...
    Int {
        kind: IntKind,
        width: Option<u32>,
        unsigned: bool,
    },
    /// `CHAR(n)` (PostgreSQL `VARCHAR(n)`).
    Char(u32),
    /// `TEXT` / `TEXT(n)` (PostgreSQL `TEXT`).
    Text(Option<u32>),
    /// `MEDIUMTEXT` (PostgreSQL/SQLite `TEXT`).
    MediumText,
    /// `LONGTEXT` (PostgreSQL/SQLite `TEXT`).
    LongText,
    /// `BLOB` / `BLOB(n)` (PostgreSQL `BYTEA`).
    Blob(Option<u32>),
    /// `MEDIUMBLOB` (PostgreSQL `BYTEA`, SQLite `BLOB`).
    MediumBlob,
    /// `LONGBLOB` (PostgreSQL `BYTEA`, SQLite `BLOB`).
    LongBlob,
    /// `DATETIME` (PostgreSQL `TIMESTAMP WITHOUT TIME ZONE`).
    DateTime,
    /// `FLOAT` / `FLOAT(m,d)` (PostgreSQL `REAL`).
    Float(Option<(u32, u32)>),
    /// `DOUBLE` (PostgreSQL `DOUBLE PRECISION`).
    Double,
}

/// A column default as written in the create scripts.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
}

impl ColumnType {
    /// Parses the generic type names used in `schema/*.toml`:
    /// `int`, `int(11)`, `uint(10)`, `smallint(5)`, `usmallint(5)`, `tinyint`, `bigint(10)`,
    /// `ubigint(10)`, `char(64)`, `text`, `text(512)`, `mediumtext`, `longtext`, `blob`,
    /// `blob(4096)`, `longblob`, `datetime`, `float`, `float(10,2)`, `double`.
    pub fn parse(s: &str) -> Result<ColumnType, String> {
        let s = s.trim().to_ascii_lowercase();
        let (base, args) = match s.find('(') {
            Some(open) => {
                let close = s
                    .strip_suffix(')')
                    .ok_or_else(|| format!("type `{s}`: missing `)`"))?;
                (&s[..open], Some(&close[open + 1..]))
            }
            None => (s.as_str(), None),
        };
        let one = |what: &str| -> Result<Option<u32>, String> {
            match args {
                None => Ok(None),
                Some(a) => a
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| format!("type `{s}`: {what} size `{a}` is not a number")),
            }
        };
        let int = |kind, unsigned| -> Result<ColumnType, String> {
            Ok(ColumnType::Int {
                kind,
                width: one("integer")?,
                unsigned,
            })
        };
        match base {
            "int" => int(IntKind::Normal, false),
            "uint" => int(IntKind::Normal, true),
            "smallint" => int(IntKind::Small, false),
            "usmallint" => int(IntKind::Small, true),
            "tinyint" => int(IntKind::Tiny, false),
            "utinyint" => int(IntKind::Tiny, true),
            "bigint" => int(IntKind::Big, false),
            "ubigint" => int(IntKind::Big, true),
            "char" => match one("char")? {
                Some(n) if n > 0 => Ok(ColumnType::Char(n)),
                _ => Err(format!("type `{s}`: char needs a size, e.g. char(64)")),
            },
            "text" => Ok(ColumnType::Text(one("text")?)),
            "mediumtext" if args.is_none() => Ok(ColumnType::MediumText),
            "longtext" if args.is_none() => Ok(ColumnType::LongText),
            "blob" => Ok(ColumnType::Blob(one("blob")?)),
            "mediumblob" if args.is_none() => Ok(ColumnType::MediumBlob),
            "longblob" if args.is_none() => Ok(ColumnType::LongBlob),
            "datetime" if args.is_none() => Ok(ColumnType::DateTime),
            "double" if args.is_none() => Ok(ColumnType::Double),
            "float" => match args {
                None => Ok(ColumnType::Float(None)),
                Some(a) => {
                    let mut it = a.split(',').map(|p| p.trim().parse::<u32>());
                    match (it.next(), it.next(), it.next()) {
                        (Some(Ok(m)), Some(Ok(d)), None) => Ok(ColumnType::Float(Some((m, d)))),
                        _ => Err(format!("type `{s}`: float takes (m,d)")),
                    }
                }
            },
            _ => Err(format!("unknown column type `{s}`")),
        }
    }

    /// True for the integer types.
    pub fn is_integer(&self) -> bool {
        matches!(self, ColumnType::Int { .. })
    }

    /// True for types whose values are bytes (BLOB / BYTEA).
    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            ColumnType::Blob(_) | ColumnType::MediumBlob | ColumnType::LongBlob
        )
    }

    /// The type as the engine's create script spells it (without AUTO_INCREMENT / SERIAL).
    pub fn sql(&self, e: Engine) -> String {
        match (self, e) {
            (
                ColumnType::Int {
                    kind,
                    width,
                    unsigned,
                },
                Engine::Mysql,
            ) => {
                let mut s = String::from(match kind {
                    IntKind::Tiny => "TINYINT",
                    IntKind::Small => "SMALLINT",
                    IntKind::Normal => "INT",
                    IntKind::Big => "BIGINT",
                });
                if let Some(w) = width {
                    s.push_str(&format!("({w})"));
                }
                if *unsigned {
                    s.push_str(" UNSIGNED");
                }
                s
            }
            (ColumnType::Int { kind, .. }, Engine::Postgres) => match kind {
                IntKind::Tiny | IntKind::Small => "SMALLINT".into(),
                IntKind::Normal => "INTEGER".into(),
                IntKind::Big => "BIGINT".into(),
            },
            // SQLite's scripts write INTEGER for INT but keep the other integer names and widths.
            (ColumnType::Int { kind, width, .. }, Engine::Sqlite) => match kind {
                IntKind::Normal => "INTEGER".into(),
                IntKind::Tiny => sized("TINYINT", *width),
                IntKind::Small => sized("SMALLINT", *width),
                IntKind::Big => sized("BIGINT", *width),
            },
            (ColumnType::Char(n), Engine::Postgres) => format!("VARCHAR({n})"),
            (ColumnType::Char(n), _) => format!("CHAR({n})"),
            (ColumnType::Text(_), Engine::Postgres) => "TEXT".into(),
            (ColumnType::Text(n), _) => sized("TEXT", *n),
            (ColumnType::MediumText, Engine::Mysql) => "MEDIUMTEXT".into(),
            (ColumnType::LongText, Engine::Mysql) => "LONGTEXT".into(),
            (ColumnType::MediumText | ColumnType::LongText, _) => "TEXT".into(),
            (
                ColumnType::Blob(_) | ColumnType::MediumBlob | ColumnType::LongBlob,
                Engine::Postgres,
            ) => "BYTEA".into(),
            (ColumnType::Blob(n), _) => sized("BLOB", *n),
            (ColumnType::MediumBlob, Engine::Mysql) => "MEDIUMBLOB".into(),
            (ColumnType::LongBlob, Engine::Mysql) => "LONGBLOB".into(),
            (ColumnType::MediumBlob | ColumnType::LongBlob, Engine::Sqlite) => "BLOB".into(),
            (ColumnType::DateTime, Engine::Postgres) => "TIMESTAMP WITHOUT TIME ZONE".into(),
            (ColumnType::DateTime, _) => "DATETIME".into(),
            (ColumnType::Float(_), Engine::Postgres) => "REAL".into(),
            (ColumnType::Float(md), _) => match md {
                Some((m, d)) => format!("FLOAT({m},{d})"),
                None => "FLOAT".into(),
            },
            (ColumnType::Double, Engine::Postgres) => "DOUBLE PRECISION".into(),
            (ColumnType::Double, _) => "DOUBLE".into(),
        }
    }
}

fn sized(base: &str, n: Option<u32>) -> String {
    match n {
        Some(n) => format!("{base}({n})"),
        None => base.to_string(),
    }
}

impl DefaultValue {
    /// The literal after `DEFAULT` (strings single-quoted, quotes doubled).
    pub fn sql(&self) -> String {
        match self {
            DefaultValue::Null => "NULL".into(),
            DefaultValue::Int(i) => i.to_string(),
            DefaultValue::Float(f) => format!("{f:?}"),
            DefaultValue::Str(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_every_family() {
        let cases = [
            ("uint(10)", "INT(10) UNSIGNED", "INTEGER", "INTEGER"),
            ("int", "INT", "INTEGER", "INTEGER"),
            ("int(11)", "INT(11)", "INTEGER", "INTEGER"),
            (
                "usmallint(5)",
                "SMALLINT(5) UNSIGNED",
                "SMALLINT",
                "SMALLINT(5)",
            ),
            ("usmallint", "SMALLINT UNSIGNED", "SMALLINT", "SMALLINT"),
            ("tinyint(1)", "TINYINT(1)", "SMALLINT", "TINYINT(1)"),
            ("tinyint", "TINYINT", "SMALLINT", "TINYINT"),
            ("uint(1)", "INT(1) UNSIGNED", "INTEGER", "INTEGER"),
            ("ubigint(10)", "BIGINT(10) UNSIGNED", "BIGINT", "BIGINT(10)"),
            ("char(64)", "CHAR(64)", "VARCHAR(64)", "CHAR(64)"),
            ("text(512)", "TEXT(512)", "TEXT", "TEXT(512)"),
            ("text", "TEXT", "TEXT", "TEXT"),
            ("blob(4096)", "BLOB(4096)", "BYTEA", "BLOB(4096)"),
            ("longblob", "LONGBLOB", "BYTEA", "BLOB"),
            ("mediumblob", "MEDIUMBLOB", "BYTEA", "BLOB"),
            (
                "datetime",
                "DATETIME",
                "TIMESTAMP WITHOUT TIME ZONE",
                "DATETIME",
            ),
            ("float(10,2)", "FLOAT(10,2)", "REAL", "FLOAT(10,2)"),
            ("double", "DOUBLE", "DOUBLE PRECISION", "DOUBLE"),
        ];
        for (src, my, pg, lite) in cases {
            let t = ColumnType::parse(src).unwrap();
            assert_eq!(t.sql(Engine::Mysql), my, "{src}");
            assert_eq!(t.sql(Engine::Postgres), pg, "{src}");
            assert_eq!(t.sql(Engine::Sqlite), lite, "{src}");
        }
    }

    #[test]
    fn rejects_bad_types_with_a_message() {
        for bad in [
            "varchar(3)",
            "char",
            "char(x)",
            "int(3",
            "float(1)",
            "datetime(3)",
        ] {
            let err = ColumnType::parse(bad).unwrap_err();
            assert!(err.contains(bad.split('(').next().unwrap()), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_are_sql_literals() {
        assert_eq!(DefaultValue::Str("it's".into()).sql(), "'it''s'");
        assert_eq!(DefaultValue::Float(1.0).sql(), "1.0");
        assert_eq!(DefaultValue::Int(-1).sql(), "-1");
        assert_eq!(DefaultValue::Null.sql(), "NULL");
    }
}
