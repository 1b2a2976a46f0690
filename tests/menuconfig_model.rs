//! The menuconfig model: catalogues, dependency rules, rendering, option files, rc defaults.

use osips::menuconfig::checker::{CheckOutcome, ScriptChecker};
use osips::menuconfig::structural::StructuralChecker;
use osips::menuconfig::{CtlrcDefaults, Library, OptionError, OptionSet, optionfile};
use std::path::Path;

fn set(lib: &Library, name: &str) -> OptionSet {
    OptionSet::defaults(lib.catalogue(name).unwrap())
}

fn render(lib: &Library, s: &OptionSet) -> String {
    let out = lib.render(s).unwrap();
    assert_eq!(StructuralChecker.check(&out), CheckOutcome::Passed, "{out}");
    out
}

fn with(lib: &Library, name: &str, values: &[(&str, &str)]) -> String {
    let mut s = set(lib, name);
    for (k, v) in values {
        s.set_unchecked(k, v).unwrap();
    }
    s.validate().unwrap();
    render(lib, &s)
}

fn toggles(lib: &Library, name: &str) -> Vec<String> {
    lib.catalogue(name)
        .unwrap()
        .toggles()
        .map(|o| o.name.clone())
        .collect()
}

#[test]
fn four_scenarios_with_opensips_toggles() {
    let lib = Library::embedded();
    let names: Vec<&str> = lib.catalogues().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["residential", "trunking", "loadbalancer", "platform"]
    );
    let residential = [
        "ENABLE_TCP",
        "ENABLE_TLS",
        "USE_ALIASES",
        "USE_AUTH",
        "USE_DBACC",
        "USE_DBUSRLOC",
        "USE_DIALOG",
        "USE_MULTIDOMAIN",
        "USE_NAT",
        "USE_PRESENCE",
        "USE_DIALPLAN",
        "VM_DIVERSION",
        "HAVE_INBOUND_PSTN",
        "HAVE_OUTBOUND_PSTN",
        "USE_DR_PSTN",
        "USE_HTTP_MANAGEMENT_INTERFACE",
    ];
    assert_eq!(toggles(&lib, "residential"), residential);
    let trunking = [
        "ENABLE_TCP",
        "ENABLE_TLS",
        "USE_DBACC",
        "USE_DIALPLAN",
        "USE_DIALOG",
        "DO_CALL_LIMITATION",
        "USE_HTTP_MANAGEMENT_INTERFACE",
    ];
    assert_eq!(toggles(&lib, "trunking"), trunking);
    let lb = [
        "ENABLE_TCP",
        "ENABLE_TLS",
        "USE_DBACC",
        "USE_DISPATCHER",
        "DISABLE_PINGING",
        "USE_HTTP_MANAGEMENT_INTERFACE",
    ];
    assert_eq!(toggles(&lib, "loadbalancer"), lb);
    // the 4.0 value parameters
    let r = lib.catalogue("residential").unwrap();
    for v in [
        "LISTEN_IP",
        "DB_URL",
        "NATPING_FROM",
        "RTPPROXY_SOCKET",
        "PSTN_IP",
        "PSTN_PORT",
        "VOICEMAIL_URI",
        "TLS_DOMAIN_1",
        "TLS_DOMAIN_2",
        "TLS_SEND_SOCKET",
    ] {
        assert!(r.option(v).is_some(), "{v}");
    }
}

#[test]
fn defaults_render_and_pass_the_structural_check() {
    let lib = Library::embedded();
    for c in lib.catalogues() {
        let out = render(&lib, &OptionSet::defaults(c.clone()));
        assert!(out.contains("route {"), "{}", c.name);
        assert!(!out.contains("\n\n\n"), "{}: runs of blank lines", c.name);
    }
}

