//! dialog end to end with real sipp callers and callees through `osips -F -E -f script`:
//! states over MI `dlg_list` while the call is up, profiles (with and without value) counted
//! during the call and empty after the BYE, `$DLG_*` / `$dlg_val`, `dlg_end_dlg`, the default
//! timeout, and acc's `cdr` record with the call's duration.

mod acc_support;

use std::time::{Duration, Instant};

use acc_support::{Osips, Sipp, common, test_db, uac_call, uac_expect, uas_answer, uas_busy};
use osips::db::Engine;
use serde_json::{Value, json};

const SCRIPT: &str = r#"
loadmodule "acc.so"
loadmodule "dialog.so"
modparam("dialog", "profiles_no_value", "calls")
modparam("dialog", "profiles_with_value", "caller; callee/b")
@PARAMS@
route {
    if (has_totag()) {
        loose_route();
        if (!is_method("ACK") && match_dialog() && !validate_dialog()) {
            xlog("invalid in-dialog $rm\n");
            t_reply(400, "Invalid in-dialog request");
            exit;
        }
        if (is_method("BYE")) {
            match_dialog();
            get_profile_size("calls", , $var(n));
            xlog("bye: calls=$var(n) dir=$DLG_dir who=$dlg_val(who) status=$DLG_status\n");
            xlog("bye: lifetime=$DLG_lifetime count=$DLG_count did=$DLG_did\n");
        }
        t_relay();
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans())
            t_relay();
        exit;
    }
    t_check_trans();
    record_route();
    if (is_method("INVITE")) {
        create_dialog("B");
        set_dlg_profile("calls");
        set_dlg_profile("caller", "$fU");
        $dlg_val(who) = $fU;
        @INVITE@
        if (is_in_profile("caller", "sipp"))
            xlog("invite: in caller profile\n");
        get_profile_size("calls", , $var(n));
        xlog("invite: calls=$var(n) status=$DLG_status timeout=$DLG_timeout\n");
    }
    $du = "sip:127.0.0.1:@A@";
    if (!t_relay())
        sl_send_reply(500, "Relay failed");
}
"#;

fn start(params: &str, invite: &str, a: u16) -> Osips {
    Osips::start(
        SCRIPT,
        &[
            ("@PARAMS@", params.to_string()),
            ("@INVITE@", invite.to_string()),
            ("@A@", a.to_string()),
        ],
    )
}

