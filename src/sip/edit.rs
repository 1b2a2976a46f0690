//! Message edits ("lumps"): changes recorded as byte-range replacements against the received
//! buffer and applied once by [`Msg::serialise`], which also fixes Content-Length.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use super::hdr::HdrId;
use super::msg::{Msg, StartLine};

/// An edit that cannot be recorded (it overlaps another one or is out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditError {
    pub reason: &'static str,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for EditError {}

#[derive(Debug, Clone, Copy)]
struct Lump {
    start: u32,
    end: u32,
    data: (u32, u32),
}

/// Recorded edits, kept sorted by position (inserts before a range starting at the same offset,
/// and in the order they were made).
#[derive(Debug, Clone, Default)]
pub(crate) struct Edits {
    lumps: Vec<Lump>,
    data: Vec<u8>,
}

impl Edits {
    fn add(&mut self, start: usize, end: usize, data: &[&[u8]]) -> Result<(), EditError> {
        let (start, end) = (start as u32, end as u32);
        for l in &self.lumps {
            let overlap = if start == end {
                l.start < start && start < l.end
            } else if l.start == l.end {
                start < l.start && l.start < end
            } else {
                start < l.end && l.start < end
            };
            if overlap {
                return Err(EditError {
                    reason: "edit overlaps an earlier edit",
                });
            }
        }
        if self.lumps.capacity() == 0 {
            // One allocation each for a typical message's edits instead of repeated growth.
            self.lumps.reserve(8);
            self.data.reserve(256);
        }
        let d0 = self.data.len() as u32;
        for part in data {
            self.data.extend_from_slice(part);
        }
        let lump = Lump {
            start,
            end,
            data: (d0, self.data.len() as u32),
        };
        let key = |l: &Lump| (l.start, l.start != l.end);
        let k = key(&lump);
        let at = self.lumps.partition_point(|l| key(l) <= k);
        self.lumps.insert(at, lump);
        Ok(())
    }

    fn covers(&self, r: Range<u32>) -> bool {
        self.lumps
            .iter()
            .any(|l| l.start != l.end && l.start < r.end && r.start < l.end)
    }
}

impl Msg {
    fn check_range(&self, r: &Range<usize>) -> Result<(), EditError> {
        if r.start > r.end || r.start < self.start as usize || r.end > self.body_end as usize {
            return Err(EditError {
                reason: "edit outside the message",
            });
        }
        let hb = self.headers_end as usize;
        let bs = self.body_start as usize;
        if (r.start < hb && r.end > hb) || (r.start < bs && r.end > bs && r.start >= hb) {
            return Err(EditError {
                reason: "edit crosses the end of the headers",
            });
        }
        Ok(())
    }

    /// Inserts bytes at an offset of the received buffer.
    pub fn insert(&mut self, at: usize, data: &[u8]) -> Result<(), EditError> {
        self.check_range(&(at..at))?;
        self.edits.add(at, at, &[data])
    }

    /// Replaces a byte range of the received buffer.
    pub fn replace(&mut self, range: Range<usize>, data: &[u8]) -> Result<(), EditError> {
        self.check_range(&range)?;
        self.edits.add(range.start, range.end, &[data])
    }

    /// Deletes a byte range of the received buffer.
    pub fn delete(&mut self, range: Range<usize>) -> Result<(), EditError> {
        self.replace(range, b"")
    }

    /// Where a view returned by an accessor (a sub-slice of this message) lies in the buffer.
    pub fn range_of(&self, part: &[u8]) -> Option<Range<usize>> {
        let base = self.buf.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        if p < base || p + part.len() > base + self.buf.len() {
            return None;
        }
        Some(p - base..p - base + part.len())
    }

