//! An option set: the values chosen for one scenario, with the rules that keep it possible.

use super::catalogue::{Catalogue, OptionKind, OptionSpec};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The value of one option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Text(String),
    Port(u16),
}

impl Value {
    /// Reads a value from a TOML value (catalogue default or saved option set).
    pub fn from_toml(spec: &OptionSpec, v: &toml::Value) -> Result<Value, String> {
        match (spec.kind, v) {
            (OptionKind::Toggle, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
            (OptionKind::Toggle, toml::Value::String(s)) => parse_bool(s).map(Value::Bool),
            (OptionKind::Port, toml::Value::Integer(i)) => u16::try_from(*i)
                .ok()
                .filter(|p| *p > 0)
                .map(Value::Port)
                .ok_or_else(|| format!("{i} is not a port (1-65535)")),
            (OptionKind::Port, toml::Value::String(s)) => parse_port(s).map(Value::Port),
            (OptionKind::Toggle | OptionKind::Port, other) => Err(format!(
                "expected a {}, found {}",
                spec.kind.label(),
                other.type_str()
            )),
            (_, toml::Value::String(s)) => Ok(Value::Text(s.clone())),
            (_, other) => Err(format!("expected a string, found {}", other.type_str())),
        }
    }

    /// Reads a value typed by a user (`--set KEY=VALUE`, the TUI's text input).
    pub fn parse(spec: &OptionSpec, raw: &str) -> Result<Value, String> {
        let v = match spec.kind {
            OptionKind::Toggle => Value::Bool(parse_bool(raw)?),
            OptionKind::Port => Value::Port(parse_port(raw)?),
            _ => Value::Text(raw.trim().to_string()),
        };
        validate_value(spec, &v)?;
        Ok(v)
    }

    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Text(s) => toml::Value::String(s.clone()),
            Value::Port(p) => toml::Value::Integer(i64::from(*p)),
        }
    }

    pub fn as_bool(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// How the value is shown in the TUI and in `show`.
    pub fn display(&self) -> String {
        match self {
            Value::Bool(true) => "yes".into(),
            Value::Bool(false) => "no".into(),
            Value::Text(s) => s.clone(),
            Value::Port(p) => p.to_string(),
        }
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "on" | "1" => Ok(true),
        "no" | "n" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("`{s}` is not yes or no")),
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{s}` is not a port (1-65535)"))
}

/// Checks a value against its option's type and constraints.
pub fn validate_value(spec: &OptionSpec, v: &Value) -> Result<(), String> {
    let text = match (spec.kind, v) {
        (OptionKind::Toggle, Value::Bool(_)) | (OptionKind::Port, Value::Port(_)) => return Ok(()),
        (OptionKind::Toggle | OptionKind::Port, _) => {
            return Err(format!("expected a {}", spec.kind.label()));
        }
        (_, Value::Text(s)) => s,
        _ => return Err(format!("expected a {}", spec.kind.label())),
    };
    // Values end up inside script strings and lines: keep them from breaking out.
    if let Some(c) = text.chars().find(|c| c.is_control() || *c == '"') {
        return Err(format!(
            "contains {c:?}, which cannot appear in a script value"
        ));
    }
    match spec.kind {
        OptionKind::Address => {
            if text.parse::<IpAddr>().is_err() {
                return Err(format!("`{text}` is not an IPv4 or IPv6 address"));
            }
        }
        OptionKind::Url => {
            let Some((scheme, rest)) = text.split_once("://") else {
                return Err(format!("`{text}` is not a URL (scheme://...)"));
            };
            if !spec.schemes.is_empty() && !spec.schemes.iter().any(|s| s == scheme) {
                return Err(format!(
                    "URL scheme `{scheme}` is not one of {}",
                    spec.schemes.join(", ")
                ));
            }
            if rest.is_empty() || text.contains(char::is_whitespace) {
                return Err(format!("`{text}` is not a complete URL"));
            }
        }
        OptionKind::Choice => {
            if !spec.choices.iter().any(|c| c == text) {
                return Err(format!(
                    "`{text}` is not one of {}",
                    spec.choices.join(", ")
                ));
            }
        }
        OptionKind::Text => {
            if let Some(p) = &spec.pattern {
                let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())?;
                if !re.is_match(text) {
                    let what = spec
                        .pattern_help
                        .clone()
                        .unwrap_or_else(|| format!("match {p}"));
                    return Err(format!("`{text}` must {what}"));
                }
            }
        }
        OptionKind::Toggle | OptionKind::Port => {}
    }
    Ok(())
}

/// Why a value or a combination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option `{key}` for template {scenario} (options: {known})")]
    UnknownOption {
        scenario: String,
        key: String,
        known: String,
    },
    #[error("bad value for {key}: {reason}")]
    BadValue { key: String, reason: String },
    #[error("{key} needs {needs}; switch that on first")]
    MissingDependency { key: String, needs: String },
    #[error("{key} conflicts with {other}; switch {other} off first")]
    Conflict { key: String, other: String },
    #[error("{key} is needed by {dependents}; switch those off first")]
    RequiredBy { key: String, dependents: String },
}

/// The values chosen for one scenario.
#[derive(Debug, Clone)]
pub struct OptionSet {
    catalogue: Arc<Catalogue>,
    values: BTreeMap<String, Value>,
}

impl PartialEq for OptionSet {
    fn eq(&self, other: &Self) -> bool {
        self.catalogue.name == other.catalogue.name && self.values == other.values
    }
}

impl OptionSet {
    /// The catalogue defaults (osipsctlrc values are applied by `CtlrcDefaults::apply`).
    pub fn defaults(catalogue: Arc<Catalogue>) -> OptionSet {
        let values = catalogue
            .options
            .iter()
            .map(|o| {
                let v = Value::from_toml(o, &o.default)
                    .expect("catalogue defaults are checked on load");
                (o.name.clone(), v)
            })
            .collect();
        OptionSet { catalogue, values }
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    fn spec(&self, key: &str) -> Result<&OptionSpec, OptionError> {
        self.catalogue
            .option(key)
            .ok_or_else(|| OptionError::UnknownOption {
                scenario: self.catalogue.name.clone(),
                key: key.to_string(),
                known: self
                    .catalogue
                    .options
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Parses `raw` for `key` and stores it without checking dependencies: for applying many
    /// values in any order; call [`OptionSet::validate`] afterwards.
    pub fn set_unchecked(&mut self, key: &str, raw: &str) -> Result<(), OptionError> {
        let spec = self.spec(key)?;
        let v = Value::parse(spec, raw).map_err(|reason| OptionError::BadValue {
            key: key.to_string(),
            reason,
        })?;
        self.values.insert(key.to_string(), v);
        Ok(())
    }

    /// Stores a typed value without checking dependencies (value already validated by caller).
    pub fn set_value_unchecked(&mut self, key: &str, v: Value) -> Result<(), OptionError> {
        let spec = self.spec(key)?;
        validate_value(spec, &v).map_err(|reason| OptionError::BadValue {
            key: key.to_string(),
            reason,
        })?;
        self.values.insert(key.to_string(), v);
        Ok(())
    }

    /// Sets one value, refusing a change that would make the set impossible; the set is left
    /// unchanged on error.
    pub fn set(&mut self, key: &str, raw: &str) -> Result<(), OptionError> {
        let mut next = self.clone();
        next.set_unchecked(key, raw)?;
        next.check_change(key)?;
        *self = next;
        Ok(())
    }

    /// Flips a toggle, with the same rules as [`OptionSet::set`].
    pub fn toggle(&mut self, key: &str) -> Result<bool, OptionError> {
        let on = !self.is_on(key);
        self.set(key, if on { "yes" } else { "no" })?;
        Ok(on)
    }

    fn check_change(&self, key: &str) -> Result<(), OptionError> {
        let spec = self.spec(key)?;
        if spec.kind != OptionKind::Toggle {
            return Ok(());
        }
        if self.is_on(key) {
            self.check_toggle(spec)
        } else {
            let dependents: Vec<&str> = self
                .catalogue
                .toggles()
                .filter(|o| self.is_on(&o.name) && self.check_toggle(o).is_err())
                .map(|o| o.name.as_str())
                .collect();
            if dependents.is_empty() {
                Ok(())
            } else {
                Err(OptionError::RequiredBy {
                    key: key.to_string(),
                    dependents: dependents.join(", "),
                })
            }
        }
    }

    /// The rules for a toggle that is on: its dependencies hold and no conflicting toggle is on.
    fn check_toggle(&self, spec: &OptionSpec) -> Result<(), OptionError> {
        if let Some(needs) = self.unmet_dependency(spec) {
            return Err(OptionError::MissingDependency {
                key: spec.name.clone(),
                needs,
            });
        }
        for o in self.catalogue.toggles().filter(|o| self.is_on(&o.name)) {
            if spec.conflicts_with.contains(&o.name) || o.conflicts_with.contains(&spec.name) {
                return Err(OptionError::Conflict {
                    key: spec.name.clone(),
                    other: o.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The first dependency of `spec` that does not hold, spelled for a message.
    pub fn unmet_dependency(&self, spec: &OptionSpec) -> Option<String> {
        spec.depends_on
            .iter()
            .find(|dep| !dep.split('|').any(|a| self.is_on(a.trim())))
            .map(|dep| {
                dep.split('|')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" or ")
            })
    }

    /// True if a value option is used with the current toggles (its dependencies hold).
    pub fn is_active(&self, spec: &OptionSpec) -> bool {
        self.unmet_dependency(spec).is_none()
    }

    /// True when a toggle is on or a derived flag holds.
    pub fn is_on(&self, name: &str) -> bool {
        if let Some(d) = self.catalogue.derived_flag(name) {
            return (d.any_of.is_empty() || d.any_of.iter().any(|a| self.is_on(a)))
                && !d.none_of.iter().any(|a| self.is_on(a));
        }
        self.values.get(name).is_some_and(Value::as_bool)
    }

    /// Checks the whole set; returns every problem, in catalogue order.
    pub fn validate(&self) -> Result<(), Vec<OptionError>> {
        let mut errors: Vec<OptionError> = Vec::new();
        for e in self
            .catalogue
            .toggles()
            .filter(|o| self.is_on(&o.name))
            .filter_map(|o| self.check_toggle(o).err())
        {
            // a conflict is found from both sides; report it once
            let mirror = match &e {
                OptionError::Conflict { key, other } => errors.contains(&OptionError::Conflict {
                    key: other.clone(),
                    other: key.clone(),
                }),
                _ => false,
            };
            if !mirror {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The names of the derived flags that hold.
    pub fn derived_on(&self) -> Vec<(&str, bool)> {
        self.catalogue
            .derived
            .iter()
            .map(|d| (d.name.as_str(), self.is_on(&d.name)))
            .collect()
    }
}
