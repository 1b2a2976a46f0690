//! The rest of opensipsctl's provisioning through osipsctl, on SQLite, PostgreSQL and MariaDB:
//! alias_db, acl, address, dispatcher, avp, dialplan, speeddial, db show.

mod ctl_support;

use ctl_support::Ctl;
use osips::db::Engine;

fn alias_db(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&["add", "alice", "pw"]);
    ctl.ok(&["alias_db", "add", "ali", "alice"]);
    ctl.ok(&[
        "aliasdb",
        "add",
        "a.l@other.example.org",
        "alice@example.com",
    ]);
    ctl.expect(&["alias_db", "add", "ali", "alice"], 1);
    // An alias named like a subscriber would hide it.
    ctl.expect(&["alias_db", "add", "alice", "ali"], 1);
    let v = ctl.json(&["alias_db", "show", "ali"], 0);
    assert_eq!(
        v["rows"],
        serde_json::json!([{"alias": "ali@example.com", "target": "alice@example.com"}])
    );
    let out = ctl.ok(&["alias_db", "list", "alice"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    ctl.expect(&["alias_db", "show", "nobody"], 1);
    ctl.ok(&["alias_db", "rm", "ali"]);
    ctl.expect(&["alias_db", "rm", "ali"], 1);
    assert_eq!(ctl.count("dbaliases"), 1);
    let (_, err) = ctl.expect(&["alias_db", "add", "x", "nosuchuser"], 0);
    assert!(err.contains("not a subscriber"), "{err}");
}

fn acl(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&["add", "alice", "pw"]);
    let (_, err) = ctl.expect(&["acl", "grant", "alice", "local", "ld"], 0);
    assert!(err.contains("granted local, ld"), "{err}");
    let (_, err) = ctl.expect(&["acl", "grant", "alice", "ld", "int"], 0);
    assert!(err.contains("1 already held"), "{err}");
    // VERIFY_ACL=1 (default): only ACL_GROUPS names.
    let (_, err) = ctl.expect(&["acl", "grant", "alice", "gold"], 1);
    assert!(err.contains("ACL_GROUPS"), "{err}");
    // A user that does not exist: refused without a terminal unless --force.
    ctl.expect(&["acl", "grant", "ghost", "local"], 1);
    ctl.ok(&["acl", "grant", "ghost", "local", "--force"]);
    ctl.set_rc("VERIFY_ACL=0");
    ctl.ok(&["acl", "grant", "alice", "gold"]);
    ctl.set_rc("ACL_GROUPS=\"silver bronze\"");
    ctl.expect(&["acl", "grant", "alice", "local"], 1);
    ctl.ok(&["acl", "grant", "alice", "silver"]);
    let v = ctl.json(&["acl", "show", "alice"], 0);
    let groups: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["grp"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["gold", "int", "ld", "local", "silver"]);
    assert_eq!(ctl.ok(&["acl", "show"]).lines().count(), 8);
    ctl.ok(&["acl", "revoke", "alice", "gold"]);
    ctl.expect(&["acl", "revoke", "alice", "gold"], 1);
    ctl.ok(&["acl", "revoke", "alice"]);
    ctl.expect(&["acl", "revoke", "alice"], 1);
    assert_eq!(ctl.count("grp"), 1);
}

fn address(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&[
        "address",
        "add",
        "1",
        "127.0.0.10",
        "32",
        "5060",
        "UDP",
        "pbx-1",
        "^sip:.*",
    ]);
    ctl.ok(&["address", "add", "2", "::1", "128", "0", "any"]);
    ctl.expect(
        &["address", "add", "1", "127.0.0.10", "32", "5060", "tcp"],
        1,
    );
    for bad in [
        ["1", "host.example", "32", "5060", "udp"],
        ["1", "127.0.0.1", "33", "5060", "udp"],
        ["1", "127.0.0.1", "32", "70000", "udp"],
        ["1", "127.0.0.1", "32", "5060", "quic"],
        ["-1", "127.0.0.1", "32", "5060", "udp"],
    ] {
        let mut args = vec!["address", "add"];
        args.extend_from_slice(&bad);
        ctl.expect(&args, 2);
    }
    let rows = ctl.rows(
        "SELECT grp, ip, mask, port, proto, pattern, context_info FROM address ORDER BY grp",
        &[],
    );
    assert_eq!(
        rows[0],
        ["1", "127.0.0.10", "32", "5060", "udp", "^sip:.*", "pbx-1"]
    );
    assert_eq!(rows[1], ["2", "::1", "128", "0", "any", "NULL", "NULL"]);
    let v = ctl.json(&["address", "show"], 0);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    ctl.ok(&["address", "rm", "2", "::1", "128", "0"]);
    ctl.expect(&["address", "rm", "2", "::1", "128", "0"], 1);
    ctl.expect(&["address", "reload"], 3);
    assert_eq!(ctl.count("address"), 1);
}

