//! `osips` command line: `-C` checks a script and reports every error; a script with errors does not run.

use assert_cmd::Command;

fn osips() -> Command {
    Command::cargo_bin("osips").unwrap()
}

#[test]
fn check_clean_script_exits_zero() {
    let out = osips()
        .args(["-C", "-f", "tests/fixtures/script/clean_core.cfg"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration file is valid"));
}

#[test]
fn check_reports_every_error_and_fails() {
    let out = osips()
        .args(["-C", "-f", "tests/fixtures/script/errors/variables.cfg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown variable `$nosuch`"), "{err}");
    assert!(err.contains("`$ci` is read-only"), "{err}");
    assert!(err.contains("variables.cfg:15:2"), "{err}");
    assert!(err.contains("errors, 1 warning"), "{err}");
}

#[test]
fn check_reads_stdin() {
    let out = osips()
        .args(["-C", "-f", "-"])
        .write_stdin("route { exit; }\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = osips()
        .args(["-C", "-f", "-"])
        .write_stdin("route { nope(); }\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>:1:9"));
}

#[test]
fn unreadable_file_is_reported() {
    let out = osips()
        .args(["-C", "-f", "tests/fixtures/script/no-such.cfg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read tests/fixtures/script/no-such.cfg")
    );
}

#[test]
fn check_needs_a_file() {
    let out = osips().arg("-C").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn running_a_script_with_errors_exits_1_with_the_diagnostics() {
    let out = osips()
        .args([
            "-f",
            "tests/fixtures/script/errors/variables.cfg",
            "-F",
            "-E",
            "-w",
            "/tmp",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("variables.cfg:"), "{err}");
    assert!(err.contains("not starting"), "{err}");
}

#[test]
fn memory_flags_are_accepted_with_a_note() {
    let out = osips()
        .args([
            "-m",
            "64",
            "-M",
            "8",
            "-C",
            "-f",
            "tests/fixtures/script/clean_core.cfg",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-m / -M are accepted for compatibility")
    );
}

#[test]
fn version_and_help() {
    let out = osips().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("osips "));
    let out = osips().arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "-f <FILE>",
        "-C",
        "-F",
        "-D",
        "-E",
        "-P <PIDFILE>",
        "-w <DIR>",
        "-V",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}

#[test]
fn preprocessor_output_is_checked() {
    let out = osips()
        .args(["-C", "-f", "-", "-p", "sed s/CUSTOM_EXIT/exit/"])
        .write_stdin("route { CUSTOM_EXIT; }\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = osips()
        .args([
            "-C",
            "-f",
            "tests/fixtures/script/clean_core.cfg",
            "-p",
            "exit 4",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("preprocessor `exit 4` exited with"));
}
