//! osipsctl subscribers on SQLite, PostgreSQL and MariaDB: add / passwd / rm / show, the CSV
//! bulk add, hashes checked against digests computed by md5sum, sha256sum and openssl.

mod ctl_support;

use ctl_support::{Ctl, digest_tool};
use osips::db::Engine;

fn sub_row(ctl: &Ctl, user: &str, domain: &str) -> Vec<String> {
    let rows = ctl.rows(
        "SELECT password, ha1, ha1_sha256, ha1_sha512t256 FROM subscriber WHERE username = ? AND domain = ?",
        osips::params![user, domain],
    );
    assert_eq!(rows.len(), 1, "{user}@{domain}: {rows:?}");
    rows.into_iter().next().unwrap()
}

fn check_hashes(row: &[String], user: &str, domain: &str, pw: &str) {
    let s = format!("{user}:{domain}:{pw}");
    assert_eq!(row[1], digest_tool("md5", &s), "ha1 of {s}");
    assert_eq!(row[2], digest_tool("sha256", &s), "ha1_sha256 of {s}");
    assert_eq!(
        row[3],
        digest_tool("sha512t256", &s),
        "ha1_sha512t256 of {s}"
    );
}

fn add_passwd_rm_show(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    // A bare name takes SIP_DOMAIN; only the hashes are stored by default.
    let (_, err) = ctl.expect(&["add", "alice", "s3cret pass"], 0);
    assert!(err.contains("new user 'alice@example.com' added"), "{err}");
    let row = sub_row(&ctl, "alice", "example.com");
    assert_eq!(
        row[0], "",
        "clear password stored without STORE_PLAINTEXT_PW"
    );
    check_hashes(&row, "alice", "example.com", "s3cret pass");
    // Adding again is refused and changes nothing.
    ctl.expect(&["add", "alice@example.com", "other"], 1);
    check_hashes(
        &sub_row(&ctl, "alice", "example.com"),
        "alice",
        "example.com",
        "s3cret pass",
    );
    // Another domain is another user.
    ctl.ok(&["add", "alice@other.example.org", "pw2"]);
    ctl.ok(&["passwd", "alice", "new pw"]);
    check_hashes(
        &sub_row(&ctl, "alice", "example.com"),
        "alice",
        "example.com",
        "new pw",
    );
    check_hashes(
        &sub_row(&ctl, "alice", "other.example.org"),
        "alice",
        "other.example.org",
        "pw2",
    );
    ctl.expect(&["passwd", "nobody", "x"], 1);
    // show: table and JSON.
    let out = ctl.ok(&["show"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("id") && lines[0].contains("username"),
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");
    let v = ctl.json(&["show", "alice"], 0);
    assert_eq!(v["rows"][0]["username"], "alice");
    assert_eq!(v["rows"][0]["domain"], "example.com");
    ctl.expect(&["show", "bob"], 1);
    // rm removes the user and what refers to it, nothing of the other alice.
    let db = ctl.db();
    for (sql, p) in [
        (
            "INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('al', 'example.com', ?, ?)",
            0,
        ),
        (
            "INSERT INTO grp (username, domain, grp) VALUES (?, ?, 'local')",
            0,
        ),
        (
            "INSERT INTO usr_preferences (username, domain, attribute, value) VALUES (?, ?, 'lang', 'de')",
            0,
        ),
        (
            "INSERT INTO location (username, domain, contact, expires) VALUES (?, ?, 'sip:alice@127.0.0.2', 0)",
            0,
        ),
        (
            "INSERT INTO grp (username, domain, grp) VALUES (?, ?, 'ld')",
            1,
        ),
    ] {
        let d = if p == 0 {
            "example.com"
        } else {
            "other.example.org"
        };
        db.execute(sql, osips::params!["alice", d]).unwrap();
    }
    db.close();
    let (_, err) = ctl.expect(&["rm", "alice"], 0);
    assert!(
        err.contains("1 aliases, 1 ACL groups, 1 preferences, 1 contacts"),
        "{err}"
    );
    for t in ["dbaliases", "usr_preferences", "location"] {
        assert_eq!(ctl.count(t), 0, "{t}");
    }
    assert_eq!(ctl.count("grp"), 1);
    assert_eq!(ctl.count("subscriber"), 1);
    ctl.expect(&["rm", "alice"], 1);
    let v = ctl.json(&["rm", "alice@other.example.org"], 0);
    assert_eq!(v["command"], "rm");
    assert_eq!(v["acl_groups"], 1);
    assert_eq!(ctl.count("subscriber"), 0);
}

fn plaintext_and_aliases_settings(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    ctl.set_rc("STORE_PLAINTEXT_PW=1\nALIASES_TYPE=DB");
    ctl.ok(&["add", "bob", "Circle Of Life"]);
    let row = sub_row(&ctl, "bob", "example.com");
    assert_eq!(row[0], "Circle Of Life");
    check_hashes(&row, "bob", "example.com", "Circle Of Life");
    // The clear-text column holds 25 characters: a longer password is refused, not cut.
    ctl.expect(&["add", "carol", &"x".repeat(26)], 2);
    assert_eq!(ctl.count("subscriber"), 1);
    // ALIASES_TYPE=DB: a user colliding with an alias is refused.
    ctl.ok(&["alias_db", "add", "robert", "bob"]);
    let (_, err) = ctl.expect(&["add", "robert", "pw"], 1);
    assert!(err.contains("alias"), "{err}");
    ctl.set_rc("");
    ctl.ok(&["add", "robert", "pw"]);
}

fn missing_input_is_an_error(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    // No password and stdin is not a terminal: no prompt, exit 2.
    let (_, err) = ctl.expect(&["add", "dave"], 2);
    assert!(err.contains("no password"), "{err}");
    ctl.expect(&["passwd", "dave"], 2);
    // No SIP_DOMAIN: the error says to set it.
    ctl.env.write_rc(&format!("OSIPS_MI_URL={}", ctl.mi_url));
    let (_, err) = ctl.expect(&["add", "dave", "pw"], 2);
    assert!(err.contains("SIP_DOMAIN"), "{err}");
    ctl.ok(&["add", "dave@example.net", "pw"]);
    // Bad names are refused with exit 2 and nothing is written.
    for bad in [
        "da ve@example.net",
        "dävé@example.net",
        "d\"q@example.net",
        "x@exa mple.net",
        "x@a;b",
    ] {
        ctl.expect(&["add", bad, "pw"], 2);
    }
    ctl.expect(&["add", "eve@example.net", ""], 2);
    assert_eq!(ctl.count("subscriber"), 1);
}

fn csv_bulk_add(engine: Engine) {
    let Some(ctl) = Ctl::new(engine) else { return };
    let dir = ctl.env.dir.path();
    let good = dir.join("users.csv");
    std::fs::write(
        &good,
        "\u{feff}# bulk\nu1,p1\r\nu2@b.example.org,\"p,2 \"\"quoted\"\"\"\n\n  u3 ,p3\n",
    )
    .unwrap();
    let (out, err) = ctl.expect(&["add", "--csv", good.to_str().unwrap()], 0);
    assert!(err.contains("3 users added"), "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");
    check_hashes(
        &sub_row(&ctl, "u2", "b.example.org"),
        "u2",
        "b.example.org",
        "p,2 \"quoted\"",
    );
    check_hashes(
        &sub_row(&ctl, "u3", "example.com"),
        "u3",
        "example.com",
        "p3",
    );
    // A bad line aborts all, naming the line.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "n1,p1\nn2,p2\nn 3,p3\nn4,p4\n").unwrap();
    let (_, err) = ctl.expect(&["add", "--csv", bad.to_str().unwrap()], 2);
    assert!(err.contains("bad.csv:3:"), "{err}");
    // An existing user (line 2) aborts too, with exit 1; earlier lines are rolled back.
    std::fs::write(&bad, "n1,p1\nu1,p2\n").unwrap();
    let (_, err) = ctl.expect(&["add", "--csv", bad.to_str().unwrap()], 1);
    assert!(
        err.contains("bad.csv:2:") && err.contains("no user was added"),
        "{err}"
    );
    std::fs::write(&bad, "n1,p1,extra\n").unwrap();
    ctl.expect(&["add", "--csv", bad.to_str().unwrap()], 2);
    std::fs::write(&bad, "n1,p1\nn1,p1\n").unwrap();
    ctl.expect(&["add", "--csv", bad.to_str().unwrap()], 1);
    ctl.expect(
        &["add", "--csv", dir.join("missing.csv").to_str().unwrap()],
        2,
    );
    assert_eq!(ctl.count("subscriber"), 3);
    // --csv and a user name together is a usage error.
    let (code, _, err) = ctl.run(&["add", "x", "--csv", good.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

fn ha1b_on_subscriber_version_7(engine: Engine) {
    let Some(ctl) = Ctl::legacy_24(engine) else {
        return;
    };
    ctl.ok(&["add", "old", "pw"]);
    let rows = ctl.rows(
        "SELECT ha1, ha1b, password FROM subscriber WHERE username = 'old'",
        &[],
    );
    assert_eq!(rows[0][0], digest_tool("md5", "old:example.com:pw"));
    assert_eq!(
        rows[0][1],
        digest_tool("md5", "old@example.com:example.com:pw")
    );
    assert_eq!(rows[0][2], "");
    ctl.ok(&["passwd", "old", "pw2"]);
    let rows = ctl.rows("SELECT ha1b FROM subscriber", &[]);
    assert_eq!(
        rows[0][0],
        digest_tool("md5", "old@example.com:example.com:pw2")
    );
    ctl.ok(&["rm", "old"]);
}

on_engines!(
    add_passwd_rm_show,
    plaintext_and_aliases_settings,
    missing_input_is_an_error,
    csv_bulk_add,
    ha1b_on_subscriber_version_7,
);
