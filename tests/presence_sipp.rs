//! presence end to end: a database made by `osipsdbctl create` (standard and presence tables,
//! with their versions), `osips -F -E -f` running `handle_publish` / `handle_subscribe`, a sipp
//! publisher and a sipp watcher: PUBLISH gets 200 with SIP-ETag, the watcher's SUBSCRIBE gets
//! 200 (or 202 while pending) and a NOTIFY with the published PIDF, a modifying PUBLISH
//! (SIP-If-Match) makes a NOTIFY with the new document, an unknown entity tag gets 412, and an
//! unsubscribe (Expires: 0) gets a terminated NOTIFY.

mod common;

use std::time::Duration;

use common::db::test_db;
use common::osips::Osips;
use common::scenario::wrap;
use common::sipp::{Run, Sipp};
use osips::db::{Db, DbUrl, Engine, Value};
use serde_json::json;

/// Module parameters of a test run.
struct Params {
    force_active: u8,
    fallback2db: u8,
    db_update_period: u32,
    clean_period: u32,
    pidf_manipulation: u8,
    min_expires: u32,
}

const DEFAULT: Params = Params {
    pidf_manipulation: 0,
    force_active: 1,
    fallback2db: 0,
    db_update_period: 1,
    clean_period: 100,
    min_expires: 0,
};

/// The presence part of the residential_full scenario script: initial PUBLISH / SUBSCRIBE
/// record-routed and handled in `route[handle_presence]`, a SUBSCRIBE in a dialog (no Route)
/// handled when it is for us.
fn script(url: &str, p: &Params) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "sipmsgops.so"
loadmodule "db_sqlite.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", @HTTP@)
loadmodule "xcap.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
modparam("xcap|presence", "db_url", "{url}")
modparam("presence_xml", "force_active", {force})
modparam("presence_xml", "pidf_manipulation", {pidf})
modparam("presence", "fallback2db", {fb})
modparam("presence", "db_update_period", {dbu})
modparam("presence", "clean_period", {clean})
modparam("presence", "min_expires", {min_expires})

route {{
    if (has_totag()) {{
        if (!loose_route()) {{
            if (is_method("SUBSCRIBE") && is_myself("$rd")) {{
                route(handle_presence);
                exit;
            }}
            send_reply(404, "Not here");
            exit;
        }}
        send_reply(404, "Not here");
        exit;
    }}
    if (!is_method("REGISTER|MESSAGE"))
        record_route();
    if (is_method("PUBLISH|SUBSCRIBE"))
        route(handle_presence);
    send_reply(404, "Not here");
}}

event_route[E_PRESENCE_PUBLISH] {{
    xlog("L_NOTICE", "E_PRESENCE_PUBLISH $param(user)@$param(domain) $param(event) expires=$param(expires) etag=$param(etag) old=$param(old_etag)\n");
}}

route[handle_presence] {{
    if (!t_newtran()) {{
        sl_reply_error();
        exit;
    }}
    if (is_method("PUBLISH"))
        handle_publish();
    else if (is_method("SUBSCRIBE"))
        handle_subscribe();
    exit;
}}
"#,
        force = p.force_active,
        fb = p.fallback2db,
        dbu = p.db_update_period,
        clean = p.clean_period,
        pidf = p.pidf_manipulation,
        min_expires = p.min_expires,
    )
}

/// An SQLite database made by `osipsdbctl create` with the presence tables.
fn database(dir: &std::path::Path) -> String {
    let path = dir.join("osips.sqlite");
    let rc = dir.join("osipsctlrc");
    std::fs::write(
        &rc,
        format!(
            "DBENGINE=SQLITE\nDB_PATH=\"{}\"\nINSTALL_PRESENCE_TABLES=yes\nINSTALL_EXTRA_TABLES=no\n",
            path.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_osipsdbctl"))
        .args(["--rc", rc.to_str().unwrap(), "-y", "create"])
        .env_remove("OSIPSCTLRC")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "osipsdbctl create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sqlite://{}", path.display())
}

fn pidf(note: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">
<tuple id="t1"><status><basic>open</basic></status><note>{note}</note></tuple>
</presence>"#
    )
}