fn dialogs(o: &Osips) -> Vec<Value> {
    o.mi("dlg_list", json!([])).unwrap()["Dialogs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn profile_size(o: &Osips, profile: &str, value: Option<&str>) -> u64 {
    let params = match value {
        Some(v) => json!([profile, v]),
        None => json!([profile]),
    };
    o.mi("profile_get_size", params).unwrap()["Profile"]["count"]
        .as_u64()
        .unwrap()
}

/// The dialog statistics as (active, early, processed, expired, failed).
fn stats(o: &Osips) -> [u64; 5] {
    let v = o
        .mi("get_statistics", json!({"statistics": ["dialog:"]}))
        .unwrap();
    let g = |n: &str| v[format!("dialog:{n}")].as_u64().unwrap_or(u64::MAX);
    [
        g("active_dialogs"),
        g("early_dialogs"),
        g("processed_dialogs"),
        g("expired_dialogs"),
        g("failed_dialogs"),
    ]
}

/// Waits until `dlg_list` shows a dialog in `state` and returns it.
fn wait_state(o: &Osips, state: i64) -> Value {
    let start = Instant::now();
    loop {
        if let Some(d) = dialogs(o).into_iter().find(|d| d["state"] == state) {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no dialog in state {state}: {:?}\n{}",
            dialogs(o),
            o.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn call_is_listed_and_profiled_while_up_and_gone_after_bye() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("", "", a);
    let uas = Sipp::uas("callee", &uas_answer(300), a);
    let uac = Sipp::uac("caller", &uac_call(1500), &o, "bob");
    let d = wait_state(&o, 4);
    assert!(
        d["CALLEES"][0]["callee_tag"]
            .as_str()
            .unwrap()
            .contains("SIPpTag01"),
        "{d}"
    );
    assert!(
        d["caller_tag"].as_str().unwrap().contains("SIPpTag00"),
        "{d}"
    );
    assert!(d["timestart"].as_i64().unwrap() > 0, "{d}");
    assert_eq!(
        d["timeout"].as_i64().unwrap() - d["timestart"].as_i64().unwrap(),
        43200,
        "default_timeout: {d}"
    );
    assert_eq!(profile_size(&o, "calls", None), 1);
    assert_eq!(profile_size(&o, "caller", Some("sipp")), 1);
    assert_eq!(profile_size(&o, "caller", Some("alice")), 0);
    assert_eq!(
        stats(&o),
        [1, 0, 1, 0, 0],
        "active, early, processed, expired, failed"
    );
    let listed = o
        .mi("profile_list_dlgs", json!(["caller", "sipp"]))
        .unwrap();
    assert_eq!(listed["Dialogs"][0]["ID"], d["ID"]);
    assert_eq!(
        o.mi("profile_get_values", json!(["caller"])).unwrap(),
        json!({"Values": [{"value": "sipp", "count": 1}]})
    );
    let all = o.mi("list_all_profiles", json!([])).unwrap();
    assert_eq!(all["Profiles"].as_array().unwrap().len(), 3, "{all}");
    assert!(o.mi("profile_get_size", json!(["nope"])).is_err());
    let uac = uac.success(&o);
    assert_eq!(stats(&o), [0, 0, 1, 0, 0]);
    uas.success(&o);
    assert_eq!(d["callid"], uac.call_id());
    assert!(dialogs(&o).is_empty(), "{:?}", dialogs(&o));
    assert_eq!(profile_size(&o, "calls", None), 0);
    let log = o.log();
    assert!(log.contains("invite: in caller profile"), "{log}");
    assert!(
        log.contains("invite: calls=1 status=1 timeout=43200"),
        "{log}"
    );
    assert!(
        log.contains("bye: calls=1 dir=downstream who=sipp status=4"),
        "the BYE route still sees the call: {log}"
    );
    let h = d["ID"].as_u64().unwrap();
    let did = format!("did={}:{}", h >> 32, h & 0xffff_ffff);
    assert!(
        (1..=3).any(|s| log.contains(&format!("bye: lifetime={s} count=1 {did}"))),
        "{did}: {log}"
    );
}

/// `dlg_match_mode` 0 (DID_ONLY): the BYE finds its dialog only through the `did` cookie
/// create_dialog put in the Record-Route, which comes back in the BYE's Route.
#[test]
fn sequential_requests_are_matched_by_the_did_cookie() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("modparam(\"dialog\", \"dlg_match_mode\", 0)", "", a);
    let uas = Sipp::uas("callee", &uas_answer(100), a);
    let uac = Sipp::uac("caller", &uac_call(500), &o, "bob");
    let d = wait_state(&o, 4);
    let uac = uac.success(&o);
    uas.success(&o);
    let h = d["ID"].as_u64().unwrap();
    let cookie = osips::modules::dialog::dlg::did(h);
    let rr = uac
        .messages()
        .lines()
        .find(|l| l.starts_with("Record-Route:"))
        .unwrap_or_default()
        .to_string();
    assert!(rr.contains(&format!(";did={cookie}")), "{cookie}: {rr}");
    let log = o.log();
    assert!(
        log.contains("bye: calls=1 dir=downstream who=sipp status=4"),
        "the BYE found its dialog by the cookie: {log}"
    );
    assert!(dialogs(&o).is_empty(), "{:?}", dialogs(&o));
}

#[test]
fn a_busy_callee_leaves_no_dialog() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("", "", a);
    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    assert!(dialogs(&o).is_empty(), "{:?}", dialogs(&o));
    assert_eq!(profile_size(&o, "calls", None), 0);
    assert_eq!(stats(&o), [0, 0, 1, 0, 1], "one failed dialog");
}

#[test]
fn dlg_timeout_without_b_flag_drops_the_dialog_silently() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = Osips::start(
        &SCRIPT.replace("create_dialog(\"B\")", "create_dialog()"),
        &[
            ("@PARAMS@", String::new()),
            ("@INVITE@", "$DLG_timeout = 1;".to_string()),
            ("@A@", a.to_string()),
        ],
    );
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    let uac = Sipp::uac("caller", &uac_call(3000), &o, "bob");
    let d = wait_state(&o, 4);
    assert_eq!(
        d["timeout"].as_i64().unwrap() - d["timestart"].as_i64().unwrap(),
        1
    );
    let t0 = Instant::now();
    while !dialogs(&o).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "no timeout");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(profile_size(&o, "calls", None), 0);
    assert_eq!(stats(&o), [0, 0, 1, 1, 0], "one expired dialog");
    // No BYE from osips: the caller's own BYE still ends the call normally.
    uac.success(&o);
    uas.success(&o);
}

