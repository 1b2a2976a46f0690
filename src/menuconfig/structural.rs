//! osipsconfig's own check of a generated script, run beside the script checker of `osips -C`
//! (which does not check calls into modules osips does not implement yet). It is not a parser of the whole language; it checks what a
//! template can get wrong: balanced braces, parentheses and brackets; `loadmodule`, `modparam`,
//! global parameter and route-block structure at top level; every module function called is
//! known and its module loaded; a modparam's module is loaded before it; every DB URL's driver
//! is loaded; every route, failure, reply and branch route referenced is defined once; one main
//! route; functions whose OpenSIPS export limits their route types are called only where allowed
//! (sub-routes take the types of the routes that call them); no template syntax left over.

use super::checker::{CheckError, CheckOutcome, ScriptChecker};
use std::collections::{BTreeMap, BTreeSet};

/// Functions the templates may call, with the module exporting each (`core` = no module).
const FUNCTIONS: &[(&str, &str)] = &[
    ("xlog", "core"),
    ("force_rport", "core"),
    ("setflag", "core"),
    ("resetflag", "core"),
    ("isflagset", "core"),
    ("setbflag", "core"),
    ("resetbflag", "core"),
    ("isbflagset", "core"),
    ("strip", "core"),
    ("is_myself", "core"),
    ("force_send_socket", "core"),
    ("sl_send_reply", "sl"),
    ("sl_reply_error", "sl"),
    ("send_reply", "signaling"),
    ("t_relay", "tm"),
    ("t_reply", "tm"),
    ("t_newtran", "tm"),
    ("t_check_trans", "tm"),
    ("t_check_status", "tm"),
    ("t_was_cancelled", "tm"),
    ("t_on_failure", "tm"),
    ("t_on_reply", "tm"),
    ("t_on_branch", "tm"),
    ("record_route", "rr"),
    ("loose_route", "rr"),
    ("add_rr_param", "rr"),
    ("check_route_param", "rr"),
    ("mf_process_maxfwd_header", "maxfwd"),
    ("is_method", "sipmsgops"),
    ("has_totag", "sipmsgops"),
    ("append_hf", "sipmsgops"),
    ("has_body", "sipmsgops"),
    ("search_body", "textops"),
    ("save", "registrar"),
    ("lookup", "registrar"),
    ("www_authorize", "auth_db"),
    ("proxy_authorize", "auth_db"),
    ("db_does_uri_exist", "auth_db"),
    ("www_challenge", "auth"),
    ("proxy_challenge", "auth"),
    ("consume_credentials", "auth"),
    ("alias_db_lookup", "alias_db"),
    ("is_from_local", "domain"),
    ("is_uri_host_local", "domain"),
    ("is_domain_local", "domain"),
    ("handle_publish", "presence"),
    ("handle_subscribe", "presence"),
    ("create_dialog", "dialog"),
    ("validate_dialog", "dialog"),
    ("get_profile_size", "dialog"),
    ("set_dlg_profile", "dialog"),
    ("nat_uac_test", "nathelper"),
    ("fix_nated_contact", "nathelper"),
    ("fix_nated_register", "nathelper"),
    ("rtpproxy_offer", "rtpproxy"),
    ("rtpproxy_answer", "rtpproxy"),
    ("rtpengine_offer", "rtpengine"),
    ("rtpengine_answer", "rtpengine"),
    ("rtpengine_delete", "rtpengine"),
    ("dp_translate", "dialplan"),
    ("do_routing", "drouting"),
    ("is_from_gw", "drouting"),
    ("use_next_gw", "drouting"),
    ("check_source_address", "permissions"),
    ("do_accounting", "acc"),
    ("acc_log_request", "acc"),
    ("acc_db_request", "acc"),
    ("ds_select_dst", "dispatcher"),
    ("ds_next_dst", "dispatcher"),
    ("ds_mark_dst", "dispatcher"),
    ("lb_start", "load_balancer"),
    ("lb_next", "load_balancer"),
];

