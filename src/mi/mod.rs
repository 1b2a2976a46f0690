//! Management interface (OpenSIPS MI): the command registry, the JSON-RPC 2.0 codec, the core
//! commands, and the HTTP, FIFO and datagram servers.
//!
//! A module exports its commands as data, `&'static [MiCommand]`, each with one or more
//! [`Recipe`]s (parameter-name lists and a handler); the runtime registers them with
//! [`MiRegistry::register_module`]. Commands answer to their 3.x name (`ul_show_contact`), to
//! `module:name`, and to `module:alias` / a bare alias when it is unambiguous (4.0 names).

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
