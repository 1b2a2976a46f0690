//! Option catalogue of one scenario: the options it offers, their types, defaults, help text,
//! dependencies and conflicts, read from `templates/<scenario>.toml`.
//!
//! Dependency syntax (`depends_on`): every entry must hold; an entry may list alternatives
//! separated by `|` (`"HAVE_INBOUND_PSTN|HAVE_OUTBOUND_PSTN"`). An atom names a toggle or a
//! derived flag (`[[derived]]`, e.g. `DB_NEEDED`). For a toggle the dependencies must hold
//! before it can be switched on; for a value option they say when the value is used at all.

use serde::Deserialize;
use std::collections::BTreeSet;

/// The type of an option, as written in the catalogue's `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    Toggle,
    Text,
    Address,
    Port,
    Url,
    Choice,
}

impl OptionKind {
    pub fn label(self) -> &'static str {
        match self {
            OptionKind::Toggle => "toggle",
            OptionKind::Text => "text",
            OptionKind::Address => "address",
            OptionKind::Port => "port",
            OptionKind::Url => "URL",
            OptionKind::Choice => "choice",
        }
    }
}

/// Where a default may come from besides the catalogue (see `rc_defaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultSource {
    /// The database URL built from the osipsctlrc `DBENGINE`, `DBHOST`, … variables.
    CtlrcDbUrl,
    /// The MI FIFO path from the osipsctlrc `OSIPS_FIFO` variable.
    CtlrcFifo,
    /// The host of the osipsctlrc `OSIPS_MI_URL` (the HTTP management interface).
    CtlrcMiHttpIp,
    /// The port of the osipsctlrc `OSIPS_MI_URL`.
    CtlrcMiHttpPort,
}

/// One option of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: OptionKind,
    pub default: toml::Value,
    pub help: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub conflicts_with: Vec<String>,
    /// `choice`: the allowed values.
    #[serde(default)]
    pub choices: Vec<String>,
    /// `url`: the allowed schemes (`mysql`, `postgres`, `sqlite`).
    #[serde(default)]
    pub schemes: Vec<String>,
    /// `text`: a regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// `text`: what the pattern means, for error messages.
    #[serde(default)]
    pub pattern_help: Option<String>,
    #[serde(default)]
    pub source: Option<DefaultSource>,
}

/// A flag computed from toggles (`DB_NEEDED` is on when any database feature is on): it holds
/// when one of `any_of` holds (or `any_of` is empty) and none of `none_of` does. A derived
/// flag may only name toggles and derived flags listed before it, so there are no cycles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    pub name: String,
    #[serde(default)]
    pub any_of: Vec<String>,
    #[serde(default)]
    pub none_of: Vec<String>,
    #[serde(default)]
    pub help: String,
}

/// A scenario's catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Template name used on the command line (`residential`).
    pub name: String,
    /// Menu label (`Residential Script`).
    pub title: String,
    pub description: String,
    #[serde(rename = "option", default)]
    pub options: Vec<OptionSpec>,
    #[serde(rename = "derived", default)]
    pub derived: Vec<Derived>,
}

/// A catalogue that cannot be used, with the file it came from.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CatalogueError {
    pub file: String,
    pub message: String,
}

impl Catalogue {
    /// Parses and checks a catalogue; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        let err = |message: String| CatalogueError {
            file: file.to_string(),
            message,
        };
        let cat: Catalogue = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            match line {
                Some(l) => err(format!("line {l}: {}", e.message())),
                None => err(e.message().to_string()),
            }
        })?;
        cat.check().map_err(err)?;
        Ok(cat)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for o in &self.options {
            if !names.insert(o.name.as_str()) {
                return Err(format!("option {} is listed twice", o.name));
            }
        }
        for d in &self.derived {
            if !names.insert(d.name.as_str()) {
                return Err(format!("derived flag {} reuses a name", d.name));
            }
        }
        for (i, d) in self.derived.iter().enumerate() {
            for a in d.any_of.iter().chain(&d.none_of) {
                let earlier = self.derived[..i].iter().any(|e| &e.name == a);
                if !earlier && self.option(a).map(|o| o.kind) != Some(OptionKind::Toggle) {
                    return Err(format!(
                        "derived {}: {a} is not a toggle or a derived flag listed before it",
                        d.name
                    ));
                }
            }
        }
        for o in &self.options {
            for dep in &o.depends_on {
                for atom in dep.split('|') {
                    if !self.is_flag(atom.trim()) {
                        return Err(format!(
                            "option {}: depends_on names {atom}, which is not a toggle or derived flag",
                            o.name
                        ));
                    }
                }
            }
            for c in &o.conflicts_with {
                if self.option(c).map(|s| s.kind) != Some(OptionKind::Toggle) {
                    return Err(format!(
                        "option {}: conflicts_with names {c}, which is not a toggle",
                        o.name
                    ));
                }
            }
            if o.kind == OptionKind::Choice && o.choices.is_empty() {
                return Err(format!("option {}: a choice needs `choices`", o.name));
            }
            if let Some(p) = &o.pattern {
                regex::Regex::new(p).map_err(|e| format!("option {}: bad pattern: {e}", o.name))?;
            }
            let default = crate::menuconfig::options::Value::from_toml(o, &o.default)
                .map_err(|e| format!("option {}: default: {e}", o.name))?;
            crate::menuconfig::options::validate_value(o, &default)
                .map_err(|e| format!("option {}: default: {e}", o.name))?;
        }
        Ok(())
    }

    pub fn option(&self, name: &str) -> Option<&OptionSpec> {
        self.options.iter().find(|o| o.name == name)
    }

    pub fn derived_flag(&self, name: &str) -> Option<&Derived> {
        self.derived.iter().find(|d| d.name == name)
    }

    /// True for a toggle or a derived flag: the things a dependency can name.
    pub fn is_flag(&self, name: &str) -> bool {
        self.derived_flag(name).is_some()
            || self.option(name).map(|o| o.kind) == Some(OptionKind::Toggle)
    }

    /// The toggles of the scenario, in catalogue order.
    pub fn toggles(&self) -> impl Iterator<Item = &OptionSpec> {
        self.options.iter().filter(|o| o.kind == OptionKind::Toggle)
    }
}
