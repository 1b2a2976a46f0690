//! auth + auth_db end to end: `osips -f` with users provisioned through the database layer on
//! SQLite, PostgreSQL and MariaDB; real sipp registers with digest auth (sipp speaks MD5 only);
//! a raw UDP client covers SHA-256 / SHA-512-256 and replays.

mod auth_support;

use auth_support::{
    Osips, TestDb, Uac, common, header, headers, param, sipp, sipp_expect, sipp_request,
    sipp_scenario, status,
};
use osips::db::Engine;
use sha2::Digest;

fn script(db: &TestDb, calculate_ha1: bool) -> String {
    format!(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth", "nonce_expire", 30)
modparam("auth_db", "db_url", "{url}")
modparam("auth_db", "use_domain", 1)
modparam("auth_db", "calculate_ha1", {calc})
modparam("auth_db", "load_credentials", "$avp(dom)=domain;id")

route {{
    if (is_method("SUBSCRIBE")) {{
        if (db_does_uri_exist("$ru", "subscriber")) {{
            sl_send_reply(200, "Exists");
        }} else {{
            sl_send_reply(404, "Unknown");
        }}
        exit;
    }}
    if (is_method("REGISTER")) {{
        if (!www_authorize("", "subscriber")) {{
            $var(rc) = $rc;
            if ($var(rc) == -1) {{ sl_send_reply(403, "Unknown User"); exit; }}
            if ($var(rc) == -2) {{ sl_send_reply(403, "Wrong Password"); exit; }}
            if ($var(rc) == -6) {{ sl_send_reply(403, "Nonce Reused"); exit; }}
            if (is_present_hf("X-Alg")) {{
                www_challenge("", "auth", "$hdr(X-Alg)");
            }} else {{
                www_challenge("", "auth");
            }}
            exit;
        }}
        consume_credentials();
        sl_send_reply(200, "OK $au at $ar ($avp(dom) $avp(id)) [$aU|$ad|$adu|$auth.alg|$auth.qop|$auth.nc|$auth.cnonce]");
        exit;
    }}
    if (!proxy_authorize("", "subscriber")) {{
        proxy_challenge("", "");
        exit;
    }}
    if (is_present_hf("X-Fwd")) {{
        if (!is_present_hf("X-Keep")) {{
            consume_credentials();
        }}
        forward("$hdr(X-Fwd)");
        exit;
    }}
    sl_send_reply(202, "Accepted $au");
}}
"#,
        url = db.url_string(),
        calc = calculate_ha1 as i32,
    )
}

fn register_flow(body_after_challenge: &str) -> String {
    let aor = "sip:alice@tenant-a.test";
    let mut s = sipp_request("REGISTER", "sip:tenant-a.test", aor, aor, 1, "");
    s.push_str(&sipp_expect(401, true, None, ""));
    s.push_str(body_after_challenge);
    s
}

fn authed_register(cseq: u32) -> String {
    let aor = "sip:alice@tenant-a.test";
    sipp_request(
        "REGISTER",
        "sip:tenant-a.test",
        aor,
        aor,
        cseq,
        "      [authentication]\n",
    )
}

/// 401 then 200 with the right password; 403 with a wrong one; $au / $ar read the credentials.
fn md5_register(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = TestDb::new(engine) else {
        return;
    };
    db.add_user("alice", "tenant-a.test", "s3cret");
    db.add_user("alice", "tenant-b.test", "other");
    let o = Osips::start(&script(&db, false));
    let ok = sipp_scenario(
        &register_flow(&format!(
            "{}{}",
            authed_register(2),
            sipp_expect(
                200,
                false,
                Some("^SIP/2.0 200 OK alice at tenant-a.test"),
                "r"
            )
        )),
        &["r"],
    );
    sipp(&o, &ok, "127.0.0.1", &["-au", "alice", "-ap", "s3cret"]);
    // tenant B's password is not tenant A's.
    let wrong = sipp_scenario(
        &register_flow(&format!(
            "{}{}",
            authed_register(2),
            sipp_expect(403, false, Some("^SIP/2.0 403 Wrong Password"), "r")
        )),
        &["r"],
    );
    sipp(&o, &wrong, "127.0.0.1", &["-au", "alice", "-ap", "other"]);
    let unknown = sipp_scenario(
        &register_flow(&format!(
            "{}{}",
            authed_register(2),
            sipp_expect(403, false, Some("^SIP/2.0 403 Unknown User"), "r")
        )),
        &["r"],
    );
    sipp(
        &o,
        &unknown,
        "127.0.0.1",
        &["-au", "mallory", "-ap", "s3cret"],
    );
}

