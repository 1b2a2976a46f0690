//! Media types (`Content-Type`, `Accept` values) and the Event header (RFC 6665).

use super::error::HeaderError;
use super::hdr::HdrId;
use super::msg::Msg;
use super::params::Params;
use super::scan::{eq_ic, is_token_str, trim};

/// `type/subtype;param=value`, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    pub mtype: &'a [u8],
    pub subtype: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub fn parse(v: &'a [u8]) -> Result<MediaType<'a>, HeaderError> {
        let semi = super::scan::find_byte(b';', v).unwrap_or(v.len());
        let mt = trim(&v[..semi]);
        let slash = super::scan::find_byte(b'/', mt).ok_or(HeaderError::new("bad media type"))?;
        let (mtype, subtype) = (trim(&mt[..slash]), trim(&mt[slash + 1..]));
        let params = Params::new(&v[semi..]);
        if !is_token_str(mtype) || !is_token_str(subtype) || !params.validate() {
            return Err(HeaderError::new("bad media type"));
        }
        Ok(MediaType {
            mtype,
            subtype,
            params,
        })
    }

    /// Case-insensitive match, e.g. `is(b"application", b"sdp")`.
    pub fn is(&self, mtype: &[u8], subtype: &[u8]) -> bool {
        eq_ic(self.mtype, mtype) && eq_ic(self.subtype, subtype)
    }
}

/// Event package and its parameters (`presence;id=7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub package: &'a [u8],
    pub params: Params<'a>,
}

impl Msg {
    /// Content-Type, parsed.
    pub fn media_type(&self) -> Option<Result<MediaType<'_>, HeaderError>> {
        self.header(HdrId::ContentType).map(MediaType::parse)
    }

    /// True when the body is SDP (`application/sdp`).
    pub fn has_sdp(&self) -> bool {
        !self.body().is_empty()
            && matches!(self.media_type(), Some(Ok(m)) if m.is(b"application", b"sdp"))
    }

    /// Event header, parsed.
    pub fn event_parsed(&self) -> Option<Result<Event<'_>, HeaderError>> {
        self.header(HdrId::Event).map(|v| {
            let semi = super::scan::find_byte(b';', v).unwrap_or(v.len());
            let package = trim(&v[..semi]);
            let params = Params::new(&v[semi..]);
            if package.is_empty() || !params.validate() {
                return Err(HeaderError::new("bad Event"));
            }
            Ok(Event { package, params })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_media_types() {
        let m = MediaType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is(b"Multipart", b"MIXED"));
        assert_eq!(m.params.value(b"boundary"), Some(&b"7a9cbec02ceef655"[..]));
        assert!(MediaType::parse(b"application").is_err());
        assert!(MediaType::parse(b"a/b;;").is_err());
    }
}
