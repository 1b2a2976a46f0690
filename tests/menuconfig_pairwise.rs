//! Every scenario rendered over a pairwise covering array of its toggles (and the three
//! database engines), each result checked by the script checker of `osips -C` (zero errors;
//! only modules osips does not implement yet may be named) and by osipsconfig's structural
//! check.

use osips::menuconfig::checker::{CheckOutcome, Checks, LibraryChecker};
use osips::menuconfig::pairwise::covering_array;
use osips::menuconfig::{Library, OptionKind, OptionSet};

const DB_URLS: &[&str] = &[
    "sqlite:///var/lib/opensips/opensips.sqlite",
    "postgres://opensips:opensipsrw@127.0.0.1/opensips",
    "mysql://opensips:opensipsrw@127.0.0.1/opensips",
];

/// Switches off toggles the set cannot have on (dependency or conflict) until it is possible.
fn repair(set: &mut OptionSet) {
    while let Err(errors) = set.validate() {
        for e in errors {
            let key = match e {
                osips::menuconfig::OptionError::MissingDependency { key, .. }
                | osips::menuconfig::OptionError::Conflict { key, .. } => key,
                other => panic!("unexpected {other}"),
            };
            set.set_unchecked(&key, "no").unwrap();
        }
    }
}

#[test]
fn every_pairwise_combination_passes_the_check() {
    let lib = Library::embedded();
    let checks = Checks::new(Box::new(LibraryChecker::new()));
    let mut total = 0;
    for cat in lib.catalogues() {
        let toggles: Vec<String> = cat.toggles().map(|o| o.name.clone()).collect();
        let has_db = cat
            .option("DB_URL")
            .is_some_and(|o| o.kind == OptionKind::Url);
        let mut levels = vec![2; toggles.len()];
        if has_db {
            levels.push(DB_URLS.len());
        }
        let rows = covering_array(&levels);
        assert!(rows.len() < 1 << toggles.len().min(20));
        for row in &rows {
            let mut set = OptionSet::defaults(cat.clone());
            for (t, v) in toggles.iter().zip(row) {
                set.set_unchecked(t, if *v == 1 { "yes" } else { "no" })
                    .unwrap();
            }
            if has_db {
                set.set_unchecked("DB_URL", DB_URLS[row[toggles.len()]])
                    .unwrap();
            }
            repair(&mut set);
            let script = lib
                .render(&set)
                .unwrap_or_else(|e| panic!("{}: {e}", cat.name));
            let report = checks.run(&script);
            let on: Vec<&String> = toggles.iter().filter(|t| set.is_on(t)).collect();
            assert!(
                report.passed(),
                "{} with {on:?}: {:?}\n{script}",
                cat.name,
                report.errors()
            );
            assert_eq!(report.structure, CheckOutcome::Passed);
            total += 1;
        }
        eprintln!(
            "{}: {} combinations for {} toggles",
            cat.name,
            rows.len(),
            toggles.len()
        );
    }
    assert!(total >= 4 * 4);
}
