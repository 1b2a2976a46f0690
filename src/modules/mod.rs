//! modules: one file or folder per OpenSIPS module, each exporting one `ModuleDescriptor`.

use crate::script::ModuleDescriptor;

pub mod auth;
pub mod auth_db;
pub mod maxfwd;
pub mod mi_transports;
pub mod signaling;
pub mod sipmsgops;
pub mod sl;
pub mod textops;

/// Every module osips implements: one line per module (`&tm::DESCRIPTOR,`).
pub static MODULES: &[&ModuleDescriptor] = &[
    &auth::DESCRIPTOR,
    &auth_db::DESCRIPTOR,
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
];
