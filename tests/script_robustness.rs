//! No input makes the script engine panic: random text, random token soup, deep nesting.

use osips::script::{Registry, check_str};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "route",
    "route[x]",
    "failure_route[f]",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    "if",
    "else",
    "while",
    "switch",
    "case",
    "default:",
    "break",
    "return",
    "exit",
    "drop",
    "for",
    "in",
    "$var(a)",
    "$(avp(b)[-1]{s.len})",
    "$ru",
    "$(hdr(X){param.value,$var(n)})",
    "==",
    "!=",
    "=~",
    "=",
    ":=",
    "+=",
    "+",
    "-",
    "*",
    "/",
    "|",
    "&&",
    "||",
    "!",
    "\"str $var(a) $$\"",
    "'raw'",
    "12",
    "0x1f",
    "010",
    "10.0.0.0/8",
    "null",
    "yes",
    "xlog(",
    "t_relay()",
    "loadmodule",
    "\"tm.so\"",
    "modparam(",
    "log_level",
    "socket",
    "udp:127.0.0.1:5060",
    "/*",
    "*/",
    "#",
    "\n",
    "include_file",
    "\"nope.cfg\"",
    "$",
    "$(",
    "{s.substr,1,",
    "async(",
    "launch(",
    "é",
    "\\",
    "`",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let c = check_str("fuzz.cfg", &text, &Registry::builtin());
        let _ = c.render();
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..80)) {
        let text = words.join(" ");
        let c = check_str("fuzz.cfg", &text, &Registry::builtin());
        let _ = c.render();
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_cond = format!(
        "route {{ if ({}$var(a){}) exit; }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let c = check_str("deep.cfg", &deep_cond, &Registry::builtin());
    assert!(c.render().contains("nested too deeply"));
    let deep_blocks = format!(
        "route {{ {} exit; {} }}",
        "{".repeat(5000),
        "}".repeat(5000)
    );
    let c = check_str("deep.cfg", &deep_blocks, &Registry::builtin());
    assert!(c.render().contains("nested too deeply"));
    let deep_pv = format!(
        "route {{ $var(x) = {}1{}; }}",
        "$avp(".repeat(2000),
        ")".repeat(2000)
    );
    let c = check_str("deep.cfg", &deep_pv, &Registry::builtin());
    assert!(c.has_errors());
    let deep_expr = format!("route {{ $var(x) = {}1; }}", "~".repeat(5000));
    let c = check_str("deep.cfg", &deep_expr, &Registry::builtin());
    assert!(c.render().contains("nested too deeply"));
}