#[test]
fn md5_register_sqlite() {
    md5_register(Engine::Sqlite);
}

#[test]
fn md5_register_pgsql() {
    md5_register(Engine::Postgres);
}

#[test]
fn md5_register_mysql() {
    md5_register(Engine::Mysql);
}

/// With calculate_ha1 the clear password column is used.
#[test]
fn calculate_ha1_uses_the_password_column() {
    if common::sipp().is_none() {
        return;
    }
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("alice", "tenant-a.test", "s3cret");
    // A wrong HA1 column proves the clear password is what is checked.
    db.db
        .execute("UPDATE subscriber SET ha1 = 'x'", &[])
        .unwrap();
    let o = Osips::start(&script(&db, true));
    let ok = sipp_scenario(
        &register_flow(&format!(
            "{}{}",
            authed_register(2),
            sipp_expect(200, false, None, "")
        )),
        &[],
    );
    sipp(&o, &ok, "127.0.0.1", &["-au", "alice", "-ap", "s3cret"]);
}

/// An expired nonce: the new challenge says stale=true, and the retry with it succeeds.
#[test]
fn stale_nonce_gets_stale_true() {
    if common::sipp().is_none() {
        return;
    }
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("alice", "tenant-a.test", "s3cret");
    let o = Osips::start(&script(&db, false).replace(
        "modparam(\"auth\", \"nonce_expire\", 30)",
        "modparam(\"auth\", \"nonce_expire\", 2)",
    ));
    let body = format!(
        "  <pause milliseconds=\"3200\"/>\n{}{}{}{}",
        authed_register(2),
        sipp_expect(
            401,
            true,
            Some("WWW-Authenticate: Digest [^\\r\\n]*stale=true"),
            "s"
        ),
        authed_register(3),
        sipp_expect(200, false, None, ""),
    );
    sipp(
        &o,
        &sipp_scenario(&register_flow(&body), &["s"]),
        "127.0.0.1",
        &["-au", "alice", "-ap", "s3cret"],
    );
}

fn hex<D: Digest>(s: &str) -> String {
    hex::encode(D::digest(s.as_bytes()))
}

/// The Authorization for a challenge, computed here (independently of the proxy's code).
fn authorization<D: Digest>(
    challenge: &str,
    alg: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let realm = param(challenge, "realm").unwrap();
    let nonce = param(challenge, "nonce").unwrap();
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let ha1 = hex::<D>(&format!("{user}:{realm}:{password}"));
    let ha2 = hex::<D>(&format!("{method}:{uri}"));
    let resp = hex::<D>(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{resp}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    )
}

