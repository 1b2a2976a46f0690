//! The core MI commands and their OpenSIPS result shapes, over HTTP.

mod mi_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mi_support::{TIMEOUT, start};
use osips::mi::MiError;
use osips::mi::client::{self, ClientError};
use osips::mi::process::{L_DBG, L_ERR};
use osips::stats::StatDef;
use serde_json::{Value, json};

fn mi(h: &mi_support::Harness, method: &str, params: Value) -> Result<Value, MiError> {
    match client::call(&h.http_target(), method, params, TIMEOUT) {
        Ok(v) => Ok(v),
        Err(ClientError::Mi(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn which_help_and_names() {
    let h = start();
    let names = mi(&h, "which", json!({})).unwrap();
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        &names[..4],
        &[
            "get_statistics",
            "list_statistics",
            "reset_statistics",
            "reset_all_statistics"
        ]
    );
    for c in [
        "uptime",
        "version",
        "pwd",
        "arg",
        "which",
        "ps",
        "kill",
        "log_level",
        "cache_store",
        "cache_fetch",
        "cache_remove",
        "event_subscribe",
        "events_list",
        "subscribers_list",
        "raise_event",
        "reload_routes",
        "help",
    ] {
        assert!(names.contains(&c), "{c}");
    }
    assert_eq!(
        mi(&h, "which", json!({"command":"log_level"})).unwrap(),
        json!([[], ["level"], ["level", "pid"]])
    );
    assert_eq!(
        mi(&h, "which", json!(["nope"])).unwrap_err(),
        MiError::new(404, "unknown MI command")
    );
    assert_eq!(
        mi(&h, "help", json!({})).unwrap(),
        "Usage: help mi_cmd - returns information about 'mi_cmd'"
    );
    assert_eq!(
        mi(&h, "help", json!(["get_statistics"])).unwrap(),
        json!({"Help":"prints the statistics (all, group or one) realtime values.","Exported by":"statistics"})
    );
    // 4.0 style names and the old `debug` name answer too
    assert!(mi(&h, "core:uptime", json!({})).unwrap()["Up time"].is_string());
    assert!(mi(&h, "statistics:get_statistics", json!([["all"]])).is_ok());
    assert!(mi(&h, "debug", json!({})).unwrap()["Processes"].is_array());
}

#[test]
fn process_and_environment_commands() {
    let h = start();
    let ps = mi(&h, "ps", json!({})).unwrap();
    let procs = ps["Processes"].as_array().unwrap();
    assert_eq!(
        procs[0],
        json!({"ID":0,"PID":std::process::id(),"Type":"attendant"})
    );
    assert!(procs.iter().any(|p| p["Type"] == "MI FIFO"));
    assert!(
        procs
            .iter()
            .any(|p| p["Type"].as_str().unwrap().starts_with("HTTPD 127.0.0.1:"))
    );
    let wd = std::env::current_dir().unwrap().display().to_string();
    assert_eq!(mi(&h, "pwd", json!({})).unwrap(), json!({"WD": wd}));
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(mi(&h, "arg", json!({})).unwrap(), json!(args));
    let v = mi(&h, "version", json!({})).unwrap();
    assert!(
        v["Server"]
            .as_str()
            .unwrap()
            .starts_with(&format!("osips ({}", osips::VERSION))
    );
}

#[test]
fn log_levels() {
    let h = start();
    assert_eq!(
        mi(&h, "log_level", json!([L_ERR])).unwrap(),
        json!({"New global log level": L_ERR})
    );
    assert_eq!(h.procs.global_level(), L_ERR);
    let fifo_pid = h
        .procs
        .list()
        .iter()
        .find(|p| p.desc == "MI FIFO")
        .unwrap()
        .pid;
    assert_eq!(
        mi(&h, "log_level", json!({"level": "4", "pid": fifo_pid})).unwrap(),
        json!({"Log level": L_DBG})
    );
    let list = mi(&h, "log_level", json!({})).unwrap();
    let fifo = list["Processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Type"] == "MI FIFO")
        .unwrap()
        .clone();
    assert_eq!(
        fifo,
        json!({"PID": fifo_pid, "Log level": L_DBG, "Type": "MI FIFO"})
    );
    assert_eq!(
        mi(&h, "log_level", json!([3, 1])).unwrap_err(),
        MiError::invalid_params("Bad PID")
    );
    assert_eq!(
        mi(&h, "log_level", json!(["high"])).unwrap_err(),
        MiError::invalid_params("Bad type for parameter 'level'")
    );
    assert_eq!(
        mi(&h, "xlog_level", json!([2])).unwrap(),
        json!({"New xLog level": 2})
    );
    assert_eq!(
        mi(&h, "xlog_level", json!({})).unwrap(),
        json!({"xLog Level": 2})
    );
}

#[test]
fn statistics_commands() {
    let h = start();
    let tm = h.stats.register_group(
        "tm",
        &[
            StatDef::counter("UAS_transactions"),
            StatDef::gauge("inuse_transactions"),
        ],
    );
    tm[0].add(3);
    tm[1].add(2);
    h.core_stats.rcv_requests.add(5);
    let all = mi(&h, "get_statistics", json!([["all"]])).unwrap();
    assert_eq!(all["core:rcv_requests"], 5);
    assert_eq!(all["tm:inuse_transactions"], 2);
    assert!(all["core:timestamp"].is_u64());
    let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "core:rcv_requests");
    assert_eq!(
        mi(
            &h,
            "get_statistics",
            json!({"statistics":["tm:", "rcv_requests"]})
        )
        .unwrap(),
        json!({"tm:UAS_transactions":3,"tm:inuse_transactions":2,"core:rcv_requests":5})
    );
    assert_eq!(
        mi(&h, "get_statistics", json!([["nope"]])).unwrap_err(),
        MiError::new(404, "Statistics Not Found")
    );
    assert_eq!(
        mi(&h, "get_statistics", json!([[]])).unwrap_err(),
        MiError::invalid_params("Empty array in parameter 'statistics'")
    );
    assert_eq!(
        mi(&h, "list_statistics", json!([["tm:"]])).unwrap(),
        json!({"tm:UAS_transactions":"incremental","tm:inuse_transactions":"non-incremental"})
    );
    assert_eq!(
        mi(&h, "list_statistics", json!([["UAS_transactions"]])).unwrap(),
        json!({"UAS_transactions":"incremental"})
    );
    assert_eq!(
        mi(&h, "list_statistics", json!({})).unwrap()["core:timestamp"],
        "non-incremental"
    );
    assert_eq!(
        mi(
            &h,
            "reset_statistics",
            json!([["UAS_transactions", "inuse_transactions"]])
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(tm[0].get(), 0);
    assert_eq!(tm[1].get(), 2);
    assert_eq!(
        mi(&h, "reset_statistics", json!([["nope"]]))
            .unwrap_err()
            .code,
        404
    );
    assert_eq!(mi(&h, "reset_all_statistics", json!({})).unwrap(), "OK");
    assert_eq!(h.core_stats.rcv_requests.get(), 0);
}

#[test]
fn cache_commands() {
    let h = start();
    assert_eq!(
        mi(&h, "cache_store", json!(["local", "k", "v", 100])).unwrap(),
        "OK"
    );
    assert_eq!(
        mi(&h, "cache_fetch", json!({"system":"local","attr":"k"})).unwrap(),
        json!({"key":"k","value":"v"})
    );
    assert_eq!(mi(&h, "cache_remove", json!(["local", "k"])).unwrap(), "OK");
    assert_eq!(
        mi(&h, "cache_fetch", json!(["local", "k"])).unwrap_err(),
        MiError::new(400, "Value not found")
    );
    assert_eq!(
        mi(&h, "cache_store", json!(["redis", "k", "v"])).unwrap_err(),
        MiError::new(500, "Cache store command failed")
    );
    assert_eq!(
        mi(&h, "cache_store", json!(["", "k", "v"])).unwrap_err(),
        MiError::invalid_params("Empty memory cache id")
    );
    assert_eq!(
        mi(&h, "cache_store", json!(["local", "", "v"])).unwrap_err(),
        MiError::invalid_params("Empty attribute name")
    );
    assert_eq!(
        mi(&h, "cache_store", json!(["local", "k", ""])).unwrap_err(),
        MiError::invalid_params("Empty value")
    );
    assert_eq!(
        mi(&h, "cache_store", json!(["local", "k", "v", -5])).unwrap_err(),
        MiError::invalid_params("Negative expire value")
    );
}

#[test]
fn kill_and_reload_routes_call_the_runtime_hooks() {
    let h = start();
    assert_eq!(
        mi(&h, "reload_routes", json!({})).unwrap_err().message,
        "reload failed"
    );
    let killed = Arc::new(AtomicBool::new(false));
    let k = killed.clone();
    h.core
        .set_kill_handler(Arc::new(move || k.store(true, Ordering::SeqCst)));
    assert_eq!(mi(&h, "kill", json!({})).unwrap(), "OK");
    assert!(killed.load(Ordering::SeqCst));
    let good = Arc::new(AtomicBool::new(true));
    let g = good.clone();
    h.core.set_reload_handler(Arc::new(move || {
        if g.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(vec!["opensips.cfg:12: unknown function 'foo'".into()])
        }
    }));
    assert_eq!(mi(&h, "reload_routes", json!({})).unwrap(), "OK");
    good.store(false, Ordering::SeqCst);
    assert_eq!(
        mi(&h, "reload_routes", json!({})).unwrap_err(),
        MiError::with_data(
            500,
            "reload failed",
            "opensips.cfg:12: unknown function 'foo'"
        )
    );
}