/// Publishes a document with `note` for `expires` seconds through `osips`; the entity tag of
/// the 200.
fn publish_new(osips: &Osips, note: &str, expires: u32) -> String {
    let s = publish(
        1,
        &format!("Event: presence\nExpires: {expires}\n"),
        Some(&pidf(note)),
    ) + "  <recv response=\"200\"/>\n";
    let publisher = Run::new(&format!("PUBLISH of {note}"), &wrap("publish", &s, &[]))
        .towards_port(osips.port)
        .done(osips);
    received_header(&publisher, "SIP-ETag")
}

/// Modifies the publication `etag` through `osips` to a document with `note`; expects 200.
fn publish_modify(osips: &Osips, etag: &str, note: &str) {
    let s = publish(
        2,
        &format!("Event: presence\nSIP-If-Match: {etag}\nExpires: 600\n"),
        Some(&pidf(note)),
    ) + "  <recv response=\"200\"/>\n";
    Run::new(&format!("PUBLISH of {note}"), &wrap("publish", &s, &[]))
        .towards_port(osips.port)
        .done(osips);
}

/// `<send>` of a PUBLISH for alice with `headers` (whole lines) and `body`.
fn publish(cseq: u32, headers: &str, body: Option<&str>) -> String {
    let (ct, body) = match body {
        Some(b) => (
            "Content-Type: application/pidf+xml\nContent-Length: [len]\n",
            b.to_string(),
        ),
        None => ("Content-Length: 0\n", String::new()),
    };
    format!(
        r#"  <send retrans="500"><![CDATA[
PUBLISH sip:alice@127.0.0.1:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:alice@127.0.0.1>;tag=[pid]P[call_number]
To: <sip:alice@127.0.0.1>
Call-ID: [call_id]
CSeq: {cseq} PUBLISH
Max-Forwards: 70
{headers}{ct}
{body}
]]></send>
"#
    )
}

/// `<recv>` of a response `code` whose whole text matches every regex (`!re`: must not).
fn recv(what: &str, checks: &[&str], prefix: &str, vars: &mut Vec<String>) -> String {
    recv_after(what, "", checks, prefix, vars)
}

/// `<recv>` of the `code` answer that makes the dialog: keeps its route set and its To tag
/// (`[$totag]`), and checks as [`recv`] does.
fn recv_dialog(code: u16, checks: &[&str], prefix: &str, vars: &mut Vec<String>) -> String {
    let var = format!("{prefix}tag");
    let totag = format!(
        "      <ereg regexp=\"tag=([^;&gt;[:space:]]+)\" search_in=\"hdr\" header=\"To:\" check_it=\"true\" assign_to=\"{var},totag\"/>\n"
    );
    vars.push(var);
    recv_after(
        &format!("response=\"{code}\" rrs=\"true\""),
        &totag,
        checks,
        prefix,
        vars,
    )
}

/// As [`recv`], with the `actions` (whole lines) before the checks.
fn recv_after(
    what: &str,
    actions: &str,
    checks: &[&str],
    prefix: &str,
    vars: &mut Vec<String>,
) -> String {
    let mut s = format!("  <recv {what}>\n    <action>\n{actions}");
    for (i, c) in checks.iter().enumerate() {
        let (re, inverse) = match c.strip_prefix('!') {
            Some(r) => (r, "check_it_inverse"),
            None => (*c, "check_it"),
        };
        let var = format!("{prefix}{i}");
        s.push_str(&format!(
            "      <ereg regexp=\"{}\" search_in=\"msg\" {inverse}=\"true\" assign_to=\"{var}\"/>\n",
            common::scenario::xml_escape(re)
        ));
        vars.push(var);
    }
    s.push_str("    </action>\n  </recv>\n");
    s
}

/// The 200 a watcher sends to a NOTIFY.
fn ok_notify() -> String {
    common::scenario::ok_to_last()
}

/// `<send>` of bob's SUBSCRIBE to alice: the initial one through a proxy (bob's own address)
/// that record-routes, or (`to_tag`) one in the dialog to the Contact the 200 gave.
fn subscribe(cseq: u32, expires: u32, to_tag: Option<&str>) -> String {
    subscribe_as("bob", "presence", cseq, expires, to_tag)
}

