//! SIP wire format: a lazy zero-copy message parser, URIs, name-addr, Via, SDP, digest
//! parameters, message edits (lumps) and reply building.
//!
//! ```
//! use osips::sip::{Msg, HdrId, Method};
//! let raw = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
//!            From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
//!            Call-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
//! let msg = Msg::parse(bytes::Bytes::from_static(raw.as_bytes())).unwrap();
//! assert_eq!(msg.method(), Method::Options);
//! assert_eq!(msg.via1().unwrap().branch(), Some(&b"z9hG4bK1"[..]));
//! assert_eq!(msg.header(HdrId::CallId), Some(&b"abc"[..]));
//! ```

mod access;
mod auth;
mod check;
mod contact;
pub mod digest;
mod edit;
mod error;
mod hdr;
mod hdrname;
mod media;
mod method;
mod msg;
mod nameaddr;
mod params;
mod reply;
pub mod scan;
pub mod sdp;
mod simd;
mod table;
mod uri;
mod via;

pub use access::{CSeq, Header};
pub use auth::{AuthParam, AuthParamIter, AuthParams};
pub use contact::{Contact, parse_q};
pub use edit::EditError;
pub use error::{HeaderError, ParseError};
pub use hdr::HdrId;
pub use media::{Event, MediaType};
pub use method::Method;
pub use msg::{Limits, Msg};
pub use nameaddr::{AddrBody, NameAddr};
pub use params::{Param, ParamIter, Params};
pub use reply::{ReplyOptions, build_reply};
pub use uri::{HostKind, Scheme, Uri, host_kind, split_hostport, unescape};
pub use via::Via;

#[cfg(test)]
mod tests;
