//! What tm keeps in a script run (`SipCtx.tm`): the transaction of the run, routes armed before
//! the transaction exists, and in failure / onreply / branch routes which branch and reply.

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::SipCtx;

use super::tx::Transaction;

/// The kind of route tm runs (the request route included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TmRoute {
    #[default]
    Request,
    Failure,
    Reply,
    Branch,
    /// `local_route`, on a request osips originates.
    Local,
}

#[derive(Default)]
pub struct TmCtx {
    pub tx: Option<Arc<Transaction>>,
    pub route: TmRoute,
    pub on_failure: Option<usize>,
    pub on_reply: Option<usize>,
    pub on_branch: Option<usize>,
    /// Branch of a branch / onreply route.
    pub branch: Option<usize>,
    /// The reply of an onreply route, the winning reply of a failure route.
    pub reply_code: Option<u16>,
    /// `$T_fr_timeout` / `$T_fr_inv_timeout` set before the transaction exists.
    pub fr_timeout: Option<Duration>,
    pub fr_inv_timeout: Option<Duration>,
    /// `t_relay` already sent the branches of this request route.
    pub relayed: bool,
    /// Other modules' data attached before the transaction exists (`hooks::with_data`).
    pub ext: super::hooks::TxDataMap,
}

/// The tm context of a run, created on first use.
pub fn of(m: &mut SipCtx) -> &mut TmCtx {
    let fresh = !m.tm.as_ref().is_some_and(|b| b.is::<TmCtx>());
    if fresh {
        m.tm = Some(Box::new(TmCtx::default()));
    }
    m.tm.as_mut()
        .and_then(|b| b.downcast_mut::<TmCtx>())
        .expect("just set")
}

/// The tm context if the run has one.
pub fn get(m: &SipCtx) -> Option<&TmCtx> {
    m.tm.as_ref().and_then(|b| b.downcast_ref::<TmCtx>())
}