/// As [`subscribe`], from `user`@127.0.0.1 for `event`.
fn subscribe_as(user: &str, event: &str, cseq: u32, expires: u32, to_tag: Option<&str>) -> String {
    let (ruri, tag, rr) = match to_tag {
        Some(t) => ("[next_url]", format!(";tag={t}"), ""),
        None => (
            "sip:alice@127.0.0.1:[remote_port]",
            String::new(),
            "Record-Route: <sip:127.0.0.1:[local_port];lr;x=wp>\n",
        ),
    };
    format!(
        r#"  <send retrans="500"><![CDATA[
SUBSCRIBE {ruri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
{rr}From: <sip:{user}@127.0.0.1>;tag=[pid]W[call_number]
To: <sip:alice@127.0.0.1>{tag}
Call-ID: [call_id]
CSeq: {cseq} SUBSCRIBE
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
Event: {event}
Expires: {expires}
Content-Length: 0

]]></send>
"#
    )
}

/// The watcher: subscribes (answered `code`), takes the first NOTIFY (`first`: its checks),
/// then `more` NOTIFYs (each with its checks), then unsubscribes (answered `code` again: a
/// pending subscription stays pending to its end) and takes the terminated NOTIFY.
fn watcher(code: u16, first: &[&str], more: &[&[&str]]) -> String {
    watcher_as("bob", "presence", (code, code), first, more)
}

/// As [`watcher`] for `user` and `event`; `codes`: the answers to the SUBSCRIBE and to the
/// unsubscribe.
fn watcher_as(
    user: &str,
    event: &str,
    codes: (u16, u16),
    first: &[&str],
    more: &[&[&str]],
) -> String {
    let mut vars = Vec::new();
    let mut s = subscribe_as(user, event, 1, 300, None);
    s.push_str(&recv_dialog(
        codes.0,
        &[
            "Expires: 300",
            "Contact: <sip:presence@127\\.0\\.0\\.1:[0-9]+>",
        ],
        "sx",
        &mut vars,
    ));
    // RFC 6665 §4.2.2: along the route set, to the watcher's Contact, in the dialog
    let mut first: Vec<String> = first.iter().map(|c| c.to_string()).collect();
    first.extend([
        format!("^NOTIFY sip:{user}@127\\.0\\.0\\.1:[0-9]+ SIP/2\\.0"),
        "Route: <sip:127\\.0\\.0\\.1:[0-9]+;lr;x=wp>".into(),
        "From: <sip:alice@127\\.0\\.0\\.1>;tag=".into(),
        format!("To: <sip:{user}@127\\.0\\.0\\.1>;tag=[0-9]+W"),
        format!("Event: {}", event.replace('.', "\\.")),
        "Contact: <sip:presence@127\\.0\\.0\\.1:[0-9]+>".into(),
    ]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    s.push_str(&recv("request=\"NOTIFY\"", &first, "n0_", &mut vars));
    s.push_str(&ok_notify());
    for (i, checks) in more.iter().enumerate() {
        s.push_str(&recv(
            "request=\"NOTIFY\"",
            checks,
            &format!("n{}_", i + 1),
            &mut vars,
        ));
        s.push_str(&ok_notify());
    }
    s.push_str(&subscribe_as(user, event, 2, 0, Some("[$totag]")));
    s.push_str(&recv(
        &format!("response=\"{}\"", codes.1),
        &["Expires: 0"],
        "u",
        &mut vars,
    ));
    s.push_str(&recv(
        "request=\"NOTIFY\"",
        &["Subscription-State: terminated;reason=timeout"],
        "t",
        &mut vars,
    ));
    s.push_str(&ok_notify());
    wrap("watcher", &s, &vars)
}

/// The value of the first `header:` line a sipp run received.
fn received_header(sipp: &Sipp, header: &str) -> String {
    sipp.messages()
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(header)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {header} in:\n{}", sipp.messages()))
}

/// A fresh database made by `osipsdbctl` (its directory lives as long as the `TempDir`), or
/// `None` when sipp is missing.
fn fresh_database() -> Option<(tempfile::TempDir, String)> {
    common::sipp()?;
    let dir = tempfile::tempdir().unwrap();
    let url = database(dir.path());
    Some((dir, url))
}

/// osips with `params` on a fresh database (see [`fresh_database`]).
fn fresh_osips(params: &Params) -> Option<(tempfile::TempDir, String, Osips)> {
    let (dir, url) = fresh_database()?;
    let osips = start(&url, params);
    Some((dir, url, osips))
}

fn start(url: &str, params: &Params) -> Osips {
    Osips::script(&script(url, params)).start()
}

/// Starts the watcher scenario `w` towards `osips` and waits for its first NOTIFY.
fn start_watcher(what: &str, w: &str, osips: &Osips) -> Sipp {
    let watcher = Run::new(what, w).towards_port(osips.port).start();
    wait_until(&format!("{what} got no first NOTIFY"), osips, || {
        watcher.received("NOTIFY") >= 1
    });
    watcher
}

/// Stores alice's XCAP document `doc` of `doc_type` (2 pres-rules, 4 pidf-manipulation).
fn store_xcap(url: &str, doc_type: i64, doc: &str) {
    open(url)
        .execute(
            "INSERT INTO xcap (username, domain, doc, doc_type, etag, source, doc_uri, port) \
             VALUES ('alice', '127.0.0.1', ?, ?, 'e1', 0, ?, 0)",
            &[
                Value::Blob(doc.as_bytes().to_vec()),
                Value::Int(doc_type),
                Value::Text(format!("/{doc_type}/users/sip:alice@127.0.0.1/index")),
            ],
        )
        .unwrap();
}

/// alice's pres-rules with one rule: `sub-handling` of bob's subscriptions.
fn pres_rules_for_bob(handling: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
  <cr:rule id="bob"><cr:conditions><cr:identity><cr:one id="sip:bob@127.0.0.1"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>{handling}</sub-handling></cr:actions></cr:rule>
</cr:ruleset>"#
    )
}

