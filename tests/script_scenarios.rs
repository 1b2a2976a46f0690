//! The scenario scripts (menuconfig Residential / Trunking / Load-Balancer, and the stock residential
//! script) parse and compile with the real module registry: the only errors allowed are modules osips
//! does not implement yet. When those modules land, the scripts compile cleanly and this still holds.

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

#[test]
fn residential_default() {
    only_missing_modules("residential.cfg");
}

#[test]
fn residential_every_toggle() {
    only_missing_modules("residential_full.cfg");
}

#[test]
fn trunking() {
    only_missing_modules("trunking.cfg");
}

#[test]
fn loadbalancer() {
    only_missing_modules("loadbalancer.cfg");
}

#[test]
fn dispatcher() {
    only_missing_modules("dispatcher.cfg");
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
