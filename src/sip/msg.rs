//! `Msg`: a received SIP message. It owns the buffer, records where the start line, headers and
//! body are, and parses header values only when asked (see `access.rs`). Edits are recorded in
//! `edit.rs` and applied once by `serialise`.

use bytes::Bytes;

use super::edit::Edits;
use super::error::ParseError;
use super::hdr::HdrId;
use super::method::Method;
use super::scan::{find_lf, is_lws, is_token, is_token_str, parse_u32, parse_u64, token_len, trim};
use super::simd::LfIndex;
use super::table::{HField, HeaderTable};

/// Size limits applied while parsing; exceeding one gives the reply code in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message (start line, headers, body): 513 Message Too Large.
    pub max_message: usize,
    /// Number of header lines: 513 Message Too Large.
    pub max_headers: usize,
    /// One start line or header line (folded lines counted whole): 513 (414 for a Request-URI).
    pub max_line: usize,
    /// Body (Content-Length): 413 Request Entity Too Large.
    pub max_body: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_message: 65_535,
        max_headers: 256,
        max_line: 8_192,
        max_body: 60_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        method_end: u32,
        uri_start: u32,
        uri_end: u32,
    },
    Response {
        code: u16,
        reason_start: u32,
        reason_end: u32,
    },
}

/// A parsed SIP request or response. Cheap to clone (the buffer is reference-counted).
#[derive(Debug, Clone)]
pub struct Msg {
    pub(crate) buf: Bytes,
    /// Start of the start line (leading CRLFs skipped).
    pub(crate) start: u32,
    /// End of the start line, CRLF included (first header).
    pub(crate) start_line_end: u32,
    pub(crate) line: StartLine,
    pub(crate) hdrs: HeaderTable,
    /// Start of the blank line that ends the headers.
    pub(crate) headers_end: u32,
    pub(crate) body_start: u32,
    pub(crate) body_end: u32,
    pub(crate) content_length: Option<u32>,
    pub(crate) cseq_num: u32,
    pub(crate) cseq_method: Method,
    /// The CSeq method as written: start in the buffer and length.
    pub(crate) cseq_method_at: (u32, u32),
    pub(crate) max_forwards: Option<u8>,
    pub(crate) edits: Edits,
}

const TOO_LARGE: ParseError = ParseError::new(513, "Message Too Large");

impl Msg {
    /// Parses a complete message with the default [`Limits`].
    pub fn parse(buf: Bytes) -> Result<Msg, ParseError> {
        Self::parse_with(buf, &Limits::DEFAULT)
    }

