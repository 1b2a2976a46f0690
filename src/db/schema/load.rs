//! Parsing of the embedded `schema/*.toml` files into [`Schema`](super::Schema).

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use super::{
    CURRENT_RELEASE, Column, ColumnType, DefaultValue, Group, Index, Module, Schema, Table,
};

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/", $path)))),*]
    };
}

/// The 3.6 module files, in create order (`standard` first, as opensipsdbctl requires).
const CURRENT_FILES: &[(&str, &str)] = embed![
    // standard group (STANDARD_DB_MODULES order)
    "standard.toml",
    "acc.toml",
    "alias_db.toml",
    "auth_db.toml",
    "sqlops.toml",
    "clusterer.toml",
    "dialog.toml",
    "dialplan.toml",
    "dispatcher.toml",
    "domain.toml",
    "drouting.toml",
    "group.toml",
    "load_balancer.toml",
    "msilo.toml",
    "permissions.toml",
    "rtpproxy.toml",
    "rtpengine.toml",
    "speeddial.toml",
    "tls_mgm.toml",
    "usrloc.toml",
    // extra group (EXTRA_DB_MODULES, then the other modules 3.6 ships a create script for)
    "b2b.toml",
    "b2b_sca.toml",
    "call_center.toml",
    "carrierroute.toml",
    "closeddial.toml",
    "domainpolicy.toml",
    "emergency.toml",
    "fraud_detection.toml",
    "freeswitch_scripting.toml",
    "imc.toml",
    "registrant.toml",
    "smpp.toml",
    "tracer.toml",
    "userblacklist.toml",
    "authjwt.toml",
    "cachedb_sql.toml",
    "config.toml",
    "cpl.toml",
    "janus.toml",
    "qrouting.toml",
    "ratecacher.toml",
    "sockets_mgm.toml",
    "tcp_mgm.toml",
    "trie.toml",
    // presence group
    "presence.toml",
    "rls.toml",
];

/// Per older release: the modules whose tables differ from 3.6.
const LEGACY_FILES: &[(&str, &[(&str, &str)])] = &[
    (
        "2.4",
        embed![
            "legacy/2.4/auth_db.toml",
            "legacy/2.4/avpops.toml",
            "legacy/2.4/dialog.toml",
            "legacy/2.4/dialplan.toml",
            "legacy/2.4/dispatcher.toml",
            "legacy/2.4/domain.toml",
            "legacy/2.4/drouting.toml",
            "legacy/2.4/load_balancer.toml",
            "legacy/2.4/permissions.toml",
            "legacy/2.4/tls_mgm.toml",
            "legacy/2.4/usrloc.toml",
        ],
    ),
    (
        "3.4",
        embed![
            "legacy/3.4/auth_db.toml",
            "legacy/3.4/avpops.toml",
            "legacy/3.4/dispatcher.toml",
            "legacy/3.4/domain.toml",
            "legacy/3.4/permissions.toml",
        ],
    ),
];

/// Every embedded file of `release` as `(path under schema/, text)`.
pub fn embedded_files(release: &str) -> Vec<(&'static str, &'static str)> {
    if release == CURRENT_RELEASE {
        return CURRENT_FILES.to_vec();
    }
    LEGACY_FILES
        .iter()
        .filter(|(r, _)| *r == release)
        .flat_map(|(_, files)| files.iter().copied())
        .collect()
}

/// A problem in one embedded schema file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schema/{}: {}", self.file, self.message)
    }
}

impl std::error::Error for LoadError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    module: String,
    group: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    table: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: String,
    version: u32,
    columns: Vec<RawColumn>,
    #[serde(default)]
    indexes: Vec<RawIndex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    /// Column accepts NULL (OpenSIPS's `<null/>`); NOT NULL otherwise.
    #[serde(default)]
    null: bool,
    #[serde(default)]
    default: Option<toml::Value>,
    /// `DEFAULT NULL` (implies `null`).
    #[serde(default)]
    default_null: bool,
    #[serde(default)]
    auto_increment: bool,
    #[serde(default)]
    primary_key: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    name: String,
    columns: Vec<String>,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    sqlite_name: Option<String>,
}

