//! Event parameters and the JSON-RPC notification every transport sends (`evi_build_payload`).

use serde_json::{Map, Value};

/// One parameter value: OpenSIPS events carry integers, strings or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvValue {
    Int(i64),
    Str(String),
    Null,
}

impl From<i64> for EvValue {
    fn from(v: i64) -> Self {
        EvValue::Int(v)
    }
}
impl From<u32> for EvValue {
    fn from(v: u32) -> Self {
        EvValue::Int(v as i64)
    }
}
impl From<&str> for EvValue {
    fn from(v: &str) -> Self {
        EvValue::Str(v.to_string())
    }
}
impl From<String> for EvValue {
    fn from(v: String) -> Self {
        EvValue::Str(v)
    }
}
impl<T: Into<EvValue>> From<Option<T>> for EvValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(EvValue::Null)
    }
}

impl EvValue {
    pub fn to_json(&self) -> Value {
        match self {
            EvValue::Int(i) => Value::from(*i),
            EvValue::Str(s) => Value::from(s.clone()),
            EvValue::Null => Value::Null,
        }
    }
}

/// The parameters of one raised event: named (`$param(name)`) or positional (`$param(1)`).
/// As in OpenSIPS, the first parameter decides: named → JSON object, unnamed → JSON array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventParams {
    items: Vec<(Option<String>, EvValue)>,
}

impl EventParams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a named parameter (builder style).
    pub fn with(mut self, name: &str, v: impl Into<EvValue>) -> Self {
        self.push(Some(name), v);
        self
    }

    pub fn push(&mut self, name: Option<&str>, v: impl Into<EvValue>) {
        self.items.push((name.map(str::to_string), v.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &EvValue)> {
        self.items.iter().map(|(n, v)| (n.as_deref(), v))
    }

    /// `$param(name)`.
    pub fn get(&self, name: &str) -> Option<&EvValue> {
        self.items
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))
            .map(|(_, v)| v)
    }

    /// `$param(N)`, 1-based.
    pub fn get_index(&self, n: usize) -> Option<&EvValue> {
        n.checked_sub(1)
            .and_then(|i| self.items.get(i))
            .map(|(_, v)| v)
    }

    fn named(&self) -> bool {
        self.items.first().is_some_and(|(n, _)| n.is_some())
    }

    /// The `params` member: object when named, array when positional, `None` when empty.
    pub fn to_json(&self) -> Option<Value> {
        if self.items.is_empty() {
            return None;
        }
        Some(if self.named() {
            let mut m = Map::new();
            for (n, v) in &self.items {
                m.insert(n.clone().unwrap_or_default(), v.to_json());
            }
            Value::Object(m)
        } else {
            Value::Array(self.items.iter().map(|(_, v)| v.to_json()).collect())
        })
    }
}

/// `{"jsonrpc":"2.0","method":M[,"params":P]}` — plus a leading `"id"` for requests that wait for
/// an answer (event_stream reliable mode).
pub fn build_payload(method: &str, params: &EventParams, id: Option<u64>) -> String {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), Value::from(id));
    }
    m.insert("jsonrpc".into(), Value::from("2.0"));
    m.insert("method".into(), Value::from(method));
    if let Some(p) = params.to_json() {
        m.insert("params".into(), p);
    }
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_shapes() {
        let p = EventParams::new()
            .with("ip", "127.0.0.2")
            .with("n", 3i64)
            .with("x", EvValue::Null);
        assert_eq!(
            build_payload("E_PIKE_BLOCKED", &p, None),
            r#"{"jsonrpc":"2.0","method":"E_PIKE_BLOCKED","params":{"ip":"127.0.0.2","n":3,"x":null}}"#
        );
        let mut q = EventParams::new();
        q.push(None, "a");
        q.push(None, 2i64);
        assert_eq!(
            build_payload("E_MY", &q, Some(5)),
            r#"{"id":5,"jsonrpc":"2.0","method":"E_MY","params":["a",2]}"#
        );
        assert_eq!(
            build_payload("E_MY", &EventParams::new(), None),
            r#"{"jsonrpc":"2.0","method":"E_MY"}"#
        );
        assert_eq!(p.get("n"), Some(&EvValue::Int(3)));
        assert_eq!(q.get_index(1), Some(&EvValue::Str("a".into())));
        assert_eq!(q.get_index(0), None);
    }
}
