//! acc end to end: real sipp callers and callees through `osips -F -E -f script` with tm;
//! `do_accounting` to the log (OpenSIPS's `ACC: transaction answered:` line) and to the `acc` /
//! `missed_calls` tables on SQLite, PostgreSQL and MariaDB (these fail without the servers when
//! CI is set).

mod acc_support;

use acc_support::{Osips, Sipp, common, test_db, uac_call, uac_expect, uas_answer, uas_busy};
use osips::db::Engine;

const ROUTE: &str = r#"
route {
    if (has_totag()) {
        loose_route();
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
    @ACC@
    $du = "sip:127.0.0.1:@A@";
    if (!t_relay())
        sl_send_reply(500, "Relay failed");
}
"#;

fn start(acc: &str, params: &str, a: u16) -> Osips {
    let script = format!("loadmodule \"acc.so\"\n{params}{ROUTE}");
    Osips::start(
        &script,
        &[("@ACC@", acc.to_string()), ("@A@", a.to_string())],
    )
}

#[test]
fn log_mode_writes_the_acc_line_with_extra_fields() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start(
        "do_accounting(\"log\"); $acc_extra(caller) = $fu;",
        "modparam(\"acc\", \"extra_fields\", \"log: caller->src\")\n",
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(100), a);
    let uac = Sipp::uac("caller", &uac_call(200), &o, "bob").success(&o);
    uas.success(&o);
    let cid = uac.call_id();
    o.wait_log("the ACC line", |l| l.contains("ACC: transaction answered:"));
    let log = o.log();
    let line = log
        .lines()
        .find(|l| l.contains("ACC: transaction answered:"))
        .unwrap();
    assert!(line.contains("method=INVITE;"), "{line}");
    assert!(
        line.contains(&format!("call_id={cid};code=200;reason=OK")),
        "{line}"
    );
    assert!(line.contains(";from_tag="), "{line}");
    assert!(line.contains("SIPpTag01"), "callee's To tag: {line}");
    assert!(line.contains(";src=sip:sipp@127.0.0.1"), "{log}");
    assert_eq!(
        log.matches("ACC: transaction answered:").count(),
        1,
        "the BYE is not accounted: {log}"
    );
}

/// Multi-leg accounting (`leg_fields`, `acc_new_leg()`, `$acc_leg`): one `acc` row per leg,
/// differing only in the leg column; the log line carries every leg.
#[test]
fn leg_fields_write_one_row_per_leg() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite, &["acc"]) else {
        return;
    };
    let d = osips::db::Db::connect(&osips::db::DbUrl::parse(&db.url).unwrap()).unwrap();
    d.execute("ALTER TABLE acc ADD COLUMN dst_leg VARCHAR(64)", &[])
        .unwrap();
    d.close();
    let a = common::free_udp_port();
    let o = start(
        "do_accounting(\"db|log\"); $acc_leg(dst) = $ru; acc_new_leg(); \
         $acc_leg(dst) = \"sip:voicemail@127.0.0.1\"; \
         xlog(\"legs: current=$acc_current_leg first=$(acc_leg(dst)[0])\\n\");",
        &format!(
            "modparam(\"acc\", \"db_url\", \"{}\")\n\
             modparam(\"acc\", \"leg_fields\", \"db: dst->dst_leg\")\n\
             modparam(\"acc\", \"leg_fields\", \"log: dst->leg\")\n",
            db.url
        ),
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(100), a);
    let uac = Sipp::uac("caller", &uac_call(200), &o, "bob").success(&o);
    uas.success(&o);
    let rows = acc_support::wait_rows(&db.url, "acc", "callid, sip_code, dst_leg", 2, &o);
    let cid = uac.call_id();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(&rows[0][..2], &[cid.as_str(), "200"][..]);
    assert_eq!(&rows[1][..2], &[cid.as_str(), "200"][..]);
    assert!(rows[0][2].starts_with("sip:bob@127.0.0.1"), "{rows:?}");
    assert_eq!(rows[1][2], "sip:voicemail@127.0.0.1", "{rows:?}");
    o.wait_log("the ACC line", |l| l.contains("ACC: transaction answered:"));
    let log = o.log();
    assert!(
        log.contains("legs: current=1 first=sip:bob@127.0.0.1"),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("ACC: transaction answered:"))
        .unwrap();
    assert!(
        line.contains(";leg=sip:bob@127.0.0.1") && line.ends_with(";leg=sip:voicemail@127.0.0.1"),
        "{line}"
    );
}

