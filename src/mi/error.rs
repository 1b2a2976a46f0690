//! MI errors: JSON-RPC codes and OpenSIPS's messages (`mi/mi.h`, `mi/item.c`).

use serde_json::{Map, Value};

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
pub const SERVER_ERROR: i32 = -32000;

pub const DET_POS_PARAMS: &str = "Command only supports named parameters";
pub const DET_AMBIG_CALL: &str = "Ambiguous call, use named parameters instead";
pub const DET_NO_PARAMS: &str = "Too few or too many parameters";
pub const DET_MATCH_PARAMS: &str = "Named parameters do not match";
pub const DET_CMD_NULL: &str = "Command handler returned null";
pub const DET_PARAM_HANDLE: &str = "Failed to handle parameter";

/// An MI error reply: `{"code":C,"message":M[,"data":D]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiError {
    pub code: i32,
    pub message: String,
    pub data: Option<String>,
}

impl MiError {
    /// A command-level error with an HTTP-like code, e.g. `MiError::new(404, "AOR not found")`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        MiError {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub fn with_data(code: i32, message: impl Into<String>, data: impl Into<String>) -> Self {
        MiError {
            code,
            message: message.into(),
            data: Some(data.into()),
        }
    }
    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "Parse error")
    }
    pub fn invalid_request() -> Self {
        Self::new(INVALID_REQUEST, "Invalid Request")
    }
    pub fn method_not_found() -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found")
    }
    /// -32602 "Invalid params" with a detail (`data`).
    pub fn invalid_params(data: impl Into<String>) -> Self {
        Self::with_data(INVALID_PARAMS, "Invalid params", data)
    }
    /// -32000 "Server error" with a detail.
    pub fn server_error(data: impl Into<String>) -> Self {
        Self::with_data(SERVER_ERROR, "Server error", data)
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code));
        m.insert("message".into(), Value::from(self.message.clone()));
        if let Some(d) = &self.data {
            m.insert("data".into(), Value::from(d.clone()));
        }
        Value::Object(m)
    }
}

impl std::fmt::Display for MiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(d) = &self.data {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for MiError {}

/// What a command handler returns: the `result` value or an error.
pub type MiResult = Result<Value, MiError>;

/// The `"OK"` result of commands without data.
pub fn ok() -> MiResult {
    Ok(Value::from("OK"))
}