fn wait_until(what: &str, osips: &Osips, cond: impl Fn() -> bool) {
    common::wait_until(what, Duration::from_secs(15), || osips.log(), cond);
}

fn open(url: &str) -> Db {
    Db::connect(&DbUrl::parse(url).unwrap()).unwrap()
}

fn presentity_bodies(url: &str) -> Vec<String> {
    let db = open(url);
    db.query("SELECT body FROM presentity", &[])
        .unwrap()
        .iter()
        .map(|r| match r.get(0) {
            Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            v => v.to_text().unwrap_or_default(),
        })
        .collect()
}

#[test]
fn publish_subscribe_notify() {
    publish_subscribe_notify_with(&DEFAULT);
}

/// The same with every change written to the database at once.
#[test]
fn publish_subscribe_notify_fallback2db() {
    publish_subscribe_notify_with(&Params {
        fallback2db: 1,
        db_update_period: 1000,
        ..DEFAULT
    });
}

fn publish_subscribe_notify_with(params: &Params) {
    let dir = tempfile::tempdir().unwrap();
    publish_subscribe_notify_on(&database(dir.path()), params);
}

/// The presence tables alone on a server engine (no `version` rows: not checked).
const TABLES: &[&str] = &["presentity", "active_watchers", "watchers", "xcap"];

#[test]
fn publish_subscribe_notify_postgres() {
    if let Some(db) = test_db(Engine::Postgres, TABLES, "ospres") {
        publish_subscribe_notify_on(&db.url, &DEFAULT);
    }
}

#[test]
fn publish_subscribe_notify_mysql() {
    if let Some(db) = test_db(Engine::Mysql, TABLES, "ospres") {
        publish_subscribe_notify_on(
            &db.url,
            &Params {
                fallback2db: 1,
                ..DEFAULT
            },
        );
    }
}

