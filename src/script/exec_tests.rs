//! Statement and operator semantics, checked by running small scripts without a SIP message.

use super::exec::{Interpreter, RunOutcome};
use super::module::{Registry, RunCtx};
use super::value::Value;
use super::vars::{AvpStore, SharedVars, VarStore};
use super::{Script, check_str};

fn compile(body: &str) -> Script {
    let text = format!("route {{\n{body}\n}}\n");
    let c = check_str("t.cfg", &text, &Registry::with(&[]));
    assert!(!c.has_errors(), "{}", c.render());
    c.script.unwrap()
}

fn compile_full(text: &str) -> Script {
    let c = check_str("t.cfg", text, &Registry::with(&[]));
    assert!(!c.has_errors(), "{}", c.render());
    c.script.unwrap()
}

struct Run {
    vars: VarStore,
    avps: AvpStore,
    out: RunOutcome,
}

fn run_script(script: &Script) -> Run {
    let mut vars = VarStore::default();
    let mut avps = AvpStore::default();
    let shv = SharedVars::default();
    let out = {
        let mut ctx = RunCtx {
            route: super::ast::RouteKind::Request,
            vars: &mut vars,
            avps: &mut avps,
            shv: &shv,
            msg: None,
            params: Vec::new(),
            returns: Vec::new(),
            last_rc: 1,
            err: None,
        };
        Interpreter::new(script).run_main(&mut ctx).unwrap()
    };
    Run { vars, avps, out }
}

fn run(body: &str) -> Run {
    run_script(&compile(body))
}

fn var(body: &str, name: &str) -> Value {
    run(body).vars.get(name)
}

#[test]
fn arithmetic_precedence_is_flat() {
    // + - * / % share one level, left to right: 2+3*4 = 20.
    assert_eq!(var("$var(x) = 2 + 3 * 4;", "x"), Value::Int(20));
    assert_eq!(var("$var(x) = 2 + (3 * 4);", "x"), Value::Int(14));
    assert_eq!(var("$var(x) = 10 - 4 - 3;", "x"), Value::Int(3));
    assert_eq!(var("$var(x) = 17 % 5;", "x"), Value::Int(2));
    assert_eq!(var("$var(x) = 7 / 2;", "x"), Value::Int(3));
    // The bitwise group binds looser than arithmetic: 1 | 2 + 4 = 1 | 6 = 7.
    assert_eq!(var("$var(x) = 1 | 2 + 4;", "x"), Value::Int(7));
    assert_eq!(var("$var(x) = 6 & 3;", "x"), Value::Int(2));
    assert_eq!(var("$var(x) = 6 ^ 3;", "x"), Value::Int(5));
    assert_eq!(var("$var(x) = 1 << 4;", "x"), Value::Int(16));
    assert_eq!(var("$var(x) = 256 >> 4;", "x"), Value::Int(16));
    assert_eq!(var("$var(x) = ~0;", "x"), Value::Int(-1));
    assert_eq!(var("$var(x) = -5 + 2;", "x"), Value::Int(-3));
}

#[test]
fn integers_wrap_at_32_bits() {
    assert_eq!(var("$var(x) = 2147483647 + 1;", "x"), Value::Int(i32::MIN));
}

#[test]
fn division_by_zero_gives_zero() {
    assert_eq!(var("$var(x) = 5 / 0;", "x"), Value::Int(0));
}

#[test]
fn string_concatenation_and_bitwise_strings() {
    assert_eq!(
        var(
            "$var(a) = \"sip:\"; $var(x) = $var(a) + \"alice\" + \"@\" + 5;",
            "x"
        ),
        Value::str("sip:alice@5")
    );
    assert_eq!(
        var(
            "$var(x) = \"ab\" ^ \"ab\"; $var(l) = $(var(x){s.len});",
            "l"
        ),
        Value::Int(2)
    );
    // A string minus anything is not defined: the assignment fails and leaves the variable alone.
    assert_eq!(var("$var(x) = 1; $var(x) = \"a\" - 1;", "x"), Value::Int(1));
}

#[test]
fn compound_assignment() {
    assert_eq!(
        var("$var(x) = 5; $var(x) += 3; $var(x) *= 2;", "x"),
        Value::Int(16)
    );
    assert_eq!(
        var("$var(x) = \"a\"; $var(x) += \"b\";", "x"),
        Value::str("ab")
    );
    // Mixed string / integer and NULL operands are errors: the value is kept.
    assert_eq!(var("$var(x) = \"a\"; $var(x) += 1;", "x"), Value::str("a"));
    assert_eq!(var("$var(x) = 5; $var(x) -= \"a\";", "x"), Value::Int(5));
    assert_eq!(var("$var(x) = null; $var(x) += 1;", "x"), Value::Null);
}

