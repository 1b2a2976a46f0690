//! tm MI commands.

use crate::mi::MiCommand;

pub static MI_COMMANDS: [MiCommand; 0] = [];
