//! permissions end to end: the address table provisioned through the library, requests from
//! 127.0.0.x sources (sipp, and a raw client for a fixed source port), MI address_dump /
//! address_reload over mi_datagram.

mod auth_support;

use std::time::Duration;

use auth_support::{
    Osips, TestDb, Uac, common, sipp, sipp_expect, sipp_request, sipp_scenario, status,
};
use osips::db::Engine;
use osips::mi::client::{MiTarget, call};
use serde_json::json;

fn script(db: &TestDb, mi_port: u16) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "permissions.so"
loadmodule "mi_datagram.so"
modparam("permissions", "db_url", "{url}")
modparam("mi_datagram", "socket_name", "udp:127.0.0.1:{mi_port}")

route {{
    if (is_method("INFO")) {{
        if (get_source_group($var(g))) {{
            sl_send_reply(200, "Group $var(g)");
        }} else {{
            sl_send_reply(404, "No Group $var(g)");
        }}
        exit;
    }}
    if (check_source_address(1, $var(ctx))) {{
        sl_send_reply(200, "Trusted $var(ctx)");
        exit;
    }}
    if (check_source_address(4, $var(ctx), "$ru")) {{
        sl_send_reply(200, "Pattern $var(ctx)");
        exit;
    }}
    if (check_source_address(5)) {{
        sl_send_reply(200, "Port");
        exit;
    }}
    if (check_address(2, "$si", 0, "udp", $var(ctx))) {{
        sl_send_reply(200, "Subnet $var(ctx)");
        exit;
    }}
    if (check_address(3, "$si", $sp, "udp")) {{
        sl_send_reply(200, "Wrong Proto");
        exit;
    }}
    if (check_address(0, "127.0.0.77", 0, "any")) {{
        sl_send_reply(200, "Any Group");
        exit;
    }}
    sl_send_reply(403, "Untrusted $si");
}}
"#,
        url = db.url_string()
    )
}

fn expect(o: &Osips, src: &str, ruri: &str, code: u16, line: &str) {
    expect_method(o, "OPTIONS", src, ruri, code, line);
}

fn expect_method(o: &Osips, method: &str, src: &str, ruri: &str, code: u16, line: &str) {
    let body = format!(
        "{}{}",
        sipp_request(method, ruri, "sip:gw@127.0.0.1", ruri, 1, ""),
        sipp_expect(code, false, Some(line), "r")
    );
    sipp(o, &sipp_scenario(&body, &["r"]), src, &[]);
}

fn addresses(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = TestDb::new(engine) else {
        return;
    };
    db.add_address(1, "127.0.0.2", 32, 0, "any", None, Some("gw-two"));
    db.add_address(2, "127.0.1.0", 24, 0, "udp", None, Some("lan"));
    db.add_address(3, "127.0.0.3", 32, 0, "tcp", None, None);
    db.add_address(
        4,
        "127.0.0.4",
        32,
        0,
        "any",
        Some("sip:*@tenant-a.test"),
        Some("pat"),
    );
    // One port only: the raw client binds it below. Below 32768: the PostgreSQL schema has the
    // port as SMALLINT, as OpenSIPS's.
    let (fixed, fixed_port) = (20000u16..32767)
        .step_by(7)
        .find_map(|p| {
            std::net::UdpSocket::bind(("127.0.0.6", p))
                .ok()
                .map(|s| (s, p))
        })
        .expect("a free port on 127.0.0.6");
    db.add_address(5, "127.0.0.6", 32, fixed_port as i64, "udp", None, None);
    let mi_port = common::free_udp_port();
    let o = Osips::start(&script(&db, mi_port));

    expect(
        &o,
        "127.0.0.2",
        "sip:x@127.0.0.1",
        200,
        "^SIP/2.0 200 Trusted gw-two",
    );
    expect(
        &o,
        "127.0.1.9",
        "sip:x@127.0.0.1",
        200,
        "^SIP/2.0 200 Subnet lan",
    );
    expect(
        &o,
        "127.0.2.9",
        "sip:x@127.0.0.1",
        403,
        "^SIP/2.0 403 Untrusted 127.0.2.9",
    );
    expect(
        &o,
        "127.0.0.3",
        "sip:x@127.0.0.1",
        403,
        "^SIP/2.0 403 Untrusted 127.0.0.3",
    );
    expect(
        &o,
        "127.0.0.4",
        "sip:x@tenant-a.test",
        200,
        "^SIP/2.0 200 Pattern pat",
    );
    expect(
        &o,
        "127.0.0.4",
        "sip:x@tenant-b.test",
        403,
        "^SIP/2.0 403 Untrusted",
    );

    // The row with a port matches that source port only.
    let mut uac = Uac::new("127.0.0.6", &o);
    let r = uac.send("OPTIONS", "sip:x@127.0.0.1", "sip:gw@127.0.0.6", &[]);
    assert_eq!(status(&r), 403, "{r}");
    drop(uac);
    uac = Uac::with_socket(fixed, &o);
    let r = uac.send("OPTIONS", "sip:x@127.0.0.1", "sip:gw@127.0.0.6", &[]);
    assert!(r.starts_with("SIP/2.0 200 Port"), "{r}\n{}", o.log());

    // MI: the dump shows the cache; a new row counts only after address_reload.
    let mi = MiTarget::Udp(format!("127.0.0.1:{mi_port}").parse().unwrap());
    let mi_call = |m: &str| {
        call(&mi, m, json!([]), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("MI {m}: {e}\n{}", o.log()))
    };
    let dump = mi_call("address_dump");
    let rows = dump["Partitions"][0]["Destinations"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{dump}");
    let lan = rows.iter().find(|r| r["grp"] == 2).unwrap();
    assert_eq!(lan["ip"], "127.0.1.0");
    assert_eq!(lan["mask"], 24);
    assert_eq!(lan["proto"], "udp");
    assert_eq!(lan["context_info"], "lan");
    let subnets = mi_call("subnet_dump");
    let subnets = subnets["Partitions"][0]["Subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 1, "{subnets:?}");
    assert_eq!(subnets[0]["ip"], "127.0.1.0");
    db.add_address(9, "127.0.0.77", 32, 0, "any", None, None);
    expect(
        &o,
        "127.0.0.8",
        "sip:x@127.0.0.1",
        403,
        "^SIP/2.0 403 Untrusted",
    );
    assert_eq!(mi_call("address_reload"), json!("OK"));
    assert_eq!(
        mi_call("address_dump")["Partitions"][0]["Destinations"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    expect(
        &o,
        "127.0.0.8",
        "sip:x@127.0.0.1",
        200,
        "^SIP/2.0 200 Any Group",
    );
}

#[test]
fn addresses_sqlite() {
    addresses(Engine::Sqlite);
}

#[test]
fn addresses_pgsql() {
    addresses(Engine::Postgres);
}

#[test]
fn addresses_mysql() {
    addresses(Engine::Mysql);
}
