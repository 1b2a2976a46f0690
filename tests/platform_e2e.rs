//! The platform end to end (issue 9, item 6), on loopback: the script `osipsconfig generate
//! --template platform` writes, run by `osips`, with the real rtpengine daemon and sipp phones
//! and media servers on their own 127.0.0.x addresses; the database made by `osipsdbctl create`
//! and provisioned by `osipsctl` (SQLite, PostgreSQL, MariaDB).
//!
//! 1. Two tenants (`osipsctl tenant add`), two subscribers each (`osipsctl add`), two media
//!    servers in dispatcher set 1 (`osipsctl dispatcher addgw`).
//! 2. Each tenant's users register with digest auth, one over UDP and one over TCP; `osipsctl ul
//!    show` lists the four bindings.
//! 3. A call inside a tenant from a NATed caller (her Via names another port than the one she
//!    sends from), both ends offering ICE: the callee receives exactly the SDP the caller sent
//!    (no relay), and the caller exactly the callee's answer; the Record-Route carries the
//!    dialog's `did`. The same caller without ICE is relayed: the callee gets rtpengine's
//!    address and the ICE candidates rtpengine adds (`ICE=force`).
//! 4. A call to the other tenant gets 403.
//! 5. A call to the conference number goes to one media server, through rtpengine: the SDP the
//!    server receives is rtpengine's (127.0.0.1, a port of its range, ICE removed).
//! 6. That server is killed: a call placed at once still succeeds on the other one (failure
//!    route, `ds_next_dst`); probing takes the dead one out (`ds_list`: Probing); every call
//!    after that goes straight to the live server.
//! 7. `acc` holds one CDR per completed call (dialog-based, with its duration).

// The support modules each include tests/common (by path).
#![allow(clippy::duplicate_mod)]

mod common;
mod ctl_support;
mod platform_support;
mod registrar_support;
mod rtpengine_support;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ctl_support::Ctl;
use osips::db::{DbUrl, Engine};
use platform_support::{Sipp, body, header, sdp};
use registrar_support::Osips;
use rtpengine_support::Rtpengine;
use serde_json::json;

const PASSWORD: &str = "pw of the platform";
const PROXY_IP: &str = "127.0.0.1";

/// The URL osips's modules use for the test database.
fn db_url(ctl: &Ctl) -> String {
    match ctl.env.engine {
        Engine::Sqlite => DbUrl::sqlite(PathBuf::from(&ctl.env.db)).to_url_string(),
        engine => {
            let admin = if engine == Engine::Postgres {
                common::pgsql_admin_url()
            } else {
                common::mysql_admin_url()
            }
            .expect("the server the database was made on");
            DbUrl::parse(&admin)
                .unwrap()
                .with_database(Some(&ctl.env.db))
                .to_url_string()
        }
    }
}