    /// Adds `Name: value` after the last header.
    pub fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        let at = self.headers_end as usize;
        self.check_range(&(at..at))?;
        self.edits
            .add(at, at, &[name.as_bytes(), b": ", value, b"\r\n"])
    }

    /// Adds `Name: value` before the first header.
    pub fn add_header_first(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        let at = self.start_line_end as usize;
        self.edits
            .add(at, at, &[name.as_bytes(), b": ", value, b"\r\n"])
    }

    /// Removes the header line at `index` (as numbered by [`Msg::headers`]), folded lines included.
    pub fn remove_header(&mut self, index: usize) -> Result<(), EditError> {
        let f = *self.hdrs.get(index).ok_or(EditError {
            reason: "no such header",
        })?;
        self.edits.add(f.name_start(), f.line_end(), &[])
    }

    /// Removes every header line with this id; returns how many were removed.
    pub fn remove_headers(&mut self, id: HdrId) -> Result<usize, EditError> {
        let idx: Vec<usize> = self.header_indexes(id).collect();
        for &i in &idx {
            self.remove_header(i)?;
        }
        Ok(idx.len())
    }

    /// Removes every header line with this name (case-insensitive; compact forms match).
    pub fn remove_headers_by_name(&mut self, name: &str) -> Result<usize, EditError> {
        let idx: Vec<usize> = self
            .headers()
            .filter(|h| h.is_named(name))
            .map(|h| h.index)
            .collect();
        for &i in &idx {
            self.remove_header(i)?;
        }
        Ok(idx.len())
    }

    /// Replaces the value of the header line at `index`, keeping its name.
    pub fn replace_header_value(&mut self, index: usize, value: &[u8]) -> Result<(), EditError> {
        let f = *self.hdrs.get(index).ok_or(EditError {
            reason: "no such header",
        })?;
        self.edits.add(f.value_start(), f.value_end(), &[value])
    }

    /// Rewrites the Request-URI.
    pub fn set_ruri(&mut self, uri: &[u8]) -> Result<(), EditError> {
        match self.line {
            StartLine::Request {
                uri_start, uri_end, ..
            } => self.edits.add(uri_start as usize, uri_end as usize, &[uri]),
            StartLine::Response { .. } => Err(EditError {
                reason: "a response has no Request-URI",
            }),
        }
    }

    /// Adds a Via line on top of the existing ones (`value` is e.g. `SIP/2.0/UDP host;branch=z9hG4bK..`).
    pub fn add_via(&mut self, value: &[u8]) -> Result<(), EditError> {
        let at = match self.hdrs.first(HdrId::Via).and_then(|i| self.hdrs.get(i)) {
            Some(f) => f.name_start(),
            None => self.start_line_end as usize,
        };
        self.edits.add(at, at, &[b"Via: ", value, b"\r\n"])
    }

    /// Adds a Record-Route line above the existing ones (`value` is e.g. `<sip:1.2.3.4;lr>`).
    pub fn add_record_route(&mut self, value: &[u8]) -> Result<(), EditError> {
        let at = match self
            .hdrs
            .first(HdrId::RecordRoute)
            .and_then(|i| self.hdrs.get(i))
        {
            Some(f) => f.name_start(),
            None => self.start_line_end as usize,
        };
        self.edits.add(at, at, &[b"Record-Route: ", value, b"\r\n"])
    }

    /// Appends `;name` or `;name=value` to the top Via (e.g. `received`, `rport=5060`).
    pub fn add_top_via_param(&mut self, param: &[u8]) -> Result<(), EditError> {
        let via = self.via1().map_err(|_| EditError {
            reason: "no valid top Via",
        })?;
        let end = self.range_of(via.raw).map(|r| r.end).ok_or(EditError {
            reason: "no valid top Via",
        })?;
        self.edits.add(end, end, &[b";", param])
    }

    /// Removes the top Via value (a whole line, or the first value of a comma-separated line).
    pub fn remove_top_via(&mut self) -> Result<(), EditError> {
        let i = self
            .hdrs
            .first(HdrId::Via)
            .ok_or(EditError { reason: "no Via" })?;
        let f = *self.hdrs.get(i).ok_or(EditError { reason: "no Via" })?;
        let value = &self.buf[f.value_start()..f.value_end()];
        match super::scan::find_unquoted(value, b',') {
            Ok(Some(comma)) => {
                let mut next = comma + 1;
                while next < value.len() && super::scan::is_lws(value[next]) {
                    next += 1;
                }
                let s = f.value_start();
                self.edits.add(s, s + next, &[])
            }
            _ => self.edits.add(f.name_start(), f.line_end(), &[]),
        }
    }

    /// Replaces the body; with `content_type`, also sets (or adds) Content-Type.
    pub fn set_body(&mut self, body: &[u8], content_type: Option<&[u8]>) -> Result<(), EditError> {
        let (s, e) = (self.body_start as usize, self.body_end as usize);
        self.edits.add(s, e, &[body])?;
        if let Some(ct) = content_type {
            match self.hdrs.first(HdrId::ContentType) {
                Some(i) => self.replace_header_value(i, ct)?,
                None => self.add_header("Content-Type", ct)?,
            }
        }
        Ok(())
    }

    pub fn has_edits(&self) -> bool {
        !self.edits.lumps.is_empty()
    }

    /// Drops every recorded edit.
    pub fn clear_edits(&mut self) {
        self.edits.lumps.clear();
        self.edits.data.clear();
    }

    /// The message with its edits applied, as new bytes. Without edits this is the received
    /// message itself, shared rather than copied.
    pub fn to_bytes(&self) -> Bytes {
        if self.edits.lumps.is_empty() {
            return self.buf.slice(self.start as usize..self.body_end as usize);
        }
        let mut out = Vec::with_capacity(self.serialised_len_hint());
        self.serialise_into(&mut out);
        Bytes::from(out)
    }

    /// The message with its edits applied.
    pub fn serialise(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialised_len_hint());
        self.serialise_into(&mut out);
        out
    }

    fn serialised_len_hint(&self) -> usize {
        (self.body_end - self.start) as usize + self.edits.data.len() + 24
    }

    /// Appends the message with its edits applied to `out`. Content-Length is set to the length
    /// of the new body (and added when it was missing) whenever there are edits.
    pub fn serialise_into(&self, out: &mut Vec<u8>) {
        let b: &[u8] = &self.buf;
        let lumps = &self.edits.lumps;
        if lumps.is_empty() {
            out.extend_from_slice(&b[self.start as usize..self.body_end as usize]);
            return;
        }
        let body_start = self.body_start;
        let mut body_len = i64::from(self.body_end - self.body_start);
        for l in lumps.iter().filter(|l| l.start >= body_start) {
            body_len += i64::from(l.data.1 - l.data.0) - i64::from(l.end - l.start);
        }
        let body_len = body_len.max(0) as u64;
        // Content-Length: rewrite its value, or add the header at the end of the headers.
        let cl = self
            .hdrs
            .first(HdrId::ContentLength)
            .and_then(|i| self.hdrs.get(i))
            .map(|f| {
                (
                    f.value_start() as u32,
                    f.value_end() as u32,
                    f.name_start() as u32,
                    f.line_end() as u32,
                )
            });
        let cl_fix: Option<(u32, u32, bool)> = match cl {
            Some((vs, ve, ns, le)) => {
                let declared = super::scan::parse_u64(&b[vs as usize..ve as usize]);
                if self.edits.covers(ns..le) || declared == Some(body_len) {
                    None
                } else {
                    Some((vs, ve, false))
                }
            }
            None => Some((self.headers_end, self.headers_end, true)),
        };
        let (num, num_len) = itoa_buf(body_len);
        let mut cursor = self.start;
        let mut pending = cl_fix;
        let mut emit =
            |out: &mut Vec<u8>, cursor: &mut u32, start: u32, end: u32, data: &[&[u8]]| {
                if start >= *cursor {
                    out.extend_from_slice(&b[*cursor as usize..start as usize]);
                }
                for d in data {
                    out.extend_from_slice(d);
                }
                *cursor = (*cursor).max(end);
            };
        for l in lumps {
            if let Some((s, e, add)) = pending
                && (l.start > s || (l.start == s && l.start != l.end))
            {
                emit_content_length(&mut emit, out, &mut cursor, s, e, add, &num[..num_len]);
                pending = None;
            }
            let data = &self.edits.data[l.data.0 as usize..l.data.1 as usize];
            emit(out, &mut cursor, l.start, l.end, &[data]);
        }
        if let Some((s, e, add)) = pending {
            emit_content_length(&mut emit, out, &mut cursor, s, e, add, &num[..num_len]);
        }
        out.extend_from_slice(&b[cursor as usize..self.body_end as usize]);
    }
}

type Emit<'e> = dyn FnMut(&mut Vec<u8>, &mut u32, u32, u32, &[&[u8]]) + 'e;

fn emit_content_length(
    emit: &mut Emit<'_>,
    out: &mut Vec<u8>,
    cursor: &mut u32,
    s: u32,
    e: u32,
    add: bool,
    num: &[u8],
) {
    if add {
        emit(out, cursor, s, e, &[b"Content-Length: ", num, b"\r\n"]);
    } else {
        emit(out, cursor, s, e, &[num]);
    }
}

fn itoa_buf(mut n: u64) -> ([u8; 20], usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = [0u8; 20];
    let len = tmp.len() - i;
    out[..len].copy_from_slice(&tmp[i..]);
    (out, len)
}