    /// Parses a complete message (one datagram, or one message framed from a stream).
    ///
    /// Checks the start line, header syntax (names, colons, folding), the presence of Via, From,
    /// To, Call-ID and CSeq, CSeq, Max-Forwards and Content-Length values, and the size limits.
    /// Other header values are parsed when accessed; [`Msg::check`] parses the rest eagerly.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Msg, ParseError> {
        if buf.len() > limits.max_message || buf.len() > u32::MAX as usize / 2 {
            return Err(TOO_LARGE);
        }
        let b: &[u8] = &buf;
        let mut pos = 0;
        while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
            pos += 1;
        }
        let start = pos;
        let nl = find_lf(b, pos).ok_or(ParseError::bad("Incomplete start line"))?;
        let line_end = if nl > pos && b[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if line_end - start > limits.max_line {
            return Err(ParseError::new(414, "Request-URI Too Long"));
        }
        let line = parse_start_line(b, start, line_end)?;
        let start_line_end = nl + 1;
        pos = start_line_end;

        // Built in place: the header table is the bulk of a Msg and should not be moved.
        let mut msg = Msg {
            start: start as u32,
            start_line_end: start_line_end as u32,
            line,
            hdrs: HeaderTable::new(),
            headers_end: 0,
            body_start: 0,
            body_end: b.len() as u32,
            content_length: None,
            cseq_num: 0,
            cseq_method: Method::Other,
            cseq_method_at: (0, 0),
            max_forwards: None,
            edits: Edits::default(),
            buf: Bytes::new(),
        };
        let hdrs = &mut msg.hdrs;
        // Header offsets are kept as u16 within a line.
        let max_line = limits.max_line.min(super::table::MAX_LINE);
        let headers_end;
        let body_start;
        let mut lfs = LfIndex::new(b, pos);
        let max_headers = limits.max_headers.min(u16::MAX as usize - 1);
        loop {
            let Some(&first) = b.get(pos) else {
                return Err(ParseError::bad("No blank line after the headers"));
            };
            // A name starts above SP: one compare keeps the end-of-headers checks off the usual path.
            if first <= b' ' {
                if first == b'\n' {
                    headers_end = pos;
                    body_start = pos + 1;
                    break;
                }
                if first == b'\r' && b.get(pos + 1) == Some(&b'\n') {
                    headers_end = pos;
                    body_start = pos + 2;
                    break;
                }
                if first == b' ' || first == b'\t' {
                    return Err(ParseError::bad("Continuation line without a header"));
                }
            }
            let line_start = pos;
            // One pass: name, optional whitespace and colon, then the LF (CR, LF and ':' are not
            // token characters, so the name scan cannot run past the line).
            let (name_len, id) = name_at(b, pos);
            let mut colon = pos + name_len;
            if b.get(colon) != Some(&b':') {
                while colon < b.len() && matches!(b[colon], b' ' | b'\t') {
                    colon += 1;
                }
            }
            let mut nl = match lfs.find(colon) {
                Some(i) => i,
                None => return Err(ParseError::bad("No blank line after the headers")),
            };
            // Folded lines: a line starting with SP/HT continues the previous header.
            while matches!(b.get(nl + 1), Some(b' ' | b'\t')) {
                nl = match lfs.find(nl + 1) {
                    Some(i) => i,
                    None => return Err(ParseError::bad("No blank line after the headers")),
                };
            }
            let content_end = if b[nl - 1] == b'\r' { nl - 1 } else { nl };
            if content_end - line_start > max_line {
                return Err(ParseError::new(513, "Header line too long"));
            }
            if name_len == 0 || colon >= content_end || b[colon] != b':' {
                return Err(
                    if memchr::memchr(b':', &b[line_start..content_end]).is_some() {
                        ParseError::bad("Bad header name")
                    } else {
                        ParseError::bad("Header line without a colon")
                    },
                );
            }
            // The value without the LWS around it (folds included).
            let mut value_start = colon + 1;
            // Usually one SP, then the value.
            if b[value_start] == b' ' && b[value_start + 1] > b' ' {
                value_start += 1;
            } else {
                while value_start < content_end && is_lws(b[value_start]) {
                    value_start += 1;
                }
            }
            let mut value_end = content_end;
            while value_end > value_start && is_lws(b[value_end - 1]) {
                value_end -= 1;
            }
            if hdrs.len() >= max_headers {
                return Err(ParseError::new(513, "Too many headers"));
            }
            hdrs.push(HField::new(
                id,
                line_start,
                name_len,
                value_start,
                value_end,
                nl + 1,
            ));
            pos = nl + 1;
        }

        msg.headers_end = headers_end as u32;
        msg.body_start = body_start as u32;
        msg.check_core(b, limits)?;
        msg.buf = buf;
        Ok(msg)
    }

    /// Validates the headers every element needs and sets the body range.
    fn check_core(&mut self, b: &[u8], limits: &Limits) -> Result<(), ParseError> {
        const REQUIRED: [HdrId; 5] = [
            HdrId::Via,
            HdrId::From,
            HdrId::To,
            HdrId::CallId,
            HdrId::CSeq,
        ];
        const SINGLE: u64 = 1 << HdrId::From as u32
            | 1 << HdrId::To as u32
            | 1 << HdrId::CallId as u32
            | 1 << HdrId::CSeq as u32
            | 1 << HdrId::MaxForwards as u32
            | 1 << HdrId::ContentLength as u32;
        if !self.hdrs.has_all_once(&REQUIRED, SINGLE) {
            self.core_header_error()?;
        }
        self.check_values(b, limits)
    }

    /// The reason for a missing or repeated core header, in a fixed order.
    #[cold]
    fn core_header_error(&self) -> Result<(), ParseError> {
        for (id, reason) in [
            (HdrId::Via, "Missing Via"),
            (HdrId::From, "Missing From"),
            (HdrId::To, "Missing To"),
            (HdrId::CallId, "Missing Call-ID"),
            (HdrId::CSeq, "Missing CSeq"),
        ] {
            if self.hdrs.first(id).is_none() {
                return Err(ParseError::bad(reason));
            }
        }
        for (id, reason) in [
            (HdrId::From, "More than one From"),
            (HdrId::To, "More than one To"),
            (HdrId::CallId, "More than one Call-ID"),
            (HdrId::CSeq, "More than one CSeq"),
            (HdrId::MaxForwards, "More than one Max-Forwards"),
            (HdrId::ContentLength, "More than one Content-Length"),
        ] {
            if self.hdrs.repeated(id) {
                return Err(ParseError::bad(reason));
            }
        }
        Ok(())
    }

    /// Call-ID, CSeq, Max-Forwards and Content-Length values; sets the body range.
    fn check_values(&mut self, b: &[u8], limits: &Limits) -> Result<(), ParseError> {
        let call_id = self.value_at(b, HdrId::CallId);
        if call_id.is_empty() || super::scan::skip_until(call_id, 0, &NOT_VISIBLE) != call_id.len()
        {
            return Err(ParseError::bad("Bad Call-ID"));
        }

        let cseq = self.value_at(b, HdrId::CSeq);
        let (num, method) = split_cseq(cseq).ok_or(ParseError::bad("Bad CSeq"))?;
        self.cseq_num = parse_u64(num)
            .filter(|&n| n < 1 << 31)
            .ok_or(ParseError::bad("Bad CSeq number"))? as u32;
        if !is_token_str(method) {
            return Err(ParseError::bad("Bad CSeq method"));
        }
        let method_start = method.as_ptr() as usize - b.as_ptr() as usize;
        self.cseq_method_at = (method_start as u32, method.len() as u32);
        if let StartLine::Request {
            method: req_method,
            method_end,
            ..
        } = self.line
        {
            if method != &b[self.start as usize..method_end as usize] {
                // RFC 4475 §3.1.2.18: an unknown method is better answered with 501.
                return Err(if req_method == Method::Other {
                    ParseError::new(501, "Not Implemented")
                } else {
                    ParseError::bad("CSeq method does not match the request")
                });
            }
            self.cseq_method = req_method;
        } else {
            self.cseq_method = Method::from_bytes(method);
        }

        if self.hdrs.first(HdrId::MaxForwards).is_some() {
            let mf = self.value_at(b, HdrId::MaxForwards);
            self.max_forwards = Some(
                parse_u32(mf)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(ParseError::bad("Bad Max-Forwards"))?,
            );
        }

        let available = b.len() - self.body_start as usize;
        if self.hdrs.first(HdrId::ContentLength).is_some() {
            let cl = self.value_at(b, HdrId::ContentLength);
            let n = parse_u32(cl).ok_or(ParseError::bad("Bad Content-Length"))?;
            if n as usize > limits.max_body {
                return Err(ParseError::new(413, "Request Entity Too Large"));
            }
            if n as usize > available {
                return Err(ParseError::bad("Content-Length larger than the message"));
            }
            self.content_length = Some(n);
            self.body_end = self.body_start + n;
        } else if available > limits.max_body {
            return Err(ParseError::new(413, "Request Entity Too Large"));
        }
        Ok(())
    }

    fn value_at<'b>(&self, b: &'b [u8], id: HdrId) -> &'b [u8] {
        match self.hdrs.first(id).and_then(|i| self.hdrs.get(i)) {
            Some(f) => &b[f.value_start()..f.value_end()],
            None => b"",
        }
    }
}