/// A UDP port free on `ip`.
fn free_port_on(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `osipsconfig generate --template platform` with `sets`, checked by osipsconfig itself.
fn generate(dir: &Path, sets: &[(&str, String)]) -> PathBuf {
    let out = dir.join("opensips.cfg");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_osipsconfig"));
    cmd.args(["generate", "--template", "platform", "--no-rc", "-o"])
        .arg(&out)
        .env("HOME", dir);
    for (k, v) in sets {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "osipsconfig generate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

struct Platform {
    osips: Osips,
    port: u16,
}

impl Platform {
    /// A sipp phone on `ip` talking to the proxy (`-t u1` or `t1`), run to completion.
    fn run(&self, what: &str, scenario: &str, ip: &str, tcp: bool, args: &[&str]) -> Sipp {
        let mut all: Vec<String> = vec![
            format!("{PROXY_IP}:{}", self.port),
            "-t".into(),
            if tcp { "t1" } else { "u1" }.into(),
            "-m".into(),
            "1".into(),
            "-timeout".into(),
            "30s".into(),
            "-timeout_error".into(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        let port = if tcp { 0 } else { free_port_on(ip) };
        let mut s = Sipp::spawn(what, scenario, ip, port, &all);
        if let Err(e) = s.wait(Duration::from_secs(45)) {
            let trace: Vec<String> = s
                .messages()
                .into_iter()
                .map(|(sent, m)| format!("{}\n{m}", if sent { ">>> sent" } else { "<<< received" }))
                .collect();
            panic!(
                "{e}\n--- sipp messages ---\n{}\n--- osips log ---\n{}",
                trace.join("\n"),
                self.osips.log()
            );
        }
        s
    }

    fn register(&self, user: &str, domain: &str, ip: &str, tcp: bool) {
        self.run(
            &format!(
                "REGISTER {user}@{domain} over {}",
                if tcp { "TCP" } else { "UDP" }
            ),
            &platform_support::register(user, domain),
            ip,
            tcp,
            &["-au", user, "-ap", PASSWORD],
        );
    }

    /// A call from `from` (user@domain, on `ip`) to `to`; `cid` names it.
    fn call(&self, from: &str, to: &str, ip: &str, offer: &str, cid: &str, nat: bool) -> Sipp {
        let user = from.split('@').next().unwrap();
        self.run(
            &format!("call {cid}: {from} → {to}"),
            &platform_support::call(from, to, offer, 1200, nat.then_some(9)),
            ip,
            false,
            &["-au", user, "-ap", PASSWORD, "-cid_str", cid],
        )
    }
}

/// The last message of the INVITE transactions in `msgs` that sipp `sent` (or received)
/// starting with `start` and carrying Call-ID `cid` (the authenticated INVITE, its 200).
fn find<'a>(msgs: &'a [(bool, String)], sent: bool, start: &str, cid: &str) -> Option<&'a str> {
    msgs.iter()
        .filter(|(s, m)| {
            *s == sent
                && m.starts_with(start)
                && header(m, "Call-ID") == Some(cid)
                && header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
        })
        .map(|(_, m)| m.as_str())
        .next_back()
}

/// Which media server received the INVITE of `cid` (0 or 1).
fn served_by(servers: &[Sipp; 2], cid: &str) -> Vec<usize> {
    (0..2)
        .filter(|&i| {
            let msgs = servers[i].messages();
            find(&msgs, false, "INVITE ", cid).is_some()
                && find(&msgs, true, "SIP/2.0 200", cid).is_some()
        })
        .collect()
}

fn ds_state(o: &Osips, uri: &str) -> Option<String> {
    let v = o.mi("ds_list", json!([])).ok()?;
    v["PARTITIONS"][0]["SETS"]
        .as_array()?
        .iter()
        .flat_map(|s| s["Destinations"].as_array().cloned().unwrap_or_default())
        .find(|d| d["URI"] == uri)
        .map(|d| d["state"].as_str().unwrap_or("").to_string())
}

fn platform(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(rtpengine) = Rtpengine::start() else {
        return;
    };
    let Some(mut ctl) = Ctl::new(engine) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Media servers on 127.0.0.21 and 127.0.0.22, answering probes and calls until killed.
    let ms_ip = ["127.0.0.21", "127.0.0.22"];
    let ms_port = [free_port_on(ms_ip[0]), free_port_on(ms_ip[1])];
    let ms_uri: Vec<String> = (0..2)
        .map(|i| format!("sip:{}:{}", ms_ip[i], ms_port[i]))
        .collect();
    let mut servers = [0, 1].map(|i| {
        Sipp::spawn(
            &format!("media server {}", ms_ip[i]),
            &platform_support::media_server(&sdp(ms_ip[i], 30000 + i as u16 * 2, false)),
            ms_ip[i],
            ms_port[i],
            &[],
        )
    });

    // 1. provisioning with osipsctl
    ctl.ok(&[
        "tenant",
        "add",
        "acme",
        "acme.example",
        "--attr",
        "max_calls=10",
    ]);
    ctl.ok(&["tenant", "add", "globex", "globex.example"]);
    for aor in [
        "alice@acme.example",
        "bob@acme.example",
        "carol@globex.example",
        "dave@globex.example",
    ] {
        ctl.ok(&["add", aor, PASSWORD]);
    }
    for (i, uri) in ms_uri.iter().enumerate() {
        let desc = format!("ms{i}");
        ctl.ok(&["dispatcher", "addgw", "1", uri, "", "0", "1", "", &desc]);
    }

    // The generated platform script: TCP, dialogs, CDRs to the database, fast probing.
    let port = common::free_port();
    let http = common::free_tcp_port();
    let script = generate(
        dir.path(),
        &[
            ("PRIVATE_IP", PROXY_IP.into()),
            ("PUBLIC_IP", PROXY_IP.into()),
            ("SIP_PORT", port.to_string()),
            ("ENABLE_TCP", "yes".into()),
            ("DB_URL", db_url(&ctl)),
            ("MI_FIFO", dir.path().join("fifo").display().to_string()),
            ("MI_HTTP_PORT", http.to_string()),
            ("USE_DBACC", "yes".into()),
            ("USE_DIALOG", "yes".into()),
            ("RTPENGINE_SOCKET", format!("udp:{}", rtpengine.ng)),
            ("CONFERENCE_PING_INTERVAL", "1".into()),
            ("CONFERENCE_PROBING_THRESHOLD", "2".into()),
        ],
    );
    let osips = Osips::run(script, port, http);
    ctl.set_mi_url(&format!("http://{}/mi", osips.http));
    let p = Platform { osips, port };
    // Both media servers answer the probes.
    for uri in &ms_uri {
        wait(&p.osips, "media server active", || {
            ds_state(&p.osips, uri).as_deref() == Some("Active")
        });
    }

    // 2. registrations: UDP and TCP in each tenant
    let (alice_ip, bob_ip, carol_ip, dave_ip) =
        ("127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13");
    let bob_port = free_port_on(bob_ip);
    p.register("alice", "acme.example", alice_ip, true);
    {
        // bob registers from the address and port he answers calls on
        let mut s = Sipp::spawn(
            "REGISTER bob@acme.example over UDP",
            &platform_support::register("bob", "acme.example"),
            bob_ip,
            bob_port,
            &[
                format!("{PROXY_IP}:{port}"),
                "-m".into(),
                "1".into(),
                "-au".into(),
                "bob".into(),
                "-ap".into(),
                PASSWORD.into(),
                "-timeout".into(),
                "30s".into(),
                "-timeout_error".into(),
            ],
        );
        if let Err(e) = s.wait(Duration::from_secs(45)) {
            panic!("{e}\n--- osips log ---\n{}", p.osips.log());
        }
    }
    p.register("carol", "globex.example", carol_ip, false);
    p.register("dave", "globex.example", dave_ip, true);
    let shown = ctl.ok(&["ul", "show"]);
    for (aor, contact) in [
        ("alice@acme.example", format!("sip:alice@{alice_ip}:")),
        ("bob@acme.example", format!("sip:bob@{bob_ip}:{bob_port}")),
        ("carol@globex.example", format!("sip:carol@{carol_ip}:")),
        ("dave@globex.example", format!("sip:dave@{dave_ip}:")),
    ] {
        assert!(
            shown.contains(aor) && shown.contains(&contact),
            "{aor} {contact}:\n{shown}"
        );
    }

    // 3. inside a tenant, both ends with ICE: the SDP goes through untouched
    let offer = sdp(alice_ip, 40000, true);
    let answer = sdp(bob_ip, 42000, true);
    let mut bob = Sipp::spawn(
        "bob answers",
        &platform_support::answer(&answer),
        bob_ip,
        bob_port,
        &["-m".into(), "1".into(), "-timeout".into(), "40s".into()],
    );
    let caller = p.call(
        "alice@acme.example",
        "bob@acme.example",
        alice_ip,
        &offer,
        "ice-call@platform",
        true,
    );
    if let Err(e) = bob.wait(Duration::from_secs(20)) {
        panic!("{e}\n--- osips log ---\n{}", p.osips.log());
    }
    let cid = "ice-call@platform";
    let sent = caller.messages();
    let got = bob.messages();
    let sent_offer = find(&sent, true, "INVITE ", cid).expect("alice's INVITE");
    let got_offer = find(&got, false, "INVITE ", cid).expect("bob's INVITE");
    assert!(body(sent_offer).contains("a=candidate:"), "{sent_offer}");
    // the proxy stays in the path, with the dialog's cookie in its Record-Route
    let rr = header(got_offer, "Record-Route").unwrap_or_default();
    assert!(rr.contains(";did="), "{got_offer}");
    assert_eq!(
        body(got_offer).trim_end(),
        body(sent_offer).trim_end(),
        "the offer was changed on the way"
    );
    let sent_answer = find(&got, true, "SIP/2.0 200", cid).expect("bob's 200");
    let got_answer = find(&sent, false, "SIP/2.0 200", cid).expect("alice's 200");
    assert_eq!(
        body(got_answer).trim_end(),
        body(sent_answer).trim_end(),
        "the answer was changed on the way"
    );
    // alice looked NATed (her Via names port 9): the relay was not engaged all the same
    assert!(
        rtpengine.query(cid) != "ok",
        "rtpengine knows the ICE call:\n{}",
        rtpengine.log()
    );

    // ... and the same NATed caller without ICE: rtpengine relays, and answers ICE for her
    let mut bob = Sipp::spawn(
        "bob answers again",
        &platform_support::answer(&sdp(bob_ip, 42100, false)),
        bob_ip,
        bob_port,
        &["-m".into(), "1".into(), "-timeout".into(), "40s".into()],
    );
    let cid = "relay-call@platform";
    p.call(
        "alice@acme.example",
        "bob@acme.example",
        alice_ip,
        &sdp(alice_ip, 40200, false),
        cid,
        true,
    );
    if let Err(e) = bob.wait(Duration::from_secs(20)) {
        panic!("{e}\n--- osips log ---\n{}", p.osips.log());
    }
    let got = bob.messages();
    let relayed = body(find(&got, false, "INVITE ", cid).expect("bob's INVITE")).to_string();
    assert!(
        relayed.contains("c=IN IP4 127.0.0.1") && !relayed.contains(alice_ip),
        "{relayed}"
    );
    assert!(relayed.contains("a=candidate:"), "ICE=force: {relayed}");
    assert!(rtpengine.owns(media_port_of(&relayed)), "{relayed}");

    // 4. across tenants: 403
    p.run(
        "alice → carol (other tenant)",
        &platform_support::invite_refused("alice@acme.example", "carol@globex.example", 403),
        alice_ip,
        false,
        &[],
    );

    // 5. the conference number: a media server, through rtpengine
    let conf = "3000@acme.example";
    let conf_offer = sdp(alice_ip, 40100, true);
    let mut completed = vec![
        "ice-call@platform".to_string(),
        "relay-call@platform".to_string(),
    ];
    let first_cid = "conf-0@platform";
    let caller = p.call(
        "alice@acme.example",
        conf,
        alice_ip,
        &conf_offer,
        first_cid,
        false,
    );
    completed.push(first_cid.into());
    let by = served_by(&servers, first_cid);
    assert_eq!(by.len(), 1, "conference call served by {by:?}");
    let first = by[0];
    let second = 1 - first;
    let msgs = servers[first].messages();
    let relayed = body(find(&msgs, false, "INVITE ", first_cid).unwrap()).to_string();
    assert!(relayed.contains("c=IN IP4 127.0.0.1"), "{relayed}");
    assert!(
        !relayed.contains(alice_ip) && !relayed.contains("a=candidate"),
        "{relayed}"
    );
    assert!(rtpengine.owns(media_port_of(&relayed)), "{relayed}");
    // and the caller got rtpengine's answer, not the media server's address
    let msgs = caller.messages();
    let ans = body(find(&msgs, false, "SIP/2.0 200", first_cid).unwrap()).to_string();
    assert!(
        ans.contains("c=IN IP4 127.0.0.1") && !ans.contains(ms_ip[first]),
        "{ans}"
    );

    // 6. the media server that took the call dies
    servers[first].kill();
    // a call placed at once: rescued by the failure route on the other server
    let cid = "conf-window@platform";
    p.call(
        "alice@acme.example",
        conf,
        alice_ip,
        &conf_offer,
        cid,
        false,
    );
    completed.push(cid.into());
    assert_eq!(served_by(&servers, cid), vec![second]);
    // probing takes it out of the set
    wait(&p.osips, "the dead media server leaves the set", || {
        matches!(
            ds_state(&p.osips, &ms_uri[first]).as_deref(),
            Some("Probing") | Some("Inactive")
        )
    });
    assert_eq!(
        ds_state(&p.osips, &ms_uri[second]).as_deref(),
        Some("Active")
    );
    // every call after the threshold succeeds on the live one: the dead one stays out of the
    // set meanwhile, so no call is even tried there (no branch times out)
    let timeouts_before = branch_timeouts(&p.osips);
    for n in 0..3 {
        let cid = format!("conf-after-{n}@platform");
        p.call(
            "alice@acme.example",
            conf,
            alice_ip,
            &conf_offer,
            &cid,
            false,
        );
        completed.push(cid.clone());
        assert_eq!(served_by(&servers, &cid), vec![second]);
    }
    assert!(matches!(
        ds_state(&p.osips, &ms_uri[first]).as_deref(),
        Some("Probing") | Some("Inactive")
    ));
    assert_eq!(branch_timeouts(&p.osips), timeouts_before);

    // 7. one CDR per completed call, with its duration
    let start = Instant::now();
    let cdrs = loop {
        let rows = ctl.rows(
            "SELECT callid, sip_code, duration, ms_duration FROM acc ORDER BY id",
            &[],
        );
        if completed
            .iter()
            .all(|c| rows.iter().any(|r| &r[0] == c && r[1] == "200"))
        {
            break rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "acc rows {rows:?}, want CDRs of {completed:?}\n{}",
            p.osips.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for c in &completed {
        let r = cdrs.iter().find(|r| &r[0] == c && r[1] == "200").unwrap();
        let ms: u64 = r[3].parse().unwrap_or(0);
        assert!(
            (1000..20000).contains(&ms) && r[2] != "0",
            "CDR of {c}: {r:?}"
        );
    }
    drop(p);
}

/// tm's count of branches that timed out (`tm:timeout_finalresponse`).
fn branch_timeouts(o: &Osips) -> u64 {
    let v = o
        .mi("get_statistics", json!([["timeout_finalresponse"]]))
        .unwrap_or_else(|e| panic!("get_statistics: {e}"));
    v["tm:timeout_finalresponse"]
        .as_u64()
        .unwrap_or_else(|| panic!("no tm:timeout_finalresponse in {v}"))
}

/// The port of the first `m=audio` line of an SDP.
fn media_port_of(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio line: {sdp}"))
}

/// Waits (25 s) until `cond` holds.
fn wait(o: &Osips, what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "{what}\n--- osips log ---\n{}",
            o.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn platform_on_sqlite() {
    platform(Engine::Sqlite);
}

#[test]
fn platform_on_postgresql() {
    platform(Engine::Postgres);
}

#[test]
fn platform_on_mariadb() {
    platform(Engine::Mysql);
}