/// RFC 8760: SHA-256 and SHA-512-256 offered together, each one accepted; a replayed
/// (nonce, nc) is refused while a higher nc is accepted.
#[test]
fn sha2_algorithms_and_replay() {
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("bob", "tenant-a.test", "pa55");
    let o = Osips::start(&script(&db, false));
    let mut uac = Uac::new("127.0.0.1", &o);
    let (ruri, aor) = ("sip:tenant-a.test", "sip:bob@tenant-a.test");
    let alg_hdr = "X-Alg: SHA-256,SHA-512-256".to_string();
    let r = uac.send("REGISTER", ruri, aor, std::slice::from_ref(&alg_hdr));
    assert_eq!(status(&r), 401, "{r}");
    let ch = headers(&r, "WWW-Authenticate");
    assert_eq!(ch.len(), 2, "{r}");
    assert!(ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=SHA-512-256"));
    assert!(ch[0].contains("qop=\"auth\"") && !ch[0].contains("stale"));

    let a256 = authorization::<sha2::Sha256>(ch[0], "SHA-256", "bob", "pa55", "REGISTER", ruri, 1);
    let r = uac.send("REGISTER", ruri, aor, std::slice::from_ref(&a256));
    assert!(
        r.contains("[bob|tenant-a.test|sip:tenant-a.test|SHA-256|auth|00000001|0a4f113b]"),
        "{r}"
    );
    // load_credentials put the row's domain and id into AVPs.
    assert!(
        r.starts_with("SIP/2.0 200 OK bob at tenant-a.test (tenant-a.test 1)"),
        "{r}\n{}",
        o.log()
    );
    // The same credentials again: a replay.
    let r = uac.send("REGISTER", ruri, aor, std::slice::from_ref(&a256));
    assert!(r.starts_with("SIP/2.0 403 Nonce Reused"), "{r}");
    // The same nonce with the next count is fine.
    let next = authorization::<sha2::Sha256>(ch[0], "SHA-256", "bob", "pa55", "REGISTER", ruri, 2);
    let r = uac.send("REGISTER", ruri, aor, &[next]);
    assert_eq!(status(&r), 200, "{r}");

    let a512 =
        authorization::<sha2::Sha512_256>(ch[1], "SHA-512-256", "bob", "pa55", "REGISTER", ruri, 1);
    let r = uac.send("REGISTER", ruri, aor, &[a512]);
    assert_eq!(status(&r), 200, "{r}");
    let bad = authorization::<sha2::Sha256>(ch[0], "SHA-256", "bob", "nope", "REGISTER", ruri, 5);
    let r = uac.send("REGISTER", ruri, aor, &[bad]);
    assert!(r.starts_with("SIP/2.0 403 Wrong Password"), "{r}");
    // A forged nonce is not ours: a new challenge, not an authorization.
    let forged = a256.replace(&param(ch[0], "nonce").unwrap(), &"0".repeat(48));
    let r = uac.send("REGISTER", ruri, aor, &[forged]);
    assert_eq!(status(&r), 401, "{r}");
}

/// proxy_authorize / proxy_challenge: 407 with Proxy-Authenticate, realm from the From domain.
#[test]
fn proxy_challenge_and_authorize() {
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("carol", "tenant-b.test", "pw");
    let o = Osips::start(&script(&db, false));
    let mut uac = Uac::new("127.0.0.1", &o);
    let aor = "sip:carol@tenant-b.test";
    let r = uac.send("MESSAGE", "sip:dave@tenant-b.test", aor, &[]);
    assert_eq!(status(&r), 407, "{r}");
    let ch = header(&r, "Proxy-Authenticate").unwrap();
    assert_eq!(param(ch, "realm").as_deref(), Some("tenant-b.test"));
    assert!(!ch.contains("qop"), "{ch}");
    let realm = "tenant-b.test";
    let nonce = param(ch, "nonce").unwrap();
    let ha1 = hex::<md5::Md5>(&format!("carol:{realm}:pw"));
    let ha2 = hex::<md5::Md5>("MESSAGE:sip:dave@tenant-b.test");
    let resp = hex::<md5::Md5>(&format!("{ha1}:{nonce}:{ha2}"));
    let cred = format!(
        "Proxy-Authorization: Digest username=\"carol\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"sip:dave@tenant-b.test\", response=\"{resp}\""
    );
    let r = uac.send(
        "MESSAGE",
        "sip:dave@tenant-b.test",
        aor,
        std::slice::from_ref(&cred),
    );
    assert!(
        r.starts_with("SIP/2.0 202 Accepted carol"),
        "{r}\n{}",
        o.log()
    );
    // Without qop a nonce serves once.
    let r = uac.send("MESSAGE", "sip:dave@tenant-b.test", aor, &[cred]);
    assert_eq!(status(&r), 407, "{r}");
}

/// consume_credentials: the forwarded request no longer carries the authorized
/// Proxy-Authorization; without it, the header goes on.
#[test]
fn consume_credentials_removes_the_authorized_header() {
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("carol", "tenant-b.test", "pw");
    let o = Osips::start(&script(&db, false));
    let uas = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let fwd = format!("X-Fwd: 127.0.0.1:{}", uas.local_addr().unwrap().port());
    let mut uac = Uac::new("127.0.0.1", &o);
    let (aor, ruri) = ("sip:carol@tenant-b.test", "sip:dave@tenant-b.test");
    for keep in [false, true] {
        let r = uac.send("MESSAGE", ruri, aor, &[]);
        assert_eq!(status(&r), 407, "{r}");
        let ch = header(&r, "Proxy-Authenticate").unwrap();
        let nonce = param(ch, "nonce").unwrap();
        let ha1 = hex::<md5::Md5>("carol:tenant-b.test:pw");
        let ha2 = hex::<md5::Md5>(&format!("MESSAGE:{ruri}"));
        let resp = hex::<md5::Md5>(&format!("{ha1}:{nonce}:{ha2}"));
        let mut extra = vec![
            format!(
                "Proxy-Authorization: Digest username=\"carol\", realm=\"tenant-b.test\", \
                 nonce=\"{nonce}\", uri=\"{ruri}\", response=\"{resp}\""
            ),
            fwd.clone(),
        ];
        if keep {
            extra.push("X-Keep: 1".into());
        }
        uac.fire("MESSAGE", ruri, aor, &extra);
        let mut buf = vec![0u8; 65536];
        let (n, _) = uas
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("nothing forwarded: {e}\n{}", o.log()));
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            got.starts_with("MESSAGE sip:dave@tenant-b.test SIP/2.0"),
            "{got}"
        );
        assert_eq!(
            header(&got, "Proxy-Authorization").is_some(),
            keep,
            "keep={keep}:\n{got}"
        );
    }
}

