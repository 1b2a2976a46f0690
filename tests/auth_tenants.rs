//! examples/multitenant.cfg with real sipp: tenants are domains; registration and calls are
//! authenticated per tenant; nothing crosses tenants. Until registrar / usrloc / tm / rr exist
//! in osips, the test runs the example with their calls swapped for stateless replies (each
//! swap must find its text, so the test fails when the example changes under it).

mod auth_support;

use auth_support::{Osips, TestDb, common, sipp, sipp_expect, sipp_request, sipp_scenario};
use osips::db::Engine;

const EXAMPLE: &str = include_str!("../examples/multitenant.cfg");

fn swap(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "examples/multitenant.cfg no longer contains `{from}`"
    );
    text.replace(from, to)
}

fn script(db: &TestDb) -> String {
    let url = db.url_string();
    let mut s = EXAMPLE.to_string();
    for module in ["tm", "rr", "usrloc", "registrar"] {
        s = swap(s, &format!("loadmodule \"{module}.so\"\n"), "");
    }
    s = swap(s, "modparam(\"usrloc\", \"use_domain\", 1)\n", "");
    s = swap(
        s,
        "socket = udp:127.0.0.1:5060",
        "socket = udp:127.0.0.1:@PORT@",
    );
    s = swap(
        s,
        "loadmodule \"uri.so\"\n",
        &format!(
            "loadmodule \"uri.so\"\n{}",
            ["auth_db", "domain", "alias_db", "uri"]
                .iter()
                .map(|m| format!("modparam(\"{m}\", \"db_url\", \"{url}\")\n"))
                .collect::<String>()
        ),
    );
    s = swap(
        s,
        "if (!save(\"location\"))",
        "if (!sl_send_reply(200, \"Saved $tu\"))",
    );
    s = swap(
        s,
        "if (!lookup(\"location\"))",
        "if (!is_method(\"MESSAGE\"))",
    );
    s = swap(s, "    record_route();\n", "");
    s = swap(s, "t_check_trans()", "is_method(\"ACK\")");
    s = swap(s, "loose_route()", "is_method(\"BYE\")");
    s.replace("t_relay();", "sl_send_reply(200, \"Relayed $ru\");")
}

fn provision(db: &TestDb) {
    db.add_domain("tenant-a.test", Some("tenant=a;plan=gold"), false);
    // Tenant A's second domain: the same tenant, other attributes.
    db.add_domain("a2.test", Some("plan=basic;tenant=a"), false);
    // No attributes: the domain is its own tenant.
    db.add_domain("tenant-b.test", None, false);
    db.add_domain("tenant-c.test", None, false);
    db.add_user("alice", "tenant-a.test", "alice-a");
    db.add_user("bob", "tenant-a.test", "bob-a");
    db.add_user("alice", "tenant-b.test", "alice-b");
    db.add_user("bob", "tenant-b.test", "bob-b");
    db.add_alias("sales", "tenant-a.test", "bob", "tenant-a.test");
    db.add_alias("support", "tenant-b.test", "bob", "tenant-b.test");
    db.add_user("carl", "tenant-c.test", "carl-c");
}

/// An authenticated request: challenge `code`, retry with [authentication], then `last`.
fn flow(
    method: &str,
    ruri: &str,
    from: &str,
    to: &str,
    challenge: u16,
    last: u16,
    re: &str,
) -> String {
    sipp_scenario(
        &format!(
            "{}{}{}{}",
            sipp_request(method, ruri, from, to, 1, ""),
            sipp_expect(challenge, true, None, ""),
            sipp_request(method, ruri, from, to, 2, "      [authentication]\n"),
            sipp_expect(last, false, Some(re), "r"),
        ),
        &["r"],
    )
}

