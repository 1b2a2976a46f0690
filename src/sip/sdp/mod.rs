//! SDP (RFC 8866) as seen by a proxy: session and media sections, typed `o=`, `c=`, `m=` and
//! ICE attributes (RFC 8839), and a line-level editor (`editor.rs`) for NAT / media-relay rewrites.

mod editor;
mod lines;

pub use editor::SdpEditor;
pub use lines::{Candidate, Connection, Line, Media, Origin, Sdp, SdpError, Section};