#[test]
fn dependency_is_refused_with_the_reason_and_leaves_the_set_unchanged() {
    let lib = Library::embedded();
    let mut s = set(&lib, "residential");
    let before = s.clone();
    let e = s.set("USE_DR_PSTN", "yes").unwrap_err();
    assert_eq!(
        e,
        OptionError::MissingDependency {
            key: "USE_DR_PSTN".into(),
            needs: "HAVE_INBOUND_PSTN or HAVE_OUTBOUND_PSTN".into()
        }
    );
    assert!(
        e.to_string()
            .contains("USE_DR_PSTN needs HAVE_INBOUND_PSTN or HAVE_OUTBOUND_PSTN")
    );
    assert_eq!(s, before);
    s.set("HAVE_OUTBOUND_PSTN", "yes").unwrap();
    s.set("USE_DR_PSTN", "yes").unwrap();
    let e = s.set("HAVE_OUTBOUND_PSTN", "no").unwrap_err();
    assert!(
        matches!(&e, OptionError::RequiredBy { dependents, .. } if dependents == "USE_DR_PSTN"),
        "{e}"
    );
    // the other PSTN toggle keeps USE_DR_PSTN possible
    s.set("HAVE_INBOUND_PSTN", "yes").unwrap();
    s.set("HAVE_OUTBOUND_PSTN", "no").unwrap();
}

#[test]
fn call_limitation_needs_dialog_and_relay_all_conflicts_with_ice() {
    let lib = Library::embedded();
    let mut t = set(&lib, "trunking");
    assert!(
        t.toggle("DO_CALL_LIMITATION")
            .unwrap_err()
            .to_string()
            .contains("needs USE_DIALOG")
    );
    t.toggle("USE_DIALOG").unwrap();
    assert!(t.toggle("DO_CALL_LIMITATION").unwrap());
    let out = render(&lib, &t);
    assert!(out.contains("modparam(\"dialog\", \"profiles_with_value\", \"trunkCalls\")"));
    assert!(out.contains("set_dlg_profile(\"trunkCalls\", \"$si\");"));

    let mut p = set(&lib, "platform");
    let e = p.set("RELAY_ALL_MEDIA", "yes").unwrap_err();
    assert_eq!(
        e,
        OptionError::Conflict {
            key: "RELAY_ALL_MEDIA".into(),
            other: "ICE_PASSTHROUGH".into()
        }
    );
    p.set("ICE_PASSTHROUGH", "no").unwrap();
    p.set("RELAY_ALL_MEDIA", "yes").unwrap();
    // the whole-set check finds the same problem when values come in another order
    let mut q = set(&lib, "platform");
    q.set_unchecked("RELAY_ALL_MEDIA", "yes").unwrap();
    assert_eq!(q.validate().unwrap_err().len(), 1);
}

#[test]
fn bad_values_name_the_key() {
    let lib = Library::embedded();
    let mut s = set(&lib, "residential");
    let cases = [
        ("SIP_PORT", "70000", "not a port"),
        ("LISTEN_IP", "not-an-ip", "not an IPv4 or IPv6 address"),
        (
            "DB_URL",
            "oracle://x/y",
            "scheme `oracle` is not one of mysql, postgres, sqlite",
        ),
        ("DB_URL", "mysql://a\"b", "cannot appear in a script value"),
        ("USE_AUTH", "maybe", "not yes or no"),
        ("TLS_LIBRARY", "gnutls", "not one of openssl, wolfssl"),
        ("MI_FIFO", "relative/fifo", "must be an absolute path"),
    ];
    for (k, v, why) in cases {
        let e = s.set(k, v).unwrap_err().to_string();
        assert!(e.contains(k) && e.contains(why), "{k}={v}: {e}");
    }
    let e = s.set("USE_AUTHH", "yes").unwrap_err().to_string();
    assert!(
        e.contains("unknown option `USE_AUTHH` for template residential"),
        "{e}"
    );
}

#[test]
fn database_engine_follows_the_url() {
    let lib = Library::embedded();
    for (url, module) in [
        ("sqlite:///var/lib/opensips/db.sqlite", "db_sqlite"),
        ("postgres://opensips:pw@127.0.0.1/opensips", "db_postgres"),
        ("mysql://opensips:pw@127.0.0.1/opensips", "db_mysql"),
    ] {
        let out = with(&lib, "residential", &[("USE_AUTH", "yes"), ("DB_URL", url)]);
        assert!(
            out.contains(&format!("loadmodule \"{module}.so\"")),
            "{url}"
        );
        assert!(out.contains(&format!("modparam(\"auth_db\", \"db_url\", \"{url}\")")));
        assert_eq!(out.matches("loadmodule \"db_").count(), 1);
    }
    // no database feature, no driver
    assert!(!with(&lib, "residential", &[]).contains("loadmodule \"db_"));
}