/// Route types a function may run in, for the functions whose OpenSIPS export limits them
/// (R request, F failure, O reply, B branch, L local, E error). Unlisted functions run anywhere.
const ALLOWED_IN: &[(&str, &str)] = &[
    ("sl_send_reply", "RE"),
    ("sl_reply_error", "R"),
    ("send_reply", "REF"),
    ("t_relay", "RF"),
    ("t_reply", "RF"),
    ("t_newtran", "R"),
    ("t_check_trans", "RB"),
    ("t_on_branch", "RFOB"),
    ("record_route", "RBF"),
    ("add_rr_param", "RBF"),
    ("loose_route", "R"),
    ("check_route_param", "R"),
    ("mf_process_maxfwd_header", "R"),
    ("save", "RO"),
    ("lookup", "ROF"),
    ("www_authorize", "R"),
    ("proxy_authorize", "R"),
    ("www_challenge", "R"),
    ("proxy_challenge", "R"),
    ("consume_credentials", "R"),
    ("alias_db_lookup", "RF"),
    ("is_domain_local", "RBFL"),
    ("create_dialog", "R"),
    ("fix_nated_register", "R"),
    ("fix_nated_contact", "ROBL"),
    ("ds_select_dst", "RBFL"),
    ("ds_next_dst", "RF"),
    ("ds_mark_dst", "RF"),
    ("do_accounting", "RFBL"),
];

const KEYWORDS: &[&str] = &["if", "while", "switch", "return", "for", "route", "else"];

const ROUTE_KINDS: &[&str] = &[
    "route",
    "failure_route",
    "onreply_route",
    "branch_route",
    "local_route",
    "startup_route",
    "timer_route",
    "error_route",
    "event_route",
];

/// The structural check as a [`ScriptChecker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StructuralChecker;

impl ScriptChecker for StructuralChecker {
    fn name(&self) -> &str {
        "structure"
    }

    fn check(&self, script: &str) -> CheckOutcome {
        let errors = check_structure(script);
        if errors.is_empty() {
            CheckOutcome::Passed
        } else {
            CheckOutcome::Failed(errors)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn err(line: usize, message: impl Into<String>) -> CheckError {
    CheckError {
        line,
        column: None,
        message: message.into(),
    }
}

fn tokenize(src: &str, errors: &mut Vec<CheckError>) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = line;
                let mut depth = 0;
                loop {
                    if i >= chars.len() {
                        errors.push(err(start, "unterminated /* comment"));
                        break;
                    }
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' | '\'' => {
                let start = line;
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            errors.push(err(start, "unterminated string"));
                            break;
                        }
                        Some(&'\\') if quote == '"' => {
                            if let Some(&n) = chars.get(i + 1) {
                                s.push('\\');
                                s.push(n);
                            }
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                toks.push(Token {
                    tok: Tok::Str(s),
                    line: start,
                });
            }
            '$' => {
                // A pseudo-variable: `$name`, `$name(...)`, `$name[...]`, `$(...)`; its inside
                // holds no calls, so it becomes one word.
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                for (open, close) in [('(', ')'), ('[', ']')] {
                    if chars.get(i) == Some(&open) {
                        let mut depth = 0;
                        while i < chars.len() {
                            if chars[i] == open {
                                depth += 1;
                            } else if chars[i] == close {
                                depth -= 1;
                                if depth == 0 {
                                    i += 1;
                                    break;
                                }
                            } else if chars[i] == '\n' {
                                line += 1;
                            }
                            i += 1;
                        }
                    }
                }
                toks.push(Token {
                    tok: Tok::Word("$pv".into()),
                    line,
                });
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut s = String::new();
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    s.push(chars[i]);
                    i += 1;
                }
                toks.push(Token {
                    tok: Tok::Word(s),
                    line,
                });
            }
            c => {
                toks.push(Token {
                    tok: Tok::Punct(c),
                    line,
                });
                i += 1;
            }
        }
    }
    toks
}

fn check_balance(toks: &[Token], errors: &mut Vec<CheckError>) {
    let mut stack: Vec<(char, usize)> = Vec::new();
    for t in toks {
        if let Tok::Punct(c) = t.tok {
            match c {
                '{' | '(' | '[' => stack.push((c, t.line)),
                '}' | ')' | ']' => {
                    let want = match c {
                        '}' => '{',
                        ')' => '(',
                        _ => '[',
                    };
                    match stack.pop() {
                        Some((open, _)) if open == want => {}
                        Some((open, l)) => {
                            errors.push(err(
                                t.line,
                                format!("`{c}` closes `{open}` opened on line {l}"),
                            ));
                            return;
                        }
                        None => {
                            errors.push(err(t.line, format!("`{c}` without an opening `{want}`")));
                            return;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((open, l)) = stack.pop() {
        errors.push(err(l, format!("`{open}` is never closed")));
    }
}

struct Script {
    modules: BTreeMap<String, usize>,
    routes: BTreeMap<(String, String), usize>,
    /// Route blocks in order, as (kind, name).
    blocks: Vec<(String, String)>,
    /// Function calls as (function, line, index in `blocks`).
    calls: Vec<(String, usize, usize)>,
    /// References to routes as (kind, name, line, index in `blocks` of the caller).
    route_refs: Vec<(String, String, usize, usize)>,
    db_urls: Vec<(String, usize)>,
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

fn is_punct(t: Option<&Token>, c: char) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(p)) if *p == c)
}

fn string(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Str(s)) => Some(s),
        _ => None,
    }
}

fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".so").unwrap_or(base).to_string()
}

