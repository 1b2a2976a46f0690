//! acc: accounting of transactions (OpenSIPS 3.x). `do_accounting(types[, flags[, table]])`
//! marks the transaction; when its final reply goes upstream tm hands the mark back
//! (`tm::on_final`) and a record goes to the log (`ACC: transaction answered: ...`), the `acc`
//! table, or `missed_calls` (flag `missed`, codes >= 300); flag `failed` accounts failed
//! transactions in `acc` too. `$acc_extra(tag)` fills the `extra_fields`; multi-leg
//! accounting: `$acc_leg(tag)` (`$(acc_leg(tag)[i])`) fills the `leg_fields` of the current leg,
//! `acc_new_leg()` opens the next one, and a record is written once per leg (db rows, events)
//! or with every leg appended (log).
//!
//! Map: [`config`] modparams, [`mark`] what a transaction carries, [`report`] records and
//! backends, [`funcs`] script functions and `$acc_extra`.

pub mod config;
pub mod funcs;
pub mod mark;
pub mod report;

use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::Db;
use crate::events::EventDef;
use crate::modules::tm::{self, TxData, TxInfo};
use crate::script::module::{InitCtx, ParamValue, PvExport, p};
use crate::script::{FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask};
use crate::sip::Method;

use config::AccConfig;
use mark::AccMark;
use report::{Kind, Record};

pub struct Acc {
    pub cfg: AccConfig,
    pub db: Option<Arc<Db>>,
}

static ACC: RwLock<Option<Arc<Acc>>> = RwLock::new(None);

/// The running acc module (after its init).
pub fn acc() -> Option<Arc<Acc>> {
    ACC.read().clone()
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let cfg = AccConfig::from_params(ctx)?;
    for name in ["detect_direction"] {
        if crate::modules::auth_db::db::int_param(ctx, name, 0)? != 0 {
            tracing::warn!("acc: modparam {name} is not supported yet: ignored");
        }
    }
    let db = match ctx.params.get("db_url") {
        Some(ParamValue::Str(u)) if !u.trim().is_empty() => {
            Some(crate::modules::auth_db::db::open(ctx)?)
        }
        _ => None,
    };
    *ACC.write() = Some(Arc::new(Acc { cfg, db }));
    tm::on_final(mark::KEY, on_final);
    tm::on_provisional(mark::KEY, on_provisional);
    Ok(())
}

fn destroy() {
    *ACC.write() = None;
}

/// Whether a failed transaction is accounted in `acc`: flag `failed`, or the 1.x-style
/// `failed_transaction_flag` set on the message.
fn failed_wanted(acc: &Acc, mark: &AccMark, info: &TxInfo<'_>) -> bool {
    mark.flags.failed
        || acc
            .cfg
            .failed_transaction_flag
            .as_deref()
            .is_some_and(|name| {
                info.tx
                    .shared
                    .script()
                    .flags
                    .msg_id(name)
                    .is_some_and(|id| info.flags & (1 << id) != 0)
            })
}

/// tm's provisional-reply hook: with `early_media`, a 183 is accounted as answered.
fn on_provisional(reply: &crate::sip::Msg, code: u16, data: &TxData) {
    let Some(acc) = acc() else { return };
    if !acc.cfg.early_media || code != 183 {
        return;
    }
    let Some(mark) = data.downcast_ref::<AccMark>() else {
        return;
    };
    let Some(shared) = crate::runtime::global_shared() else {
        return;
    };
    let r = Record::of_reply(Kind::Answered, reply, mark);
    report::emit(&acc.cfg, acc.db.as_ref(), &shared.events, mark, &r);
}

/// tm's final-reply hook for transactions `do_accounting` marked.
fn on_final(info: &TxInfo<'_>, data: TxData) {
    let Some(acc) = acc() else { return };
    let Ok(mark) = data.downcast::<AccMark>() else {
        return;
    };
    let method = info.request.method();
    if method == Method::Cancel && !acc.cfg.report_cancels {
        return;
    }
    let events = &info.tx.shared.events;
    let record = |kind| {
        Record::of(
            kind,
            info.request,
            info.reply,
            info.code,
            &info.reason,
            info.created,
            &mark,
        )
    };
    if info.code < 300 {
        if mark.flags.cdr
            && method == Method::Invite
            && let Some(cdr) = cdr_hook()
            && cdr(info, &mark)
        {
            // The dialog writes the call's record when it ends.
            return;
        }
        report::emit(
            &acc.cfg,
            acc.db.as_ref(),
            events,
            &mark,
            &record(Kind::Answered),
        );
        return;
    }
    if mark.flags.missed {
        report::emit(
            &acc.cfg,
            acc.db.as_ref(),
            events,
            &mark,
            &record(Kind::Missed),
        );
    }
    if failed_wanted(&acc, &mark, info) {
        report::emit(
            &acc.cfg,
            acc.db.as_ref(),
            events,
            &mark,
            &record(Kind::Failed),
        );
    }
}

