//! Management interface (OpenSIPS MI): the command registry, the JSON-RPC 2.0 codec, the core
//! commands, and the HTTP, FIFO and datagram servers.
//!
//! A module exports its commands as data, `&'static [MiCommand]`, each with one or more
//! [`Recipe`]s (parameter-name lists and a handler); the runtime registers them with
//! [`MiRegistry::register_module`]. Commands answer to their 3.x name (`ul_show_contact`), to
//! `module:name`, and to `module:alias` / a bare alias when it is unambiguous (4.0 names).
//!
//! ```
//! use osips::mi::{MiCommand, MiError, MiParams, MiRegistry, MiResult, Recipe};
//! use serde_json::json;
//!
//! fn show_contact(p: &MiParams<'_>) -> MiResult {
//!     let aor = p.string("aor")?;
//!     if !aor.contains('@') {
//!         return Err(MiError::new(400, "Domain missing in AOR"));
//!     }
//!     Ok(json!({ "AOR": aor, "Contacts": [] }))
//! }
//!
//! // in the module's descriptor
//! pub static MI_COMMANDS: &[MiCommand] = &[MiCommand {
//!     name: "ul_show_contact",
//!     aliases: &["show_contact"],
//!     help: "shows the contacts of an AOR",
//!     flags: 0,
//!     recipes: &[Recipe { params: &["table_name", "aor"], handler: show_contact }],
//! }];
//!
//! let mi = MiRegistry::new();
//! mi.register_module("usrloc", MI_COMMANDS).unwrap();
//! let r = mi.call("usrloc:show_contact", Some(json!(["location", "alice@example.com"]))).unwrap();
//! assert_eq!(r["AOR"], "alice@example.com");
//! ```
//!
//! The core commands ([`register_core`]) read the statistics, events, cache and process table
//! given in [`MiCore`]; [`servers::start`] runs the transports configured from modparams.

pub mod client;
pub mod codec;
pub mod core;
pub mod datagram;
mod error;
pub mod fifo;
pub mod http;
mod params;
pub mod process;
mod registry;
pub mod servers;

pub use codec::{MiRequest, handle_request, handle_text};
pub use core::{MiCore, register_core};
pub use error::*;
pub use params::{MiParams, value_as_int, value_as_string};
pub use process::{ProcessGuard, ProcessInfo, ProcessTable};
pub use registry::{
    Lookup, MI_NAMED_PARAMS_ONLY, MiCommand, MiDynHandler, MiHandler, MiRegistry, Recipe,
    RegCommand, RegRecipe, RegisterError,
};
