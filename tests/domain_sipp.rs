//! domain, alias_db, group and uri end to end: `osips -f` over a database provisioned through
//! the library, real sipp requests from 127.0.0.x sources, MI domain_reload / domain_dump over
//! mi_datagram.

mod auth_support;

use std::time::Duration;

use auth_support::{Osips, TestDb, common, sipp, sipp_expect, sipp_request, sipp_scenario};
use osips::db::Engine;
use osips::mi::client::{MiTarget, call};
use serde_json::json;

fn script(db: &TestDb, mi_port: u16, db_mode: u8) -> String {
    let url = db.url_string();
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "domain.so"
loadmodule "alias_db.so"
loadmodule "group.so"
loadmodule "uri.so"
loadmodule "mi_datagram.so"
modparam("domain", "db_url", "{url}")
modparam("domain", "db_mode", {db_mode})
modparam("alias_db", "db_url", "{url}")
modparam("group", "db_url", "{url}")
modparam("group", "use_domain", 1)
modparam("uri", "db_url", "{url}")
modparam("uri", "use_domain", 1)
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:{mi_port}")

route {{
    if (is_method("SUBSCRIBE")) {{
        if (db_does_uri_exist("$fu", "subscriber")) {{
            sl_send_reply(200, "From Exists");
        }} else {{
            sl_send_reply(404, "From Unknown");
        }}
        exit;
    }}
    if (!is_uri_host_local($var(attrs))) {{
        sl_send_reply(404, "Not Local $rd");
        exit;
    }}
    if (!is_from_local()) {{
        sl_send_reply(403, "From Not Local");
        exit;
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply(200, "Local $var(attrs)");
        exit;
    }}
    if (is_domain_local("$fd", $var(fattrs)) && $var(fattrs) != $var(attrs)) {{
        sl_send_reply(403, "Other Tenant");
        exit;
    }}
    if (alias_db_lookup("dbaliases")) {{
        sl_send_reply(200, "Alias $ru");
        exit;
    }}
    if (db_is_user_in("Request-URI", "vip")) {{
        sl_send_reply(200, "VIP $rU");
        exit;
    }}
    if (db_does_uri_exist()) {{
        sl_send_reply(200, "Exists $rU");
        exit;
    }}
    sl_send_reply(404, "No User $rU");
}}
"#
    )
}

/// One request from `src` and the reply line it must get (a regex on the status line).
fn expect(o: &Osips, src: &str, method: &str, ruri: &str, from: &str, code: u16, line: &str) {
    let body = format!(
        "{}{}",
        sipp_request(method, ruri, from, ruri, 1, ""),
        sipp_expect(code, false, Some(line), "r")
    );
    sipp(o, &sipp_scenario(&body, &["r"]), src, &[]);
}

fn provision(db: &TestDb) {
    db.add_domain("tenant-a.test", Some("tenant=a;plan=gold"), false);
    db.add_domain("tenant-b.test", Some("tenant=b"), true);
    db.add_user("alice", "tenant-a.test", "x");
    db.add_user("bob", "tenant-b.test", "x");
    db.add_user("boss", "tenant-a.test", "x");
    db.add_group("boss", "tenant-a.test", "vip");
    db.add_alias("sales", "tenant-a.test", "alice", "tenant-a.test");
    db.add_alias("support", "tenant-b.test", "bob", "tenant-b.test");
}