/// pv_proxy_authorize checks against the password in a script variable; the RPID functions
/// read `$avp(rpid)` and add Remote-Party-ID to the forwarded request.
#[test]
fn pv_authorize_and_rpid() {
    let o = Osips::start(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "auth.so"
modparam("auth", "calculate_ha1", 1)
modparam("auth", "password_spec", "$var(pw)")
route {
    $var(pw) = "the password";
    $avp(rpid) = "<sip:+4930123@h.test>";
    if (!pv_proxy_authorize("")) {
        proxy_challenge("", "auth");
        exit;
    }
    if (!is_rpid_user_e164()) {
        sl_send_reply(500, "Not E164");
        exit;
    }
    append_rpid_hf();
    forward("$hdr(X-Fwd)");
}
"#,
    );
    let uas = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let fwd = format!("X-Fwd: 127.0.0.1:{}", uas.local_addr().unwrap().port());
    let mut uac = Uac::new("127.0.0.1", &o);
    let (aor, ruri) = ("sip:erin@h.test", "sip:frank@h.test");
    for (password, ok) in [("wrong", false), ("the password", true)] {
        let r = uac.send("MESSAGE", ruri, aor, &[]);
        assert_eq!(status(&r), 407, "{r}");
        let ch = header(&r, "Proxy-Authenticate").unwrap();
        let a = authorization::<md5::Md5>(ch, "MD5", "erin", password, "MESSAGE", ruri, 1)
            .replacen("Authorization:", "Proxy-Authorization:", 1);
        if !ok {
            let r = uac.send("MESSAGE", ruri, aor, &[a, fwd.clone()]);
            assert_eq!(status(&r), 407, "{r}");
            continue;
        }
        uac.fire("MESSAGE", ruri, aor, &[a, fwd.clone()]);
        let mut buf = vec![0u8; 65536];
        let (n, _) = uas
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("nothing forwarded: {e}\n{}", o.log()));
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert_eq!(
            header(&got, "Remote-Party-ID"),
            Some("<sip:+4930123@h.test>;party=calling;id-type=subscriber;screen=yes"),
            "{got}"
        );
    }
}

/// db_does_uri_exist(uri, table) with use_domain: user and domain must both match.
#[test]
fn does_uri_exist() {
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("carol", "tenant-b.test", "pw");
    let o = Osips::start(&script(&db, false));
    let mut uac = Uac::new("127.0.0.1", &o);
    let aor = "sip:x@tenant-b.test";
    for (ruri, code) in [
        ("sip:carol@tenant-b.test", 200),
        ("sip:carol@tenant-a.test", 404),
        ("sip:dave@tenant-b.test", 404),
    ] {
        let r = uac.send("SUBSCRIBE", ruri, aor, &[]);
        assert_eq!(status(&r), code, "{ruri}: {r}");
    }
}

/// Malformed or hostile credentials: a 400 or a new challenge, never a crash or an
/// authorization; osips keeps answering.
#[test]
fn malformed_credentials_are_refused() {
    let db = TestDb::new(Engine::Sqlite).unwrap();
    db.add_user("alice", "tenant-a.test", "s3cret");
    let o = Osips::start(&script(&db, false));
    let mut uac = Uac::new("127.0.0.1", &o);
    let (ruri, aor) = ("sip:tenant-a.test", "sip:alice@tenant-a.test");
    let r = uac.send("REGISTER", ruri, aor, &[]);
    let nonce = param(header(&r, "WWW-Authenticate").unwrap(), "nonce").unwrap();
    let base = |extra: &str| {
        format!(
            "Authorization: Digest username=\"alice\", realm=\"tenant-a.test\", nonce=\"{nonce}\", \
             uri=\"{ruri}\", response=\"00000000000000000000000000000000\"{extra}"
        )
    };
    let cases: Vec<(String, &[u16])> = vec![
        ("Authorization: Digest realm=\"tenant-a.test".into(), &[400]),
        (
            "Authorization: Digest realm=tenant-a.test, username".into(),
            &[400],
        ),
        (
            "Authorization: Digest realm=\"tenant-a.test\"".into(),
            &[400],
        ),
        (base(", qop=auth"), &[400]),
        (base(", qop=auth, nc=zz, cnonce=\"c\""), &[400]),
        (base(", qop=auth-conf, nc=00000001, cnonce=\"c\""), &[400]),
        (base(", algorithm=SHA-1"), &[400]),
        (base(""), &[403]),
        (base("").replace(&nonce, &format!("{nonce}{nonce}")), &[401]),
        (base("").replace("alice", &"a".repeat(5000)), &[401, 403]),
        ("Authorization: Basic YWxpY2U6czNjcmV0".into(), &[401]),
        (
            base("").replace("realm=\"tenant-a.test\"", "realm=\"tenant-b.test\""),
            &[401],
        ),
    ];
    for (hdr, codes) in cases {
        let r = uac.send("REGISTER", ruri, aor, std::slice::from_ref(&hdr));
        assert!(codes.contains(&status(&r)), "{hdr}: {r}\n{}", o.log());
    }
    let r = uac.send("REGISTER", ruri, aor, &[]);
    assert_eq!(status(&r), 401, "still answering: {r}");
}