#[test]
fn log_mode_reports_a_missed_call() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("do_accounting(\"log\", \"missed\");", "", a);
    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    o.wait_log("the missed line", |l| l.contains("ACC: call missed:"));
    let log = o.log();
    assert!(log.contains("code=486;reason=Busy Here"), "{log}");
    assert!(!log.contains("ACC: transaction answered:"), "{log}");
    assert!(
        !log.contains("ACC: transaction failed:"),
        "no `failed` flag: {log}"
    );
}

fn db_answered_and_missed(engine: Engine) {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(engine, &["acc", "missed_calls"]) else {
        return;
    };
    let a = common::free_udp_port();
    let o = start(
        "do_accounting(\"db\", \"missed\");",
        &format!("modparam(\"acc\", \"db_url\", \"{}\")\n", db.url),
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(100), a);
    let uac = Sipp::uac("caller", &uac_call(200), &o, "bob").success(&o);
    uas.success(&o);
    let cols = "method, callid, sip_code, sip_reason, to_tag, from_tag, time";
    let rows = acc_support::wait_rows(&db.url, "acc", cols, 1, &o);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(&r[..4], &["INVITE", &uac.call_id(), "200", "OK"][..]);
    assert!(r[4].contains("SIPpTag01"), "{r:?}");
    assert!(r[5].contains("SIPpTag00"), "{r:?}");
    assert!(r[6].starts_with("20"), "a date: {r:?}");
    assert!(acc_support::rows(&db.url, "missed_calls", "id").is_empty());

    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    let uac = Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    let missed = acc_support::wait_rows(&db.url, "missed_calls", cols, 1, &o);
    assert_eq!(
        &missed[0][..4],
        &["INVITE", &uac.call_id(), "486", "Busy Here"][..]
    );
    assert_eq!(
        acc_support::rows(&db.url, "acc", "id").len(),
        1,
        "a failed call goes to acc only with `failed`"
    );
}

#[test]
fn sqlite_answered_call_and_missed_call_rows() {
    db_answered_and_missed(Engine::Sqlite);
}

#[test]
fn postgres_answered_call_and_missed_call_rows() {
    db_answered_and_missed(Engine::Postgres);
}

#[test]
fn mariadb_answered_call_and_missed_call_rows() {
    db_answered_and_missed(Engine::Mysql);
}

#[test]
fn failed_flag_accounts_a_busy_call_in_acc() {
    if common::sipp().is_none() {
        return;
    }
    let Some(db) = test_db(Engine::Sqlite, &["acc", "missed_calls"]) else {
        return;
    };
    let a = common::free_udp_port();
    let o = start(
        "do_accounting(\"db|log\", \"failed\", \"acc\");",
        &format!("modparam(\"acc\", \"db_url\", \"{}\")\n", db.url),
        a,
    );
    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    let uac = Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    let rows = acc_support::wait_rows(&db.url, "acc", "callid, sip_code", 1, &o);
    assert_eq!(rows, vec![vec![uac.call_id(), "486".to_string()]]);
    assert!(o.log().contains("ACC: transaction failed:"), "{}", o.log());
    assert!(acc_support::rows(&db.url, "missed_calls", "id").is_empty());
}