/// Ends a confirmed call through `end` and checks both sides got osips's BYE and answered it.
fn ended_by_proxy(invite: &str, end: impl Fn(&Osips, &Value)) {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("", invite, a);
    let uas = Sipp::uas("callee", &acc_support::uas_answer_ended_by_proxy(), a);
    let uac = Sipp::uac("caller", &acc_support::uac_call_ended_by_proxy(), &o, "bob");
    let d = wait_state(&o, 4);
    end(&o, &d);
    let uac = uac.success(&o);
    let uas = uas.success(&o);
    for (who, s) in [("caller", &uac), ("callee", &uas)] {
        let m = s.messages();
        assert!(m.contains("BYE sip:"), "{who} got a BYE:\n{m}");
        assert!(
            m.contains(&format!("Call-ID: {}", d["callid"].as_str().unwrap())),
            "{m}"
        );
    }
    assert!(dialogs(&o).is_empty());
    assert_eq!(profile_size(&o, "calls", None), 0);
}

#[test]
fn dlg_end_dlg_sends_bye_both_ways() {
    ended_by_proxy("", |o, d| {
        assert!(o.mi("dlg_end_dlg", json!(["12345"])).is_err(), "unknown id");
        o.mi("dlg_end_dlg", json!([d["ID"].to_string()])).unwrap();
    });
}

#[test]
fn timeout_with_b_flag_sends_bye_both_ways() {
    ended_by_proxy("$DLG_timeout = 1;", |_, _| {});
}

fn cdr_row_has_the_duration(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine, &["acc", "missed_calls"]) else {
        return;
    };
    let a = common::free_udp_port();
    let o = start(
        &format!("modparam(\"acc\", \"db_url\", \"{}\")", db.url),
        "do_accounting(\"db|log\", \"cdr|missed\");",
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(1200), a);
    let uac = Sipp::uac("caller", &uac_call(2200), &o, "bob").success(&o);
    uas.success(&o);
    let cols = "method, callid, sip_code, duration, ms_duration, setuptime, created";
    let rows = acc_support::wait_rows(&db.url, "acc", cols, 1, &o);
    assert_eq!(rows.len(), 1, "one row per call: {rows:?}");
    let r = &rows[0];
    assert_eq!(&r[..3], &["INVITE", &uac.call_id(), "200"][..]);
    let ms: u64 = r[4].parse().unwrap();
    assert!((2000..6000).contains(&ms), "ms_duration {ms}: {r:?}");
    let secs: u64 = r[3].parse().unwrap();
    assert_eq!(secs, (ms + 500) / 1000, "{r:?}");
    let setup: u64 = r[5].parse().unwrap();
    assert!((1..=3).contains(&setup), "setuptime {setup}: {r:?}");
    assert_ne!(r[6], "NULL", "created: {r:?}");
    assert!(o.log().contains("ACC: call ended:"), "{}", o.log());
    assert!(
        !o.log().contains("ACC: transaction answered:"),
        "{}",
        o.log()
    );
}

