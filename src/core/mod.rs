//! The proxy core: ties the transport to the SIP parser, dispatches requests to a handler (the
//! script engine, later) and forwards requests and responses statelessly (RFC 3261 §16.11).

pub mod action;
pub mod branch;
pub mod local_replies;
pub mod proxy;
pub mod reply;
pub mod stateless;
pub mod via_route;

pub use action::{Action, RequestHandler, ResponseAction};
pub use proxy::{Core, Stats};
pub use stateless::ForwardError;