/// Length and id of the header name at `pos`: the name ends at the first non-token byte.
#[inline]
fn name_at(b: &[u8], pos: usize) -> (usize, HdrId) {
    // Usual case: a known name of at most 15 bytes, ended by ':' or whitespace within 16 bytes.
    if let Some(w) = b.get(pos..pos + 16) {
        let w: &[u8; 16] = w.try_into().expect("16 bytes");
        if let Some(n) = super::simd::name_end16(w).filter(|&n| n > 0) {
            let id = super::hdrname::lookup16(w, n);
            if id != HdrId::Other {
                return (n, id);
            }
        }
    }
    let n = token_len(&b[pos..]);
    (n, HdrId::from_name(&b[pos..pos + n]))
}

fn split_cseq(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = v.iter().position(|&b| super::scan::is_lws(b))?;
    let method = trim(&v[sp..]);
    Some((&v[..sp], method))
}

fn parse_start_line(b: &[u8], start: usize, end: usize) -> Result<StartLine, ParseError> {
    let line = &b[start..end];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = memchr::memchr(b' ', line).ok_or(ParseError::bad("Bad status line"))?;
        check_version(&line[..sp])?;
        let rest = &line[sp + 1..];
        let code_end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        let code_raw = &rest[..code_end];
        if code_raw.len() != 3 {
            return Err(ParseError::bad("Bad status code"));
        }
        let code = parse_u32(code_raw)
            .filter(|c| (100..=699).contains(c))
            .ok_or(ParseError::bad("Bad status code"))? as u16;
        let reason_start = (start + sp + 1 + code_end + 1).min(end);
        if b[reason_start..end].iter().any(|&c| c < b' ' && c != b'\t') {
            return Err(ParseError::bad("Bad reason phrase"));
        }
        return Ok(StartLine::Response {
            code,
            reason_start: reason_start as u32,
            reason_end: end as u32,
        });
    }
    if let Some(l) = simple_request_line(line) {
        return Ok(StartLine::Request {
            method: Method::from_bytes(&line[..l.sp1]),
            method_end: (start + l.sp1) as u32,
            uri_start: (start + l.sp1 + 1) as u32,
            uri_end: (start + l.sp2) as u32,
        });
    }
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::bad("Bad request line"))?;
    let method = &line[..sp1];
    if !method.iter().all(|&c| is_token(c)) || method.is_empty() {
        return Err(ParseError::bad("Bad method"));
    }
    let sp2 = memchr::memrchr(b' ', line).ok_or(ParseError::bad("Bad request line"))?;
    if sp2 <= sp1 + 1 {
        return Err(ParseError::bad("Bad request line"));
    }
    let uri = &line[sp1 + 1..sp2];
    if uri.iter().any(|&c| c == b' ' || c == b'\t') {
        return Err(ParseError::bad("Whitespace in the Request-URI"));
    }
    if uri.first() == Some(&b'<') {
        return Err(ParseError::bad("Request-URI enclosed in <>"));
    }
    if !uri.contains(&b':') || uri.iter().any(|c| !(b' '..0x7f).contains(c)) {
        return Err(ParseError::bad("Bad Request-URI"));
    }
    check_version(&line[sp2 + 1..])?;
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        method_end: (start + sp1) as u32,
        uri_start: (start + sp1 + 1) as u32,
        uri_end: (start + sp2) as u32,
    })
}

