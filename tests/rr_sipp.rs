//! rr end to end: sipp caller → osips (stateless `forward()`, `record_route()`) → sipp callee.
//! The callee sees our Record-Route; the ACK and the callee's BYE are routed by `loose_route()`;
//! double Record-Route on UDP → TCP; the strict-router fix-up; `check_route_param` and
//! `is_direction`.

mod common;
mod rr_support;

use common::scenario::{self, Check, recv_with, routed};
use rr_support::{Osips, Sipp, relay_once};

/// Record-routes initial requests to the callee on `callee_port` (over TCP when the user is `tcp`);
/// in-dialog requests follow loose_route and get X-Param / X-Dir headers showing what rr saw.
fn script(callee_port: u16) -> String {
    format!(
        "socket = udp:127.0.0.1:@PORT@\nsocket = tcp:127.0.0.1:@PORT@\nudp_workers = 2\n\
loadmodule \"sl.so\"\nloadmodule \"rr.so\"\nloadmodule \"sipmsgops.so\"\n\
modparam(\"rr\", \"append_fromtag\", 1)\n\
route {{\n\
  if (has_totag()) {{\n\
    if (loose_route()) {{\n\
      if (check_route_param(\"foo=bar\")) {{ append_hf(\"X-Param: yes\\r\\n\"); }}\n\
      append_hf(\"X-RR: $rr_params\\r\\n\");\n\
      if (is_direction(\"downstream\")) {{ append_hf(\"X-Dir: down\\r\\n\"); }} else {{ append_hf(\"X-Dir: up\\r\\n\"); }}\n\
      forward();\n\
      exit;\n\
    }}\n\
    sl_send_reply(404, \"Not here\");\n\
    exit;\n\
  }}\n\
  if ($rU == \"preset\") {{ record_route_preset(\"127.0.0.1:@PORT@;p=1\"); add_rr_param(\";x=y\"); }}\n\
  else {{ record_route(\";foo=bar\"); }}\n\
  if ($rU == \"tcp\") {{ $ru = \"sip:bob@127.0.0.1:{callee_port};transport=tcp\"; }}\n\
  else {{ $ru = \"sip:bob@127.0.0.1:{callee_port}\"; }}\n\
  forward();\n\
}}\n"
    )
}

const CALLER: &str = "sipp <sip:sipp@[local_ip]:[local_port]>;tag=caller1";
const FROM_CALLER: &str = "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=caller1";

/// `<ereg>` actions of `checks` on the whole message (`!regex`: must not match), into `prefix`N.
fn actions(checks: &[&str], prefix: &str, vars: &mut Vec<String>) -> String {
    let checks: Vec<Check<'_>> = checks.iter().map(|c| Check::msg(c)).collect();
    let (xml, v) = scenario::ereg_actions(&checks, prefix);
    vars.extend(v);
    xml
}

/// The caller: INVITE, 200 (with our Record-Route), ACK along the route set, then the callee's
/// BYE arrives routed back (upstream) and is answered.
fn caller(user: &str, rr_checks: &[&str]) -> String {
    let mut vars = Vec::new();
    let mut s = scenario::invite_to(
        &format!("sip:{user}@127.0.0.1:[remote_port]"),
        CALLER,
        &format!("<sip:{user}@127.0.0.1>"),
        "<sip:sipp@[local_ip]:[local_port]>",
        None,
    );
    s += &recv_with(
        "response=\"200\" rrs=\"true\"",
        &actions(rr_checks, "c", &mut vars),
    );
    s += &routed("ACK", FROM_CALLER, "[last_To:]", 1, false);
    let bye_checks = [
        "^BYE sip:sipp@127\\.0\\.0\\.1:[0-9]+ SIP/2\\.0",
        "X-Dir: up",
        "X-Param: yes",
        "![[:space:]]Route:",
    ];
    s += &recv_with("request=\"BYE\"", &actions(&bye_checks, "b", &mut vars));
    s += &scenario::ok_to_last();
    scenario::wrap("rr caller", &s, &vars)
}

/// The callee: checks the Record-Route of the INVITE, answers with it, checks the ACK was
/// routed to it (downstream, our Route removed) and hangs up along the route set.
fn callee(rr_checks: &[&str]) -> String {
    let mut vars = Vec::new();
    let mut s = recv_with(
        "request=\"INVITE\" rrs=\"true\"",
        &actions(rr_checks, "c", &mut vars),
    );
    s += &scenario::answer(
        "callee1",
        "<sip:bob@[local_ip]:[local_port];transport=[transport]>",
        None,
    );
    let ack_checks = ["X-Dir: down", "X-Param: yes", "![[:space:]]Route:"];
    s += &recv_with("request=\"ACK\"", &actions(&ack_checks, "a", &mut vars));
    s += "  <pause milliseconds=\"200\"/>\n";
    s += &routed(
        "BYE",
        "From: <sip:bob@127.0.0.1>;tag=callee1",
        "To: sipp <sip:sipp@127.0.0.1>;tag=caller1",
        2,
        true,
    );
    s += "  <recv response=\"200\"/>\n";
    scenario::wrap("rr callee", &s, &vars)
}

