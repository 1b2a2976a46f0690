//! modules: one file or folder per OpenSIPS module, each exporting one `ModuleDescriptor`.

use crate::script::ModuleDescriptor;

pub mod acc;
pub mod alias_db;
pub mod auth;
pub mod auth_db;
pub mod avpops;
pub mod builtin;
pub mod dialog;
pub mod dialplan;
pub mod dispatcher;
pub mod domain;
pub mod drouting;
pub mod event_routing;
pub mod group;
pub mod load_balancer;
pub mod maxfwd;
pub mod mi_transports;
pub mod nathelper;
pub mod permissions;
pub mod presence;
pub mod presence_xml;
pub mod probe;
pub mod registrar;
pub mod relay_nodes;
pub mod rr;
pub mod rtpengine;
pub mod rtpproxy;
pub mod signaling;
pub mod sipmsgops;
pub mod sl;
pub mod sqlops;
pub mod textops;
pub mod tm;
pub mod uri;
pub mod usrloc;
pub mod xcap;

/// Every module osips implements: one line per module (`&tm::DESCRIPTOR,`).
pub static MODULES: &[&ModuleDescriptor] = &[
    &acc::DESCRIPTOR,
    &alias_db::DESCRIPTOR,
    &avpops::DESCRIPTOR,
    &auth::DESCRIPTOR,
    &auth_db::DESCRIPTOR,
    &builtin::PROTO_UDP,
    &builtin::PROTO_TCP,
    &builtin::PROTO_TLS,
    &builtin::PROTO_WS,
    &builtin::PROTO_WSS,
    &builtin::TLS_MGM,
    &builtin::TLS_OPENSSL,
    &builtin::TLS_WOLFSSL,
    &builtin::DB_SQLITE,
    &builtin::DB_POSTGRES,
    &builtin::DB_MYSQL,
    &dispatcher::DESCRIPTOR,
    &dialog::DESCRIPTOR,
    &dialplan::DESCRIPTOR,
    &domain::DESCRIPTOR,
    &drouting::DESCRIPTOR,
    &event_routing::DESCRIPTOR,
    &group::DESCRIPTOR,
    &load_balancer::DESCRIPTOR,
    &maxfwd::DESCRIPTOR,
    &mi_transports::HTTPD,
    &mi_transports::MI_HTTP,
    &mi_transports::MI_FIFO,
    &mi_transports::MI_DATAGRAM,
    &mi_transports::PROMETHEUS,
    &nathelper::DESCRIPTOR,
    &permissions::DESCRIPTOR,
    &presence::DESCRIPTOR,
    &presence_xml::DESCRIPTOR,
    &rr::DESCRIPTOR,
    &rtpengine::DESCRIPTOR,
    &rtpproxy::DESCRIPTOR,
    &registrar::DESCRIPTOR,
    &signaling::DESCRIPTOR,
    &sipmsgops::DESCRIPTOR,
    &sl::DESCRIPTOR,
    &sqlops::DESCRIPTOR,
    &textops::DESCRIPTOR,
    &uri::DESCRIPTOR,
    &usrloc::DESCRIPTOR,
    &xcap::DESCRIPTOR,
    &tm::DESCRIPTOR,
];
