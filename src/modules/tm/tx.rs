//! One transaction: the server side (the request received, replies sent upstream) and its client
//! branches, behind one short-held mutex. Timer callbacks hold a `Weak` to it, so a deleted
//! transaction's timers find nothing to do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::runtime::Shared;
use crate::script::vars::AvpStore;
use crate::sip::{Method, Msg};
use crate::timer::{self, TimerId};
use crate::transport::{Destination, ReceiveInfo};

use super::config::TmConfig;
use super::table::TxKey;
use super::uac::UacBranch;
use super::uas::Uas;

pub struct Transaction {
    pub id: u64,
    /// Server key; None for transactions osips originates (MI `t_uac_dlg`).
    pub key: Option<TxKey>,
    pub method: Method,
    pub is_invite: bool,
    pub shared: Arc<Shared>,
    pub cfg: Arc<TmConfig>,
    pub state: Mutex<TxState>,
    /// Header lines the CANCELs of the branches carry; its own lock, as CANCELs are built
    /// under `state`.
    pub cancel_hdrs: Mutex<CancelHdrs>,
}

/// Extra header lines (`Name: value\r\n` each) of the CANCELs tm sends.
#[derive(Debug, Clone, Default)]
pub struct CancelHdrs {
    /// `t_add_hdrs`: on every request of the transaction.
    pub added: Vec<u8>,
    /// `t_add_cancel_reason`, or the received CANCEL's with `t_relay("pass-reason-hdr")`.
    pub reason: Vec<u8>,
}

impl CancelHdrs {
    pub fn lines(&self) -> Vec<u8> {
        [self.added.as_slice(), self.reason.as_slice()].concat()
    }
}

/// Called once with the final reply code of a transaction osips originated.
pub type UacDone = Box<dyn FnOnce(u16, Option<Msg>) + Send>;

pub struct TxState {
    /// The request as received, with the script's edits made before `t_relay`.
    pub request: Msg,
    pub info: ReceiveInfo,
    pub uas: Uas,
    pub branches: Vec<UacBranch>,
    /// Armed routes (indexes into the script's route table).
    pub on_failure: Option<usize>,
    pub on_reply: Option<usize>,
    pub on_branch: Option<usize>,
    /// Message flags at `t_relay`, given back to failure routes.
    pub flags: u32,
    /// Request-URI at `t_relay` (`$T_ruri`, the failure route's `$ru`).
    pub ruri: String,
    pub fr_timeout: Duration,
    pub fr_inv_timeout: Duration,
    /// A CANCEL for this INVITE was received.
    pub cancelled: bool,
    /// A failure route is running (replies arriving meanwhile do not decide).
    pub deciding: bool,
    pub deleted: bool,
    pub delete_timer: Option<TimerId>,
    /// For transactions osips originated: who wants the outcome.
    pub on_done: Option<UacDone>,
    /// `$avp` values of the request route at `t_relay`, for failure and branch routes.
    pub avps: AvpStore,
    /// Record-Route state of the request route, for branches added in failure routes.
    pub rr: crate::modules::rr::RrState,
    /// When the transaction was made.
    pub created: std::time::SystemTime,
    /// Other modules' data, handed to their `hooks::on_final` hook.
    pub ext: super::hooks::TxDataMap,
    /// `t_add_hdrs`: header lines added to every branch sent from now on.
    pub extra_hdrs: Vec<(String, String)>,
    /// osips made the request (`local::originate`): its top Via is a placeholder each branch
    /// replaces, also for branches a failure route adds.
    pub originated: bool,
    /// `t_wait_for_new_branches`: a phony pending branch keeps the transaction open.
    pub waiting: bool,
    pub waiting_timer: Option<TimerId>,
    /// `t_wait_for_new_branches(branches)`: how many injected branches are still awaited
    /// (None: no limit).
    pub waiting_left: Option<u32>,
}

fn next_id() -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    NEXT.get_or_init(|| {
        use std::hash::BuildHasher;
        // A random start, so ids (and branches) differ between runs.
        AtomicU64::new(std::hash::RandomState::new().hash_one(std::process::id()) >> 8)
    })
    .fetch_add(1, Ordering::Relaxed)
}

impl Transaction {
    /// A transaction for `req`, not yet in the table.
    pub fn new(
        shared: Arc<Shared>,
        cfg: Arc<TmConfig>,
        key: Option<TxKey>,
        req: Msg,
        info: ReceiveInfo,
        uas_dest: Destination,
    ) -> Arc<Transaction> {
        let method = req.method();
        let id = next_id();
        let ruri = String::from_utf8_lossy(req.ruri()).into_owned();
        let (fr_timeout, fr_inv_timeout) = (cfg.fr_timeout, cfg.fr_inv_timeout);
        Arc::new(Transaction {
            id,
            key,
            method,
            is_invite: method == Method::Invite,
            shared,
            cfg,
            state: Mutex::new(TxState {
                request: req,
                info,
                uas: Uas::new(uas_dest, id),
                branches: Vec::new(),
                on_failure: None,
                on_reply: None,
                on_branch: None,
                flags: 0,
                ruri,
                fr_timeout,
                fr_inv_timeout,
                cancelled: false,
                deciding: false,
                deleted: false,
                delete_timer: None,
                on_done: None,
                avps: AvpStore::default(),
                rr: Default::default(),
                created: std::time::SystemTime::now(),
                ext: Vec::new(),
                extra_hdrs: Vec::new(),
                originated: false,
                waiting: false,
                waiting_timer: None,
                waiting_left: None,
            }),
            cancel_hdrs: Mutex::new(CancelHdrs::default()),
        })
    }

    /// Sends `data` to `dest` through the running core.
    pub fn send(&self, dest: &Destination, data: Bytes) -> std::io::Result<()> {
        match self.shared.core() {
            Some(core) => core.transport().send(dest, data),
            None => Err(std::io::Error::other("the proxy core is not running")),
        }
    }

    /// Schedules `f` on the timer wheel with a weak handle on the transaction.
    pub fn after(
        self: &Arc<Self>,
        d: Duration,
        f: impl FnOnce(&Arc<Transaction>) + Send + 'static,
    ) -> TimerId {
        let weak: Weak<Transaction> = Arc::downgrade(self);
        timer::global().schedule(
            d,
            Box::new(move || {
                if let Some(tx) = weak.upgrade() {
                    f(&tx)
                }
            }),
        )
    }

    /// (Re)schedules the removal of the transaction from the table.
    pub fn delete_after(self: &Arc<Self>, st: &mut TxState, d: Duration) {
        if let Some(t) = st.delete_timer.take() {
            timer::global().cancel(t);
        }
        st.delete_timer = Some(self.after(d, |tx| tx.delete()));
    }

    /// Removes the transaction now and stops its timers.
    pub fn delete(self: &Arc<Self>) {
        let mut st = self.state.lock();
        if st.deleted {
            return;
        }
        st.deleted = true;
        let t = timer::global();
        for b in &mut st.branches {
            b.stop_timers(t);
        }
        if let Some(id) = st.uas.retr.take() {
            t.cancel(id);
        }
        if let Some(done) = st.on_done.take() {
            let code = st.uas.status.max(408);
            drop(st);
            done(code, None);
        } else {
            drop(st);
        }
        if let Some(tm) = super::tm_if_started() {
            tm.table.remove(self);
            tm.stats.inuse.dec();
        }
    }
}