#[test]
fn string_comparison_is_case_insensitive() {
    assert_eq!(
        var(
            "$var(m) = \"invite\"; if ($var(m) == \"INVITE\") $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(m) = \"abc\"; if ($var(m) < \"ABD\") $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    // On a common prefix the longer string is greater.
    assert_eq!(
        var("$var(m) = \"abc\"; if ($var(m) > \"AB\") $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(m) = \"abc\"; if ($var(m) != \"ABC\") $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(2)
    );
}

#[test]
fn regex_match_is_case_insensitive() {
    assert_eq!(
        var(
            "$var(u) = \"sip:Alice@x\"; if ($var(u) =~ \"^sip:alice@\") $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var("$var(u) = \"abc\"; if ($var(u) !~ \"z\") $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(u) = \"abc\"; $var(re) = \"^A\"; if ($var(u) =~ $var(re)) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
}

#[test]
fn typed_comparisons() {
    // A string without an integer form compared with a number: type error, false.
    assert_eq!(
        var(
            "$var(a) = \"5\"; if ($var(a) == 5) $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(2)
    );
    // An integer has a string form.
    assert_eq!(
        var("$var(a) = 5; if ($var(a) == \"5\") $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(a) = 5; $var(b) = 7; if ($var(a) < $var(b)) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(a) = \"b\"; $var(b) = \"A\"; if ($var(a) > $var(b)) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
}

#[test]
fn null_comparisons() {
    assert_eq!(
        var("if ($var(nope) == null) $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var("$var(a) = 1; if ($var(a) != NULL) $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(a) = null; if ($var(a) == \"x\") $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(2)
    );
    assert_eq!(
        var("$var(a) = null; if ($var(a) != \"x\") $var(x) = 1;", "x"),
        Value::Int(1)
    );
}

#[test]
fn ip_network_comparison() {
    assert_eq!(
        var(
            "$var(ip) = \"10.1.2.3\"; if ($var(ip) == 10.0.0.0/8) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(ip) = \"10.1.2.3\"; if ($var(ip) != 192.168.0.0/16) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(ip) = \"10.1.2.3\"; if ($var(ip) == 10.1.0.0/255.255.0.0) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
}

#[test]
fn logical_operators_same_precedence_left_assoc() {
    // a || b && c == (a || b) && c: with a=1, b=0, c=0 -> false.
    let body = "$var(a) = 1; $var(b) = 0; $var(c) = 0; if ($var(a) || $var(b) && $var(c)) $var(x) = 1; else $var(x) = 2;";
    assert_eq!(var(body, "x"), Value::Int(2));
    assert_eq!(
        var(
            "$var(a) = 1; if (not $var(a) or $var(a) and !$var(b)) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
}

#[test]
fn bare_variable_truth() {
    assert_eq!(
        var(
            "$var(a) = \"\"; if ($var(a)) $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(2)
    );
    assert_eq!(
        var(
            "$var(a) = \"0\"; if ($var(a)) $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(a) = 0; if ($var(a)) $var(x) = 1; else $var(x) = 2;",
            "x"
        ),
        Value::Int(2)
    );
    assert_eq!(var("if ([1 + 1]) $var(x) = 1;", "x"), Value::Int(1));
}

#[test]
fn dangling_else_binds_to_nearest_if() {
    let body = "$var(a) = 0; if ($var(a) == 1) if ($var(a) == 2) $var(x) = 1; else $var(x) = 2;";
    assert_eq!(var(body, "x"), Value::Null);
}

#[test]
fn while_and_break() {
    assert_eq!(
        var(
            "$var(i) = 0; while ($var(i) < 10) { $var(i) = $var(i) + 1; }",
            "i"
        ),
        Value::Int(10)
    );
    assert_eq!(
        var(
            "$var(i) = 0; while (1) { $var(i) += 1; if ($var(i) == 3) break; }",
            "i"
        ),
        Value::Int(3)
    );
}

#[test]
fn while_is_capped_by_max_while_loops() {
    let s =
        compile_full("max_while_loops = 50\nroute { $var(i) = 0; while (1) { $var(i) += 1; } }");
    assert_eq!(run_script(&s).vars.get("i"), Value::Int(50));
}

#[test]
fn switch_fallthrough_default_and_case_insensitive() {
    let sw = |v: &str| {
        var(
            &format!(
                "$var(s) = {v}; $var(x) = \"\"; switch ($var(s)) {{ case \"abc\": $var(x) = $var(x) + \"a\"; case 2: $var(x) = $var(x) + \"b\"; break; default: $var(x) = $var(x) + \"d\"; }}"
            ),
            "x",
        )
    };
    assert_eq!(sw("\"ABC\""), Value::str("ab"));
    assert_eq!(sw("2"), Value::str("b"));
    assert_eq!(sw("\"zzz\""), Value::str("d"));
    // "2" as a string has no integer form: the int case does not match it.
    assert_eq!(sw("\"2\""), Value::str("d"));
    // An integer has a string form: a string case matches it.
    let v = var(
        "$var(s) = 5; switch ($var(s)) { case \"5\": $var(x) = 1; break; default: $var(x) = 2; }",
        "x",
    );
    assert_eq!(v, Value::Int(1));
}

#[test]
fn avp_stack_rules() {
    let r = run(
        "$avp(a) = 1; $avp(a) = 2; $avp(a) = 3; $var(top) = $avp(a); $var(last) = $(avp(a)[-1]); $var(all) = $(avp(a)[*]);",
    );
    assert_eq!(r.vars.get("top"), Value::Int(3));
    assert_eq!(r.vars.get("last"), Value::Int(1));
    assert_eq!(r.vars.get("all"), Value::str("3, 2, 1"));
    let r = run("$avp(a) = 1; $avp(a) = 2; $avp(a) := 9;");
    assert_eq!(
        r.avps.values("a").cloned().collect::<Vec<_>>(),
        vec![Value::Int(9)]
    );
    let r = run("$avp(a) = 1; $avp(a) = 2; $avp(a) = null;");
    assert_eq!(
        r.avps.values("a").cloned().collect::<Vec<_>>(),
        vec![Value::Int(1)]
    );
    let r = run("$avp(a) = 1; $avp(a) = 2; $avp(a) := null;");
    assert_eq!(r.avps.count("a"), 0);
    let r = run("$avp(a) = 1; $avp(a) = 2; $(avp(a)[1]) = 5; $(avp(a)[append]) = 0;");
    assert_eq!(
        r.avps.values("a").cloned().collect::<Vec<_>>(),
        vec![Value::Int(2), Value::Int(5), Value::Int(0)]
    );
    let r = run("$avp(a) = 1; $avp(a) = 2; $(avp(a)[*]) = null;");
    assert_eq!(r.avps.count("a"), 0);
}

#[test]
fn for_each_over_avps() {
    let r = run(
        "$avp(a) = \"x\"; $avp(a) = \"y\"; $var(s) = \"\"; for ($var(v) in $(avp(a)[*])) { $var(s) = $var(s) + $var(v); }",
    );
    assert_eq!(r.vars.get("s"), Value::str("yx"));
}

#[test]
fn transformations_in_expressions() {
    assert_eq!(
        var(
            "$var(x) = \"a=1;b=22\"; $var(l) = $(var(x){param.value,b}{s.len});",
            "l"
        ),
        Value::Int(2)
    );
    assert_eq!(
        var(
            "$var(n) = \"b\"; $var(x) = \"a=1;b=22\"; $var(v) = $(var(x){param.value,$var(n)});",
            "v"
        ),
        Value::str("22")
    );
}

#[test]
fn return_codes_and_route_params() {
    let s = compile_full(
        "route { route(r, \"p1\", 7); $var(rc) = $rc; $var(r0) = $return(0); if (route(neg)) $var(t) = 1; else $var(t) = 2; }\n\
         route[r] { $var(p1) = $param(1); $var(p2) = $param(2); $var(p3) = $param(3); return(5, \"v\"); }\n\
         route[neg] { return(-1); }",
    );
    let r = run_script(&s);
    assert_eq!(r.vars.get("p1"), Value::str("p1"));
    assert_eq!(r.vars.get("p2"), Value::Int(7));
    assert_eq!(r.vars.get("p3"), Value::Null);
    assert_eq!(r.vars.get("rc"), Value::Int(5));
    assert_eq!(r.vars.get("r0"), Value::str("v"));
    assert_eq!(r.vars.get("t"), Value::Int(2));
}

#[test]
fn a_sub_route_ending_in_a_false_if_lets_the_caller_go_on() {
    // OpenSIPS's IF_T returns 1 ("default is continue") when the condition is false and there
    // is no else: the route returns 1, not 0 (which would stop the whole script).
    let s = compile_full(
        "route { route(x); $var(after) = $rc; }\nroute[x] { if ($var(none) == \"z\") { exit; } }",
    );
    assert_eq!(run_script(&s).vars.get("after"), Value::Int(1));
}

#[test]
fn return_zero_and_exit_stop_the_whole_script() {
    let s = compile_full("route { route(z); $var(after) = 1; }\nroute[z] { return(0); }");
    assert_eq!(run_script(&s).vars.get("after"), Value::Null);
    let s = compile_full("route { route(z); $var(after) = 1; }\nroute[z] { exit; }");
    let r = run_script(&s);
    assert_eq!(r.vars.get("after"), Value::Null);
    assert!(!r.out.dropped);
    let r = run("drop; $var(after) = 1;");
    assert!(r.out.dropped);
    assert_eq!(r.vars.get("after"), Value::Null);
}

#[test]
fn return_from_variable() {
    let s = compile_full(
        "route { route(r); $var(rc) = $rc; }\nroute[r] { $var(v) = null; return($var(v)); }",
    );
    assert_eq!(run_script(&s).vars.get("rc"), Value::Int(-1));
    let s = compile_full(
        "route { route(r); $var(rc) = $rc; }\nroute[r] { $var(v) = \"abc\"; return($var(v)); }",
    );
    assert_eq!(run_script(&s).vars.get("rc"), Value::Int(1));
}

#[test]
fn dynamic_route_names() {
    let s =
        compile_full("route { $var(n) = \"b\"; route(\"$var(n)\"); }\nroute[b] { $var(hit) = 1; }");
    assert_eq!(run_script(&s).vars.get("hit"), Value::Int(1));
}

#[test]
fn core_functions_that_need_no_message() {
    let r = run("pv_printf($var(x), \"a$var(y)b\"); get_timestamp($var(s), $var(us));");
    assert_eq!(r.vars.get("x"), Value::str("a<null>b"));
    assert!(r.vars.get("s").as_int().unwrap() > 1_600_000_000);
}

#[test]
fn functions_needing_the_message_return_false() {
    assert_eq!(
        var("if (setflag(\"X\")) $var(x) = 1; else $var(x) = 2;", "x"),
        Value::Int(2)
    );
}

#[test]
fn shared_vars_are_shared_between_contexts() {
    use super::ast::AssignOp;
    use super::pv::parse_pv;
    let shv = SharedVars::default();
    let pv = parse_pv("$shv(a)").unwrap();
    for (i, expect) in [(1, Value::Null), (2, Value::Int(3))] {
        let mut vars = VarStore::default();
        let mut avps = AvpStore::default();
        let mut ctx = RunCtx {
            route: super::ast::RouteKind::Request,
            vars: &mut vars,
            avps: &mut avps,
            shv: &shv,
            msg: None,
            params: Vec::new(),
            returns: Vec::new(),
            last_rc: 1,
            err: None,
        };
        assert_eq!(ctx.get_pv(&pv).unwrap(), expect, "context {i}");
        ctx.set_pv(&pv, AssignOp::Set, Value::Int(3)).unwrap();
    }
}

#[test]
fn message_variables_are_unavailable_without_message() {
    // Reading $ru with no message is an error: the assignment does not happen.
    assert_eq!(var("$var(x) = 1; $var(x) = $ru;", "x"), Value::Int(1));
}

#[test]
fn ipv6_network_comparison() {
    let v = var(
        "$var(ip) = \"2001:db8::7\"; if ($var(ip) == 2001:db8::/32) $var(x) = 1;",
        "x",
    );
    assert_eq!(v, Value::Int(1));
    assert_eq!(
        var("$var(ip) = \"::1\"; if ($var(ip) == ::1) $var(x) = 1;", "x"),
        Value::Int(1)
    );
    assert_eq!(
        var(
            "$var(ip) = \"::2\"; if ($var(ip) != [::1]) $var(x) = 1;",
            "x"
        ),
        Value::Int(1)
    );
}

#[test]
fn a_failed_assert_runs_error_route_with_err_set() {
    let s = compile_full(
        "enable_asserts = true\n\
         route {\n$var(before) = 1;\nassert($var(before) == 2, \"two\");\n$var(after) = 1;\n}\n\
         error_route {\n$var(class) = $err.class;\n$var(level) = $err.level;\n$var(info) = $err.info;\n\
         $var(rcode) = $err.rcode;\n$var(rreason) = $err.rreason;\n}\n",
    );
    let r = run_script(&s);
    assert_eq!(r.vars.get("class"), Value::Int(4));
    assert_eq!(r.vars.get("level"), Value::Int(1));
    assert_eq!(r.vars.get("info"), Value::str("assertion failed"));
    assert_eq!(r.vars.get("rcode"), Value::Int(500));
    assert_eq!(r.vars.get("rreason"), Value::str("server error"));
    // The assert statement stops the script (return code 0).
    assert_eq!(r.vars.get("after"), Value::Null);
    assert_eq!(r.out.rc, 0);
}

#[test]
fn err_reads_zero_and_null_without_an_error() {
    let r = run("$var(c) = $err.class; $var(i) = $err.info;");
    assert_eq!(r.vars.get("c"), Value::Int(0));
    assert_eq!(r.vars.get("i"), Value::Null);
}
