//! JSON-RPC 2.0 as OpenSIPS 3.x speaks it (`mi/mi.c`: `parse_mi_request`, `handle_mi_request`,
//! `prepare_mi_response`).

use serde_json::{Map, Value};

use super::error::*;
use super::registry::{Lookup, MiRegistry};

/// A request that parsed as JSON, checked against the JSON-RPC rules.
#[derive(Debug, Clone, PartialEq)]
pub struct MiRequest {
    /// `None` when the request has no `id` member (a notification).
    pub id: Option<Value>,
    pub method: Option<String>,
    /// `None` when absent or empty (`[]` / `{}`).
    pub params: Option<Value>,
    /// Not a valid JSON-RPC request (answered with -32600).
    pub invalid: bool,
}

impl MiRequest {
    /// Checks a parsed JSON value the way OpenSIPS does.
    pub fn from_value(v: Value) -> Self {
        let Value::Object(mut obj) = v else {
            return MiRequest {
                id: None,
                method: None,
                params: None,
                invalid: true,
            };
        };
        let mut invalid = false;
        let id = obj.remove("id");
        if matches!(
            id,
            Some(Value::Array(_) | Value::Object(_) | Value::Bool(_))
        ) {
            invalid = true;
        }
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            invalid = true;
        }
        let method = match obj.remove("method") {
            Some(Value::String(s)) => Some(s),
            _ => {
                invalid = true;
                None
            }
        };
        let params = match obj.remove("params") {
            None => None,
            Some(Value::Array(a)) if a.is_empty() => None,
            Some(Value::Object(o)) if o.is_empty() => None,
            Some(p @ (Value::Array(_) | Value::Object(_))) => Some(p),
            Some(_) => {
                invalid = true;
                None
            }
        };
        MiRequest {
            id,
            method,
            params,
            invalid,
        }
    }

    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }
}

/// Runs a parsed request and returns the full response object, or `None` for a notification
/// (only parse and invalid-request errors are answered without an id).
pub fn handle_request(registry: &MiRegistry, req: &MiRequest) -> Option<Value> {
    let outcome = if req.invalid {
        Err(MiError::invalid_request())
    } else {
        let method = req.method.as_deref().unwrap_or_default();
        match registry.lookup(method) {
            Lookup::Found(cmd) => registry.run(&cmd, req.params.as_ref()),
            Lookup::NotFound => Err(MiError::method_not_found()),
            Lookup::Ambiguous(c) => Err(MiError::with_data(
                METHOD_NOT_FOUND,
                "Method not found",
                format!("Ambiguous command, use one of: {}", c.join(", ")),
            )),
        }
    };
    if req.is_notification() {
        match &outcome {
            Err(e) if e.code == INVALID_REQUEST => {}
            _ => return None,
        }
    }
    let id = match &req.id {
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Null)) => v.clone(),
        _ => Value::Null,
    };
    Some(response(outcome, id))
}

/// `{"jsonrpc":"2.0","result"|"error":…,"id":…}` with `id` last, as OpenSIPS prints it.
pub fn response(outcome: MiResult, id: Value) -> Value {
    let mut m = Map::new();
    m.insert("jsonrpc".into(), Value::from("2.0"));
    match outcome {
        Ok(v) => m.insert("result".into(), v),
        Err(e) => m.insert("error".into(), e.to_json()),
    };
    m.insert("id".into(), id);
    Value::Object(m)
}

/// Handles one request text: the reply text, or `None` when no reply is due.
/// As OpenSIPS (cJSON without a terminator check), text after the first JSON value is ignored.
pub fn handle_text(registry: &MiRegistry, body: &[u8]) -> Option<String> {
    match next_value(body) {
        Framed::Value(v, _) => {
            handle_request(registry, &MiRequest::from_value(v)).map(|r| r.to_string())
        }
        Framed::Incomplete | Framed::Invalid => Some(parse_error_reply()),
    }
}

/// The reply to text that is not JSON.
pub fn parse_error_reply() -> String {
    response(Err(MiError::parse_error()), Value::Null).to_string()
}

/// Splits the first complete JSON value off `buf` (FIFO streams carry several back to back).
pub enum Framed {
    /// A value and the number of bytes it used.
    Value(Value, usize),
    /// The text so far is a prefix of a JSON value: wait for more bytes.
    Incomplete,
    /// Not JSON.
    Invalid,
}