fn publish_subscribe_notify_on(url: &str, params: &Params) {
    if common::sipp().is_none() {
        return;
    }
    let url = url.to_string();
    let osips = start(&url, params);

    // A new publication: 200 with an entity tag and the granted Expires.
    let first = wrap(
        "publish",
        &(publish(
            1,
            "Event: presence\nExpires: 600\n",
            Some(&pidf("first-state")),
        ) + &recv(
            "response=\"200\"",
            &["SIP-ETag: [^[:space:]]+", "Expires: 600"],
            "p",
            &mut Vec::new(),
        )),
        &["p0".into(), "p1".into()],
    );
    let publisher = Run::new("first PUBLISH", &first)
        .towards_port(osips.port)
        .done(&osips);
    let etag = received_header(&publisher, "SIP-ETag");
    assert!(presentity_bodies(&url)[0].contains("first-state"));
    osips.wait_log("no E_PRESENCE_PUBLISH", |l| {
        l.contains(&format!(
            "E_PRESENCE_PUBLISH alice@127.0.0.1 presence expires=600 etag={etag} old=\n"
        ))
    });

    // The watcher gets the published document, then the modified one, then the end.
    let w = watcher(
        200,
        &[
            "Subscription-State: active;expires=[0-9]+",
            "Content-Type: application/pidf\\+xml",
            "<note>first-state</note>",
            "CSeq: 1 NOTIFY",
        ],
        &[&[
            "Subscription-State: active;expires=",
            "<note>second-state</note>",
            "CSeq: 2 NOTIFY",
        ]],
    );
    let mut watcher = start_watcher("the watcher", &w, &osips);
    let log = osips.log();
    assert!(!log.contains("handle_subscribe:"), "{log}");
    let subs = osips.mi("subs_phtable_list", json!({})).unwrap();
    let list = subs["Subscriptions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{subs}");
    assert_eq!(list[0]["watcher"], "sip:bob@127.0.0.1");
    assert_eq!(list[0]["pres_uri"], "sip:alice@127.0.0.1");
    assert_eq!(list[0]["status"], "active");
    let none = osips
        .mi("subs_phtable_list", json!({"from": "sip:carol@*"}))
        .unwrap();
    assert_eq!(none["Subscriptions"], json!([]), "{none}");
    let bob = osips
        .mi(
            "subs_phtable_list",
            json!({"from": "sip:bob@*", "to": "*alice*"}),
        )
        .unwrap();
    assert_eq!(bob["Subscriptions"].as_array().unwrap().len(), 1, "{bob}");
    let pres = osips.mi("presence:phtable_list", json!({})).unwrap();
    assert_eq!(pres["Presentities"][0]["etag"], etag.as_str(), "{pres}");
    // without fallback2db the dialog reaches active_watchers at the next db_update_period
    let watchers = || {
        let db = open(&url);
        db.query("SELECT watcher_username, status FROM active_watchers", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0).to_text().unwrap(), r.get(1).as_i64().unwrap()))
            .collect::<Vec<_>>()
    };
    wait_until(
        "the subscription never reached active_watchers",
        &osips,
        || watchers() == [("bob".to_string(), 1)],
    );

    // Modify with the entity tag; an unknown tag gets 412; no Event gets 489; junk gets 400.
    let mut vars = Vec::new();
    let mut s = publish(
        2,
        &format!("Event: presence\nSIP-If-Match: {etag}\nExpires: 600\n"),
        Some(&pidf("second-state")),
    );
    let same_tag = format!("!SIP-ETag: {}[[:space:]]", regex_escape(&etag));
    s += &recv(
        "response=\"200\"",
        &["SIP-ETag: [^[:space:]]+", &same_tag],
        "m",
        &mut vars,
    );
    s += &publish(
        3,
        "Event: presence\nSIP-If-Match: no-such-etag\nExpires: 600\n",
        Some(&pidf("third-state")),
    );
    s += &recv("response=\"412\"", &[], "x", &mut vars);
    s += &publish(4, "Expires: 600\n", Some(&pidf("no-event")));
    s += &recv(
        "response=\"489\"",
        &["Allow-Events: presence"],
        "e",
        &mut vars,
    );
    s += &publish(5, "Event: presence\n", Some("<presence><tuple></presence>"));
    s += &recv("response=\"400\"", &[], "b", &mut vars);
    s += &publish(6, "Event: dialog\n", Some(&pidf("other-package")));
    s += &recv("response=\"489\"", &[], "d", &mut vars);
    Run::new("modifying PUBLISHes", &wrap("publish2", &s, &vars))
        .towards_port(osips.port)
        .done(&osips);
    watcher.wait(&osips);
    let watcher = watcher.success(&osips);
    assert_eq!(watcher.received("NOTIFY"), 3);

    let bodies = presentity_bodies(&url);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("second-state"), "{bodies:?}");
    // the unsubscribed dialog is gone from memory and, after the next write, from the table
    wait_until(
        "the ended subscription stayed in active_watchers",
        &osips,
        || watchers().is_empty(),
    );
}

