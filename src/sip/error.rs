//! Parse errors carry the SIP reply a server should send when a reply is possible.

use std::fmt;

use super::hdr::HdrId;

/// Why a message was rejected, with the status code to answer with (400, 413, 414, 505 or 513).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Reply code to send back for a request (responses are dropped).
    pub code: u16,
    /// Human-readable reason; also usable as the reason phrase (`400 Bad CSeq`).
    pub reason: &'static str,
    /// The header whose value was rejected, when the error is about one header.
    pub header: Option<HdrId>,
}

impl ParseError {
    pub const fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            header: None,
        }
    }
    pub(crate) const fn bad(reason: &'static str) -> Self {
        Self::new(400, reason)
    }
    /// A 400 about the value of one header.
    pub const fn in_header(id: HdrId, reason: &'static str) -> Self {
        Self {
            code: 400,
            reason,
            header: Some(id),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.reason)?;
        match self.header {
            Some(HdrId::Other) => f.write_str(" (in a header)"),
            Some(h) => write!(f, " (in {})", h.name()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ParseError {}

/// Error from parsing one header value on demand (lazy access).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderError {
    pub reason: &'static str,
}

impl HeaderError {
    pub(crate) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for HeaderError {}

impl From<HeaderError> for ParseError {
    fn from(e: HeaderError) -> Self {
        ParseError::bad(e.reason)
    }
}