#[test]
fn bad_accounting_type_is_refused_and_the_call_goes_on() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start(
        "if (!do_accounting(\"sql\")) xlog(\"acc refused\\n\");",
        "",
        a,
    );
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    Sipp::uac("caller", &uac_call(100), &o, "bob").success(&o);
    uas.success(&o);
    let log = o.log();
    assert!(log.contains("unknown accounting type `sql`"), "{log}");
    assert!(log.contains("acc refused"), "{log}");
    assert!(!log.contains("ACC: "), "{log}");
}

#[test]
fn evi_raises_e_acc_event_and_the_missed_event() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let script = format!(
        "loadmodule \"acc.so\"\nmodparam(\"acc\", \"extra_fields\", \"evi: caller->src\")\n{ROUTE}\n\
         event_route[E_ACC_EVENT] {{ xlog(\"evi: $param(callid) $param(sip_code) $param(src)\\n\"); }}\n\
         event_route[E_ACC_MISSED_EVENT] {{ xlog(\"evi missed: $param(sip_code) $param(sip_reason)\\n\"); }}\n"
    );
    let o = Osips::start(
        &script,
        &[
            (
                "@ACC@",
                "do_accounting(\"evi\", \"missed\"); $acc_extra(caller) = $fU;".to_string(),
            ),
            ("@A@", a.to_string()),
        ],
    );
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    let uac = Sipp::uac("caller", &uac_call(100), &o, "bob").success(&o);
    uas.success(&o);
    let cid = uac.call_id();
    o.wait_log("E_ACC_EVENT", |l| {
        l.contains(&format!("evi: {cid} 200 sipp"))
    });
    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    o.wait_log("E_ACC_MISSED_EVENT", |l| {
        l.contains("evi missed: 486 Busy Here")
    });
}

#[test]
fn cdr_without_dialog_accounts_the_transaction() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start("do_accounting(\"log\", \"cdr\");", "", a);
    let uas = Sipp::uas("callee", &uas_answer(50), a);
    let uac = Sipp::uac("caller", &uac_call(100), &o, "bob").success(&o);
    uas.success(&o);
    let cid = uac.call_id();
    o.wait_log("the ACC line", |l| {
        l.contains(&format!("call_id={cid};code=200"))
    });
    assert!(
        o.log().contains("ACC: transaction answered:"),
        "{}",
        o.log()
    );
}

#[test]
fn early_media_accounts_the_183_too() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start(
        "do_accounting(\"log\");",
        "modparam(\"acc\", \"early_media\", 1)\n",
        a,
    );
    let uas = Sipp::uas("callee", &acc_support::uas_early_media_answer(), a);
    let uac = Sipp::uac("caller", &acc_support::uac_call_early(300), &o, "bob").success(&o);
    uas.success(&o);
    let cid = uac.call_id();
    o.wait_log("two ACC lines", |l| {
        l.matches("ACC: transaction answered:").count() == 2
    });
    let log = o.log();
    assert!(
        log.contains("method=INVITE;from_tag=")
            && log.contains(&format!("call_id={cid};code=183;reason=Session Progress")),
        "{log}"
    );
    assert!(
        log.contains(&format!("call_id={cid};code=200;reason=OK")),
        "{log}"
    );
}

#[test]
fn do_accounting_in_failure_route_reports_the_missed_call() {
    if common::sipp().is_none() {
        return;
    }
    let a = common::free_udp_port();
    let o = start(
        "t_on_failure(\"missed\");",
        "failure_route[missed] {\n    do_accounting(\"log\", \"missed\");\n}\n",
        a,
    );
    let uas = Sipp::uas("busy callee", &uas_busy(), a);
    let uac = Sipp::uac("caller", &uac_expect(486), &o, "bob").success(&o);
    uas.success(&o);
    let cid = uac.call_id();
    o.wait_log("the missed line", |l| {
        l.contains("ACC: call missed:") && l.contains(&format!("call_id={cid};code=486"))
    });
}
