//! Modules whose job the osips core does itself: the transport protocols (`proto_udp`,
//! `proto_tcp`) and the database drivers (`db_sqlite`, `db_postgres`, `db_mysql`). OpenSIPS
//! scripts load them; osips accepts them, with their parameters, so those scripts run unchanged.
//! What their parameters mean here: `udp_port` / `tcp_port` are the port of a `socket=` line that
//! gives none (read by `runtime::settings`); the database drivers' tuning knobs are accepted and
//! have no effect (the drivers are rusqlite and sqlx, chosen by the `db_url` scheme).

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
