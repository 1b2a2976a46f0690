//! `ps`, `uptime`, `version`, `ping` and `mi`: questions to the running osips over its MI.

use serde_json::{Map, Value as Json, json};

use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::mi_link;
use super::output::{Report, Table};

/// An object of scalars as a two-column table (`name`, `value`).
pub fn fields_table(v: &Json) -> Option<Table> {
    let o = v.as_object()?;
    let mut t = Table::new(&["name", "value"]);
    for (k, v) in o {
        t.push(vec![json!(k), v.clone()]);
    }
    Some(t)
}

fn data(v: Json) -> Report {
    Report {
        data: Some(v),
        ..Report::default()
    }
}

/// `ps`: MI `ps` as a table ID, PID, Type.
pub fn ps(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_link::run(&ctx.rc, "ps", json!([]))?;
    let procs = v
        .get("Processes")
        .and_then(Json::as_array)
        .ok_or_else(|| bad_shape("ps", &v))?;
    let mut t = Table::new(&["ID", "PID", "Type"]);
    for p in procs {
        t.push(vec![
            p.get("ID").cloned().unwrap_or(Json::Null),
            p.get("PID").cloned().unwrap_or(Json::Null),
            p.get("Type").cloned().unwrap_or(Json::Null),
        ]);
    }
    Ok(Report::table(t))
}

fn bad_shape(method: &str, v: &Json) -> Failure {
    Failure::failed(
        format!("osips answered {method} with an unexpected result: {v}"),
        "run `osipsctl mi` with the command to see the raw answer",
    )
}

/// `uptime`: MI `uptime` (Now, Up since, Up time).
pub fn uptime(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_link::run(&ctx.rc, "uptime", json!([]))?;
    let t = fields_table(&v).ok_or_else(|| bad_shape("uptime", &v))?;
    Ok(Report::table(t).field("result", v))
}

/// `version`: MI `version` (the server string).
pub fn version(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_link::run(&ctx.rc, "version", json!([]))?;
    let server = v
        .get("Server")
        .and_then(Json::as_str)
        .ok_or_else(|| bad_shape("version", &v))?
        .to_string();
    Ok(data(json!(server)).field("server", v))
}

/// opensips-cli's commands whose parameter at `.0` is an array (`MI_ARRAY_PARAMS_COMMANDS`).
fn array_param(command: &str) -> Option<(usize, &'static str)> {
    Some(match command {
        "fs_subscribe" | "fs_unsubscribe" => (1, "events"),
        "b2b_trigger_scenario" => (1, "scenario_params"),
        "dlg_push_var" => (2, "DID"),
        "get_statistics" | "list_statistics" | "reset_statistics" => (0, "statistics"),
        "trace_start" => (0, "filter"),
        "raise_event" => (1, "params"),
        _ => return None,
    })
}

fn param_name(arg: &str) -> Option<(&str, &str)> {
    let (name, value) = arg.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    ok.then_some((name, value))
}

/// `mi` arguments as JSON-RPC params: all `name=value` (an object) or none (an array); the
/// array parameters opensips-cli knows take the remaining words.
pub fn mi_params(command: &str, args: &[String]) -> Outcome<Json> {
    let named: Vec<_> = args.iter().filter_map(|a| param_name(a)).collect();
    if !named.is_empty() && named.len() != args.len() {
        return Err(Failure::usage(
            "mixed named (name=value) and positional parameters",
            "give every parameter as name=value, or none",
        ));
    }
    let array = array_param(command);
    if !named.is_empty() {
        let mut o = Map::new();
        for (name, value) in named {
            let v = match array {
                Some((_, a)) if a == name => {
                    json!(value.split_whitespace().collect::<Vec<_>>())
                }
                _ => json!(value),
            };
            if o.insert(name.to_string(), v).is_some() {
                return Err(Failure::usage(
                    format!("parameter `{name}` given twice"),
                    "give each parameter once",
                ));
            }
        }
        return Ok(Json::Object(o));
    }
    let mut out: Vec<Json> = Vec::new();
    match array {
        Some((idx, _)) if args.len() > idx => {
            out.extend(args[..idx].iter().map(|a| json!(a)));
            out.push(json!(args[idx..]));
        }
        _ => out.extend(args.iter().map(|a| json!(a))),
    }
    Ok(Json::Array(out))
}

