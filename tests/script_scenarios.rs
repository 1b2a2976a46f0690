//! The scenario scripts (menuconfig Residential / Trunking / Load-Balancer, and the stock residential
//! script) parse and compile with the real module registry. Every module they load is implemented
//! now, so they must compile with no error and no warning at all; `only_missing_modules` stays for
//! scenario scripts that load a module osips does not implement yet.

use osips::script::{Registry, check_file};
use std::path::Path;

fn only_missing_modules(name: &str) {
    let path = Path::new("tests/fixtures/script/scenarios").join(name);
    let checked = check_file(&path, &Registry::builtin()).expect("fixture readable");
    let unexpected: Vec<String> = checked
        .errors()
        .filter(|d| !d.message.ends_with("is not implemented in osips yet"))
        .map(|d| d.render(&checked.sources))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{name}: unexpected errors:\n{}",
        unexpected.join("\n")
    );
    let warnings: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.render(&checked.sources))
        .collect();
    assert!(
        warnings.is_empty(),
        "{name}: unexpected warnings:\n{}",
        warnings.join("\n")
    );
    if !checked.has_errors() {
        assert!(checked.script.is_some(), "{name}: no errors but no script");
    }
}

/// No diagnostic at all, and a compiled script.
fn compiles_cleanly(name: &str) {
    only_missing_modules(name);
    let path = Path::new("tests/fixtures/script/scenarios").join(name);
    let checked = check_file(&path, &Registry::builtin()).expect("fixture readable");
    assert!(
        checked.diagnostics.is_empty(),
        "{name}:\n{}",
        checked.render()
    );
    assert!(checked.script.is_some(), "{name}: no script");
}

#[test]
fn residential_default() {
    compiles_cleanly("residential.cfg");
}

/// Presence (xcap, presence, presence_xml) included.
#[test]
fn residential_every_toggle() {
    compiles_cleanly("residential_full.cfg");
    let text =
        std::fs::read_to_string("tests/fixtures/script/scenarios/residential_full.cfg").unwrap();
    for m in ["xcap.so", "presence.so", "presence_xml.so"] {
        assert!(text.contains(m), "the fixture no longer loads {m}");
    }
}

#[test]
fn trunking() {
    compiles_cleanly("trunking.cfg");
}

#[test]
fn loadbalancer() {
    compiles_cleanly("loadbalancer.cfg");
}

#[test]
fn dispatcher() {
    compiles_cleanly("dispatcher.cfg");
}

#[test]
fn a_module_free_script_compiles_cleanly() {
    let checked = check_file(
        Path::new("tests/fixtures/script/clean_core.cfg"),
        &Registry::builtin(),
    )
    .unwrap();
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
    assert!(checked.script.is_some());
}