/// Parses one module file; `file` names it in errors.
pub fn parse_module(file: &str, text: &str) -> Result<Module, LoadError> {
    let err = |message: String| LoadError {
        file: file.to_string(),
        message,
    };
    let raw: RawModule = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let group = Group::parse(&raw.group).ok_or_else(|| {
        err(format!(
            "group `{}` is not one of standard, extra, presence",
            raw.group
        ))
    })?;
    if raw.table.is_empty() {
        return Err(err(format!("module `{}` has no [[table]]", raw.module)));
    }
    let mut tables = Vec::with_capacity(raw.table.len());
    for t in raw.table {
        tables.push(convert_table(t).map_err(&err)?);
    }
    Ok(Module {
        name: raw.module,
        aliases: raw.aliases,
        group,
        tables,
    })
}

fn convert_table(t: RawTable) -> Result<Table, String> {
    let ctx = |m: String| format!("table `{}`: {m}", t.name);
    if t.columns.is_empty() {
        return Err(ctx("no columns".into()));
    }
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        if !seen.insert(c.name.as_str()) {
            return Err(ctx(format!("column `{}` defined twice", c.name)));
        }
        columns.push(convert_column(c).map_err(|m| ctx(format!("column `{}`: {m}", c.name)))?);
    }
    if columns.iter().filter(|c| c.auto_increment).count() > 1 {
        return Err(ctx("more than one auto_increment column".into()));
    }
    let mut names = HashSet::new();
    let mut indexes = Vec::with_capacity(t.indexes.len());
    for i in &t.indexes {
        if !names.insert(i.name.as_str()) {
            return Err(ctx(format!("index `{}` defined twice", i.name)));
        }
        if i.columns.is_empty() {
            return Err(ctx(format!("index `{}` has no columns", i.name)));
        }
        if let Some(missing) = i.columns.iter().find(|c| !seen.contains(c.as_str())) {
            return Err(ctx(format!(
                "index `{}` names unknown column `{missing}`",
                i.name
            )));
        }
        indexes.push(Index {
            name: i.name.clone(),
            columns: i.columns.clone(),
            unique: i.unique,
            sqlite_name: i.sqlite_name.clone(),
        });
    }
    Ok(Table {
        name: t.name,
        version: t.version,
        columns,
        indexes,
    })
}

fn convert_column(c: &RawColumn) -> Result<Column, String> {
    let ty = ColumnType::parse(&c.ty)?;
    let default = match (&c.default, c.default_null) {
        (Some(_), true) => return Err("both `default` and `default_null`".into()),
        (None, true) => Some(DefaultValue::Null),
        (None, false) => None,
        (Some(v), false) => Some(match v {
            toml::Value::Integer(i) => DefaultValue::Int(*i),
            toml::Value::Float(f) => DefaultValue::Float(*f),
            toml::Value::String(s) => DefaultValue::Str(s.clone()),
            other => return Err(format!("default `{other}` is not a number or string")),
        }),
    };
    if c.auto_increment && !ty.is_integer() {
        return Err("auto_increment on a non-integer type".into());
    }
    let nullable = c.null || c.default_null;
    if nullable && (c.primary_key || c.auto_increment) {
        return Err("a primary key cannot be null".into());
    }
    Ok(Column {
        name: c.name.clone(),
        ty,
        not_null: !nullable,
        default,
        auto_increment: c.auto_increment,
        primary_key: c.primary_key,
    })
}