/// `mi <command> [args...]`: the raw result.
pub fn mi(ctx: &Ctx, command: &str, args: &[String]) -> Outcome<Report> {
    if command.is_empty()
        || !command
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c))
    {
        return Err(Failure::usage(
            format!("`{command}` is not an MI command name"),
            "list the commands with `osipsctl mi which`",
        ));
    }
    let params = mi_params(command, args)?;
    let v = mi_link::run(&ctx.rc, command, params)?;
    Ok(data(v))
}

fn host_name(ctx: &Ctx) -> String {
    if let Some(d) = ctx.rc.sip_domain() {
        return d.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The headers opensipsctl's `ping` gave `t_uac_dlg`.
pub fn ping_headers(uri: &str, host: &str, tag: &str) -> String {
    format!(
        "From: <sip:daemon@{host}>;tag={tag}\r\nTo: <{uri}>\r\nContact: <sip:daemon@{host}>\r\n"
    )
}

/// `ping <uri>`: MI `t_uac_dlg` OPTIONS; prints the reply's status line.
pub fn ping(ctx: &Ctx, uri: &str) -> Outcome<Report> {
    let lower = uri.to_ascii_lowercase();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:"))
        || uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(Failure::usage(
            format!("`{uri}` is not a SIP URI"),
            "give sip:user@host or sip:host[:port]",
        ));
    }
    let tag = format!(
        "{:x}",
        super::ctx::unix_now() ^ i64::from(std::process::id())
    );
    let params = json!({
        "method": "OPTIONS",
        "ruri": uri,
        "headers": ping_headers(uri, &host_name(ctx), &tag),
    });
    let v = mi_link::run(&ctx.rc, "t_uac_dlg", params)?;
    let status = v
        .get("Status")
        .or_else(|| v.get("status"))
        .and_then(Json::as_str)
        .map(str::to_string);
    Ok(match status {
        Some(s) => data(json!(s)).field("reply", v),
        None => data(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn named_positional_and_array_params() {
        assert_eq!(
            mi_params("log_level", &s(&["level=4", "pid=12"])).unwrap(),
            json!({"level": "4", "pid": "12"})
        );
        assert_eq!(
            mi_params("ul_show_contact", &s(&["location", "a@b"])).unwrap(),
            json!(["location", "a@b"])
        );
        assert_eq!(
            mi_params("get_statistics", &s(&["core:", "shmem:"])).unwrap(),
            json!([["core:", "shmem:"]])
        );
        assert_eq!(
            mi_params("get_statistics", &s(&["statistics=core: shmem:"])).unwrap(),
            json!({"statistics": ["core:", "shmem:"]})
        );
        assert_eq!(
            mi_params("raise_event", &s(&["E_X", "a", "b"])).unwrap(),
            json!(["E_X", ["a", "b"]])
        );
        // a URI with `=` in its parameters is positional
        assert_eq!(
            mi_params("x", &s(&["sip:a@b;transport=udp"])).unwrap(),
            json!(["sip:a@b;transport=udp"])
        );
        assert_eq!(mi_params("which", &[]).unwrap(), json!([]));
        assert_eq!(
            mi_params("x", &s(&["a=1", "b"])).unwrap_err().code,
            super::super::exit::USAGE
        );
        assert_eq!(
            mi_params("x", &s(&["a=1", "a=2"])).unwrap_err().code,
            super::super::exit::USAGE
        );
    }

    #[test]
    fn ping_headers_are_those_of_opensipsctl() {
        assert_eq!(
            ping_headers("sip:bob@127.0.0.2", "example.com", "ab"),
            "From: <sip:daemon@example.com>;tag=ab\r\nTo: <sip:bob@127.0.0.2>\r\nContact: <sip:daemon@example.com>\r\n"
        );
    }
}