fn tenants(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = TestDb::new(engine) else {
        return;
    };
    provision(&db);
    let o = Osips::start(&script(&db));
    let alice_a = ["-au", "alice", "-ap", "alice-a"];
    let (a, b) = ("sip:alice@tenant-a.test", "sip:bob@tenant-b.test");

    // alice registers in her tenant.
    let reg = flow(
        "REGISTER",
        "sip:tenant-a.test",
        a,
        a,
        401,
        200,
        "^SIP/2.0 200 Saved sip:alice@tenant-a.test",
    );
    sipp(&o, &reg, "127.0.0.2", &alice_a);
    // Her tenant-A password is not tenant B's: no contact into a tenant-B address of record.
    let into_b = flow(
        "REGISTER",
        "sip:tenant-b.test",
        "sip:alice@tenant-b.test",
        "sip:alice@tenant-b.test",
        401,
        401,
        "^SIP/2.0 401",
    );
    sipp(&o, &into_b, "127.0.0.2", &alice_a);
    let into_b_bob = flow(
        "REGISTER",
        "sip:tenant-b.test",
        a,
        b,
        401,
        401,
        "^SIP/2.0 401",
    );
    sipp(&o, &into_b_bob, "127.0.0.2", &alice_a);
    // Authenticated in A, but bob's address of record is not hers.
    let bobs = flow(
        "REGISTER",
        "sip:tenant-a.test",
        a,
        "sip:bob@tenant-a.test",
        401,
        403,
        "^SIP/2.0 403 Forbidden: not your address of record",
    );
    sipp(&o, &bobs, "127.0.0.2", &alice_a);

    // Calls: inside the tenant (through an alias of that tenant), across tenants refused.
    let same = flow(
        "MESSAGE",
        "sip:sales@tenant-a.test",
        a,
        "sip:sales@tenant-a.test",
        407,
        200,
        "^SIP/2.0 200 Relayed sip:bob@tenant-a.test",
    );
    sipp(&o, &same, "127.0.0.3", &alice_a);
    let cross = flow(
        "MESSAGE",
        "sip:bob@tenant-b.test",
        a,
        b,
        407,
        403,
        "^SIP/2.0 403 Forbidden",
    );
    sipp(&o, &cross, "127.0.0.3", &alice_a);
    // tenant B's alias does not resolve in tenant A.
    let alias_b = flow(
        "MESSAGE",
        "sip:support@tenant-a.test",
        a,
        "sip:support@tenant-a.test",
        407,
        200,
        "^SIP/2.0 200 Relayed sip:support@tenant-a.test",
    );
    sipp(&o, &alias_b, "127.0.0.3", &alice_a);
    // Two domains of tenant A reach each other.
    let a2 = flow(
        "MESSAGE",
        "sip:zoe@a2.test",
        a,
        "sip:zoe@a2.test",
        407,
        200,
        "^SIP/2.0 200 Relayed sip:zoe@a2.test",
    );
    sipp(&o, &a2, "127.0.0.3", &alice_a);
    // Domains without a tenant attribute are tenants of their own.
    let c_to_b = flow(
        "MESSAGE",
        "sip:bob@tenant-b.test",
        "sip:carl@tenant-c.test",
        b,
        407,
        403,
        "^SIP/2.0 403 Forbidden",
    );
    sipp(&o, &c_to_b, "127.0.0.4", &["-au", "carl", "-ap", "carl-c"]);
    // tenant B's credentials do not pass as tenant A's user.
    let b_creds = flow(
        "MESSAGE",
        "sip:bob@tenant-a.test",
        a,
        "sip:bob@tenant-a.test",
        407,
        407,
        "^SIP/2.0 407",
    );
    sipp(
        &o,
        &b_creds,
        "127.0.0.3",
        &["-au", "alice", "-ap", "alice-b"],
    );
}

#[test]
fn multitenant_example_sqlite() {
    tenants(Engine::Sqlite);
}

#[test]
fn multitenant_example_pgsql() {
    tenants(Engine::Postgres);
}

#[test]
fn multitenant_example_mysql() {
    tenants(Engine::Mysql);
}
