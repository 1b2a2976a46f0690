//! Access to a command's parameters, positional or named, through the matched recipe's names
//! (OpenSIPS `get_mi_*_param`, with the same error replies).

use serde_json::Value;

use super::error::{DET_PARAM_HANDLE, MiError};
use super::registry::MiRegistry;

/// The parameters of one call, seen through the recipe that matched them.
pub struct MiParams<'a> {
    item: Option<&'a Value>,
    names: &'a [&'static str],
    registry: &'a MiRegistry,
}

fn missing() -> MiError {
    // The call already matched a recipe, so a missing name is the handler's mistake (OpenSIPS).
    MiError::server_error(DET_PARAM_HANDLE)
}

fn bad_type(name: &str) -> MiError {
    MiError::invalid_params(format!("Bad type for parameter '{name}'"))
}

impl<'a> MiParams<'a> {
    pub fn new(
        item: Option<&'a Value>,
        names: &'a [&'static str],
        registry: &'a MiRegistry,
    ) -> Self {
        MiParams {
            item,
            names,
            registry,
        }
    }

    /// The registry that runs the command (for `which`, `help`).
    pub fn registry(&self) -> &MiRegistry {
        self.registry
    }

    /// The names of the matched recipe.
    pub fn recipe(&self) -> &[&'static str] {
        self.names
    }

    /// The raw value of a parameter, if given.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        match self.item? {
            Value::Array(a) => {
                let i = self.names.iter().position(|n| *n == name)?;
                a.get(i)
            }
            Value::Object(o) => o.get(name),
            _ => None,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.value(name).is_some()
    }

    /// A string parameter; numbers are printed as decimal (OpenSIPS does the same).
    pub fn string(&self, name: &str) -> Result<String, MiError> {
        match self.value(name) {
            None => Err(missing()),
            Some(v) => value_as_string(v).ok_or_else(|| bad_type(name)),
        }
    }

    /// A string parameter if present.
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, MiError> {
        if self.has(name) {
            self.string(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An integer parameter: a JSON number or a string holding a decimal integer.
    pub fn int(&self, name: &str) -> Result<i64, MiError> {
        match self.value(name) {
            None => Err(missing()),
            Some(v) => value_as_int(v).ok_or_else(|| bad_type(name)),
        }
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, MiError> {
        if self.has(name) {
            self.int(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A non-empty array parameter (`get_mi_array_param`).
    pub fn array(&self, name: &str) -> Result<&'a Vec<Value>, MiError> {
        match self.value(name) {
            None => Err(missing()),
            Some(Value::Array(a)) if a.is_empty() => Err(MiError::invalid_params(format!(
                "Empty array in parameter '{name}'"
            ))),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(bad_type(name)),
        }
    }

    /// An array of strings (`get_mi_arr_param_string` on each item).
    pub fn string_array(&self, name: &str) -> Result<Vec<String>, MiError> {
        self.array(name)?
            .iter()
            .map(|v| {
                value_as_string(v).ok_or_else(|| {
                    MiError::invalid_params(format!(
                        "Bad type for array item in parameter '{name}'"
                    ))
                })
            })
            .collect()
    }
}

/// String view of a string or number (integers without a fraction).
pub fn value_as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => (n.as_f64()? as i64).to_string(),
        }),
        _ => None,
    }
}

/// Integer view of a number (truncated) or of a string holding a signed decimal integer.
pub fn value_as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        }
        _ => None,
    }
}
