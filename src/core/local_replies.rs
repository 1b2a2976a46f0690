//! Replies to requests osips sends on its own (dispatcher OPTIONS probes, nathelper pings):
//! a module registers the branch prefix of its requests, and a reply whose top Via branch starts
//! with it goes to the module instead of the script and the stateless forwarding.

use parking_lot::RwLock;

use crate::sip::Msg;
use crate::transport::ReceiveInfo;

/// Receives a reply to a locally generated request.
pub type LocalReplyFn = fn(&Msg, &ReceiveInfo);

static HOOKS: RwLock<Vec<(&'static str, LocalReplyFn)>> = RwLock::new(Vec::new());

/// Sends replies whose top Via branch starts with `prefix` to `f` (again with the same prefix: replaced).
pub fn register(prefix: &'static str, f: LocalReplyFn) {
    let mut h = HOOKS.write();
    h.retain(|(p, _)| *p != prefix);
    h.push((prefix, f));
}

/// True when `rpl` answered a local request and was handed to its module.
pub fn consume(rpl: &Msg, info: &ReceiveInfo) -> bool {
    let hooks = HOOKS.read();
    if hooks.is_empty() {
        return false;
    }
    let Ok(via) = rpl.via1() else {
        return false;
    };
    let Some(branch) = via.branch() else {
        return false;
    };
    for (prefix, f) in hooks.iter() {
        if branch.starts_with(prefix.as_bytes()) {
            f(rpl, info);
            return true;
        }
    }
    false
}