/// Writes the record of a whole call (a dialog ended) to the backends of `mark`.
pub fn report_call(mark: &AccMark, r: &Record) {
    let Some(acc) = acc() else { return };
    let Some(shared) = crate::runtime::global_shared() else {
        return;
    };
    report::emit(&acc.cfg, acc.db.as_ref(), &shared.events, mark, r);
}

/// Hands an answered INVITE marked `cdr` to the dialog module, which reports the call when it
/// ends (`report::Kind::CallEnded`); false when there is no dialog for it.
pub type CdrHook = fn(&TxInfo<'_>, &AccMark) -> bool;

static CDR_HOOK: RwLock<Option<CdrHook>> = RwLock::new(None);

/// Called by the dialog module at its init.
pub fn set_cdr_hook(h: CdrHook) {
    *CDR_HOOK.write() = Some(h);
}

fn cdr_hook() -> Option<CdrHook> {
    *CDR_HOOK.read()
}

const ALL: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::BRANCH)
    .or(RouteMask::LOCAL);

const fn f(
    name: &'static str,
    params: &'static [crate::script::ParamKind],
    handler: crate::script::module::CmdHandler,
) -> FunctionSpec {
    FunctionSpec {
        name,
        params,
        routes: ALL,
        handler,
    }
}

static EVENTS: [EventDef; 3] = [
    EventDef {
        name: "E_ACC_EVENT",
        params: &[
            "method",
            "from_tag",
            "to_tag",
            "callid",
            "sip_code",
            "sip_reason",
            "time",
        ],
    },
    EventDef {
        name: "E_ACC_MISSED_EVENT",
        params: &[
            "method",
            "from_tag",
            "to_tag",
            "callid",
            "sip_code",
            "sip_reason",
            "time",
        ],
    },
    EventDef {
        name: "E_ACC_CDR",
        params: &[
            "method",
            "from_tag",
            "to_tag",
            "callid",
            "sip_code",
            "sip_reason",
            "time",
            "duration",
            "ms_duration",
            "setuptime",
            "created",
        ],
    },
];

static PVS: [PvExport; 3] = [
    PvExport::read_write("acc_extra", true, funcs::extra_get, funcs::extra_set),
    PvExport::read_write("acc_leg", true, funcs::leg_get, funcs::leg_set),
    PvExport::read("acc_current_leg", false, funcs::current_leg),
];

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "acc",
    deps: &["tm"],
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("db_table_acc"),
        ParamSpec::str("db_table_missed_calls"),
        ParamSpec::any("log_level"),
        ParamSpec::str("log_facility"),
        ParamSpec::str("acc_created_avp_name"),
        ParamSpec::int("report_cancels"),
        ParamSpec::int("early_media"),
        ParamSpec::int("detect_direction"),
        ParamSpec::flag("failed_transaction_flag"),
        ParamSpec::str("extra_fields").multi(),
        ParamSpec::str("leg_fields").multi(),
        ParamSpec::str("acc_method_column"),
        ParamSpec::str("acc_from_tag_column"),
        ParamSpec::str("acc_to_tag_column"),
        ParamSpec::str("acc_callid_column"),
        ParamSpec::str("acc_sip_code_column"),
        ParamSpec::str("acc_sip_reason_column"),
        ParamSpec::str("acc_time_column"),
    ],
    functions: &[
        f(
            "do_accounting",
            &[p::STR, p::OPT_STR, p::OPT_STR],
            funcs::do_accounting,
        ),
        f(
            "drop_accounting",
            &[p::OPT_STR, p::OPT_STR],
            funcs::drop_accounting,
        ),
        f("acc_log_request", &[p::STR], funcs::acc_log_request),
        f("acc_db_request", &[p::STR, p::STR], funcs::acc_db_request),
        f("acc_evi_request", &[p::STR], funcs::acc_evi_request),
        f("acc_new_leg", &[], funcs::acc_new_leg),
    ],
    pvs: &PVS,
    events: &EVENTS,
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};