struct Spaces {
    sp1: usize,
    sp2: usize,
}

/// The common request line `METHOD uri SIP/2.0`, checked in one pass: a token method, one space,
/// a URI of printable non-space bytes holding a ':' and not starting with '<', one space and the
/// version. `None` sends the line to the full check, which names what is wrong.
#[inline]
const fn not_visible_table() -> [u8; 256] {
    let mut t = [1; 256];
    let mut b = b'!' as usize;
    while b < 0x7f {
        t[b] = 0;
        b += 1;
    }
    t
}

/// Non-zero for bytes outside `!`..`~` (space, controls, DEL, non-ASCII).
static NOT_VISIBLE: [u8; 256] = not_visible_table();

fn simple_request_line(line: &[u8]) -> Option<Spaces> {
    let sp1 = token_len(line);
    if sp1 == 0 || line.get(sp1) != Some(&b' ') {
        return None;
    }
    // The Request-URI: visible ASCII up to the next space.
    let i = super::scan::skip_until(line, sp1 + 1, &NOT_VISIBLE);
    if line.get(i).is_some_and(|&c| c != b' ') {
        return None;
    }
    let colon = super::scan::find_byte(b':', &line[sp1 + 1..i]).is_some();
    let ok = colon
        && i > sp1 + 1
        && line[sp1 + 1] != b'<'
        && line[i..].eq_ignore_ascii_case(b" SIP/2.0");
    ok.then_some(Spaces { sp1, sp2: i })
}

fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let is_version = v.len() > 4
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && v[4..].iter().any(|c| c.is_ascii_digit());
    if is_version {
        Err(ParseError::new(505, "Version Not Supported"))
    } else {
        Err(ParseError::bad("Bad SIP version"))
    }
}
