//! Per-transaction data of other modules (acc, dialog) and the hook that gives it back with the
//! transaction's outcome, once, when the first final reply goes upstream (OpenSIPS's
//! `TMCB_RESPONSE_OUT` for finals). A module attaches its data in a script run with
//! [`with_data`] (before `t_relay` the data waits in the run's tm context) and registers its
//! hook once with [`on_final`].

use std::any::Any;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;

use crate::runtime::SipCtx;
use crate::sip::Msg;

use super::ctx;
use super::tx::{Transaction, TxState};

/// A module's data on one transaction.
pub type TxData = Box<dyn Any + Send>;

/// Data by module key.
pub type TxDataMap = Vec<(&'static str, TxData)>;

/// What a module learns when its transaction got its final reply.
pub struct TxInfo<'a> {
    pub tx: &'a Arc<Transaction>,
    /// The request as relayed (the script's edits made before `t_relay` included).
    pub request: &'a Msg,
    /// The final reply sent upstream, when it could be read back.
    pub reply: Option<&'a Msg>,
    pub code: u16,
    pub reason: String,
    /// Message flags at `t_relay`.
    pub flags: u32,
    /// When the request arrived (the transaction was made) and when the final reply went out.
    pub created: SystemTime,
    pub finished: SystemTime,
    pub cancelled: bool,
}

/// Called once per transaction that carries data under `key`, with that data.
pub type FinalHook = fn(&TxInfo<'_>, TxData);

static HOOKS: RwLock<Vec<(&'static str, FinalHook)>> = RwLock::new(Vec::new());

/// Called when a provisional reply (101-199) goes upstream, with the module's data.
pub type ProvisionalHook = fn(&Msg, u16, &TxData);

static PROVISIONAL: RwLock<Vec<(&'static str, ProvisionalHook)>> = RwLock::new(Vec::new());

/// Called for every new server transaction made from a script run (the request route), after
/// the run's data moved onto it: a module may attach data to transactions it did not mark.
pub type RequestHook = fn(&mut SipCtx);

static REQUEST: RwLock<Vec<(&'static str, RequestHook)>> = RwLock::new(Vec::new());

fn register<T: Copy>(list: &RwLock<Vec<(&'static str, T)>>, key: &'static str, hook: T) {
    let mut h = list.write();
    match h.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = hook,
        None => h.push((key, hook)),
    }
}

/// Registers the provisional-reply hook of a module (again with the same key: replaced).
pub fn on_provisional(key: &'static str, hook: ProvisionalHook) {
    register(&PROVISIONAL, key, hook);
}

/// Registers a new-transaction hook (again with the same key: replaced).
pub fn on_request(key: &'static str, hook: RequestHook) {
    register(&REQUEST, key, hook);
}

pub(super) fn fire_request(m: &mut SipCtx) {
    let hooks = REQUEST.read().clone();
    for (_, h) in hooks {
        h(m);
    }
}

pub(super) fn fire_provisional(st: &TxState, code: u16, out: &bytes::Bytes) {
    if st.ext.is_empty() {
        return;
    }
    let hooks = PROVISIONAL.read().clone();
    if hooks.is_empty() {
        return;
    }
    let Ok(reply) = Msg::parse(out.clone()) else {
        return;
    };
    for (key, d) in &st.ext {
        if let Some((_, h)) = hooks.iter().find(|(k, _)| k == key) {
            h(&reply, code, d);
        }
    }
}

/// Registers the final-reply hook of a module (again with the same key: replaced).
pub fn on_final(key: &'static str, hook: FinalHook) {
    register(&HOOKS, key, hook);
}

/// Runs `f` on this run's data of `key` (None when there is none yet; set it to attach). The
/// data goes with the transaction of the run, or, before it exists, with the run until
/// `t_relay` / `t_newtran` makes it.
pub fn with_data<R>(
    m: &mut SipCtx,
    key: &'static str,
    f: impl FnOnce(&mut Option<TxData>) -> R,
) -> R {
    let c = ctx::of(m);
    match c.tx.clone() {
        Some(tx) => {
            let mut st = tx.state.lock();
            edit(&mut st.ext, key, f)
        }
        None => edit(&mut c.ext, key, f),
    }
}

fn edit<R>(map: &mut TxDataMap, key: &'static str, f: impl FnOnce(&mut Option<TxData>) -> R) -> R {
    let pos = map.iter().position(|(k, _)| *k == key);
    let mut cur = pos.map(|i| map.remove(i).1);
    let r = f(&mut cur);
    if let Some(d) = cur {
        map.push((key, d));
    }
    r
}

/// The first final reply went upstream: every module with data on the transaction hears of it.
pub(super) fn fire(tx: &Arc<Transaction>, st: &mut TxState, code: u16) {
    if st.ext.is_empty() {
        return;
    }
    let data = std::mem::take(&mut st.ext);
    let reply = st.uas.reply.clone().and_then(|b| Msg::parse(b).ok());
    let reason = reply
        .as_ref()
        .map(|r| String::from_utf8_lossy(r.reason()).into_owned())
        .unwrap_or_default();
    let info = TxInfo {
        tx,
        request: &st.request,
        reply: reply.as_ref(),
        code,
        reason,
        flags: st.flags,
        created: st.created,
        finished: SystemTime::now(),
        cancelled: st.cancelled,
    };
    let hooks = HOOKS.read().clone();
    for (key, d) in data {
        if let Some((_, h)) = hooks.iter().find(|(k, _)| *k == key) {
            h(&info, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_kept_per_key_and_dropped_when_cleared() {
        let mut map: TxDataMap = Vec::new();
        edit(&mut map, "a", |s| *s = Some(Box::new(1u32)));
        edit(&mut map, "b", |s| *s = Some(Box::new("x")));
        let seen = edit(&mut map, "a", |s| {
            s.as_ref().and_then(|d| d.downcast_ref::<u32>()).copied()
        });
        assert_eq!(seen, Some(1));
        assert_eq!(map.len(), 2);
        edit(&mut map, "a", |s| *s = None);
        assert_eq!(map.len(), 1);
        assert_eq!(map[0].0, "b");
    }

    #[test]
    fn hooks_are_replaced_by_key() {
        fn one(_: &TxInfo<'_>, _: TxData) {}
        fn two(_: &TxInfo<'_>, _: TxData) {}
        on_final("hooks-test", one);
        on_final("hooks-test", two);
        let h = HOOKS.read();
        let mine: Vec<_> = h.iter().filter(|(k, _)| *k == "hooks-test").collect();
        assert_eq!(mine.len(), 1);
        assert!(std::ptr::fn_addr_eq(mine[0].1, two as FinalHook));
    }
}
