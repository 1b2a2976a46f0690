//! examples/multitenant.cfg with real sipp: tenants are domains; registration and calls are
//! authenticated per tenant; a request reaches a registered user of its own tenant (through
//! registrar `lookup` and tm), nothing crosses tenants. The example runs unchanged but for its
//! socket and database (each swap must find its text, so the test fails when the example changes
//! under it).

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
    s
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

/// A sipp phone answering one MESSAGE with 200 on `ip:port`, checking it was sent to bob's
/// registered contact.
struct Phone(common::sipp::Sipp);

impl Phone {
    fn start(ip: &str, port: u16) -> Phone {
        let check = format!("^MESSAGE sip:bob@{ip}:{port} SIP/2.0");
        let checks = [common::scenario::Check::msg(&check)];
        let xml = common::scenario::uas_200_tagged("phone", "MESSAGE", &checks, "[pid]phone");
        Phone(
            common::sipp::Run::new("the phone", &xml)
                .ip(ip)
                .port(port)
                .timeout(30)
                .limit(std::time::Duration::from_secs(20))
                .uas(),
        )
    }

    fn done(self, o: &Osips) {
        self.0.success(&**o);
    }
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
        "^SIP/2.0 200 OK.*Contact: .sip:u@127.0.0.2:[0-9]+.;expires=",
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

    // bob of tenant A registers the phone that listens on 127.0.0.5.
    let phone_port = common::free_udp_port();
    let phone = Phone::start("127.0.0.5", phone_port);
    let bob_reg = flow(
        "REGISTER",
        "sip:tenant-a.test",
        "sip:bob@tenant-a.test",
        "sip:bob@tenant-a.test",
        401,
        200,
        "^SIP/2.0 200 OK",
    )
    .replace(
        "Contact: <sip:u@[local_ip]:[local_port]>",
        &format!("Contact: <sip:bob@127.0.0.5:{phone_port}>"),
    );
    sipp(&o, &bob_reg, "127.0.0.6", &["-au", "bob", "-ap", "bob-a"]);

    // Calls: inside the tenant (through an alias of that tenant) the request reaches bob's
    // phone, relayed statefully; across tenants refused.
    let same = flow(
        "MESSAGE",
        "sip:sales@tenant-a.test",
        a,
        "sip:sales@tenant-a.test",
        407,
        200,
        "^SIP/2.0 200 OK.*To: .sip:sales@tenant-a.test.;tag=[0-9]+phone",
    );
    sipp(&o, &same, "127.0.0.3", &alice_a);
    phone.done(&o);
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
    // tenant B's alias does not resolve in tenant A: nobody there.
    let alias_b = flow(
        "MESSAGE",
        "sip:support@tenant-a.test",
        a,
        "sip:support@tenant-a.test",
        407,
        404,
        "^SIP/2.0 404 Not Found",
    );
    sipp(&o, &alias_b, "127.0.0.3", &alice_a);
    // Two domains of tenant A reach each other (zoe is not registered: 404, not 403).
    let a2 = flow(
        "MESSAGE",
        "sip:zoe@a2.test",
        a,
        "sip:zoe@a2.test",
        407,
        404,
        "^SIP/2.0 404 Not Found",
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