/// Bad modparams stop osips at start with an error naming the module and the parameter.
#[test]
fn bad_modparams_name_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let ok_db = dir.path().join("ok.sqlite");
    osips::db::Db::open_sqlite(&ok_db, true).unwrap();
    let with_db = |more: &str| {
        format!(
            "modparam(\"auth_db\", \"db_url\", \"sqlite://{}\")\n{more}",
            ok_db.display()
        )
    };
    let cases = [
        (
            "modparam(\"auth_db\", \"db_url\", \"nosuchdb://x\")".to_string(),
            "module auth_db: modparam db_url",
        ),
        (
            with_db("modparam(\"auth\", \"nonce_expire\", 0)"),
            "module auth: modparam nonce_expire",
        ),
        (
            "modparam(\"auth_db\", \"db_url\", \"sqlite:///nonexistent/dir/x.sqlite\")".to_string(),
            "module auth_db: database",
        ),
        (
            with_db("modparam(\"auth_db\", \"user_column\", \"user name\")"),
            "column name `user name` is not accepted",
        ),
        (
            with_db("modparam(\"auth_db\", \"load_credentials\", \"$var(x)=domain\")"),
            "modparam load_credentials",
        ),
    ];
    for (i, (param, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.cfg"));
        std::fs::write(
            &path,
            format!(
                "socket = udp:127.0.0.1:{}\nloadmodule \"sl.so\"\nloadmodule \"auth.so\"\n\
                 loadmodule \"auth_db.so\"\n{param}\nroute {{ exit; }}\n",
                common::free_udp_port()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_osips"))
            .args(["-f", path.to_str().unwrap(), "-E", "-F"])
            .env("HOME", dir.path())
            .env_remove("OSIPSCTLRC")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{param}: started\n{err}");
        assert!(err.contains(want), "{param}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `$challenge.*` read the challenge of a reply in onreply_route.
#[test]
fn challenge_pvs_in_onreply_route() {
    let o = Osips::start(
        r#"socket = udp:127.0.0.1:@PORT@
udp_workers = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
route {
    forward("$hdr(X-Fwd)");
}
onreply_route {
    append_hf("X-Challenge: $challenge.realm|$challenge.algorithm|$challenge.qop|$challenge.nonce|$challenge.opaque\r\n");
}
"#,
    );
    let uas = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let fwd = format!("X-Fwd: 127.0.0.1:{}", uas.local_addr().unwrap().port());
    let mut uac = Uac::new("127.0.0.1", &o);
    uac.fire("REGISTER", "sip:r.test", "sip:u@r.test", &[fwd]);
    let mut buf = vec![0u8; 65536];
    let (n, from) = uas
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("nothing forwarded: {e}\n{}", o.log()));
    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
    let mut reply = String::from("SIP/2.0 401 Unauthorized\r\n");
    for l in req.split("\r\n") {
        let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
        if ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str()) {
            reply.push_str(l);
            reply.push_str("\r\n");
        }
    }
    reply.push_str(
        "WWW-Authenticate: Digest realm=\"r.test\", nonce=\"n1\", opaque=\"o\\\"1\", qop=\"auth\", algorithm=SHA-256\r\n\
         Content-Length: 0\r\n\r\n",
    );
    uas.send_to(reply.as_bytes(), from).unwrap();
    let (n, _) = uac
        .sock
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no reply relayed: {e}\n{}", o.log()));
    let got = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(
        header(&got, "X-Challenge"),
        Some("r.test|SHA-256|auth|n1|o\"1"),
        "{got}"
    );
}