#[test]
fn opensips_template_defects_are_not_copied() {
    let lib = Library::embedded();
    // §1.9.2: aliases alone still load the database driver
    assert!(
        with(&lib, "residential", &[("USE_ALIASES", "yes")]).contains("loadmodule \"db_mysql.so\"")
    );
    // §1.9.1: DISABLE_PINGING really disables probing
    let off = with(&lib, "loadbalancer", &[("DISABLE_PINGING", "yes")]);
    assert!(off.contains("modparam(\"load_balancer\", \"probing_interval\", 0)"));
    let on = with(
        &lib,
        "loadbalancer",
        &[("DISABLE_PINGING", "no"), ("USE_DISPATCHER", "yes")],
    );
    assert!(on.contains("modparam(\"dispatcher\", \"ds_ping_interval\", 30)"));
    // §1.9.3: comparison, not assignment
    let inbound = with(&lib, "residential", &[("HAVE_INBOUND_PSTN", "yes")]);
    assert!(
        inbound.contains("$si==\"127.0.0.3\" && $sp==5060"),
        "{inbound}"
    );
    // §1.9.4: the static PSTN destination is a valid statement
    let outbound = with(&lib, "residential", &[("HAVE_OUTBOUND_PSTN", "yes")]);
    assert!(outbound.contains("\t\t$rd = \"127.0.0.3\";\n\t\t$rp = 5060;\n"));
    // §1.9.5: no TLSv1-only method
    let tls = with(&lib, "residential", &[("ENABLE_TLS", "yes")]);
    assert!(tls.contains("\"[default]TLSv1_2-TLSv1_3\"") && !tls.contains("TLSv1\")"));
    assert!(tls.contains("loadmodule \"tls_openssl.so\""));
    // DR module only with a PSTN toggle
    let dr = with(
        &lib,
        "residential",
        &[("HAVE_OUTBOUND_PSTN", "yes"), ("USE_DR_PSTN", "yes")],
    );
    assert!(dr.contains("loadmodule \"drouting.so\"") && dr.contains("do_routing(0)"));
    assert!(!dr.contains("$rd = \"127.0.0.3\""));
}

#[test]
fn platform_script_has_the_multi_tenant_parts() {
    let lib = Library::embedded();
    let out = with(
        &lib,
        "platform",
        &[("PRIVATE_IP", "127.0.0.10"), ("PUBLIC_IP", "127.0.0.20")],
    );
    for needle in [
        "socket=udp:127.0.0.10:5060 as 127.0.0.20:5060",
        "loadmodule \"domain.so\"",
        "if (!is_domain_local(\"$fd\", $var(caller_attrs)) || !is_domain_local(\"$rd\", $var(callee_attrs))) {",
        "$var(caller_tenant) = $(var(caller_attrs){param.value,tenant});",
        "if ($var(caller_tenant) != $var(callee_tenant)) {",
        "modparam(\"dispatcher\", \"ds_ping_interval\", 10)",
        "modparam(\"dispatcher\", \"ds_probing_threshold\", 2)",
        "modparam(\"auth_db\", \"calculate_ha1\", 0)",
        "send_reply(403, \"Forbidden: other tenant\");",
        "www_authorize(\"$td\", \"subscriber\")",
        "modparam(\"auth_db\", \"use_domain\", 1)",
        "modparam(\"usrloc\", \"use_domain\", 1)",
        "if (search_body(\"^a=candidate:\"))",
        "rtpengine_offer(\"replace-origin replace-session-connection $avp(ice)\")",
        "$avp(ice) = \"ICE=remove\";",
        "$avp(ice) = \"ICE=force\";",
        "ds_select_dst(1, 3, \"f\")",
        "failure_route[conference_failover]",
        "ds_next_dst()",
        "loadmodule \"mi_http.so\"",
        "modparam(\"httpd\", \"port\", 8888)",
        "loadmodule \"db_sqlite.so\"",
    ] {
        assert!(out.contains(needle), "missing {needle}");
    }
    // no NAT and no forced relay: no rtpengine at all
    let plain = with(
        &lib,
        "platform",
        &[("USE_NAT", "no"), ("ICE_PASSTHROUGH", "no")],
    );
    assert!(!plain.contains("rtpengine"));
    // forced relay: every call with SDP is relayed, no ICE test
    let all = with(
        &lib,
        "platform",
        &[("ICE_PASSTHROUGH", "no"), ("RELAY_ALL_MEDIA", "yes")],
    );
    assert!(all.contains("rtpengine_offer") && !all.contains("a=candidate"));
}

