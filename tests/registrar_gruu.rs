//! GRUU (RFC 5627) on real traffic: a UA registering with `+sip.instance` and `Supported: gruu`
//! gets pub-gruu and temp-gruu in the 200 OK, and a request to either GRUU reaches only that
//! instance's contact, even when another binding of the AOR has a higher q; two SQL-only nodes
//! share them through SQLite, PostgreSQL and MariaDB (these fail without the servers when CI is set).

mod registrar_support;

use std::time::Duration;

use osips::db::Engine;
use registrar_support::common::scenario;
use registrar_support::common::sipp::Run;
use registrar_support::{HEAD, Osips, Reg, common, register, test_db, uas, uas_done};

const ROUTES: &str = r#"
modparam("usrloc", "use_domain", 1)
modparam("registrar", "gruu_secret", "t3st-s3cret")
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    lookup("location");
    if ($rc < 0) {
        sl_send_reply(404, "Not Found");
        exit;
    }
    if ($(branch(uri)[0]) != NULL) {
        append_hf("X-Branch: $(branch(uri)[0])\r\n");
    }
    forward();
}
"#;

const INST_A: &str = "urn:uuid:00000000-0000-1000-8000-00000000000a";
const INST_B: &str = "urn:uuid:00000000-0000-1000-8000-00000000000b";

fn start(extra: &str) -> (Osips, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let o = start_in(&dir, extra);
    (o, dir)
}

/// osips running [`ROUTES`] after `extra`, its files in `dir`.
fn start_in(dir: &tempfile::TempDir, extra: &str) -> Osips {
    Osips::start(dir.path(), &format!("{HEAD}{extra}{ROUTES}"))
}

fn instance(contact: &str, inst: &str, q: &str) -> String {
    format!("<{contact}>;q={q};+sip.instance=\"<{inst}>\"")
}

/// Registers alice's `contact` of instance `inst` with `q`, supporting GRUU.
fn register_instance(o: &Osips, contact: &str, inst: &str, q: &str, call_id: &'static str) {
    register(
        o,
        &Reg {
            contact: instance(contact, inst, q),
            call_id: Some(call_id),
            headers: vec!["Supported: gruu".into()],
            ..Reg::default()
        },
    );
}

/// Instance B at 127.0.0.3 with the higher q: plain lookup would pick it first.
fn register_b(o: &Osips) {
    register_instance(o, "sip:alice@127.0.0.3:5070", INST_B, "0.9", "gruu-b");
}

/// A UAS for alice at 127.0.0.2:`port` that must get one INVITE to that contact.
fn instance_uas(port: u16) -> (std::process::Child, tempfile::TempDir) {
    uas(
        "127.0.0.2",
        port,
        "INVITE",
        &[format!(r"^INVITE sip:alice@127\.0\.0\.2:{port} SIP/2\.0")],
    )
}

/// A sipp caller running `xml` towards `o`; finished and successful.
fn uac(o: &Osips, what: &str, xml: &str) {
    Run::new(what, xml)
        .towards_port(o.port)
        .timeout(15)
        .limit(Duration::from_secs(30))
        .done(&**o);
}

/// An INVITE to `ruri` through `o` that must get `code`.
fn invite_expect(o: &Osips, what: &str, ruri: &str, code: u16) {
    let headers = [
        "From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]".to_string(),
        format!("To: <{ruri}>"),
        "CSeq: 1 INVITE".to_string(),
        "Contact: <sip:caller@[local_ip]:[local_port]>".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    let xml = scenario::uac_request("uac", &format!("INVITE {ruri}"), &headers, code, &[]);
    uac(o, what, &xml);
}

#[test]
fn the_200_ok_carries_public_and_temporary_gruus() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start("");
    register(
        &o,
        &Reg {
            contact: instance("sip:alice@127.0.0.2:5070", INST_A, "0.5"),
            headers: vec!["Supported: gruu, path".into()],
            expect: vec![
                format!(r#"pub-gruu="sip:alice@example\.com;gr={INST_A}""#),
                format!(
                    r#"temp-gruu="sip:tgruu\.[A-Za-z0-9+/=]+@127\.0\.0\.1:{};gr""#,
                    o.port
                ),
                format!(r#"\+sip\.instance="<{INST_A}>""#),
            ],
            ..Reg::default()
        },
    );
    // Without Supported: gruu, no GRUU.
    register(
        &o,
        &Reg {
            user: "bob",
            contact: instance("sip:bob@127.0.0.2:5070", INST_A, "0.5"),
            refuse: vec!["gruu".into()],
            ..Reg::default()
        },
    );
}

#[test]
fn disable_gruu_leaves_them_out() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start("modparam(\"registrar\", \"disable_gruu\", 1)\n");
    register(
        &o,
        &Reg {
            contact: instance("sip:alice@127.0.0.2:5070", INST_A, "0.5"),
            headers: vec!["Supported: gruu".into()],
            expect: vec![r"Contact: <sip:alice@127\.0\.0\.2:5070>".into()],
            refuse: vec!["pub-gruu".into(), "temp-gruu".into()],
            ..Reg::default()
        },
    );
}

#[test]
fn a_public_gruu_reaches_only_its_instance() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start("");
    public_gruu_reaches_only_its_instance(&o, &o);
}