fn tenants(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = TestDb::new(engine) else {
        return;
    };
    provision(&db);
    let mi_port = common::free_udp_port();
    let o = Osips::start(&script(&db, mi_port, 1));
    let a = "sip:carol@tenant-a.test";
    expect(
        &o,
        "127.0.0.2",
        "OPTIONS",
        "sip:tenant-a.test",
        a,
        200,
        "^SIP/2.0 200 Local tenant=a;plan=gold",
    );
    expect(
        &o,
        "127.0.0.3",
        "OPTIONS",
        "sip:x@other.test",
        a,
        404,
        "^SIP/2.0 404 Not Local other.test",
    );
    // accept_subdomain on tenant-b only.
    let b = "sip:dave@tenant-b.test";
    expect(
        &o,
        "127.0.0.4",
        "OPTIONS",
        "sip:pbx.tenant-b.test",
        b,
        200,
        "^SIP/2.0 200 Local tenant=b",
    );
    expect(
        &o,
        "127.0.0.4",
        "OPTIONS",
        "sip:pbx.tenant-a.test",
        a,
        404,
        "^SIP/2.0 404 Not Local",
    );
    expect(
        &o,
        "127.0.0.2",
        "OPTIONS",
        "sip:tenant-a.test",
        "sip:eve@evil.test",
        403,
        "^SIP/2.0 403 From Not Local",
    );
    // Aliases resolve inside their own domain only.
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:sales@tenant-a.test",
        a,
        200,
        "^SIP/2.0 200 Alias sip:alice@tenant-a.test",
    );
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:support@tenant-b.test",
        b,
        200,
        "^SIP/2.0 200 Alias sip:bob@tenant-b.test",
    );
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:support@tenant-a.test",
        a,
        404,
        "^SIP/2.0 404 No User support",
    );
    // A call across tenants.
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:bob@tenant-b.test",
        a,
        403,
        "^SIP/2.0 403 Other Tenant",
    );
    // Groups with use_domain, subscribers with use_domain.
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:boss@tenant-a.test",
        a,
        200,
        "^SIP/2.0 200 VIP boss",
    );
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:alice@tenant-a.test",
        a,
        200,
        "^SIP/2.0 200 Exists alice",
    );
    expect(
        &o,
        "127.0.0.2",
        "MESSAGE",
        "sip:bob@tenant-a.test",
        a,
        404,
        "^SIP/2.0 404 No User bob",
    );

    // db_does_uri_exist(uri, table): the auth_db form works with the uri module too.
    let to = "sip:x@127.0.0.1";
    expect(
        &o,
        "127.0.0.2",
        "SUBSCRIBE",
        to,
        a.replace("carol", "alice").as_str(),
        200,
        "^SIP/2.0 200 From Exists",
    );
    expect(
        &o,
        "127.0.0.2",
        "SUBSCRIBE",
        to,
        "sip:alice@tenant-b.test",
        404,
        "^SIP/2.0 404 From Unknown",
    );

    // The cache only changes on domain_reload.
    let mi = MiTarget::Udp(format!("127.0.0.1:{mi_port}").parse().unwrap());
    let mi_call = |m: &str| {
        call(&mi, m, json!([]), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("MI {m}: {e}\n{}", o.log()))
    };
    db.add_domain("tenant-c.test", None, false);
    let c = "sip:fay@tenant-c.test";
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:tenant-c.test",
        c,
        404,
        "^SIP/2.0 404 Not Local",
    );
    let dump = mi_call("domain_dump");
    let names: Vec<&str> = dump["Domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tenant-a.test", "tenant-b.test"], "{dump}");
    assert_eq!(dump["Domains"][1]["accept_subdomain"], 1);
    assert_eq!(dump["Domains"][0]["attributes"], "tenant=a;plan=gold");
    assert_eq!(mi_call("domain_reload"), json!("OK"));
    assert_eq!(mi_call("domain:reload"), json!("OK"), "4.0 name");
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:tenant-c.test",
        c,
        200,
        "^SIP/2.0 200 Local",
    );
    assert_eq!(
        mi_call("domain_dump")["Domains"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn tenants_sqlite() {
    tenants(Engine::Sqlite);
}

#[test]
fn tenants_pgsql() {
    tenants(Engine::Postgres);
}

#[test]
fn tenants_mysql() {
    tenants(Engine::Mysql);
}

/// db_mode 0 asks the database on each request: a new domain serves at once, and there is no
/// cache to reload.
#[test]
fn db_mode_0_reads_the_table_each_time() {
    if common::sipp().is_none() {
        return;
    }
    let db = TestDb::new(Engine::Sqlite).unwrap();
    provision(&db);
    let mi_port = common::free_udp_port();
    let o = Osips::start(&script(&db, mi_port, 0));
    let c = "sip:fay@tenant-c.test";
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:tenant-c.test",
        c,
        404,
        "^SIP/2.0 404 Not Local",
    );
    db.add_domain("tenant-c.test", Some("tenant=c"), true);
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:tenant-c.test",
        c,
        200,
        "^SIP/2.0 200 Local tenant=c",
    );
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:a.b.tenant-c.test",
        c,
        200,
        "^SIP/2.0 200 Local tenant=c",
    );
    expect(
        &o,
        "127.0.0.5",
        "OPTIONS",
        "sip:x.tenant-a.test",
        c,
        404,
        "^SIP/2.0 404 Not Local",
    );
    let mi = MiTarget::Udp(format!("127.0.0.1:{mi_port}").parse().unwrap());
    let err = call(&mi, "domain_reload", json!([]), Duration::from_secs(5)).unwrap_err();
    assert!(err.to_string().contains("not enabled"), "{err}");
}