/// Parses the top level; returns what was found (errors pushed on the way).
fn top_level(toks: &[Token], errors: &mut Vec<CheckError>) -> Script {
    let mut s = Script {
        modules: BTreeMap::new(),
        routes: BTreeMap::new(),
        blocks: Vec::new(),
        calls: Vec::new(),
        route_refs: Vec::new(),
        db_urls: Vec::new(),
    };
    let mut i = 0;
    while i < toks.len() {
        let line = toks[i].line;
        let Some(w) = word(toks.get(i)) else {
            errors.push(err(
                line,
                format!("unexpected {:?} at top level", toks[i].tok),
            ));
            return s;
        };
        if w == "loadmodule" {
            match string(toks.get(i + 1)) {
                Some(path) => {
                    let m = module_name(path);
                    if let Some(first) = s.modules.insert(m.clone(), line) {
                        errors.push(err(
                            line,
                            format!("module {m} loaded twice (first on line {first})"),
                        ));
                    }
                }
                None => errors.push(err(line, "loadmodule needs a quoted module name")),
            }
            i += 2;
        } else if w == "modparam" {
            let ok = is_punct(toks.get(i + 1), '(')
                && string(toks.get(i + 2)).is_some()
                && is_punct(toks.get(i + 3), ',')
                && string(toks.get(i + 4)).is_some()
                && is_punct(toks.get(i + 5), ',');
            if !ok {
                errors.push(err(line, "modparam needs (\"module\", \"name\", value)"));
                return s;
            }
            let module = string(toks.get(i + 2)).unwrap_or_default();
            let name = string(toks.get(i + 4)).unwrap_or_default();
            for m in module.split('|') {
                if !s.modules.contains_key(m) {
                    errors.push(err(
                        line,
                        format!("modparam for module {m}, which is not loaded before it"),
                    ));
                }
            }
            let mut j = i + 6;
            if is_punct(toks.get(j), '-') || is_punct(toks.get(j), '+') {
                j += 1;
            }
            let value_ok = string(toks.get(j)).is_some() || word(toks.get(j)).is_some();
            if !value_ok || !is_punct(toks.get(j + 1), ')') {
                errors.push(err(
                    line,
                    format!("modparam {module} {name}: value must be one string or number"),
                ));
                return s;
            }
            if name == "db_url"
                && let Some(url) = string(toks.get(j))
            {
                s.db_urls.push((url.to_string(), line));
            }
            i = j + 2;
        } else if ROUTE_KINDS.contains(&w) {
            i = route_block(toks, i, &mut s, errors);
        } else if is_punct(toks.get(i + 1), '=') {
            // global parameter: its value ends with the line
            i += 2;
            while i < toks.len() && toks[i].line == line {
                i += 1;
            }
        } else {
            errors.push(err(line, format!("unexpected `{w}` at top level")));
            return s;
        }
    }
    s
}

