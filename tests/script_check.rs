//! Golden tests of `osips -C` diagnostics: each `tests/fixtures/script/errors/NAME.cfg` is compiled
//! against a small set of test module descriptors and its rendered diagnostics must equal
//! `NAME.expected`. Set `OSIPS_BLESS=1` to rewrite the expected files after a deliberate change.

use osips::script::module::p;
use osips::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, Registry, RouteMask, RunCtx,
    ast::RouteKind, check_file,
};
use std::path::Path;

fn ok(_: &mut RunCtx<'_>, _: &[ArgValue<'_>]) -> i32 {
    1
}

const REQ_FAIL: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);

static SL: ModuleDescriptor = ModuleDescriptor {
    name: "sl",
    params: &[ParamSpec::int("enable_stats")],
    functions: &[
        FunctionSpec {
            name: "sl_send_reply",
            params: &[p::INT, p::STR],
            routes: REQ_FAIL,
            handler: ok,
        },
        FunctionSpec {
            name: "sl_reply_error",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: ok,
        },
    ],
    ..ModuleDescriptor::EMPTY
};

static TM: ModuleDescriptor = ModuleDescriptor {
    name: "tm",
    params: &[
        ParamSpec::int("fr_timeout"),
        ParamSpec::int("fr_inv_timeout"),
    ],
    functions: &[
        FunctionSpec {
            name: "t_relay",
            params: &[p::OPT_STR],
            routes: RouteMask::REQUEST
                .or(RouteMask::FAILURE)
                .or(RouteMask::BRANCH),
            handler: ok,
        },
        FunctionSpec {
            name: "t_newtran",
            params: &[],
            routes: RouteMask::REQUEST,
            handler: ok,
        },
        FunctionSpec {
            name: "t_on_failure",
            params: &[p::route(RouteKind::Failure)],
            routes: REQ_FAIL.or(RouteMask::BRANCH),
            handler: ok,
        },
        FunctionSpec {
            name: "t_on_branch",
            params: &[p::route(RouteKind::Branch)],
            routes: REQ_FAIL,
            handler: ok,
        },
        FunctionSpec {
            name: "t_check_status",
            params: &[p::REGEX],
            routes: RouteMask::FAILURE.or(RouteMask::REQUEST),
            handler: ok,
        },
    ],
    ..ModuleDescriptor::EMPTY
};

static RR: ModuleDescriptor = ModuleDescriptor {
    name: "rr",
    params: &[ParamSpec::int("append_fromtag")],
    functions: &[FunctionSpec {
        name: "record_route",
        params: &[p::OPT_STR],
        routes: RouteMask::REQUEST,
        handler: ok,
    }],
    ..ModuleDescriptor::EMPTY
};

static USRLOC: ModuleDescriptor = ModuleDescriptor {
    name: "usrloc",
    params: &[ParamSpec::bflag("nat_bflag"), ParamSpec::str("db_url")],
    ..ModuleDescriptor::EMPTY
};

fn registry() -> Registry {
    Registry::with(&[&SL, &TM, &RR, &USRLOC])
}

fn golden(name: &str) {
    let dir = Path::new("tests/fixtures/script/errors");
    let cfg = dir.join(format!("{name}.cfg"));
    let checked = check_file(&cfg, &registry()).expect("fixture readable");
    let got = checked.render();
    let expected_path = dir.join(format!("{name}.expected"));
    if std::env::var_os("OSIPS_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "missing {} (run with OSIPS_BLESS=1)",
            expected_path.display()
        )
    });
    assert_eq!(got, expected, "diagnostics of {name}.cfg changed:\n{got}");
    assert!(
        checked.has_errors() || name == "legacy",
        "{name}.cfg should have errors"
    );
}

#[test]
fn unknown_function() {
    golden("unknown_function");
}

#[test]
fn arguments() {
    golden("arguments");
}

#[test]
fn route_types() {
    golden("route_types");
}

#[test]
fn routes() {
    golden("routes");
}

#[test]
fn modules() {
    golden("modules");
}

#[test]
fn syntax() {
    golden("syntax");
}

#[test]
fn variables() {
    golden("variables");
}

#[test]
fn globals() {
    golden("globals");
}

#[test]
fn legacy() {
    golden("legacy");
}

#[test]
fn include_errors_point_into_the_included_file() {
    golden("include_main");
}

#[test]
fn no_main_route() {
    golden("no_main_route");
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let checked = check_file(
        Path::new("tests/fixtures/script/errors/arguments.cfg"),
        &registry(),
    )
    .unwrap();
    assert!(checked.errors().count() >= 8, "{}", checked.render());
}

#[test]
fn a_clean_script_compiles_without_diagnostics() {
    let text = r#"
log_level = 3
socket = udp:127.0.0.1:5060
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "usrloc.so"
modparam("tm", "fr_timeout", 5)
modparam("usrloc", "nat_bflag", "NAT")

route {
    if ($rU == NULL) {
        sl_send_reply(484, "Address Incomplete");
        exit;
    }
    t_on_failure("missed");
    setflag("ACC");
    if (isbflagset("NAT"))
        setbflag("PING");
    if (!t_relay())
        sl_reply_error();
}

failure_route[missed] {
    if (t_check_status("408"))
        t_relay();
}
"#;
    let checked = osips::script::check_str("clean.cfg", text, &registry());
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
    let script = checked.script.unwrap();
    assert_eq!(script.global_int("log_level"), Some(3));
    assert_eq!(script.sockets.len(), 1);
    assert_eq!(
        script.modparams["tm"].get("fr_timeout"),
        Some(&osips::script::module::ParamValue::Int(5))
    );
    assert!(script.route(RouteKind::Failure, Some("missed")).is_some());
    // Flag names get ids at compile time; a modparam flag shares the setbflag() name space.
    assert_eq!(
        script.flags.branch,
        vec!["NAT".to_string(), "PING".to_string()]
    );
    assert_eq!(script.flags.msg_id("ACC"), Some(0));
}
