//! Injection attempts in every argument of every osipsctl command, on SQLite, PostgreSQL and
//! MariaDB: each value is either stored exactly as given, or refused (exit 1 or 2) with the
//! database unchanged; no table is dropped.

mod ctl_support;

use ctl_support::Ctl;
use osips::db::{Engine, Value, admin};

const PAYLOADS: &[&str] = &[
    "o'brien",
    "semi;colon--dash",
    "x'); DROP TABLE subscriber; --",
    "Zürich✓日本",
    "\" OR \"1\"=\"1",
    "back\\slash'",
    "%_wild*",
    "$(reboot)",
    "-- comment",
];

/// (arguments with `{P}` for the payload and `{N}` for a per-payload number, table, column
/// where a successful run must have stored the payload literally).
const CASES: &[(&[&str], &str, &str)] = &[
    (&["add", "{P}@example.com", "pw"], "subscriber", "username"),
    (
        &["add", "u{N}@example.com", "{P}"],
        "subscriber",
        "password",
    ),
    (&["passwd", "alice", "{P}"], "subscriber", "password"),
    (
        &["tenant", "add", "t{N}", "t{N}.example", "--attr", "k={P}"],
        "domain",
        "attrs",
    ),
    (&["tenant", "add", "{P}", "x{N}.example"], "domain", "attrs"),
    (&["domain", "add", "{P}"], "domain", "domain"),
    (
        &["domain", "add", "d{N}.example", "--tenant", "{P}"],
        "domain",
        "attrs",
    ),
    (
        &["alias_db", "add", "{P}", "alice"],
        "dbaliases",
        "alias_username",
    ),
    (
        &["alias_db", "add", "al{N}", "{P}@example.com"],
        "dbaliases",
        "username",
    ),
    (&["acl", "grant", "alice", "{P}"], "grp", "grp"),
    (
        &["acl", "grant", "{P}@example.com", "local", "--force"],
        "grp",
        "username",
    ),
    (
        &[
            "address",
            "add",
            "1",
            "127.0.0.1",
            "32",
            "5{N}",
            "udp",
            "{P}",
            "{P}",
        ],
        "address",
        "context_info",
    ),
    (
        &["address", "add", "1", "{P}", "32", "5060", "udp"],
        "address",
        "ip",
    ),
    (
        &["address", "add", "{P}", "127.0.0.1", "32", "5060", "udp"],
        "address",
        "ip",
    ),
    (
        &["address", "add", "1", "127.0.0.2", "32", "5060", "{P}"],
        "address",
        "proto",
    ),
    (
        &[
            "dispatcher",
            "addgw",
            "1",
            "sip:127.0.0.1",
            "",
            "0",
            "1",
            "{P}",
            "{P}",
        ],
        "dispatcher",
        "attrs",
    ),
    (
        &["dispatcher", "addgw", "1", "sip:{P}", "", "0", "1", ""],
        "dispatcher",
        "destination",
    ),
    (
        &[
            "dispatcher",
            "addgw",
            "1",
            "sip:127.0.0.1",
            "udp:{P}",
            "0",
            "1",
            "",
        ],
        "dispatcher",
        "socket",
    ),
    (
        &[
            "dispatcher",
            "addgw",
            "1",
            "sip:127.0.0.1",
            "",
            "0",
            "{P}",
            "",
        ],
        "dispatcher",
        "weight",
    ),
    (
        &["avp", "add", "{P}", "attr", "0", "{P}"],
        "usr_preferences",
        "uuid",
    ),
    (
        &["avp", "add", "alice@example.com", "{P}", "0", "v"],
        "usr_preferences",
        "attribute",
    ),
    (
        &[
            "dialplan", "addrule", "1", "{N}", "regexp", "{P}", "0", "{P}", "{P}", "{P}",
        ],
        "dialplan",
        "match_exp",
    ),
    (
        &[
            "speeddial",
            "add",
            "alice",
            "{N}",
            "sip:x@example.com",
            "{P}",
        ],
        "speed_dial",
        "description",
    ),
    (
        &["speeddial", "add", "alice", "{P}", "sip:x@example.com"],
        "speed_dial",
        "sd_username",
    ),
    (
        &["speeddial", "add", "alice", "s{N}", "sip:{P}@example.com"],
        "speed_dial",
        "new_uri",
    ),
];

