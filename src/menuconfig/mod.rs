//! menuconfig: script generation from scenario templates (`osipsconfig`).
//!
//! The model has no terminal IO: [`library`] holds the catalogues and minijinja templates and
//! renders an [`options::OptionSet`]; [`options`] keeps a set possible (dependencies and
//! conflicts, refusals that say why); [`optionfile`] saves and loads sets; [`checker`] and
//! [`structural`] check generated scripts; [`rc_defaults`] takes defaults from osipsctlrc.
//! The TUI is [`app`] (state and key handling, no IO besides writing the files the user asks
//! for) drawn by the `view*` modules and run by [`tui`].

pub mod catalogue;
pub mod checker;
pub mod library;
pub mod optionfile;
pub mod options;
pub mod pairwise;
pub mod rc_defaults;
pub mod structural;

pub use catalogue::{Catalogue, OptionKind, OptionSpec};
pub use checker::{
    CheckError, CheckOutcome, CheckReport, Checks, LibraryChecker, ScriptChecker, default_checker,
};
pub use library::Library;
pub use options::{OptionError, OptionSet, Value};
pub use rc_defaults::CtlrcDefaults;

pub mod app;
pub mod input;
pub mod tui;
pub mod view;
mod view_configure;
mod view_menu;
mod view_modal;