fn route_block(
    toks: &[Token],
    mut i: usize,
    s: &mut Script,
    errors: &mut Vec<CheckError>,
) -> usize {
    let kind = word(toks.get(i)).unwrap_or_default().to_string();
    let line = toks[i].line;
    i += 1;
    let mut name = String::new();
    if is_punct(toks.get(i), '[') {
        while i < toks.len() && !is_punct(toks.get(i), ']') {
            if let Some(w) = word(toks.get(i))
                && name.is_empty()
            {
                name = w.to_string();
            }
            i += 1;
        }
        i += 1;
    }
    if !is_punct(toks.get(i), '{') {
        errors.push(err(line, format!("{kind} needs a {{ block }}")));
        return toks.len();
    }
    if let Some(first) = s.routes.insert((kind.clone(), name.clone()), line) {
        errors.push(err(
            line,
            format!("{kind}[{name}] defined twice (first on line {first})"),
        ));
    }
    let block = s.blocks.len();
    s.blocks.push((kind.clone(), name.clone()));
    let mut depth = 0;
    while i < toks.len() {
        match &toks[i].tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            Tok::Word(w) if is_punct(toks.get(i + 1), '(') && w != "$pv" => {
                let l = toks[i].line;
                let arg = word(toks.get(i + 2)).or_else(|| string(toks.get(i + 2)));
                let target = match w.as_str() {
                    "route" => Some("route"),
                    "t_on_failure" => Some("failure_route"),
                    "t_on_reply" => Some("onreply_route"),
                    "t_on_branch" => Some("branch_route"),
                    _ => None,
                };
                if let (Some(t), Some(a)) = (target, arg) {
                    s.route_refs.push((t.to_string(), a.to_string(), l, block));
                }
                if !KEYWORDS.contains(&w.as_str()) {
                    s.calls.push((w.clone(), l, block));
                }
            }
            _ => {}
        }
        i += 1;
    }
    toks.len()
}

/// The route type letter of a top-level block kind (`route` blocks take their callers' types).
fn block_type(kind: &str) -> Option<char> {
    match kind {
        "failure_route" => Some('F'),
        "onreply_route" => Some('O'),
        "branch_route" => Some('B'),
        "local_route" => Some('L'),
        "error_route" => Some('E'),
        "startup_route" => Some('S'),
        "timer_route" => Some('T'),
        "event_route" => Some('V'),
        _ => None,
    }
}

fn type_name(t: char) -> &'static str {
    match t {
        'R' => "request route",
        'F' => "failure_route",
        'O' => "onreply_route",
        'B' => "branch_route",
        'L' => "local_route",
        'E' => "error_route",
        'S' => "startup_route",
        'T' => "timer_route",
        _ => "event_route",
    }
}

