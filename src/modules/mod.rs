//! modules: one file or folder per OpenSIPS module, each exporting one `ModuleDescriptor`.

use crate::script::ModuleDescriptor;

pub mod maxfwd;
pub mod mi_transports;
pub mod signaling;
pub mod sipmsgops;
pub mod sl;
pub mod textops;
pub mod tm;

/// Every module osips implements: one line per module (`&tm::DESCRIPTOR,`).
pub static MODULES: &[&ModuleDescriptor] = &[
    &maxfwd::DESCRIPTOR,
    &mi_transports::HTTPD,
    &mi_transports::MI_HTTP,
    &mi_transports::MI_FIFO,
    &mi_transports::MI_DATAGRAM,
    &mi_transports::PROMETHEUS,
    &signaling::DESCRIPTOR,
    &sipmsgops::DESCRIPTOR,
    &sl::DESCRIPTOR,
    &textops::DESCRIPTOR,
    &tm::DESCRIPTOR,
];
