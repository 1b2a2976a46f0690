//! The core's receive path: parse, answer what the core must answer itself (malformed requests,
//! Max-Forwards 0, loops), ask the handler about requests, forward statelessly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::sip::{Limits, Msg};
use crate::stats::CoreStats;
use crate::transport::{self, ReceiveInfo, Transport, TransportConfig, TransportError};

use super::action::{Action, RequestHandler, ResponseAction};
use super::branch::BranchHasher;
use super::local_replies;
use super::reply::{ToTagger, reply, reply_to_raw, reply_with};
use super::stateless::{ForwardError, forward_request, forward_response, is_loop};

/// Counters of what the core did, readable at any time.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub responses: AtomicU64,
    pub forwarded_requests: AtomicU64,
    pub forwarded_responses: AtomicU64,
    pub replies: AtomicU64,
    pub malformed: AtomicU64,
    pub dropped: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The proxy core: the [`transport::Handler`] every socket delivers to.
pub struct Core {
    transport: Arc<Transport>,
    handler: Box<dyn RequestHandler>,
    branches: BranchHasher,
    tags: ToTagger,
    limits: Limits,
    stats: Stats,
    /// The `core:` statistics shown over MI, when a registry is attached.
    core_stats: OnceLock<CoreStats>,
}

impl Core {
    pub fn new(transport: Arc<Transport>, handler: Box<dyn RequestHandler>) -> Arc<Core> {
        let limits = Limits {
            max_message: transport.config().max_message,
            ..Limits::default()
        };
        Arc::new(Core {
            transport,
            handler,
            branches: BranchHasher::new(),
            tags: ToTagger::new(),
            limits,
            stats: Stats::default(),
            core_stats: OnceLock::new(),
        })
    }

    /// Binds the sockets of `cfg`, starts the workers and returns the running core.
    pub fn start(
        cfg: TransportConfig,
        handler: Box<dyn RequestHandler>,
    ) -> Result<Arc<Core>, TransportError> {
        let transport = Transport::bind(cfg)?;
        let core = Core::new(transport.clone(), handler);
        transport.start(core.clone());
        Ok(core)
    }

    pub fn transport(&self) -> &Arc<Transport> {
        &self.transport
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Attaches the `core:` statistics (once; later calls are ignored).
    pub fn set_core_stats(&self, s: CoreStats) {
        let _ = self.core_stats.set(s);
    }

    fn core_stat(&self, f: impl FnOnce(&CoreStats) -> &crate::stats::StatVar) {
        if let Some(s) = self.core_stats.get() {
            f(s).inc();
        }
    }

    /// Stops the transport (listeners, connections, workers).
    pub fn shutdown(&self) {
        self.transport.shutdown();
    }

    /// Processes one received message to completion.
    pub fn receive(&self, data: Bytes, info: &ReceiveInfo) {
        let mut msg = match Msg::parse_with(data.clone(), &self.limits) {
            Ok(m) => m,
            Err(e) => {
                bump(&self.stats.malformed);
                self.core_stat(|s| &s.bad_msg_hdr);
                tracing::debug!("malformed message from {} ({}): {e}", info.src, info.proto);
                if let Some((out, dest)) = reply_to_raw(&self.tags, &data, info, e.code, e.reason) {
                    self.send_reply(dest, out);
                }
                return;
            }
        };
        if msg.is_request() {
            bump(&self.stats.requests);
            self.core_stat(|s| &s.rcv_requests);
            self.on_request(&mut msg, info);
        } else {
            bump(&self.stats.responses);
            self.core_stat(|s| &s.rcv_replies);
            if local_replies::consume(&msg, info) {
                return;
            }
            match self.handler.on_response(&mut msg, info) {
                ResponseAction::Relay => {}
                ResponseAction::Consumed => return,
                ResponseAction::Drop => {
                    bump(&self.stats.dropped);
                    self.core_stat(|s| &s.drop_replies);
                    return;
                }
            }
            match forward_response(&self.transport, &mut msg) {
                Ok(()) => {
                    bump(&self.stats.forwarded_responses);
                    self.core_stat(|s| &s.fwd_replies);
                }
                Err(e) => {
                    bump(&self.stats.dropped);
                    self.core_stat(|s| &s.err_replies);
                    tracing::debug!("response from {} not forwarded: {e}", info.src);
                }
            }
        }
    }

    fn on_request(&self, msg: &mut Msg, info: &ReceiveInfo) {
        if msg.max_forwards() == Some(0) {
            return self.reply(msg, info, 483, "Too Many Hops");
        }
        if is_loop(&self.branches, &self.transport, msg) {
            return self.reply(msg, info, 482, "Loop Detected");
        }
        match self.handler.on_request(msg, info) {
            Action::Forward(dest) => {
                match forward_request(&self.transport, &self.branches, msg, info, &dest) {
                    Ok(()) => {
                        bump(&self.stats.forwarded_requests);
                        self.core_stat(|s| &s.fwd_requests);
                    }
                    // Without a Via no reply can be routed either.
                    Err(ForwardError::NoVia) => {
                        bump(&self.stats.dropped);
                        self.core_stat(|s| &s.err_requests);
                    }
                    Err(e) => {
                        self.core_stat(|s| &s.err_requests);
                        tracing::debug!("cannot forward request to {}: {e}", dest.addr);
                        self.reply(msg, info, 503, "Service Unavailable");
                    }
                }
            }
            Action::Reply(code, reason) => self.reply(msg, info, code, &reason),
            Action::Drop => bump(&self.stats.dropped),
        }
    }

    /// Sends a stateless reply to `req` (nothing for ACK).
    pub fn reply(&self, req: &Msg, info: &ReceiveInfo, code: u16, reason: &str) {
        match reply(&self.tags, req, info, code, reason) {
            Some((out, dest)) => self.send_reply(dest, out),
            None => bump(&self.stats.dropped),
        }
    }

    /// As [`Core::reply`], with extra header lines (each ending in CRLF).
    pub fn reply_with_headers(
        &self,
        req: &Msg,
        info: &ReceiveInfo,
        code: u16,
        reason: &str,
        extra: &[u8],
    ) {
        match reply_with(&self.tags, req, info, code, reason, extra) {
            Some((out, dest)) => self.send_reply(dest, out),
            None => bump(&self.stats.dropped),
        }
    }

    fn send_reply(&self, dest: transport::Destination, out: Vec<u8>) {
        match self.transport.send(&dest, Bytes::from(out)) {
            Ok(()) => bump(&self.stats.replies),
            Err(e) => tracing::debug!("cannot send reply to {}: {e}", dest.addr),
        }
    }
}

impl transport::Handler for Core {
    fn on_message(&self, data: Bytes, info: &ReceiveInfo) {
        self.receive(data, info);
    }

    fn oversized(&self, head: &[u8], info: &ReceiveInfo) -> Option<Vec<u8>> {
        bump(&self.stats.malformed);
        self.core_stat(|s| &s.bad_msg_hdr);
        reply_to_raw(&self.tags, head, info, 513, "Message Too Large").map(|(out, _)| out)
    }
}
