//! Accessors of `Msg`: start line, header lookup, and typed (lazily parsed) header values.

use bytes::Bytes;

use super::error::HeaderError;
use super::hdr::HdrId;
use super::method::Method;
use super::msg::{Msg, StartLine};
use super::nameaddr::NameAddr;
use super::scan::{CommaList, eq_ic, parse_u32, trim};
use super::table::HField;
use super::uri::Uri;
use super::via::Via;

/// One header line: its position in the message, id, name as written and value (trimmed; folded
/// lines keep their CRLF + whitespace, which every typed parser treats as whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub index: usize,
    pub id: HdrId,
    pub name: &'a [u8],
    pub value: &'a [u8],
}

impl Header<'_> {
    /// Case-insensitive name match; compact and long forms of known headers match each other.
    pub fn is_named(&self, name: &str) -> bool {
        let id = HdrId::from_name(name.as_bytes());
        if id != HdrId::Other {
            self.id == id
        } else {
            eq_ic(self.name, name.as_bytes())
        }
    }
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub num: u32,
    pub method: Method,
    pub method_raw: &'a [u8],
}

impl Msg {
    #[inline]
    fn field(&self, f: &HField) -> Header<'_> {
        Header {
            index: 0,
            id: f.id,
            name: &self.buf[f.name_start()..f.name_start() + f.name_len()],
            value: &self.buf[f.value_start()..f.value_end()],
        }
    }

    /// The received buffer (leading CRLFs and any bytes past Content-Length included).
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The received message bytes, from the start line to the end of the body.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..self.body_end as usize]
    }

    pub fn is_request(&self) -> bool {
        matches!(self.line, StartLine::Request { .. })
    }

    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method; for a response, the method of its CSeq (as OpenSIPS's `$rm`).
    pub fn method(&self) -> Method {
        match self.line {
            StartLine::Request { method, .. } => method,
            StartLine::Response { .. } => self.cseq_method,
        }
    }

    /// The method as written (request line, or CSeq for a response).
    pub fn method_bytes(&self) -> &[u8] {
        match self.line {
            StartLine::Request { method_end, .. } => {
                &self.buf[self.start as usize..method_end as usize]
            }
            StartLine::Response { .. } => self.cseq().method_raw,
        }
    }

    /// The Request-URI as received (empty for a response).
    pub fn ruri(&self) -> &[u8] {
        match self.line {
            StartLine::Request {
                uri_start, uri_end, ..
            } => &self.buf[uri_start as usize..uri_end as usize],
            StartLine::Response { .. } => b"",
        }
    }

    /// The Request-URI, parsed.
    pub fn ruri_parsed(&self) -> Result<Uri<'_>, HeaderError> {
        if self.is_response() {
            return Err(HeaderError::new("a response has no Request-URI"));
        }
        Uri::parse(self.ruri())
    }

    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.line {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// Reason phrase of a response (empty for a request).
    pub fn reason(&self) -> &[u8] {
        match self.line {
            StartLine::Response {
                reason_start,
                reason_end,
                ..
            } => &self.buf[reason_start as usize..reason_end as usize],
            StartLine::Request { .. } => b"",
        }
    }

    /// The start line without its CRLF.
    pub fn start_line(&self) -> &[u8] {
        trim(&self.buf[self.start as usize..self.start_line_end as usize])
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.hdrs.len()
    }

    /// Every header line in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        (0..self.hdrs.len()).filter_map(move |i| self.header_at(i))
    }

    /// The header line at `index`.
    pub fn header_at(&self, index: usize) -> Option<Header<'_>> {
        self.hdrs.get(index).map(|f| Header {
            index,
            ..self.field(f)
        })
    }

    /// Id of the header line at `index` (no slicing of its text).
    #[inline]
    pub fn header_id_at(&self, index: usize) -> Option<HdrId> {
        self.hdrs.get(index).map(|f| f.id)
    }

    /// Index of the first header line with this id.
    #[inline]
    pub fn first_header_index(&self, id: HdrId) -> Option<usize> {
        self.hdrs.first(id)
    }

    pub(crate) fn header_indexes(&self, id: HdrId) -> impl Iterator<Item = usize> + '_ {
        let first = self.hdrs.first(id);
        let n = self.hdrs.len();
        first
            .into_iter()
            .flat_map(move |f| f..n)
            .filter(move |&i| self.hdrs.get(i).is_some_and(|h| h.id == id))
    }

    /// Value of the first header line with this id.
    pub fn header(&self, id: HdrId) -> Option<&[u8]> {
        let f = self.hdrs.get(self.hdrs.first(id)?)?;
        Some(&self.buf[f.value_start()..f.value_end()])
    }

    /// Values of every header line with this id, in order.
    pub fn headers_of(&self, id: HdrId) -> impl Iterator<Item = &[u8]> + '_ {
        self.header_indexes(id).filter_map(move |i| {
            let f = self.hdrs.get(i)?;
            Some(&self.buf[f.value_start()..f.value_end()])
        })
    }

    /// Every comma-separated value of every line with this id (`Via: a, b` + `Via: c` gives a, b, c).
    pub fn list_values(&self, id: HdrId) -> impl Iterator<Item = Result<&[u8], HeaderError>> + '_ {
        self.headers_of(id).flat_map(|v| {
            CommaList::new(v).map(|r| r.map_err(|_| HeaderError::new("unbalanced quotes or <>")))
        })
    }

    /// Value of the first header with this name (case-insensitive; compact forms match).
    pub fn header_by_name(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|h| h.is_named(name)).map(|h| h.value)
    }

    /// Values of every header with this name.
    pub fn headers_by_name<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers()
            .filter(move |h| h.is_named(name))
            .map(|h| h.value)
    }

    /// Every Via value, top first, across lines and comma-separated values.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, HeaderError>> + '_ {
        self.list_values(HdrId::Via).map(|r| r.and_then(Via::parse))
    }

    /// The top Via.
    pub fn via1(&self) -> Result<Via<'_>, HeaderError> {
        Via::parse(self.first_list_value(HdrId::Via)?)
    }

    /// The first comma-separated value of the first line with this id.
    pub(crate) fn first_list_value(&self, id: HdrId) -> Result<&[u8], HeaderError> {
        let v = self.header(id).ok_or(HeaderError::new("header missing"))?;
        // The usual lines: one value without quotes or brackets (Via), or with `<...>` and no
        // comma or quote (Contact). The latter is unbalanced only when a '<' follows the last
        // '>', which is what `find_unquoted` would report.
        match super::scan::find_any(v, 0, [b',', b'"', b'<']) {
            None => return Ok(v),
            Some(lt) if v[lt] == b'<' && super::scan::find_any(v, lt, [b',', b'"']).is_none() => {
                return match v.iter().rposition(|&c| c == b'<' || c == b'>') {
                    Some(i) if v[i] == b'<' => Err(HeaderError::new("unbalanced quotes or <>")),
                    _ => Ok(v),
                };
            }
            Some(_) => {}
        }
        match super::scan::find_unquoted(v, b',') {
            Ok(Some(i)) => Ok(trim(&v[..i])),
            Ok(None) => Ok(v),
            Err(_) => Err(HeaderError::new("unbalanced quotes or <>")),
        }
    }

    /// The second Via (the previous hop of a response), if any.
    pub fn via2(&self) -> Option<Result<Via<'_>, HeaderError>> {
        self.vias().nth(1)
    }

    pub fn call_id(&self) -> &[u8] {
        self.header(HdrId::CallId).unwrap_or(b"")
    }

    pub fn cseq(&self) -> CSeq<'_> {
        let (start, len) = self.cseq_method_at;
        CSeq {
            num: self.cseq_num,
            method: self.cseq_method,
            method_raw: &self.buf[start as usize..(start + len) as usize],
        }
    }

    pub fn from(&self) -> Result<NameAddr<'_>, HeaderError> {
        NameAddr::parse(self.header(HdrId::From).unwrap_or(b""))
    }

    pub fn to(&self) -> Result<NameAddr<'_>, HeaderError> {
        NameAddr::parse(self.header(HdrId::To).unwrap_or(b""))
    }

    pub fn from_tag(&self) -> Option<&[u8]> {
        self.from().ok()?.tag()
    }

    pub fn to_tag(&self) -> Option<&[u8]> {
        self.to().ok()?.tag()
    }

    /// Max-Forwards (validated 0..=255 by the parser); `None` when absent.
    pub fn max_forwards(&self) -> Option<u8> {
        self.max_forwards
    }

    /// Declared Content-Length; `None` when the header is absent.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// Content-Type value, e.g. `application/sdp`.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.header(HdrId::ContentType)
    }

    /// The body as received (Content-Length bytes, or the rest of the datagram without it).
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body_start as usize..self.body_end as usize]
    }

    /// Offset of the body in [`Msg::buffer`].
    pub fn body_offset(&self) -> usize {
        self.body_start as usize
    }

    /// Route values in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.name_addrs(HdrId::Route)
    }

    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.name_addrs(HdrId::RecordRoute)
    }

    /// Path values (RFC 3327).
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.name_addrs(HdrId::Path)
    }

    /// Every value of a name-addr list header (Route, Record-Route, Path, P-Asserted-Identity...).
    pub fn name_addrs(
        &self,
        id: HdrId,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.list_values(id).map(|r| r.and_then(NameAddr::parse))
    }

    /// Expires header (delta-seconds).
    pub fn expires(&self) -> Option<Result<u32, HeaderError>> {
        self.header(HdrId::Expires)
            .map(|v| parse_u32(v).ok_or(HeaderError::new("bad Expires")))
    }

    pub fn user_agent(&self) -> Option<&[u8]> {
        self.header(HdrId::UserAgent)
    }

    pub fn server(&self) -> Option<&[u8]> {
        self.header(HdrId::Server)
    }

    /// Event package (RFC 6665), without its parameters.
    pub fn event(&self) -> Option<&[u8]> {
        self.header(HdrId::Event)
            .map(|v| trim(&v[..memchr::memchr(b';', v).unwrap_or(v.len())]))
    }

    /// Tokens of a token-list header over all its lines (Supported, Require, Proxy-Require,
    /// Unsupported, Allow, Allow-Events, ...). Empty elements are skipped.
    pub fn tokens(&self, id: HdrId) -> impl Iterator<Item = &[u8]> + '_ {
        self.list_values(id)
            .filter_map(|r| r.ok())
            .filter(|t| !t.is_empty())
    }

    /// True when a token-list header holds `token` (case-insensitive).
    pub fn has_token(&self, id: HdrId, token: &[u8]) -> bool {
        self.tokens(id).any(|t| eq_ic(t, token))
    }
}
