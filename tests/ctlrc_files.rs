//! osipsctlrc: real OpenSIPS 2.4 files load unchanged; garbage never panics.

use std::path::{Path, PathBuf};

use osips::ctlrc::{CtlEngine, LoadOptions, Rc, YesNoAsk};
use osips::db::Engine;
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load_alone(path: &Path) -> Rc {
    Rc::load_with(&LoadOptions {
        rc_file: Some(path.to_path_buf()),
        ..LoadOptions::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `scripts/opensipsctlrc` of OpenSIPS 2.4 as shipped (OpenSIPS/opensips commit 01bd4aa9).
#[test]
fn opensips_2_4_rc_loads_unchanged() {
    let rc = load_alone(&fixture("opensipsctlrc-2.4"));
    assert!(rc.warnings().is_empty(), "{:?}", rc.warnings());
    assert_eq!(rc.db_engine().unwrap(), Engine::Mysql);
    assert_eq!(rc.db_host(), "localhost");
    assert_eq!(rc.db_name(), "opensips");
    assert_eq!(rc.db_rw_user(), "opensips");
    assert_eq!(rc.db_rw_password(), "opensipsrw");
    assert_eq!(rc.db_root_user(Engine::Mysql), "root");
    let url = rc.db_url().unwrap();
    assert_eq!(url.redacted(), "mysql://opensips:***@localhost/opensips");
    // commented-out variables keep their defaults
    assert_eq!(rc.install_extra_tables().unwrap(), YesNoAsk::Ask);
    assert_eq!(rc.ctl_engine().unwrap(), CtlEngine::Fifo);
    assert!(!rc.store_plaintext_pw().unwrap());
}

/// The same file with every example assignment uncommented (multi-line quoted module lists,
/// `$FOREVER` references, `CTLENGINE=xmlrpc`).
#[test]
fn opensips_2_4_rc_with_every_variable_set() {
    let rc = load_alone(&fixture("opensipsctlrc-2.4-uncommented"));
    assert!(rc.warnings().is_empty(), "{:?}", rc.warnings());
    assert_eq!(rc.sip_domain(), Some("opensips.org"));
    assert_eq!(
        rc.get("DEFAULT_ALIASES_EXPIRES"),
        Some("2020-05-28 21:32:15")
    );
    assert_eq!(
        rc.get("DEFAULT_LOCATION_EXPIRES"),
        Some("2020-05-28 21:32:15")
    );
    let std_mods = rc.module_list("STANDARD_MODULES").unwrap();
    assert_eq!(std_mods.first().map(String::as_str), Some("standard"));
    assert_eq!(std_mods.last().map(String::as_str), Some("load_balancer"));
    assert_eq!(std_mods.len(), 20);
    assert_eq!(rc.module_list("EXTRA_MODULES").unwrap().len(), 9);
    assert_eq!(
        rc.acl_groups(),
        ["local", "ld", "int", "voicemail", "free-pstn"]
    );
    assert!(rc.verify_acl().unwrap());
    assert!(rc.verbose());
    assert!(rc.no_highlight());
    assert!(!rc.store_plaintext_pw().unwrap());
    assert_eq!(rc.aliases_type(), Some("DB"));
    assert_eq!(rc.osips_fifo(), PathBuf::from("/tmp/opensips_fifo"));
    assert_eq!(rc.pid_file(), PathBuf::from("/var/run/opensips.pid"));
    assert_eq!(
        rc.db_path(),
        PathBuf::from("/usr/local/etc/opensips/dbtext")
    );
    assert!(rc.start_options().is_empty());
    // 2.4's example value names a transport that never existed: a clear error when used
    let e = rc.ctl_engine().unwrap_err().to_string();
    assert!(
        e.contains("CTLENGINE") && e.contains("opensipsctlrc-2.4-uncommented:"),
        "{e}"
    );
}

#[test]
fn osipsdbctl_reads_the_2_4_file() {
    // the stock file names a MySQL server on localhost; with nothing listening on its port
    // the tool must fail with "unreachable" (3), proving it parsed and used the file.
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut text = std::fs::read_to_string(fixture("opensipsctlrc-2.4")).unwrap();
    text.push_str(&format!("DBHOST=127.0.0.1\nDBPORT={port}\nPW=x\n"));
    std::fs::write(&rc, text).unwrap();
    let out = assert_cmd::Command::cargo_bin("osipsdbctl")
        .unwrap()
        .args(["--rc", rc.to_str().unwrap(), "check"])
        .env_remove("OSIPSCTLRC")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

fn never_panics(text: &str) {
    match Rc::from_str_named(text, "fuzz.rc") {
        Ok(rc) => {
            // every accessor copes with whatever values were read
            let _ = rc.db_engine();
            let _ = rc.db_port();
            let _ = rc.db_url();
            let _ = rc.admin_url(None);
            let _ = rc.install_extra_tables();
            let _ = rc.store_plaintext_pw();
            let _ = rc.ctl_engine();
            let _ = rc.watch_period();
            let _ = rc.mysql_engine();
            for w in rc.warnings() {
                assert!(w.to_string().starts_with("fuzz.rc:"), "{w}");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.rc:"), "{e}"),
    }
}

#[test]
fn every_line_of_the_fixtures_mutated_never_panics() {
    let text = std::fs::read_to_string(fixture("opensipsctlrc-2.4-uncommented")).unwrap();
    let bytes = text.as_bytes();
    let specials = [
        b'"', b'\'', b'$', b'{', b'}', b'\\', b'\n', b'#', b'=', b' ', b'`', b'(', b';', 0xC3,
    ];
    for i in 0..bytes.len() {
        for s in specials {
            let mut m = bytes.to_vec();
            m[i] = s;
            never_panics(&String::from_utf8_lossy(&m));
        }
        never_panics(&String::from_utf8_lossy(&bytes[..i]));
    }
}

proptest! {
    #[test]
    fn garbage_rc_never_panics(s in "[A-Za-z_$=\"'{}#;:\\-\\\\ \n\t`()|&<>~0-9é🎉]{0,200}") {
        never_panics(&s);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        never_panics(&String::from_utf8_lossy(&b));
    }
}
