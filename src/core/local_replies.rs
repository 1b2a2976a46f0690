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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SEEN: AtomicUsize = AtomicUsize::new(0);

    fn seen(_: &Msg, _: &ReceiveInfo) {
        SEEN.fetch_add(1, Ordering::SeqCst);
    }

    fn reply(branch: &str) -> Msg {
        let t = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Msg::parse(bytes::Bytes::from(t)).unwrap()
    }

    #[test]
    fn only_replies_with_a_registered_prefix_are_consumed() {
        register("z9hG4bKlocaltest", seen);
        let info = ReceiveInfo {
            proto: crate::transport::Proto::Udp,
            src: "127.0.0.2:5060".parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            socket: 0,
            conn: None,
            force_rport: false,
        };
        let before = SEEN.load(Ordering::SeqCst);
        assert!(consume(&reply("z9hG4bKlocaltest42"), &info));
        assert!(!consume(&reply("z9hG4bKother"), &info));
        assert_eq!(SEEN.load(Ordering::SeqCst), before + 1);
    }
}
