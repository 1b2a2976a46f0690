//! Asks a running osips to reload what it caches, over the management interface the rc file
//! names (`CTLENGINE`, see [`super::mi_link`]).

use serde_json::{Value as Json, json};

use super::error::Outcome;
use super::mi_link::{MiFailure, MiLink};
use crate::ctlrc::Rc;

/// After a database change: asks osips to run `method` and says what happened, one line.
pub fn after_change(rc: &Rc, what: &str, method: &str) -> String {
    let link = match MiLink::from_rc(rc) {
        Ok(l) => l,
        Err(f) => return format!("cannot ask osips to reload {what}: {}", f.line()),
    };
    match link.call(method, json!([])) {
        Ok(_) => format!("osips reloaded {what}"),
        Err(MiFailure::Unreachable(_)) => format!(
            "no running osips answered at {}; start it or run the reload later",
            link.describe
        ),
        Err(MiFailure::Refused { code, message, .. }) => format!(
            "osips at {} refused {method} ({code} {message}); the database is changed, reload {what} later",
            link.describe
        ),
    }
}

/// The explicit `... reload` / `dump` commands: the result, or a failure with its exit code.
pub fn command(rc: &Rc, method: &str) -> Outcome<Json> {
    super::mi_link::run(rc, method, json!([]))
}