/// Loads `release`: the 3.6 files, overlaid (per module name) by the release's legacy files.
/// Bad files are left out and returned as errors.
pub(super) fn load_release(release: &str) -> (Schema, Vec<LoadError>) {
    let mut errors = Vec::new();
    let mut modules = Vec::new();
    for (file, text) in CURRENT_FILES {
        match parse_module(file, text) {
            Ok(m) => modules.push(m),
            Err(e) => errors.push(e),
        }
    }
    if release != CURRENT_RELEASE {
        for (file, text) in embedded_files(release) {
            match parse_module(file, text) {
                // A legacy module replaces the current one of the same name, or the one it was
                // renamed to (avpops -> sqlops).
                Ok(m) => match modules
                    .iter_mut()
                    .find(|c| c.name == m.name || m.aliases.contains(&c.name))
                {
                    Some(slot) => *slot = m,
                    None => modules.push(m),
                },
                Err(e) => errors.push(e),
            }
        }
    }
    (
        Schema {
            release: release.to_string(),
            modules,
        },
        errors,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{LEGACY_RELEASES, current, legacy, load_errors};
    use super::*;

    #[test]
    fn every_embedded_file_parses() {
        assert_eq!(load_errors(CURRENT_RELEASE), Vec::new());
        for r in LEGACY_RELEASES {
            assert_eq!(load_errors(r), Vec::new(), "release {r}");
        }
    }

    #[test]
    fn every_table_has_a_version_and_a_unique_name() {
        for schema in
            std::iter::once(current()).chain(LEGACY_RELEASES.iter().filter_map(|r| legacy(r)))
        {
            let mut names = HashSet::new();
            for t in schema.tables() {
                // rtpproxy_sockets is the one table OpenSIPS keeps at version 0.
                assert!(
                    t.version > 0 || t.name == "rtpproxy_sockets",
                    "{}: table {} has version 0",
                    schema.release,
                    t.name
                );
                assert!(
                    names.insert(t.name.clone()),
                    "{}: table {} twice",
                    schema.release,
                    t.name
                );
            }
        }
    }

    #[test]
    fn module_names_are_unique_and_standard_comes_first() {
        let s = current();
        assert_eq!(s.modules[0].name, "standard");
        let mut names = HashSet::new();
        for m in &s.modules {
            assert!(names.insert(m.name.as_str()), "module {} twice", m.name);
            for a in &m.aliases {
                assert!(names.insert(a.as_str()), "alias {a} clashes");
            }
        }
    }

    #[test]
    fn bad_files_are_reported_with_file_and_reason() {
        let cases = [
            (
                "module = \"x\"\ngroup = \"odd\"\n[[table]]\nname=\"t\"\nversion=1\ncolumns=[{name=\"a\",type=\"int\"}]\n",
                "group `odd`",
            ),
            (
                "module = \"x\"\ngroup = \"extra\"\n[[table]]\nname=\"t\"\nversion=1\ncolumns=[{name=\"a\",type=\"nope\"}]\n",
                "unknown column type",
            ),
            (
                "module = \"x\"\ngroup = \"extra\"\n[[table]]\nname=\"t\"\nversion=1\ncolumns=[{name=\"a\",type=\"int\"}]\nindexes=[{name=\"i\",columns=[\"b\"]}]\n",
                "unknown column `b`",
            ),
            (
                "module = \"x\"\ngroup = \"extra\"\n[[table]]\nname=\"t\"\nversion=1\ncolumns=[{name=\"a\",type=\"int\"},{name=\"a\",type=\"int\"}]\n",
                "defined twice",
            ),
            ("module = \"x\"\ngroup = \"extra\"\n", "no [[table]]"),
            ("module = ", "TOML"),
        ];
        for (text, want) in cases {
            let e = parse_module("bad.toml", text).unwrap_err();
            assert_eq!(e.file, "bad.toml");
            let shown = e.to_string();
            assert!(
                shown.contains(want) || (want == "TOML" && shown.starts_with("schema/bad.toml")),
                "{shown} lacks {want}"
            );
        }
    }

    #[test]
    fn avpops_is_an_alias_of_sqlops() {
        let m = current().module("avpops").unwrap();
        assert_eq!(m.name, "sqlops");
        assert!(m.tables.iter().any(|t| t.name == "usr_preferences"));
    }
}
