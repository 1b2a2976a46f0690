//! Saving and loading an option set: a TOML file beside the script (`opensips.cfg` →
//! `opensips.cfg.options.toml`) holding the template name and every value.
//!
//! ```toml
//! template = "residential"
//!
//! [options]
//! USE_AUTH = true
//! DB_URL = "postgres://opensips:opensipsrw@localhost/opensips"
//! ```

use super::library::{Library, LibraryError};
use super::options::{OptionError, OptionSet, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OptionFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {source}")]
    Library { path: String, source: LibraryError },
    #[error("{path}: {source}")]
    Option { path: String, source: OptionError },
    #[error("{path}: {}", .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Impossible {
        path: String,
        errors: Vec<OptionError>,
    },
}

/// The option file that goes with a script.
pub fn options_path(script: &Path) -> PathBuf {
    let mut s = script.as_os_str().to_owned();
    s.push(".options.toml");
    PathBuf::from(s)
}

/// The TOML text of an option set.
pub fn to_toml(set: &OptionSet) -> String {
    let mut options = toml::map::Map::new();
    for o in &set.catalogue().options {
        if let Some(v) = set.get(&o.name) {
            options.insert(o.name.clone(), v.to_toml());
        }
    }
    let mut doc = toml::map::Map::new();
    doc.insert(
        "template".into(),
        toml::Value::String(set.catalogue().name.clone()),
    );
    doc.insert("options".into(), toml::Value::Table(options));
    format!(
        "# osipsconfig option set; edit with `osipsconfig` or pass to `osipsconfig generate --options`\n{}",
        toml::to_string(&toml::Value::Table(doc)).expect("an option set serialises")
    )
}

/// Writes the option set to `path` (through a temporary file, so a failed write leaves the old one).
pub fn save(set: &OptionSet, path: &Path) -> Result<(), OptionFileError> {
    let io = |source| OptionFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = {
        let mut s = path.as_os_str().to_owned();
        s.push(".tmp");
        PathBuf::from(s)
    };
    std::fs::write(&tmp, to_toml(set)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads an option file; `expect` names the template it must be for, if any. Values missing
/// from the file keep `base`'s values (the defaults); unknown keys and bad values are errors
/// naming the key.
pub fn load(
    library: &Library,
    path: &Path,
    expect: Option<&str>,
    base: Option<OptionSet>,
) -> Result<OptionSet, OptionFileError> {
    let p = || path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|source| OptionFileError::Io { path: p(), source })?;
    from_toml(library, &text, expect, base).map_err(|e| e.with_path(&p()))
}

impl OptionFileError {
    fn with_path(self, path: &str) -> Self {
        let path = path.to_string();
        match self {
            OptionFileError::Io { source, .. } => OptionFileError::Io { path, source },
            OptionFileError::Syntax { message, .. } => OptionFileError::Syntax { path, message },
            OptionFileError::Library { source, .. } => OptionFileError::Library { path, source },
            OptionFileError::Option { source, .. } => OptionFileError::Option { path, source },
            OptionFileError::Impossible { errors, .. } => {
                OptionFileError::Impossible { path, errors }
            }
        }
    }
}

/// Parses option-file text (see [`load`]).
pub fn from_toml(
    library: &Library,
    text: &str,
    expect: Option<&str>,
    base: Option<OptionSet>,
) -> Result<OptionSet, OptionFileError> {
    let path = String::new();
    let syntax = |message: String| OptionFileError::Syntax {
        path: path.clone(),
        message,
    };
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        syntax(match line {
            Some(l) => format!("line {l}: {}", e.message()),
            None => e.message().to_string(),
        })
    })?;
    for k in doc.keys() {
        if k != "template" && k != "options" {
            return Err(syntax(format!(
                "unknown key `{k}` (expected `template` and [options])"
            )));
        }
    }
    let template = doc
        .get("template")
        .and_then(|v| v.as_str())
        .ok_or_else(|| syntax("missing `template = \"NAME\"`".into()))?;
    if let Some(want) = expect
        && want != template
    {
        return Err(syntax(format!(
            "option set is for template {template}, not {want}"
        )));
    }
    let cat = library
        .catalogue(template)
        .map_err(|source| OptionFileError::Library {
            path: path.clone(),
            source,
        })?;
    let mut set = match base {
        Some(b) if b.catalogue().name == template => b,
        _ => OptionSet::defaults(cat.clone()),
    };
    let empty = toml::Table::new();
    let options = match doc.get("options") {
        None => &empty,
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(syntax("[options] must be a table".into())),
    };
    for (k, v) in options {
        let opt = |source| OptionFileError::Option {
            path: path.clone(),
            source,
        };
        let spec = cat.option(k).ok_or_else(|| {
            opt(OptionError::UnknownOption {
                scenario: cat.name.clone(),
                key: k.clone(),
                known: cat
                    .options
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })?;
        let value = Value::from_toml(spec, v).map_err(|reason| {
            opt(OptionError::BadValue {
                key: k.clone(),
                reason,
            })
        })?;
        set.set_value_unchecked(k, value).map_err(opt)?;
    }
    set.validate()
        .map_err(|errors| OptionFileError::Impossible {
            path: path.clone(),
            errors,
        })?;
    Ok(set)
}