/// Without force_active and with no pres-rules document, a watcher waits for authorization:
/// 202, a NOTIFY saying pending with no document, a `watchers` row with status pending.
#[test]
fn unauthorized_watcher_stays_pending() {
    let Some((_dir, url, osips)) = fresh_osips(&Params {
        force_active: 0,
        ..DEFAULT
    }) else {
        return;
    };
    publish_new(&osips, "secret", 600);
    let w = watcher(
        202,
        &[
            "Subscription-State: pending;expires=[0-9]+",
            "Content-Length: +0",
            "!secret",
        ],
        &[],
    );
    Run::new("pending watcher", &w)
        .towards_port(osips.port)
        .done(&osips);
    let db = open(&url);
    let rows = db
        .query(
            "SELECT presentity_uri, watcher_username, watcher_domain, event, status FROM watchers",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 1);
    let text: Vec<String> = (0..5)
        .map(|i| rows[0].get(i).to_text().unwrap_or_default())
        .collect();
    assert_eq!(
        text,
        ["sip:alice@127.0.0.1", "bob", "127.0.0.1", "presence", "2"]
    );
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("[{c}]")
            }
        })
        .collect()
}

/// What ends by itself: a publication that is not refreshed (its watchers hear that nothing is
/// published any more) and a subscription that is not refreshed (terminated;reason=timeout).
#[test]
fn publications_and_subscriptions_expire() {
    let Some((_dir, url, osips)) = fresh_osips(&Params {
        clean_period: 1,
        ..DEFAULT
    }) else {
        return;
    };
    publish_new(&osips, "short-lived", 2);
    let mut vars = Vec::new();
    let mut s = subscribe(1, 5, None);
    s += &recv("response=\"200\"", &["Expires: 5"], "s", &mut vars);
    s += &recv(
        "request=\"NOTIFY\"",
        &["Subscription-State: active", "short-lived"],
        "a",
        &mut vars,
    );
    s += &ok_notify();
    s += &recv(
        "request=\"NOTIFY\"",
        &[
            "Subscription-State: active",
            "Content-Length: +0",
            "!short-lived",
        ],
        "b",
        &mut vars,
    );
    s += &ok_notify();
    s += &recv(
        "request=\"NOTIFY\"",
        &["Subscription-State: terminated;reason=timeout"],
        "c",
        &mut vars,
    );
    s += &ok_notify();
    s += "  <pause milliseconds=\"300\"/>\n";
    Run::new("expiring watcher", &wrap("watcher", &s, &vars))
        .towards_port(osips.port)
        .done(&osips);
    assert!(presentity_bodies(&url).is_empty());
    assert_eq!(
        osips.mi("subs_phtable_list", json!({})).unwrap()["Subscriptions"],
        json!([])
    );
}

/// Without fallback2db memory is the reference: what it holds is written when osips stops and
/// read again when it starts, so a restart keeps publications and subscription dialogs.
#[test]
fn state_survives_a_restart() {
    let Some((_dir, _, mut osips)) = fresh_osips(&Params {
        db_update_period: 1000,
        ..DEFAULT
    }) else {
        return;
    };
    let etag = publish_new(&osips, "before", 600);
    let w = watcher(
        200,
        &["<note>before</note>", "CSeq: 1 NOTIFY"],
        &[&["<note>after</note>", "CSeq: 2 NOTIFY"]],
    );
    let mut watcher = start_watcher("the watcher", &w, &osips);
    osips.restart();
    publish_modify(&osips, &etag, "after");
    watcher.wait(&osips);
    watcher.success(&osips);
}

