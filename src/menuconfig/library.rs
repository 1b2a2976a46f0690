//! The scenario library: catalogues plus minijinja templates, either embedded in the binary or
//! read from a directory (`osipsconfig --templates DIR`), and rendering of an option set.

use super::catalogue::{Catalogue, CatalogueError, OptionKind};
use super::options::{OptionSet, Value};
use minijinja::{Environment, UndefinedBehavior};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Scenario names, in menu order.
pub const SCENARIOS: &[&str] = &["residential", "trunking", "loadbalancer", "platform"];

/// The files of `templates/`, compiled in.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "residential.toml",
        include_str!("../../templates/residential.toml"),
    ),
    (
        "residential.cfg.j2",
        include_str!("../../templates/residential.cfg.j2"),
    ),
    (
        "trunking.toml",
        include_str!("../../templates/trunking.toml"),
    ),
    (
        "trunking.cfg.j2",
        include_str!("../../templates/trunking.cfg.j2"),
    ),
    (
        "loadbalancer.toml",
        include_str!("../../templates/loadbalancer.toml"),
    ),
    (
        "loadbalancer.cfg.j2",
        include_str!("../../templates/loadbalancer.cfg.j2"),
    ),
    (
        "platform.toml",
        include_str!("../../templates/platform.toml"),
    ),
    (
        "platform.cfg.j2",
        include_str!("../../templates/platform.cfg.j2"),
    ),
    ("common.j2", include_str!("../../templates/common.j2")),
];

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("{file}: {message}")]
    Template { file: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("unknown template `{0}` (templates: {1})")]
    UnknownScenario(String, String),
}

/// Rendering failed: a template bug, reported with the template's line.
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {message}")]
pub struct RenderError {
    pub template: String,
    pub message: String,
}

/// Catalogues and templates of every scenario.
pub struct Library {
    catalogues: Vec<Arc<Catalogue>>,
    env: Environment<'static>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("catalogues", &self.catalogues)
            .finish()
    }
}

impl Library {
    /// The templates compiled into the binary.
    pub fn embedded() -> Library {
        let files = EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string()));
        Library::from_files(files.collect()).expect("embedded templates are tested")
    }

    /// Every `*.toml` catalogue and `*.j2` template of `dir`; a catalogue `X.toml` needs a
    /// template `X.cfg.j2`.
    pub fn from_dir(dir: &Path) -> Result<Library, LibraryError> {
        let io = |path: &Path, source| LibraryError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.ends_with(".toml") || name.ends_with(".j2") {
                let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                files.push((name, text));
            }
        }
        files.sort();
        Library::from_files(files)
    }

    fn from_files(files: Vec<(String, String)>) -> Result<Library, LibraryError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("static syntax config"),
        );
        env.add_function("db_module", db_module);
        let mut catalogues = Vec::new();
        for (name, text) in &files {
            if let Some(stem) = name.strip_suffix(".toml") {
                let cat = Catalogue::parse(name, text)?;
                if cat.name != stem {
                    return Err(LibraryError::Template {
                        file: name.clone(),
                        message: format!(
                            "catalogue name `{}` does not match the file name",
                            cat.name
                        ),
                    });
                }
                catalogues.push(Arc::new(cat));
            } else {
                env.add_template_owned(name.clone(), text.clone())
                    .map_err(|e| LibraryError::Template {
                        file: name.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
        for cat in &catalogues {
            let t = format!("{}.cfg.j2", cat.name);
            if env.get_template(&t).is_err() {
                return Err(LibraryError::Template {
                    file: format!("{}.toml", cat.name),
                    message: format!("no template {t}"),
                });
            }
        }
        catalogues.sort_by_key(|c| {
            SCENARIOS
                .iter()
                .position(|s| *s == c.name)
                .unwrap_or(usize::MAX)
        });
        Ok(Library { catalogues, env })
    }

    pub fn catalogues(&self) -> &[Arc<Catalogue>] {
        &self.catalogues
    }

    pub fn catalogue(&self, name: &str) -> Result<Arc<Catalogue>, LibraryError> {
        self.catalogues
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = self.catalogues.iter().map(|c| c.name.as_str()).collect();
                LibraryError::UnknownScenario(name.to_string(), names.join(", "))
            })
    }

    /// Renders the scenario's script for `set`.
    pub fn render(&self, set: &OptionSet) -> Result<String, RenderError> {
        let cat = set.catalogue();
        let name = format!("{}.cfg.j2", cat.name);
        let err = |e: minijinja::Error| RenderError {
            template: name.clone(),
            message: describe(&e),
        };
        let tmpl = self.env.get_template(&name).map_err(err)?;
        let out = tmpl.render(context(set)).map_err(err)?;
        Ok(tidy(&out))
    }
}

/// Template variables: every option by name (toggles as booleans, ports as numbers), every
/// derived flag, and `SCENARIO`.
fn context(set: &OptionSet) -> minijinja::Value {
    let mut ctx: BTreeMap<String, minijinja::Value> = BTreeMap::new();
    for o in &set.catalogue().options {
        let v = match set.get(&o.name) {
            Some(Value::Bool(b)) => minijinja::Value::from(*b),
            Some(Value::Port(p)) => minijinja::Value::from(*p),
            Some(Value::Text(s)) => minijinja::Value::from(s.clone()),
            None if o.kind == OptionKind::Toggle => minijinja::Value::from(false),
            None => minijinja::Value::from(""),
        };
        ctx.insert(o.name.clone(), v);
    }
    for (name, on) in set.derived_on() {
        ctx.insert(name.to_string(), minijinja::Value::from(on));
    }
    ctx.insert(
        "SCENARIO".into(),
        minijinja::Value::from(set.catalogue().name.clone()),
    );
    minijinja::Value::from(ctx)
}

/// `db_module(url)` in templates: the OpenSIPS database driver module for a DB URL.
fn db_module(url: &str) -> Result<String, minijinja::Error> {
    db_module_for(url).map(str::to_string).ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("no database module for URL `{url}`"),
        )
    })
}

/// The database driver module for a DB URL scheme.
pub fn db_module_for(url: &str) -> Option<&'static str> {
    match url.split_once("://")?.0 {
        "mysql" => Some("db_mysql"),
        "postgres" => Some("db_postgres"),
        "sqlite" => Some("db_sqlite"),
        _ => None,
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    if let (Some(name), Some(line)) = (e.name(), e.line()) {
        s = format!("{name}:{line}: {s}");
    }
    s
}

/// Collapses runs of blank lines left by switched-off blocks into one blank line and trims
/// trailing whitespace, so every option combination reads as if written by hand.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