/// Read-only or removing commands: they may find nothing (1) or refuse (2), never change rows
/// other than the payload's.
const LOOKUPS: &[&[&str]] = &[
    &["show", "{P}"],
    &["rm", "{P}"],
    &["tenant", "show", "{P}"],
    &["tenant", "rm", "{P}"],
    &["domain", "rm", "{P}"],
    &["alias_db", "show", "{P}"],
    &["alias_db", "list", "{P}"],
    &["alias_db", "rm", "{P}"],
    &["acl", "show", "{P}"],
    &["acl", "revoke", "alice", "{P}"],
    &["address", "rm", "1", "{P}", "32", "5060"],
    &["dispatcher", "rmgw", "{P}"],
    &["avp", "list", "-u", "{P}", "-a", "{P}", "-v", "{P}"],
    &["avp", "list", "-T", "{P}"],
    &["avp", "rm", "-v", "{P}"],
    &["dialplan", "show", "{P}"],
    &["dialplan", "rmdpid", "{P}"],
    &["dialplan", "rmrule", "1", "{P}"],
    &["speeddial", "show", "{P}"],
    &["speeddial", "list", "{P}"],
    &["speeddial", "rm", "alice", "{P}"],
    &["db", "show", "{P}"],
];

/// Row counts of every table, over one connection.
fn total_rows(ctl: &Ctl, tables: &[String]) -> Vec<i64> {
    let db = ctl.db();
    let n = tables
        .iter()
        .map(|t| {
            db.query(
                &format!("SELECT COUNT(*) FROM {}", db.engine().quote(t)),
                &[],
            )
            .unwrap()[0]
                .get(0)
                .as_i64()
                .unwrap()
        })
        .collect();
    db.close();
    n
}

fn injection_everywhere(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.set_rc("STORE_PLAINTEXT_PW=1\nVERIFY_ACL=0");
    ctl.ok(&["add", "alice", "pw"]);
    ctl.ok(&["add", "o'brien;--x", "pw"]);
    let db = ctl.db();
    let tables = admin::list_tables(&db).unwrap();
    db.close();
    let mut stored = 0;
    let mut refused = 0;
    for (i, p) in PAYLOADS.iter().enumerate() {
        let n = (i + 1).to_string();
        for (tmpl, table, col) in CASES {
            let args: Vec<String> = tmpl
                .iter()
                .map(|a| a.replace("{P}", p).replace("{N}", &n))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let before = total_rows(&ctl, &tables);
            let (code, _, err) = ctl.run(&args);
            if code == 0 {
                stored += 1;
                let wanted = match (*table, *col) {
                    ("domain", "attrs") if tmpl[0] == "tenant" && tmpl[2] == "{P}" => {
                        format!("tenant={p}")
                    }
                    ("domain", "attrs") => format!("tenant=t{n};k={p}"),
                    ("dbaliases", "username") | ("grp", "username") => p.to_string(),
                    ("dispatcher", "destination") => format!("sip:{p}"),
                    ("dispatcher", "socket") => format!("udp:{p}"),
                    ("speed_dial", "new_uri") => format!("sip:{p}@example.com"),
                    _ => p.to_string(),
                };
                let rows = ctl.rows(
                    &format!("SELECT {col} FROM {table} WHERE {col} = ?"),
                    &[Value::from(wanted.as_str())],
                );
                assert!(
                    rows.iter().any(|r| r[0] == wanted),
                    "{args:?} succeeded but {table}.{col} does not hold {wanted:?} literally"
                );
            } else {
                refused += 1;
                assert!(code == 1 || code == 2, "{args:?}: exit {code}: {err}");
                assert_eq!(
                    total_rows(&ctl, &tables),
                    before,
                    "{args:?} failed but changed rows"
                );
            }
        }
        for tmpl in LOOKUPS {
            let args: Vec<String> = tmpl.iter().map(|a| a.replace("{P}", p)).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let before = total_rows(&ctl, &tables);
            let (code, _, err) = ctl.run(&args);
            assert!(code <= 2, "{args:?}: exit {code}: {err}");
            if code != 0
                || !matches!(
                    args[0],
                    "rm" | "tenant" | "domain" | "alias_db" | "acl" | "avp" | "speeddial"
                )
            {
                assert_eq!(total_rows(&ctl, &tables), before, "{args:?} changed rows");
            }
        }
    }
    // Both outcomes happened, and every table is still there.
    assert!(
        stored > 20 && refused > 20,
        "stored {stored}, refused {refused}"
    );
    let db = ctl.db();
    assert_eq!(admin::list_tables(&db).unwrap(), tables);
    db.close();
    // The user added with a quote and a semicolon authenticates with its literal name.
    let rows = ctl.rows(
        "SELECT ha1 FROM subscriber WHERE username = ? AND domain = 'example.com'",
        &[Value::from("o'brien;--x")],
    );
    assert_eq!(
        rows[0][0],
        ctl_support::digest_tool("md5", "o'brien;--x:example.com:pw")
    );
}

on_engines!(injection_everywhere);