fn dispatcher(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&[
        "dispatcher",
        "addgw",
        "1",
        "sip:127.0.0.20:5060",
        "udp:127.0.0.1:5060",
        "0",
        "50",
        "media=fs",
        "FreeSWITCH 1",
    ]);
    ctl.ok(&[
        "dispatcher",
        "addgw",
        "1",
        "sips:127.0.0.21",
        "",
        "1",
        "50",
        "",
        "--priority",
        "-2",
        "--probe-mode",
        "1",
    ]);
    for bad in [
        vec!["dispatcher", "addgw", "x", "sip:a", "", "0", "1", ""],
        vec!["dispatcher", "addgw", "1", "127.0.0.1", "", "0", "1", ""],
        vec!["dispatcher", "addgw", "1", "sip:a b", "", "0", "1", ""],
        vec!["dispatcher", "addgw", "1", "sip:a", "nocolon", "0", "1", ""],
        vec!["dispatcher", "addgw", "1", "sip:a", "", "7", "1", ""],
        vec!["dispatcher", "addgw", "1", "sip:a", "", "0", "", ""],
    ] {
        ctl.expect(&bad, 2);
    }
    let rows = ctl.rows(
        "SELECT setid, destination, socket, state, probe_mode, weight, priority, attrs, description FROM dispatcher ORDER BY id",
        &[],
    );
    assert_eq!(
        rows[0],
        [
            "1",
            "sip:127.0.0.20:5060",
            "udp:127.0.0.1:5060",
            "0",
            "0",
            "50",
            "0",
            "media=fs",
            "FreeSWITCH 1"
        ]
    );
    assert_eq!(
        rows[1],
        [
            "1",
            "sips:127.0.0.21",
            "NULL",
            "1",
            "1",
            "50",
            "-2",
            "NULL",
            "NULL"
        ]
    );
    let v = ctl.json(&["dispatcher", "show"], 0);
    let id = v["rows"][1]["id"].as_i64().unwrap().to_string();
    ctl.ok(&["dispatcher", "rmgw", &id]);
    ctl.expect(&["dispatcher", "rmgw", &id], 1);
    ctl.expect(&["dispatcher", "rmgw", "abc"], 2);
    ctl.expect(&["dispatcher", "reload"], 3);
    assert_eq!(ctl.count("dispatcher"), 1);
}

fn avp(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&["avp", "add", "alice@example.com", "lang", "0", "de"]);
    ctl.ok(&["avp", "add", "alice@example.com", "maxcalls", "1", "3"]);
    ctl.ok(&["avp", "add", "a1b2-uuid", "7", "3", "42"]);
    ctl.expect(&["avp", "add", "alice@example.com", "lang", "1", "de"], 2);
    ctl.expect(&["avp", "add", "alice@example.com", "lang", "2", "x"], 2);
    ctl.expect(&["avp", "add", "alice@example.com", "lang", "4", "x"], 2);
    let rows = ctl.rows(
        "SELECT uuid, username, domain, attribute, type, value FROM usr_preferences ORDER BY id",
        &[],
    );
    assert_eq!(rows[0], ["", "alice", "example.com", "lang", "0", "de"]);
    assert_eq!(rows[2], ["a1b2-uuid", "", "", "7", "3", "42"]);
    let v = ctl.json(&["avp", "list", "-u", "alice@example.com"], 0);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    let v = ctl.json(&["avp", "list", "-t", "3"], 0);
    assert_eq!(v["rows"][0]["uuid"], "a1b2-uuid");
    assert_eq!(
        ctl.ok(&["avp", "list", "-a", "lang", "-v", "de"])
            .lines()
            .count(),
        3
    );
    ctl.expect(&["avp", "rm"], 2);
    ctl.ok(&["avp", "rm", "-u", "alice@example.com", "-a", "lang"]);
    ctl.expect(&["avp", "rm", "-a", "lang"], 1);
    ctl.expect(&["avp", "list", "-T", "no;table"], 2);
    ctl.expect(&["avp", "list", "-T", "nosuchtable"], 1);
    assert_eq!(ctl.count("usr_preferences"), 2);
}

