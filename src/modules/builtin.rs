//! Modules whose job the osips core does itself: the transport protocols (`proto_udp`,
//! `proto_tcp`, `proto_tls`, `proto_ws`, `proto_wss`), TLS certificates (`tls_mgm`, with the
//! `tls_openssl` / `tls_wolfssl` back-ends it names) and the database drivers (`db_sqlite`,
//! `db_postgres`, `db_mysql`). OpenSIPS scripts load them; osips accepts them, with their
//! parameters, so those scripts run unchanged. What their parameters mean here: `udp_port` /
//! `tcp_port` / `tls_port` / `ws_port` / `wss_port` are the port of a `socket=` line that gives
//! none (read by `runtime::settings`); tls_mgm's certificate, private_key, ca_list, verify_cert,
//! require_cert and domains configure the rustls transport (`runtime::tls_settings`); its cipher,
//! curve, DH, CRL, method and database knobs, and the database drivers' tuning knobs, are
//! accepted and have no effect (rustls speaks TLS 1.2 and 1.3 with its own cipher suites; the
//! database drivers are rusqlite and sqlx, chosen by the `db_url` scheme).

use crate::script::{ModuleDescriptor, ParamSpec};

pub static PROTO_UDP: ModuleDescriptor = ModuleDescriptor {
    name: "proto_udp",
    params: &[ParamSpec::int("udp_port"), ParamSpec::int("udp_workers")],
    ..ModuleDescriptor::EMPTY
};

pub static PROTO_TCP: ModuleDescriptor = ModuleDescriptor {
    name: "proto_tcp",
    params: &[
        ParamSpec::int("tcp_port"),
        ParamSpec::int("tcp_send_timeout"),
        ParamSpec::int("tcp_max_msg_chunks"),
        ParamSpec::int("tcp_crlf_pingpong"),
        ParamSpec::int("tcp_crlf_drop"),
        ParamSpec::int("tcp_async"),
        ParamSpec::int("tcp_async_max_postponed_chunks"),
        ParamSpec::int("tcp_async_local_connect_timeout"),
        ParamSpec::int("tcp_async_local_write_timeout"),
        ParamSpec::int("trace_destination").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static PROTO_TLS: ModuleDescriptor = ModuleDescriptor {
    name: "proto_tls",
    params: &[
        ParamSpec::int("tls_port"),
        ParamSpec::int("tls_crlf_pingpong"),
        ParamSpec::int("tls_crlf_drop"),
        ParamSpec::int("tls_max_msg_chunks"),
        ParamSpec::int("tls_handshake_timeout"),
        ParamSpec::int("tls_send_timeout"),
        ParamSpec::int("trace_destination").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static PROTO_WS: ModuleDescriptor = ModuleDescriptor {
    name: "proto_ws",
    params: &[
        ParamSpec::int("ws_port"),
        ParamSpec::int("ws_send_timeout"),
        ParamSpec::int("ws_max_msg_chunks"),
        ParamSpec::str("ws_resource"),
        ParamSpec::int("ws_handshake_timeout"),
        ParamSpec::int("trace_destination").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static PROTO_WSS: ModuleDescriptor = ModuleDescriptor {
    name: "proto_wss",
    params: &[
        ParamSpec::int("wss_port"),
        ParamSpec::int("wss_max_msg_chunks"),
        ParamSpec::str("wss_resource"),
        ParamSpec::int("wss_handshake_timeout"),
        ParamSpec::int("trace_destination").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static TLS_MGM: ModuleDescriptor = ModuleDescriptor {
    name: "tls_mgm",
    params: &[
        ParamSpec::str("server_domain").multi(),
        ParamSpec::str("client_domain").multi(),
        ParamSpec::str("match_ip_address").multi(),
        ParamSpec::str("match_sip_domain").multi(),
        ParamSpec::any("certificate").multi(),
        ParamSpec::any("private_key").multi(),
        ParamSpec::any("ca_list").multi(),
        ParamSpec::any("ca_dir").multi(),
        ParamSpec::any("crl_dir").multi(),
        ParamSpec::any("crl_check_all").multi(),
        ParamSpec::any("ciphers_list").multi(),
        ParamSpec::any("dh_params").multi(),
        ParamSpec::any("ec_curve").multi(),
        ParamSpec::any("verify_cert").multi(),
        ParamSpec::any("require_cert").multi(),
        ParamSpec::any("tls_method").multi(),
        ParamSpec::str("tls_library"),
        ParamSpec::str("client_tls_domain_avp"),
        ParamSpec::str("client_sip_domain_avp"),
        ParamSpec::int("tls_handshake_timeout"),
        ParamSpec::int("tls_send_timeout"),
        ParamSpec::str("db_url"),
        ParamSpec::str("db_table"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static TLS_OPENSSL: ModuleDescriptor = ModuleDescriptor {
    name: "tls_openssl",
    ..ModuleDescriptor::EMPTY
};

pub static TLS_WOLFSSL: ModuleDescriptor = ModuleDescriptor {
    name: "tls_wolfssl",
    ..ModuleDescriptor::EMPTY
};

pub static DB_SQLITE: ModuleDescriptor = ModuleDescriptor {
    name: "db_sqlite",
    params: &[
        ParamSpec::int("alloc_limit"),
        ParamSpec::int("busy_timeout"),
        ParamSpec::str("load_extension").multi(),
        ParamSpec::str("exec_pragma").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static DB_POSTGRES: ModuleDescriptor = ModuleDescriptor {
    name: "db_postgres",
    params: &[
        ParamSpec::int("exec_query_threshold"),
        ParamSpec::int("max_db_queries"),
        ParamSpec::int("timeout"),
        ParamSpec::int("use_tls"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static DB_MYSQL: ModuleDescriptor = ModuleDescriptor {
    name: "db_mysql",
    params: &[
        ParamSpec::int("ping_interval"),
        ParamSpec::int("timeout_interval"),
        ParamSpec::int("exec_query_threshold"),
        ParamSpec::int("max_db_queries"),
        ParamSpec::int("max_db_retries"),
        ParamSpec::int("ps_max_col_size"),
        ParamSpec::int("use_tls"),
    ],
    ..ModuleDescriptor::EMPTY
};
