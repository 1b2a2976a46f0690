//! Wire compatibility with the real `opensips-cli` (PyPI package `opensipscli`), installed into a
//! virtualenv under the target directory on first use, driving the MI servers over HTTP, FIFO and
//! datagram. With `CI` set the test fails when python3 / pip cannot provide the tool.

mod mi_support;
mod opensips_cli_support;

use std::path::Path;

use mi_support::start;
use opensips_cli_support::{opensips_cli, run};

fn check_all(cli: &Path, h: &mi_support::Harness, cfg: &str) {
    let home = h.dir.path();
    let up = run(cli, home, cfg, &["uptime"]);
    assert!(up["Up time"].as_str().unwrap().ends_with("[sec]"), "{up}");
    let which = run(cli, home, cfg, &["which"]);
    assert!(
        which.as_array().unwrap().iter().any(|c| c == "uptime"),
        "{which}"
    );
    let ps = run(cli, home, cfg, &["ps"]);
    assert!(
        ps["Processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Type"] == "MI FIFO"),
        "{ps}"
    );
    h.core_stats.rcv_requests.add(1);
    let stats = run(cli, home, cfg, &["get_statistics", "all"]);
    assert!(stats["core:rcv_requests"].as_u64().unwrap() >= 1, "{stats}");
    let one = run(cli, home, cfg, &["get_statistics", "core:", "tm:"]);
    assert!(one.get("core:fwd_requests").is_some(), "{one}");
    let named = run(cli, home, cfg, &["which", "command=get_statistics"]);
    assert_eq!(named, serde_json::json!([["statistics"]]));
}

const COMMON: &str = "[default]\nlog_level: WARNING\noutput_type: pretty-print\nprompt_emptyline_repeat_cmd: False\n";

#[test]
fn opensips_cli_over_http() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: http\nurl: http://{}/mi\n",
        h.http
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_fifo() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: fifo\nfifo_file: {f}\nfifo_file_fallback: {f}\nfifo_reply_dir: {d}\n",
        f = h.fifo_cfg.path.display(),
        d = h.fifo_cfg.reply_dir.display()
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_datagram() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: datagram\ndatagram_ip: {}\ndatagram_port: {}\ndatagram_timeout: 5\n",
        h.udp.ip(),
        h.udp.port()
    );
    check_all(&cli, &h, &cfg);
}

#[test]
fn opensips_cli_over_unix_datagram() {
    let Some(cli) = opensips_cli() else { return };
    let h = start();
    let cfg = format!(
        "{COMMON}communication_type: datagram\ndatagram_unix_socket: {}\ndatagram_timeout: 5\n",
        h.unix.display()
    );
    check_all(&cli, &h, &cfg);
}