/// Two servers on one database with fallback2db: a publication made through one is modified
/// through the other, whose NOTIFY reaches the watcher subscribed through the first.
#[test]
fn servers_sharing_a_database() {
    let Some((_dir, url)) = fresh_database() else {
        return;
    };
    let shared = Params {
        fallback2db: 1,
        ..DEFAULT
    };
    let a = start(&url, &shared);
    let b = start(&url, &shared);
    let etag = publish_new(&a, "via-a", 600);
    let w = watcher(
        200,
        &["<note>via-a</note>"],
        &[&["<note>via-b</note>", "CSeq: 2 NOTIFY"]],
    );
    let mut watcher = start_watcher("the watcher of a", &w, &a);
    publish_modify(&b, &etag, "via-b");
    watcher.wait(&a);
    watcher.success(&a);
}

/// SUBSCRIBEs refused: no or an unknown Event (489 with Allow-Events), a dialog osips does not
/// know (481), a CSeq that does not grow (400).
#[test]
fn subscribe_errors() {
    let Some((_dir, _, osips)) = fresh_osips(&DEFAULT) else {
        return;
    };
    let mut vars = Vec::new();
    let mut s = subscribe(1, 300, None).replace("Event: presence\n", "");
    s += &recv(
        "response=\"489\"",
        &["Allow-Events: presence"],
        "a",
        &mut vars,
    );
    s += &subscribe(2, 300, None).replace("Event: presence\n", "Event: message-summary\n");
    s += &recv("response=\"489\"", &[], "b", &mut vars);
    s += &subscribe(3, 300, None)
        .replace(
            "To: <sip:alice@127.0.0.1>",
            "To: <sip:alice@127.0.0.1>;tag=nosuch",
        )
        .replace(
            "SUBSCRIBE sip:alice@127.0.0.1:[remote_port]",
            "SUBSCRIBE sip:presence@127.0.0.1:[remote_port]",
        );
    s += &recv("response=\"481\"", &[], "c", &mut vars);
    // a real dialog, then a SUBSCRIBE in it with an old CSeq
    s += &subscribe(10, 300, None);
    s += &recv_dialog(200, &[], "dlg", &mut vars);
    s += &recv("request=\"NOTIFY\"", &[], "n", &mut vars);
    s += &ok_notify();
    s += &subscribe(10, 300, Some("[$totag]"));
    s += &recv("response=\"400\"", &[], "d", &mut vars);
    Run::new("refused SUBSCRIBEs", &wrap("errors", &s, &vars))
        .towards_port(osips.port)
        .done(&osips);
}

/// With `min_expires` 60 a PUBLISH or SUBSCRIBE asking for 5 seconds gets 423 with
/// `Min-Expires: 60` (RFC 3903 §6, RFC 6665 §4.2.1.1) and stores nothing; 120 seconds is fine.
#[test]
fn too_brief_expires() {
    let Some((_dir, url, osips)) = fresh_osips(&Params {
        min_expires: 60,
        ..DEFAULT
    }) else {
        return;
    };
    let mut vars = Vec::new();
    let mut s = publish(1, "Event: presence\nExpires: 5\n", Some(&pidf("too-brief")));
    s += &recv("response=\"423\"", &["Min-Expires: 60"], "p", &mut vars);
    s += &subscribe(1, 5, None);
    s += &recv("response=\"423\"", &["Min-Expires: 60"], "s", &mut vars);
    Run::new("too brief requests", &wrap("brief", &s, &vars))
        .towards_port(osips.port)
        .done(&osips);
    assert!(presentity_bodies(&url).is_empty());
    assert_eq!(
        osips.mi("subs_phtable_list", json!({})).unwrap()["Subscriptions"],
        json!([])
    );
    publish_new(&osips, "long-enough", 120);
    assert_eq!(presentity_bodies(&url).len(), 1);
}