pub fn next_value(buf: &[u8]) -> Framed {
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) => Framed::Value(v, it.byte_offset()),
        Some(Err(e)) if e.is_eof() => Framed::Incomplete,
        None => Framed::Incomplete,
        Some(Err(_)) => Framed::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mi::registry::{MiCommand, Recipe};
    use crate::mi::{MiParams, ok};
    use serde_json::json;

    fn hello(p: &MiParams<'_>) -> MiResult {
        match p.opt_string("name")? {
            Some(n) if n == "fail" => Err(MiError::new(404, "AOR not found")),
            Some(n) => Ok(json!({ "Hello": n })),
            None => ok(),
        }
    }
    static CMDS: &[MiCommand] = &[MiCommand {
        name: "hello",
        aliases: &[],
        help: "",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: hello,
            },
            Recipe {
                params: &["name"],
                handler: hello,
            },
        ],
    }];

    fn reg() -> MiRegistry {
        let r = MiRegistry::new();
        r.register_module("test", CMDS).unwrap();
        r
    }

    fn run(body: &str) -> Option<Value> {
        handle_text(&reg(), body.as_bytes()).map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn success_and_id_echo() {
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","id":"7"}"#).unwrap();
        assert_eq!(r, json!({"jsonrpc":"2.0","result":"OK","id":"7"}));
        let text = handle_text(
            &reg(),
            br#"{"jsonrpc":"2.0","method":"hello","params":["x"],"id":3}"#,
        )
        .unwrap();
        assert_eq!(text, r#"{"jsonrpc":"2.0","result":{"Hello":"x"},"id":3}"#);
        let r =
            run(r#"{"jsonrpc":"2.0","method":"hello","params":{},"id":null} trailing"#).unwrap();
        assert_eq!(r["result"], "OK");
        assert_eq!(r["id"], Value::Null);
    }

    #[test]
    fn parse_error() {
        for body in ["", "{", "not json", r#"{"jsonrpc":"2.0",}"#] {
            let r = run(body).unwrap();
            assert_eq!(
                r,
                json!({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}),
                "{body}"
            );
        }
    }

    #[test]
    fn invalid_requests() {
        let bad = [
            r#"{"method":"hello","id":1}"#,
            r#"{"jsonrpc":"1.0","method":"hello","id":1}"#,
            r#"{"jsonrpc":2.0,"method":"hello","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","method":7,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"hello","params":"x","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"hello","params":5,"id":1}"#,
        ];
        for b in bad {
            let r = run(b).unwrap();
            assert_eq!(
                r["error"],
                json!({"code":-32600,"message":"Invalid Request"}),
                "{b}"
            );
            assert_eq!(r["id"], 1, "{b}");
        }
        for b in [
            r#"[{"jsonrpc":"2.0","method":"hello","id":1}]"#,
            "42",
            r#""s""#,
        ] {
            let r = run(b).unwrap();
            assert_eq!(r["error"]["code"], -32600, "{b}");
            assert_eq!(r["id"], Value::Null);
        }
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","id":{"a":1}}"#).unwrap();
        assert_eq!(r["error"]["code"], -32600);
        assert_eq!(r["id"], Value::Null);
        // invalid request without id is still answered
        let r = run(r#"{"jsonrpc":"2.0","params":[]}"#).unwrap();
        assert_eq!(r["error"]["code"], -32600);
    }

    #[test]
    fn method_and_params_errors() {
        let r = run(r#"{"jsonrpc":"2.0","method":"nope","id":"1"}"#).unwrap();
        assert_eq!(
            r["error"],
            json!({"code":-32601,"message":"Method not found"})
        );
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","params":["a","b"],"id":"1"}"#).unwrap();
        assert_eq!(
            r["error"],
            json!({"code":-32602,"message":"Invalid params","data":"Too few or too many parameters"})
        );
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","params":{"nom":"a"},"id":"1"}"#).unwrap();
        assert_eq!(r["error"]["data"], "Named parameters do not match");
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","params":[["x"]],"id":"1"}"#).unwrap();
        assert_eq!(
            r["error"],
            json!({"code":-32602,"message":"Invalid params","data":"Bad type for parameter 'name'"})
        );
        let r = run(r#"{"jsonrpc":"2.0","method":"hello","params":["fail"],"id":"1"}"#).unwrap();
        assert_eq!(
            r,
            json!({"jsonrpc":"2.0","error":{"code":404,"message":"AOR not found"},"id":"1"})
        );
    }

    #[test]
    fn notifications_get_no_reply_except_request_errors() {
        assert_eq!(run(r#"{"jsonrpc":"2.0","method":"hello"}"#), None);
        assert_eq!(run(r#"{"jsonrpc":"2.0","method":"nope"}"#), None);
        assert_eq!(
            run(r#"{"jsonrpc":"2.0","method":"hello","params":["fail"]}"#),
            None
        );
        assert!(run(r#"{"jsonrpc":"1.0","method":"hello"}"#).is_some());
        assert!(run("{").is_some());
    }

    #[test]
    fn framing_of_streams() {
        let buf = br#"{"a":1} {"b":"#;
        let Framed::Value(v, n) = next_value(buf) else {
            panic!()
        };
        assert_eq!(v, json!({"a":1}));
        assert!(matches!(next_value(&buf[n..]), Framed::Incomplete));
        assert!(matches!(next_value(b"  "), Framed::Incomplete));
        assert!(matches!(next_value(b"}{"), Framed::Invalid));
    }
}