/// `a` takes the registrations, `b` routes the INVITE to the public GRUU.
fn public_gruu_reaches_only_its_instance(a: &Osips, o: &Osips) {
    let port = common::free_udp_port();
    register_instance(
        a,
        &format!("sip:alice@127.0.0.2:{port}"),
        INST_A,
        "0.1",
        "gruu-a",
    );
    register_b(a);
    let (u, dir) = instance_uas(port);
    let ruri = format!("sip:alice@example.com;gr={INST_A}");
    invite_expect(o, "INVITE pub-gruu", &ruri, 200);
    uas_done(u, &dir, o);

    // An instance that never registered: 404.
    let ruri = "sip:alice@example.com;gr=urn:uuid:00000000-0000-1000-8000-0000000000ff";
    invite_expect(o, "INVITE unknown gruu", ruri, 404);
}

/// Two SQL-only nodes on one table: the instance stored by one is found through its public
/// GRUU by the other.
fn sql_only_nodes_share_gruus(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine) else { return };
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "modparam(\"usrloc\", \"db_url\", \"{}\")\nmodparam(\"usrloc\", \"db_mode\", 3)\n",
        db.url
    );
    let a = start_in(&dir, &extra);
    let b = start_in(&dir, &extra);
    public_gruu_reaches_only_its_instance(&a, &b);
}

#[test]
fn sqlite_sql_only_nodes_share_gruus() {
    sql_only_nodes_share_gruus(Engine::Sqlite);
}

#[test]
fn postgres_sql_only_nodes_share_gruus() {
    sql_only_nodes_share_gruus(Engine::Postgres);
}

#[test]
fn mariadb_sql_only_nodes_share_gruus() {
    sql_only_nodes_share_gruus(Engine::Mysql);
}

/// REGISTER with GRUU support, keep the temp-gruu the reply gives the contact on
/// 127.0.0.2:`port`, send an INVITE to it.
fn register_then_invite_temp_gruu(contact: &str, port: u16) -> String {
    let body = format!(
        r#"  <send retrans="500">
    <![CDATA[
      REGISTER sip:example.com SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:alice@example.com>;tag=[pid]r[call_number]
      To: <sip:alice@example.com>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: {contact}
      Supported: gruu
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action>
      <ereg regexp="127\.0\.0\.2:{port}&gt;[^,]*temp-gruu=&quot;([^&quot;]+)&quot;" search_in="msg" check_it="true" assign_to="all,tg"/>
    </action>
  </recv>
  <send retrans="500">
    <![CDATA[
      INVITE [$tg] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:caller@example.com>;tag=[pid]i[call_number]
      To: <[$tg]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"#
    );
    scenario::wrap("temp-gruu", &body, &["all".to_string()])
}

#[test]
fn a_temporary_gruu_reaches_only_its_registration() {
    if common::sipp().is_none() {
        return;
    }
    let (o, _d) = start("");
    register_b(&o);
    let port = common::free_udp_port();
    let (u, dir) = instance_uas(port);
    let contact = instance(&format!("sip:alice@127.0.0.2:{port}"), INST_A, "0.1");
    uac(
        &o,
        "REGISTER + INVITE temp-gruu",
        &register_then_invite_temp_gruu(&contact, port),
    );
    uas_done(u, &dir, &o);
}