fn call(tcp_callee: bool, rr_checks: &[&str]) {
    let callee_port = if tcp_callee {
        common::free_tcp_port()
    } else {
        common::free_udp_port()
    };
    let port = common::free_port();
    let o = Osips::start(&script(callee_port), port, &[]);
    let checks: Vec<String> = rr_checks
        .iter()
        .map(|c| c.replace("@PORT@", &port.to_string()))
        .collect();
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    let b = Sipp::uas("callee", &callee(&checks), callee_port, tcp_callee);
    let user = if tcp_callee { "tcp" } else { "bob" };
    let a = Sipp::run(
        "caller",
        &caller(user, &checks),
        common::free_udp_port(),
        false,
        Some(format!("127.0.0.1:{port}")),
    );
    a.done(&o);
    b.done(&o);
}

#[test]
fn call_is_record_routed_and_the_callee_bye_follows_the_route_set() {
    if common::sipp().is_none() {
        return;
    }
    call(
        false,
        &["Record-Route: <sip:127\\.0\\.0\\.1:@PORT@;lr;ftag=caller1;foo=bar>"],
    );
}

#[test]
fn udp_to_tcp_gets_two_record_routes() {
    if common::sipp().is_none() {
        return;
    }
    call(
        true,
        // Outbound (TCP) side on top; sipp's callee copies both into one line of its 200.
        &[
            "Record-Route: <sip:127\\.0\\.0\\.1:@PORT@;transport=tcp;r2=on;lr;ftag=caller1;foo=bar>\
           (, |[[:space:]]+Record-Route: )<sip:127\\.0\\.0\\.1:@PORT@;r2=on;lr;ftag=caller1;foo=bar>",
        ],
    );
}

fn in_dialog(request_line: &str, route: &str, uas_checks: &[&str]) {
    let uas_port = common::free_udp_port();
    let port = common::free_port();
    let o = Osips::start(&script(uas_port), port, &[]);
    let fill = |s: &str| {
        s.replace("@PORT@", &port.to_string())
            .replace("@UAS@", &uas_port.to_string())
    };
    let checks: Vec<String> = uas_checks.iter().map(|c| fill(c)).collect();
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    let route = fill(route);
    relay_once(
        &o,
        "in-dialog MESSAGE",
        uas_port,
        &checks,
        &fill(request_line),
        ";tag=callee1",
        &[&route],
    );
}

#[test]
fn strict_router_fix_up_takes_the_last_route_as_request_uri() {
    if common::sipp().is_none() {
        return;
    }
    // A strict router upstream sent our Record-Route as Request-URI and the target as last Route.
    in_dialog(
        "MESSAGE sip:127.0.0.1:@PORT@;ftag=caller1;foo=bar",
        "Route: <sip:bob@127.0.0.1:@UAS@>",
        &[
            "^MESSAGE sip:bob@127\\.0\\.0\\.1:@UAS@ SIP/2\\.0",
            "X-Param: yes",
            "X-Dir: down",
            "![[:space:]]Route:",
        ],
    );
}

#[test]
fn route_params_and_direction() {
    if common::sipp().is_none() {
        return;
    }
    // Our Route with another ftag than the From tag: upstream; no foo=bar: check_route_param fails.
    in_dialog(
        "MESSAGE sip:bob@127.0.0.1:@UAS@",
        "Route: <sip:127.0.0.1:@PORT@;lr;ftag=callee1;foo=baz>",
        &[
            "^MESSAGE sip:bob@127\\.0\\.0\\.1:@UAS@ SIP/2\\.0",
            "X-Dir: up",
            "!X-Param",
            "X-RR: lr;ftag=callee1;foo=baz",
        ],
    );
}

#[test]
fn preset_record_route_with_added_param() {
    if common::sipp().is_none() {
        return;
    }
    let uas_port = common::free_udp_port();
    let port = common::free_port();
    let o = Osips::start(&script(uas_port), port, &[]);
    let check = format!("Record-Route: <sip:127\\.0\\.0\\.1:{port};p=1;lr;ftag=caller1;x=y>");
    relay_once(
        &o,
        "MESSAGE to preset",
        uas_port,
        &[&check],
        "MESSAGE sip:preset@127.0.0.1:[remote_port]",
        "",
        &[],
    );
}
