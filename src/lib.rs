//! osips: a SIP proxy toolkit that runs OpenSIPS scripts.
//!
//! The library holds all logic; the four binaries in `src/bin/` only parse arguments.
//! See `ARCHITECTURE.md` for the map of the code.

pub mod cache;
pub mod core;
pub mod ctl;
pub mod ctlrc;
pub mod db;
pub mod dbctl;
pub mod dns;
pub mod events;
pub mod menuconfig;
pub mod mi;
pub mod modules;
pub mod runtime;
pub mod script;
pub mod sip;
pub mod stats;
pub mod timer;
pub mod transport;

/// Version string shared by every binary (`-V`, `version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
