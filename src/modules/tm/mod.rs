//! tm: stateful SIP proxying (RFC 3261 §16–§17, RFC 6026) — server and client transactions in a
//! sharded table, retransmissions and final-response timers on the process timer wheel
//! (`crate::timer`), parallel and serial forking, CANCEL, hop-by-hop ACK, best-reply selection,
//! failure / onreply / branch routes, `local_route` on the requests osips originates and the
//! `$T_*` pseudo-variables.
//!
//! Map: [`config`] modparams, [`table`] keys and the sharded table, [`tx`] the transaction,
//! [`uas`] replies upstream, [`uac`] branches downstream, [`reply`] replies from downstream,
//! [`local`] requests osips originates (through `local_route`), [`funcs`] the core script
//! functions, [`tx_fns`] functions on an existing transaction, [`local_fns`] `t_new_request` /
//! `t_replicate`, [`inject`] dynamic branches, [`pvs`] pseudo-variables, [`stats`] statistics,
//! [`mi`] MI commands.

pub mod config;
pub mod ctx;
pub mod funcs;
pub mod hooks;
pub mod inject;
pub mod local;
pub mod local_fns;
pub mod mi;
pub mod pvs;
pub mod reply;
pub mod stats;
pub mod table;
#[cfg(test)]
mod tests;
pub mod tx;
pub mod tx_fns;
pub mod uac;
pub mod uas;

use std::sync::OnceLock;

use crate::runtime::Shared;
use crate::script::module::p;
use crate::script::{FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, ast::RouteKind};

pub use hooks::{TxData, TxInfo, on_final, on_provisional, on_request, with_data};
pub use local::{LocalError, LocalRequest, originate, send_request};
pub use reply::on_reply;

/// The module's process-wide state: the transaction table and the statistics.
pub struct Tm {
    pub table: table::Table,
    pub stats: stats::TmStats,
}

static TM: OnceLock<Tm> = OnceLock::new();

/// The tm state, created on first use (statistics go to the first runtime's registry).
pub fn tm(shared: &Shared) -> &'static Tm {
    TM.get_or_init(|| Tm {
        table: table::Table::new(),
        stats: stats::TmStats::register(&shared.stats),
    })
}

/// The tm state if anything used tm already.
pub fn tm_if_started() -> Option<&'static Tm> {
    TM.get()
}

const R: RouteMask = RouteMask::REQUEST;
const RF: RouteMask = RouteMask::REQUEST.or(RouteMask::FAILURE);
const RB: RouteMask = RouteMask::REQUEST.or(RouteMask::BRANCH);
const RFOB: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::ONREPLY)
    .or(RouteMask::BRANCH);
const RFOBL: RouteMask = RFOB.or(RouteMask::LOCAL);
const O: RouteMask = RouteMask::ONREPLY;
const RBR: RouteMask = RouteMask::REQUEST.or(RouteMask::BRANCH);

const fn f(
    name: &'static str,
    params: &'static [crate::script::ParamKind],
    routes: RouteMask,
    handler: crate::script::module::CmdHandler,
) -> FunctionSpec {
    FunctionSpec {
        name,
        params,
        routes,
        handler,
    }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "tm",
    params: &[
        ParamSpec::int("fr_timeout"),
        ParamSpec::int("fr_inv_timeout"),
        ParamSpec::int("wt_timer"),
        ParamSpec::int("delete_timer"),
        ParamSpec::int("T1_timer"),
        ParamSpec::int("T2_timer"),
        ParamSpec::int("ruri_matching"),
        ParamSpec::int("via1_matching"),
        ParamSpec::int("unix_tx_timeout"),
        ParamSpec::int("restart_fr_on_each_reply"),
        ParamSpec::any("tw_append").multi(),
        ParamSpec::int("pass_provisional_replies"),
        ParamSpec::int("syn_branch"),
        ParamSpec::int("onreply_avp_mode"),
        ParamSpec::int("disable_6xx_block"),
        ParamSpec::int("enable_stats"),
        ParamSpec::bflag("minor_branch_flag"),
        ParamSpec::int("timer_partitions"),
        ParamSpec::int("auto_100trying"),
        ParamSpec::int("tm_replication_cluster"),
        ParamSpec::str("cluster_param"),
        ParamSpec::int("cluster_auto_cancel"),
        ParamSpec::str("local_request_route"),
        ParamSpec::str("local_reply_route"),
    ],
    functions: &[
        f("t_relay", &[p::OPT_STR, p::OPT_STR], RF, funcs::t_relay),
        f("t_newtran", &[], R, funcs::t_newtran),
        f("t_reply", &[p::INT, p::STR], RF, funcs::t_reply),
        f(
            "t_reply_with_body",
            &[p::INT, p::STR, p::STR],
            RF,
            funcs::t_reply_with_body,
        ),
        f("t_check_trans", &[], RB, funcs::t_check_trans),
        f(
            "t_on_failure",
            &[p::route(RouteKind::Failure)],
            RFOBL,
            funcs::t_on_failure,
        ),
        f(
            "t_on_reply",
            &[p::route(RouteKind::OnReply)],
            RFOBL,
            funcs::t_on_reply,
        ),
        f(
            "t_on_branch",
            &[p::route(RouteKind::Branch)],
            RFOB,
            funcs::t_on_branch,
        ),
        f("t_was_cancelled", &[], RFOB, funcs::t_was_cancelled),
        f("t_check_status", &[p::REGEX], RFOB, funcs::t_check_status),
        f(
            "t_local_replied",
            &[p::OPT_STR],
            RFOB,
            funcs::t_local_replied,
        ),
        f("t_cancel_branch", &[p::OPT_STR], O, tx_fns::t_cancel_branch),
        f(
            "t_new_request",
            &[p::STR, p::STR, p::STR, p::STR, p::OPT_STR, p::OPT_STR],
            RouteMask::ALL,
            local_fns::t_new_request,
        ),
        f("t_add_hdrs", &[p::STR], R, tx_fns::t_add_hdrs),
        f(
            "t_add_cancel_reason",
            &[p::STR],
            R,
            tx_fns::t_add_cancel_reason,
        ),
        f(
            "t_replicate",
            &[p::STR, p::OPT_STR],
            RF,
            local_fns::t_replicate,
        ),
        f("t_flush_flags", &[], RBR, tx_fns::t_flush_flags),
        f(
            "t_inject_branches",
            &[p::STR, p::OPT_STR],
            RouteMask::REQUEST.or(O),
            inject::t_inject_branches,
        ),
        f(
            "t_wait_for_new_branches",
            &[p::OPT_INT],
            R,
            inject::t_wait_for_new_branches,
        ),
        f(
            "t_wait_no_more_branches",
            &[],
            RFOB,
            inject::t_wait_no_more_branches,
        ),
        f(
            "t_reply_by_callid",
            &[p::INT, p::STR, p::OPT_STR, p::OPT_STR],
            R,
            tx_fns::t_reply_by_callid,
        ),
    ],
    pvs: &pvs::PVS,
    mi_commands: &mi::MI_COMMANDS,
    stats: &stats::STATS,
    ..ModuleDescriptor::EMPTY
};
