//! modules: one file or folder per OpenSIPS module, each exporting one `ModuleDescriptor`.

use crate::script::ModuleDescriptor;

/// Every module osips implements: one line per module (`&tm::DESCRIPTOR,`).
pub static MODULES: &[&ModuleDescriptor] = &[];
