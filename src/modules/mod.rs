//! modules: one file or folder per OpenSIPS module, each exporting one `ModuleDescriptor`.

use crate::script::ModuleDescriptor;

pub mod maxfwd;
pub mod signaling;
pub mod sipmsgops;
pub mod sl;
pub mod textops;

/// Every module osips implements: one line per module (`&tm::DESCRIPTOR,`).
pub static MODULES: &[&ModuleDescriptor] = &[
    &maxfwd::DESCRIPTOR,
    &signaling::DESCRIPTOR,
    &sipmsgops::DESCRIPTOR,
    &sl::DESCRIPTOR,
    &textops::DESCRIPTOR,
];