/// RFC 3857 watcher information and a change of authorization: alice watches her watchers
/// (`presence.winfo`), bob's subscription waits (pending) until alice's pres-rules allow him
/// and MI `refresh_watchers ... 0` decides again: bob then gets her document.
#[test]
fn watcher_info_and_authorization_change() {
    let Some((_dir, url, osips)) = fresh_osips(&Params {
        force_active: 0,
        ..DEFAULT
    }) else {
        return;
    };
    publish_new(&osips, "for-friends", 600);
    let bob_pending = "<watcher id=\"[^\"]+\" event=\"subscribe\" status=\"pending\">sip:bob@127\\.0\\.0\\.1</watcher>";
    let bob_active = "status=\"active\">sip:bob@127\\.0\\.0\\.1</watcher>";
    let a = watcher_as(
        "alice",
        "presence.winfo",
        (200, 200),
        &[
            "Content-Type: application/watcherinfo\\+xml",
            "<watcher-list resource=\"sip:alice@127\\.0\\.0\\.1\" package=\"presence\">",
            "!<watcher id",
            "version=\"0\"",
        ],
        &[
            &[bob_pending, "version=\"1\""],
            &[bob_active, "version=\"2\""],
            &["!sip:bob@", "version=\"3\""],
        ],
    );
    let mut alice = start_watcher("alice's winfo", &a, &osips);
    let b = watcher_as(
        "bob",
        "presence",
        (202, 200),
        &["Subscription-State: pending", "!for-friends"],
        &[&["Subscription-State: active", "<note>for-friends</note>"]],
    );
    let mut bob = Run::new("bob", &b).towards_port(osips.port).start();
    wait_until("bob was not pending", &osips, || {
        bob.received("NOTIFY") >= 1 && alice.received("NOTIFY") >= 2
    });
    // alice's rules now allow bob
    store_xcap(&url, 2, &pres_rules_for_bob("allow"));
    let r = osips
        .mi(
            "refresh_watchers",
            json!({"pres_uri": "sip:alice@127.0.0.1", "event": "presence", "refresh_type": 0}),
        )
        .unwrap();
    assert_eq!(r["changed"], 1, "{r}");
    bob.wait(&osips);
    bob.success(&osips);
    alice.wait(&osips);
    alice.success(&osips);
    let status = open(&url)
        .query(
            "SELECT status FROM watchers WHERE watcher_username = 'bob'",
            &[],
        )
        .unwrap();
    assert_eq!(status[0].get(0).as_i64(), Some(1));
}

/// A watcher the presentity's pres-rules block: its SUBSCRIBE is answered, the NOTIFY says
/// terminated;reason=rejected, and no subscription is kept.
#[test]
fn blocked_watcher_is_rejected() {
    let Some((_dir, url)) = fresh_database() else {
        return;
    };
    store_xcap(&url, 2, &pres_rules_for_bob("block"));
    let osips = start(
        &url,
        &Params {
            force_active: 0,
            ..DEFAULT
        },
    );
    let mut vars = Vec::new();
    let mut s = subscribe(1, 300, None);
    s += "  <recv response=\"200\"/>\n";
    s += &recv(
        "request=\"NOTIFY\"",
        &[
            "Subscription-State: terminated;reason=rejected",
            "Content-Length: +0",
        ],
        "r",
        &mut vars,
    );
    s += &ok_notify();
    Run::new("blocked watcher", &wrap("blocked", &s, &vars))
        .towards_port(osips.port)
        .done(&osips);
    let subs = osips.mi("subs_phtable_list", json!({})).unwrap();
    assert_eq!(subs["Subscriptions"], json!([]), "{subs}");
    let status = open(&url)
        .query("SELECT status, reason FROM watchers", &[])
        .unwrap();
    assert_eq!(status[0].get(0).as_i64(), Some(3));
    assert_eq!(status[0].get(1).to_text().as_deref(), Some("rejected"));
}

/// pidf_manipulation: alice's document in the xcap table is her state before she publishes
/// anything, and is merged with what she publishes.
#[test]
fn pidf_manipulation_document() {
    let Some((_dir, url)) = fresh_database() else {
        return;
    };
    store_xcap(&url, 4, &pidf("from-xcap").replace("t1", "manip"));
    let osips = start(
        &url,
        &Params {
            pidf_manipulation: 1,
            ..DEFAULT
        },
    );
    let w = watcher(
        200,
        &["<note>from-xcap</note>"],
        &[&[
            "<note>published</note>",
            "<note>from-xcap</note>",
            "<tuple id=\"manip\">",
        ]],
    );
    let mut watcher = start_watcher("the watcher", &w, &osips);
    publish_new(&osips, "published", 600);
    watcher.wait(&osips);
    watcher.success(&osips);
}