#[test]
fn sqlite_cdr_row_has_the_call_duration() {
    cdr_row_has_the_duration(Engine::Sqlite);
}

#[test]
fn postgres_cdr_row_has_the_call_duration() {
    cdr_row_has_the_duration(Engine::Postgres);
}

#[test]
fn mariadb_cdr_row_has_the_call_duration() {
    cdr_row_has_the_duration(Engine::Mysql);
}

#[test]
fn profile_errors_are_named() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start(
        "",
        "set_dlg_profile(\"calls\", \"x\"); set_dlg_profile(\"nope\"); set_dlg_profile(\"caller\");",
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    Sipp::uac("caller", &uac_call(100), &o, "bob").success(&o);
    uas.success(&o);
    let log = o.log();
    assert!(log.contains("profile `calls` takes no value"), "{log}");
    assert!(log.contains("`nope` is not a profile"), "{log}");
    assert!(log.contains("profile `caller` needs a value"), "{log}");
}

/// db_mode 1 / 2 / 3: a call confirmed before a restart is listed (with its profiles and values) by
/// the new osips on the same address and database, and the caller's BYE ends it there.
fn dialog_survives_restart(engine: Engine, mode: u8) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine, &["dialog", "acc", "missed_calls"]) else {
        return;
    };
    let a = common::free_udp_port();
    let params = format!(
        "modparam(\"dialog\", \"db_mode\", {mode})\nmodparam(\"dialog\", \"db_update_period\", 1)\n\
         modparam(\"dialog\", \"db_url\", \"{}\")",
        db.url
    );
    let vars = [
        ("@PARAMS@", params),
        ("@INVITE@", String::new()),
        ("@A@", a.to_string()),
    ];
    let o = Osips::start(SCRIPT, &vars);
    let port = o.port;
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    let uac = Sipp::uac("caller", &uac_call(5000), &o, "bob");
    let before = wait_state(&o, 4);
    match mode {
        1 => assert_eq!(acc_support::rows(&db.url, "dialog", "dlg_id").len(), 1),
        2 => {
            acc_support::wait_rows(&db.url, "dialog", "dlg_id", 1, &o);
        }
        _ => assert!(
            acc_support::rows(&db.url, "dialog", "dlg_id").is_empty(),
            "db_mode 3 writes at shutdown only"
        ),
    }
    drop(o);
    assert_eq!(acc_support::rows(&db.url, "dialog", "dlg_id").len(), 1);
    let o = Osips::start_at(port, SCRIPT, &vars);
    assert!(o.log().contains("dialog: 1 dialogs loaded"), "{}", o.log());
    let after = dialogs(&o);
    assert_eq!(after.len(), 1, "{after:?}");
    for k in [
        "ID",
        "callid",
        "caller_tag",
        "timestart",
        "timeout",
        "CALLEES",
        "values",
        "profiles",
    ] {
        assert_eq!(after[0][k], before[k], "{k}");
    }
    assert_eq!(profile_size(&o, "caller", Some("sipp")), 1);
    uac.success(&o);
    uas.success(&o);
    assert!(dialogs(&o).is_empty());
    assert!(acc_support::rows(&db.url, "dialog", "dlg_id").is_empty());
}

#[test]
fn sqlite_dialog_survives_restart() {
    dialog_survives_restart(Engine::Sqlite, 1);
}

#[test]
fn sqlite_delayed_db_mode_dialog_survives_restart() {
    dialog_survives_restart(Engine::Sqlite, 2);
}

#[test]
fn sqlite_shutdown_db_mode_dialog_survives_restart() {
    dialog_survives_restart(Engine::Sqlite, 3);
}

#[test]
fn postgres_delayed_db_mode_dialog_survives_restart() {
    dialog_survives_restart(Engine::Postgres, 2);
}

#[test]
fn mariadb_dialog_survives_restart() {
    dialog_survives_restart(Engine::Mysql, 1);
}
