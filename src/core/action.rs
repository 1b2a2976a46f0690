//! What the request handler (the script engine, later) tells the core to do with a request.

use std::borrow::Cow;

use crate::sip::Msg;
use crate::transport::{Destination, ReceiveInfo};

/// The decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forward statelessly to this destination (`forward()`).
    Forward(Destination),
    /// Answer statelessly (`sl_send_reply()`); ignored for ACK.
    Reply(u16, Cow<'static, str>),
    /// Do nothing more (`drop()` / `exit`).
    Drop,
}

/// The decision for one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseAction {
    /// Forward statelessly to the next Via.
    Relay,
    /// Discard it (`drop` in an onreply_route).
    Drop,
    /// A transaction took it (and relayed, absorbed or answered it itself).
    Consumed,
}

/// Decides what to do with each request. Runs on a worker thread, synchronously; it may edit the
/// request (the edits are applied when the core forwards it).
pub trait RequestHandler: Send + Sync {
    fn on_request(&self, req: &mut Msg, info: &ReceiveInfo) -> Action;

    /// Sees each response first (`onreply_route`, transaction matching) and says what the core
    /// does with it.
    fn on_response(&self, _rpl: &mut Msg, _info: &ReceiveInfo) -> ResponseAction {
        ResponseAction::Relay
    }
}

impl<F: Fn(&mut Msg, &ReceiveInfo) -> Action + Send + Sync> RequestHandler for F {
    fn on_request(&self, req: &mut Msg, info: &ReceiveInfo) -> Action {
        self(req, info)
    }
}
