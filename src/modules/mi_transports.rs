//! The MI transport modules (httpd, mi_http, mi_fifo, mi_datagram, prometheus): parameters only;
//! the runtime starts the servers from them (`crate::mi::servers`).

use crate::script::{ModuleDescriptor, ParamSpec};

pub static HTTPD: ModuleDescriptor = ModuleDescriptor {
    name: "httpd",
    params: &[
        ParamSpec::str("ip"),
        ParamSpec::str("listen_ip"),
        ParamSpec::int("port"),
        ParamSpec::int("listen_port"),
        ParamSpec::int("post_buf_size"),
        ParamSpec::int("buf_size"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static MI_HTTP: ModuleDescriptor = ModuleDescriptor {
    name: "mi_http",
    deps: &["httpd"],
    params: &[
        ParamSpec::str("root"),
        ParamSpec::any("pretty_printing"),
        ParamSpec::str("trace_destination"),
        ParamSpec::str("trace_bwlist"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static MI_FIFO: ModuleDescriptor = ModuleDescriptor {
    name: "mi_fifo",
    params: &[
        ParamSpec::str("fifo_name"),
        ParamSpec::any("fifo_mode"),
        ParamSpec::any("fifo_user"),
        ParamSpec::any("fifo_group"),
        ParamSpec::str("reply_dir"),
        ParamSpec::any("pretty_printing"),
        ParamSpec::str("trace_destination"),
        ParamSpec::str("trace_bwlist"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static MI_DATAGRAM: ModuleDescriptor = ModuleDescriptor {
    name: "mi_datagram",
    params: &[
        ParamSpec::str("socket_name").multi(),
        ParamSpec::any("unix_socket_mode"),
        ParamSpec::any("pretty_printing"),
        ParamSpec::str("trace_destination"),
        ParamSpec::str("trace_bwlist"),
    ],
    ..ModuleDescriptor::EMPTY
};

pub static PROMETHEUS: ModuleDescriptor = ModuleDescriptor {
    name: "prometheus",
    deps: &["httpd"],
    params: &[
        ParamSpec::str("root"),
        ParamSpec::str("prefix"),
        ParamSpec::str("delimiter"),
        ParamSpec::str("group_prefix"),
        ParamSpec::str("group_label"),
        ParamSpec::int("group_mode"),
        ParamSpec::str("statistics").multi(),
    ],
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use crate::script::{Registry, check_str};

    #[test]
    fn transport_modparams_compile() {
        let src = r#"
socket = udp:127.0.0.1:5060
loadmodule "httpd.so"
loadmodule "mi_http.so"
loadmodule "mi_fifo.so"
loadmodule "mi_datagram.so"
loadmodule "prometheus.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", 8888)
modparam("mi_http", "root", "mi")
modparam("mi_fifo", "fifo_name", "/tmp/osips_fifo")
modparam("mi_fifo", "fifo_mode", 0600)
modparam("mi_fifo", "reply_dir", "/tmp/")
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:8080")
modparam("mi_datagram", "socket_name", "/tmp/osips.sock")
modparam("prometheus", "group_prefix", "osips_")
modparam("prometheus", "statistics", "core:")
route { exit; }
"#;
        let c = check_str("t.cfg", src, &Registry::builtin());
        assert!(!c.has_errors(), "{}", c.render());
        let bad = src.replace("\"port\", 8888", "\"no_such\", 1");
        let c = check_str("t.cfg", &bad, &Registry::builtin());
        assert!(c.has_errors());
        assert!(c.render().contains("no_such"), "{}", c.render());
    }
}