#[test]
fn option_file_round_trip_and_errors() {
    let lib = Library::embedded();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("opensips.cfg");
    let path = optionfile::options_path(&script);
    assert_eq!(path, dir.path().join("opensips.cfg.options.toml"));
    let mut s = set(&lib, "residential");
    s.set("USE_AUTH", "yes").unwrap();
    s.set("SIP_PORT", "5070").unwrap();
    s.set("DB_URL", "postgres://u:p@127.0.0.1/opensips")
        .unwrap();
    optionfile::save(&s, &path).unwrap();
    let back = optionfile::load(&lib, &path, Some("residential"), None).unwrap();
    assert_eq!(back, s);

    let bad = |text: &str| {
        std::fs::write(&path, text).unwrap();
        optionfile::load(&lib, &path, None, None)
            .unwrap_err()
            .to_string()
    };
    let e = bad("template = \"residential\"\n[options]\nUSE_AUTHX = true\n");
    assert!(
        e.contains("opensips.cfg.options.toml") && e.contains("unknown option `USE_AUTHX`"),
        "{e}"
    );
    let e = bad("template = \"residential\"\n[options]\nSIP_PORT = \"http\"\n");
    assert!(e.contains("bad value for SIP_PORT"), "{e}");
    let e = bad("template = \"residential\"\n[options]\nUSE_DR_PSTN = true\n");
    assert!(
        e.contains("USE_DR_PSTN needs HAVE_INBOUND_PSTN or HAVE_OUTBOUND_PSTN"),
        "{e}"
    );
    let e = bad("template = \"nope\"\n");
    assert!(e.contains("unknown template `nope`"), "{e}");
    let e = bad("template = \"residential\"\n[options\n");
    assert!(e.contains("line 2"), "{e}");
    let e = optionfile::load(&lib, Path::new("/nonexistent/x.toml"), None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/x.toml"), "{e}");
}

#[test]
fn osipsctlrc_values_become_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("osipsctlrc");
    std::fs::write(
        &rc,
        "DBENGINE=PGSQL\nDBHOST=127.0.0.1\nDBRWPW=secret\nOSIPS_FIFO=/run/osips/fifo\nOSIPS_MI_URL=http://127.0.0.7:8890/mi\n",
    )
    .unwrap();
    let d = CtlrcDefaults::from_files(&[rc.clone(), dir.path().join("missing")]).unwrap();
    assert_eq!(d.files, vec![rc]);
    let lib = Library::embedded();
    let mut s = set(&lib, "trunking");
    let changed = d.apply(&mut s);
    assert_eq!(changed, ["DB_URL", "MI_FIFO", "MI_HTTP_IP", "MI_HTTP_PORT"]);
    let out = render(&lib, &s);
    assert!(out.contains("loadmodule \"db_postgres.so\""));
    assert!(out.contains(
        "modparam(\"drouting\", \"db_url\", \"postgres://opensips:secret@127.0.0.1/opensips\")"
    ));
    assert!(out.contains("modparam(\"mi_fifo\", \"fifo_name\", \"/run/osips/fifo\")"));
}

#[test]
fn templates_directory_matches_the_embedded_copy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let from_dir = Library::from_dir(&dir).unwrap();
    let embedded = Library::embedded();
    for c in embedded.catalogues() {
        let a = embedded.render(&OptionSet::defaults(c.clone())).unwrap();
        let b = from_dir
            .render(&OptionSet::defaults(from_dir.catalogue(&c.name).unwrap()))
            .unwrap();
        assert_eq!(a, b, "{}", c.name);
    }
    // a broken directory is reported with the file name
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x.toml"), "name = \"x\"\ntitle = 1\n").unwrap();
    let e = Library::from_dir(tmp.path()).unwrap_err().to_string();
    assert!(e.starts_with("x.toml:"), "{e}");
}