fn dialplan(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&[
        "dialplan",
        "addrule",
        "1",
        "10",
        "regexp",
        "^00([0-9]+)$",
        "0",
        "^00(.*)$",
        "+\\1",
        "intl",
    ]);
    ctl.ok(&[
        "dialplan", "addrule", "1", "20", "equal", "911", "1", "", "", "",
    ]);
    ctl.ok(&[
        "dialplan", "addrule", "2", "10", "fnmatch", "1*", "0", "", "", "",
    ]);
    ctl.expect(
        &[
            "dialplan", "addrule", "1", "10", "like", "x", "0", "", "", "",
        ],
        2,
    );
    ctl.expect(
        &[
            "dialplan", "addrule", "x", "10", "equal", "x", "0", "", "", "",
        ],
        2,
    );
    let rows = ctl.rows("SELECT dpid, pr, match_op, match_exp, match_flags, subst_exp, repl_exp, attrs FROM dialplan ORDER BY id", &[]);
    assert_eq!(
        rows[0],
        [
            "1",
            "10",
            "1",
            "^00([0-9]+)$",
            "0",
            "^00(.*)$",
            "+\\1",
            "intl"
        ]
    );
    assert_eq!(
        rows[1],
        ["1", "20", "0", "911", "1", "NULL", "NULL", "NULL"]
    );
    assert_eq!(
        ctl.json(&["dialplan", "show", "1"], 0)["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(ctl.ok(&["dialplan", "show"]).lines().count(), 5);
    ctl.ok(&["dialplan", "rmrule", "1", "20"]);
    ctl.expect(&["dialplan", "rmrule", "1", "20"], 1);
    ctl.ok(&["dialplan", "rmdpid", "2"]);
    ctl.expect(&["dialplan", "rmdpid", "2"], 1);
    // Removing every rule needs a terminal or --yes.
    ctl.expect(&["dialplan", "rm"], 1);
    assert_eq!(ctl.count("dialplan"), 1);
    ctl.ok(&["dialplan", "rm", "--yes"]);
    assert_eq!(ctl.count("dialplan"), 0);
    ctl.expect(&["dialplan", "reload"], 3);
}

fn speeddial(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&[
        "speeddial",
        "add",
        "alice",
        "1",
        "sip:bob@example.com",
        "Bob",
    ]);
    ctl.ok(&["speed_dial", "add", "alice", "2", "tel:+4930123"]);
    ctl.ok(&[
        "speeddial",
        "add",
        "carol@other.example.org",
        "1",
        "sip:dave@example.com",
    ]);
    ctl.expect(&["speeddial", "add", "alice", "1", "sip:x@example.com"], 1);
    ctl.expect(&["speeddial", "add", "alice", "3", "http://x"], 2);
    let rows = ctl.rows("SELECT username, domain, sd_username, sd_domain, new_uri, description FROM speed_dial ORDER BY id", &[]);
    assert_eq!(
        rows[0],
        [
            "alice",
            "example.com",
            "1",
            "example.com",
            "sip:bob@example.com",
            "Bob"
        ]
    );
    assert_eq!(
        rows[2][3], "other.example.org",
        "a bare speed-dial id takes the owner's domain"
    );
    assert_eq!(
        ctl.json(&["speeddial", "list", "alice"], 0)["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ctl.json(&["speeddial", "show", "1"], 0)["rows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ctl.ok(&["speeddial", "rm", "alice", "1"]);
    ctl.expect(&["speeddial", "rm", "alice", "1"], 1);
    assert_eq!(ctl.count("speed_dial"), 2);
}

fn db_show(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.ok(&["add", "alice", "pw"]);
    let v = ctl.json(&["db", "show", "subscriber"], 0);
    assert_eq!(v["rows"][0]["username"], "alice");
    let out = ctl.ok(&["db", "show", "version"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("subscriber") && l.trim_end().ends_with('8')),
        "{out}"
    );
    let out = ctl.ok(&["db", "show", "dbaliases"]);
    assert!(out.starts_with("id"), "header of an empty table: {out}");
    ctl.expect(&["db", "show", "nosuch"], 1);
    ctl.expect(&["db", "show", "subscriber; DROP TABLE version"], 2);
    assert!(ctl.count("version") > 0);
}

on_engines!(
    alias_db, acl, address, dispatcher, avp, dialplan, speeddial, db_show
);
