//! Defaults taken from the osipsctlrc files: the database URL and the MI FIFO path.
//!
//! This is a small stand-in for the project's rc reader (`crate::ctlrc`, written separately):
//! when that lands, replace the body of [`CtlrcDefaults::load`] with a call to it and keep
//! [`CtlrcDefaults::from_vars`] as the mapping from rc variables to option defaults. The file is
//! read as `KEY=value` lines and never executed.

use super::catalogue::DefaultSource;
use super::options::{OptionSet, Value, validate_value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Option defaults found in the rc files (None when the rc files do not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlrcDefaults {
    pub db_url: Option<String>,
    pub mi_fifo: Option<String>,
    /// The files that were read, for the TUI's help screen.
    pub files: Vec<PathBuf>,
}

impl CtlrcDefaults {
    /// Reads the rc cascade as opensipsctl does: `$OSIPSCTLRC` (or `$osipsctlrc`) alone if set,
    /// else `/etc/opensips/opensipsctlrc`, `/usr/local/etc/opensips/opensipsctlrc`,
    /// `~/.opensipsctlrc`, `/etc/osips/osipsctlrc` and `~/.osipsctlrc`, later files overriding.
    pub fn load() -> CtlrcDefaults {
        let env = std::env::var_os("OSIPSCTLRC").or_else(|| std::env::var_os("osipsctlrc"));
        let files: Vec<PathBuf> = match env {
            Some(f) => vec![PathBuf::from(f)],
            None => {
                let home = std::env::var_os("HOME").map(PathBuf::from);
                let mut v = vec![
                    PathBuf::from("/etc/opensips/opensipsctlrc"),
                    PathBuf::from("/usr/local/etc/opensips/opensipsctlrc"),
                ];
                if let Some(h) = &home {
                    v.push(h.join(".opensipsctlrc"));
                }
                v.push(PathBuf::from("/etc/osips/osipsctlrc"));
                if let Some(h) = &home {
                    v.push(h.join(".osipsctlrc"));
                }
                v
            }
        };
        Self::from_files(&files)
    }

    pub fn from_files(files: &[PathBuf]) -> CtlrcDefaults {
        let mut vars = BTreeMap::new();
        let mut read = Vec::new();
        for f in files {
            if let Ok(text) = std::fs::read_to_string(f) {
                parse_into(&text, &mut vars);
                read.push(f.clone());
            }
        }
        let mut d = Self::from_vars(&vars);
        d.files = read;
        d
    }

    /// Maps rc variables to defaults: `DBENGINE` (MYSQL, PGSQL/POSTGRES…, SQLITE) with `DBHOST`,
    /// `DBPORT`, `DBNAME`, `DBRWUSER`, `DBRWPW`, `DB_PATH`; and `OSIPS_FIFO`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> CtlrcDefaults {
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let host = get("DBHOST").unwrap_or_else(|| "localhost".into());
        let port = get("DBPORT").map(|p| format!(":{p}")).unwrap_or_default();
        let name = get("DBNAME").unwrap_or_else(|| "opensips".into());
        let user = get("DBRWUSER").unwrap_or_else(|| "opensips".into());
        let pw = get("DBRWPW").unwrap_or_else(|| "opensipsrw".into());
        let db_url = get("DBENGINE").and_then(|e| match e.to_ascii_uppercase().as_str() {
            "MYSQL" => Some(format!("mysql://{user}:{pw}@{host}{port}/{name}")),
            "PGSQL" | "POSTGRES" | "POSTGRESQL" => {
                Some(format!("postgres://{user}:{pw}@{host}{port}/{name}"))
            }
            "SQLITE" => {
                let path =
                    get("DB_PATH").unwrap_or_else(|| "/usr/local/etc/opensips/sqlite".into());
                Some(format!("sqlite://{path}"))
            }
            _ => None,
        });
        CtlrcDefaults {
            db_url,
            mi_fifo: get("OSIPS_FIFO"),
            files: Vec::new(),
        }
    }

    /// Replaces the catalogue defaults of options marked with a `source` by the rc values that
    /// pass the option's checks; returns the names changed.
    pub fn apply(&self, set: &mut OptionSet) -> Vec<String> {
        let cat = set.catalogue().clone();
        let mut changed = Vec::new();
        for o in &cat.options {
            let v = match o.source {
                Some(DefaultSource::CtlrcDbUrl) => self.db_url.as_ref(),
                Some(DefaultSource::CtlrcFifo) => self.mi_fifo.as_ref(),
                None => None,
            };
            if let Some(v) = v {
                let value = Value::Text(v.clone());
                if validate_value(o, &value).is_ok()
                    && set.set_value_unchecked(&o.name, value).is_ok()
                {
                    changed.push(o.name.clone());
                }
            }
        }
        changed
    }

    pub fn is_empty(&self) -> bool {
        self.db_url.is_none() && self.mi_fifo.is_none()
    }
}

/// Reads `KEY=value` lines (optionally `export KEY=value`, values optionally quoted); anything
/// else, including command substitutions, is ignored.
fn parse_into(text: &str, vars: &mut BTreeMap<String, String>) {
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            inner
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            inner
        } else {
            v.split(" #").next().unwrap_or(v).trim()
        };
        if v.contains('$') || v.contains('`') {
            continue;
        }
        vars.insert(k.to_string(), v.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        parse_into(text, &mut v);
        v
    }

    #[test]
    fn pgsql_rc_gives_postgres_url() {
        let d = CtlrcDefaults::from_vars(&vars(
            "# comment\nDBENGINE=PGSQL\nDBHOST=127.0.0.1\nDBPORT=5433\nDBRWUSER=\"sip\"\nDBRWPW='pw'\nOSIPS_FIFO=/run/x_fifo\n",
        ));
        assert_eq!(
            d.db_url.as_deref(),
            Some("postgres://sip:pw@127.0.0.1:5433/opensips")
        );
        assert_eq!(d.mi_fifo.as_deref(), Some("/run/x_fifo"));
    }

    #[test]
    fn sqlite_rc_gives_three_slash_url() {
        let d = CtlrcDefaults::from_vars(&vars("DBENGINE=SQLITE\nDB_PATH=/var/db/osips.sqlite\n"));
        assert_eq!(d.db_url.as_deref(), Some("sqlite:///var/db/osips.sqlite"));
    }

    #[test]
    fn shell_expansions_are_not_run() {
        let v = vars("DBHOST=$(hostname)\nDBNAME=`id`\nexport DBENGINE=MYSQL\n");
        assert!(!v.contains_key("DBHOST") && !v.contains_key("DBNAME"));
        assert_eq!(v.get("DBENGINE").map(String::as_str), Some("MYSQL"));
    }

    #[test]
    fn no_engine_means_no_url() {
        assert!(
            CtlrcDefaults::from_vars(&vars("DBHOST=db\n"))
                .db_url
                .is_none()
        );
    }
}
