//! `Msg::check`: parse every header osips knows, as a sanity check before a message is trusted
//! (the parser itself only validates what every element needs; see `msg.rs`).

use super::auth::AuthParams;
use super::contact::Contact;
use super::error::ParseError;
use super::hdr::HdrId;
use super::media::MediaType;
use super::msg::Msg;
use super::nameaddr::NameAddr;
use super::scan::{is_token_str, parse_u32};
use super::uri::Scheme;
use super::via::Via;

impl Msg {
    /// Parses the Request-URI and every known header; the first problem is returned as a 400
    /// naming the header. Unknown headers are not checked (a proxy passes them on unchanged).
    pub fn check(&self) -> Result<(), ParseError> {
        if self.is_request() {
            let uri = self
                .ruri_parsed()
                .map_err(|e| ParseError::new(400, e.reason))?;
            if matches!(uri.scheme, Scheme::Sip | Scheme::Sips) && uri.headers.is_some() {
                return Err(ParseError::bad("Request-URI with headers"));
            }
        }
        for h in self.headers() {
            let id = h.id;
            let err = |e: super::error::HeaderError| ParseError::in_header(id, e.reason);
            match id {
                HdrId::Via => {
                    for v in self.split(h.value, id)? {
                        Via::parse(v).map_err(err)?;
                    }
                }
                HdrId::From | HdrId::To | HdrId::ReferTo | HdrId::ReferredBy => {
                    NameAddr::parse(h.value).map_err(err)?;
                }
                HdrId::Contact => {
                    let values = self.split(h.value, id)?;
                    let n = values.len();
                    for v in values {
                        let c = Contact::parse(v).map_err(err)?;
                        if c == Contact::Star && (n > 1 || self.count_contacts() > 1) {
                            return Err(ParseError::in_header(id, "* mixed with other contacts"));
                        }
                    }
                }
                HdrId::Route
                | HdrId::RecordRoute
                | HdrId::Path
                | HdrId::PAssertedIdentity
                | HdrId::PPreferredIdentity => {
                    for v in self.split(h.value, id)? {
                        let na = NameAddr::parse(v).map_err(err)?;
                        if !na.angle
                            && matches!(id, HdrId::Route | HdrId::RecordRoute | HdrId::Path)
                        {
                            return Err(ParseError::in_header(id, "URI must be in <>"));
                        }
                    }
                }
                HdrId::Expires | HdrId::MinExpires => {
                    parse_u32(h.value).ok_or(ParseError::in_header(id, "bad delta-seconds"))?;
                }
                HdrId::ContentType => {
                    MediaType::parse(h.value).map_err(err)?;
                }
                HdrId::Authorization
                | HdrId::ProxyAuthorization
                | HdrId::WwwAuthenticate
                | HdrId::ProxyAuthenticate => {
                    AuthParams::parse(h.value).map_err(err)?;
                }
                HdrId::Supported
                | HdrId::Require
                | HdrId::ProxyRequire
                | HdrId::Unsupported
                | HdrId::Allow
                | HdrId::AllowEvents => {
                    for t in self.split(h.value, id)? {
                        if !t.is_empty() && !is_token_str(t) {
                            return Err(ParseError::in_header(id, "bad token"));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn split<'v>(&self, value: &'v [u8], id: HdrId) -> Result<Vec<&'v [u8]>, ParseError> {
        let mut out = Vec::new();
        for v in super::scan::CommaList::new(value) {
            let v = v.map_err(|_| ParseError::in_header(id, "unbalanced quotes or <>"))?;
            out.push(v);
        }
        Ok(out)
    }

    fn count_contacts(&self) -> usize {
        self.list_values(HdrId::Contact).count()
    }
}