/// Works out which route types reach each block (sub-routes inherit their callers' types) and
/// reports functions called where OpenSIPS does not allow them.
fn route_types(s: &Script, errors: &mut Vec<CheckError>) {
    let mut types: Vec<BTreeSet<char>> = s
        .blocks
        .iter()
        .map(|(kind, name)| match block_type(kind) {
            Some(t) => BTreeSet::from([t]),
            None if name.is_empty() => BTreeSet::from(['R']),
            None => BTreeSet::new(),
        })
        .collect();
    loop {
        let mut grew = false;
        for (kind, name, _, from) in &s.route_refs {
            if kind != "route" {
                continue;
            }
            let Some(to) = s.blocks.iter().position(|b| b.0 == "route" && &b.1 == name) else {
                continue;
            };
            let add: Vec<char> = types[*from].difference(&types[to]).copied().collect();
            if !add.is_empty() {
                types[to].extend(add);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let allowed: BTreeMap<&str, &str> = ALLOWED_IN.iter().copied().collect();
    for (f, line, block) in &s.calls {
        let Some(mask) = allowed.get(f.as_str()) else {
            continue;
        };
        if let Some(t) = types[*block].iter().find(|t| !mask.contains(**t)) {
            let (kind, name) = &s.blocks[*block];
            let place = if kind == "route" && !name.is_empty() {
                format!("route[{name}], which runs as a {}", type_name(*t))
            } else {
                type_name(*t).to_string()
            };
            errors.push(err(*line, format!("{f}() cannot be used in {place}")));
        }
    }
}

/// Checks `src`; returns every problem found, by line.
pub fn check_structure(src: &str) -> Vec<CheckError> {
    check_structure_with(src, true)
}

/// The structural check for scripts from user templates: functions missing from osipsconfig's
/// table are allowed (the proxy's checker judges them); known functions still need their module.
#[derive(Debug, Clone, Copy, Default)]
pub struct LenientStructuralChecker;

impl ScriptChecker for LenientStructuralChecker {
    fn name(&self) -> &str {
        "structure"
    }

    fn check(&self, script: &str) -> CheckOutcome {
        let errors = check_structure_with(script, false);
        if errors.is_empty() {
            CheckOutcome::Passed
        } else {
            CheckOutcome::Failed(errors)
        }
    }
}

/// Checks `src`; with `strict`, a function osipsconfig does not know is an error.
pub fn check_structure_with(src: &str, strict: bool) -> Vec<CheckError> {
    let mut errors = Vec::new();
    for (n, l) in src.lines().enumerate() {
        if l.contains("{{") || l.contains("{%") || l.contains("%}") || l.contains("}}") {
            errors.push(err(n + 1, "template syntax left in the script"));
        }
    }
    let toks = tokenize(src, &mut errors);
    check_balance(&toks, &mut errors);
    if !errors.is_empty() {
        return errors;
    }
    let s = top_level(&toks, &mut errors);
    let table: BTreeMap<&str, &str> = FUNCTIONS.iter().copied().collect();
    let mut reported = BTreeSet::new();
    for (f, line, _) in &s.calls {
        match table.get(f.as_str()) {
            None if strict => errors.push(err(*line, format!("unknown function {f}()"))),
            Some(m)
                if *m != "core"
                    && !s.modules.contains_key(*m)
                    && reported.insert((f.clone(), *m)) =>
            {
                errors.push(err(
                    *line,
                    format!("{f}() needs module {m}, which is not loaded"),
                ));
            }
            _ => {}
        }
    }
    route_types(&s, &mut errors);
    for (kind, name, line, _) in &s.route_refs {
        if !s.routes.contains_key(&(kind.clone(), name.clone())) {
            errors.push(err(
                *line,
                format!("{kind}[{name}] is used but not defined"),
            ));
        }
    }
    if !s.routes.contains_key(&("route".to_string(), String::new())) {
        errors.push(err(0, "no main route { } block"));
    }
    for (url, line) in &s.db_urls {
        match super::library::db_module_for(url) {
            None => errors.push(err(*line, format!("no database driver for URL {url}"))),
            Some(m) if !s.modules.contains_key(m) => errors.push(err(
                *line,
                format!("DB URL {url} needs module {m}, which is not loaded"),
            )),
            Some(_) => {}
        }
    }
    errors.sort_by_key(|e| e.line);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
socket=udp:127.0.0.1:5060 as 127.0.0.2:5060
loadmodule "tm.so"
loadmodule "sl.so"
modparam("tm", "fr_timeout", 5)
route {
	if ($rU=~"^\+[1-9]" && $(var(x){s.int}) > 1) {
		route(relay);
	}
	t_on_failure("fail");
	exit;
}
route[relay] { t_relay(); }
failure_route[fail] { xlog("f $rm\n"); }
"#;

    #[test]
    fn good_script_passes() {
        assert_eq!(check_structure(GOOD), vec![]);
    }

    #[test]
    fn missing_module_is_found_with_its_line() {
        let bad = GOOD.replace("loadmodule \"tm.so\"\n", "");
        let errors = check_structure(&bad);
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("modparam for module tm")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("t_relay() needs module tm") && e.line == 12)
        );
    }

    #[test]
    fn unbalanced_brace_is_found() {
        let bad = GOOD.replace("route[relay] { t_relay(); }", "route[relay] { t_relay(); ");
        let errors = check_structure(&bad);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("never closed"));
    }

    #[test]
    fn undefined_routes_and_unknown_functions_are_found() {
        let bad = GOOD
            .replace("route(relay)", "route(relai)")
            .replace("exit;", "frobnicate();");
        let msgs: Vec<String> = check_structure(&bad)
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("route[relai] is used but not defined")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("unknown function frobnicate()")),
            "{msgs:?}"
        );
    }

    #[test]
    fn functions_are_checked_against_the_route_types_that_reach_them() {
        let s = "loadmodule \"tm.so\"\nloadmodule \"rr.so\"\nroute { t_on_failure(\"f\"); route(r); }\nroute[r] { loose_route(); t_relay(); }\nfailure_route[f] { route(r); }\n";
        let e = check_structure(s);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].line, 4);
        assert_eq!(
            e[0].message,
            "loose_route() cannot be used in route[r], which runs as a failure_route"
        );
        assert!(check_structure(&s.replace("route(r); }\n", "exit; }\n")).is_empty());
    }

    #[test]
    fn db_url_needs_its_driver() {
        let s = "loadmodule \"acc.so\"\nmodparam(\"acc\", \"db_url\", \"postgres://u:p@h/db\")\nroute { exit; }\n";
        let e = check_structure(s);
        assert!(e[0].message.contains("needs module db_postgres"), "{e:?}");
    }

    #[test]
    fn template_leftovers_are_found() {
        let e = check_structure("route { {{ X }} }\n");
        assert!(e.iter().any(|e| e.message.contains("template syntax")));
    }
}
