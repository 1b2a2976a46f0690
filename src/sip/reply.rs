//! Replies built from a request (RFC 3261 §8.2.6): Vias, From, To (+ tag), Call-ID and CSeq
//! copied, Content-Length set.

use super::hdr::HdrId;
use super::msg::Msg;

/// What to add to a reply besides the copied headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyOptions<'a> {
    /// To-tag added when the request's To has none (ignored for 100 Trying).
    pub to_tag: Option<&'a [u8]>,
    /// Source of the request, written into the top Via as `received` (and `rport`, RFC 3581,
    /// when the request asked for it) as §18.2.1 says the server transport does.
    pub received: Option<(&'a str, u16)>,
    /// Copy Record-Route (for a dialog-creating reply sent by a UAS).
    pub copy_record_route: bool,
    /// Extra header lines, each ending in CRLF (e.g. `b"Server: osips\r\n"`).
    pub extra_headers: &'a [u8],
    /// Body and its Content-Type.
    pub body: Option<(&'a [u8], &'a [u8])>,
}

/// Builds the reply `code reason` to `req`.
pub fn build_reply(req: &Msg, code: u16, reason: &str, opts: &ReplyOptions<'_>) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(512 + opts.extra_headers.len() + opts.body.map_or(0, |b| b.1.len()));
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(code.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");

    let mut first_via = true;
    for v in req.headers_of(HdrId::Via) {
        out.extend_from_slice(b"Via: ");
        if first_via {
            write_top_via(&mut out, req, v, opts.received);
            first_via = false;
        } else {
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b"\r\n");
    }
    if opts.copy_record_route {
        for v in req.headers_of(HdrId::RecordRoute) {
            line(&mut out, b"Record-Route", v);
        }
    }
    if let Some(v) = req.header(HdrId::From) {
        line(&mut out, b"From", v);
    }
    if let Some(v) = req.header(HdrId::To) {
        out.extend_from_slice(b"To: ");
        out.extend_from_slice(v);
        if code > 100
            && req.to_tag().is_none()
            && let Some(tag) = opts.to_tag
        {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(tag);
        }
        out.extend_from_slice(b"\r\n");
    }
    line(&mut out, b"Call-ID", req.call_id());
    if let Some(v) = req.header(HdrId::CSeq) {
        line(&mut out, b"CSeq", v);
    }
    if code == 100
        && let Some(v) = req.header(HdrId::Timestamp)
    {
        line(&mut out, b"Timestamp", v);
    }
    out.extend_from_slice(opts.extra_headers);
    match opts.body {
        Some((ctype, body)) => {
            line(&mut out, b"Content-Type", ctype);
            line(
                &mut out,
                b"Content-Length",
                body.len().to_string().as_bytes(),
            );
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
        }
        None => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
    }
    out
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the first Via line, adding `received` / filling `rport` in its first value.
fn write_top_via(out: &mut Vec<u8>, req: &Msg, line_value: &[u8], received: Option<(&str, u16)>) {
    let (Some((ip, port)), Ok(via)) = (received, req.via1()) else {
        out.extend_from_slice(line_value);
        return;
    };
    let Some(r) = req.range_of(via.raw) else {
        out.extend_from_slice(line_value);
        return;
    };
    let Some(lr) = req.range_of(line_value) else {
        out.extend_from_slice(line_value);
        return;
    };
    let buf = req.buffer();
    // Copy the first value without an empty `rport` and without an old `received`.
    let mut cursor = r.start;
    let mut rport_asked = false;
    for p in via.params.iter() {
        let is_rport = p.name.eq_ignore_ascii_case(b"rport");
        let is_received = p.name.eq_ignore_ascii_case(b"received");
        if !(is_rport || is_received) {
            continue;
        }
        rport_asked |= is_rport;
        if let Some(pr) = req.range_of(p.name) {
            // Back up to the ';' before the parameter.
            let mut s = pr.start;
            while s > r.start && buf[s - 1] != b';' {
                s -= 1;
            }
            let s = s.saturating_sub(1).max(r.start);
            let e = match p.value {
                Some(v) => req.range_of(v).map_or(pr.end, |vr| vr.end),
                None => pr.end,
            };
            if s >= cursor {
                out.extend_from_slice(&buf[cursor..s]);
                cursor = e;
            }
        }
    }
    out.extend_from_slice(&buf[cursor..r.end]);
    out.extend_from_slice(b";received=");
    out.extend_from_slice(ip.as_bytes());
    if rport_asked {
        out.extend_from_slice(b";rport=");
        out.extend_from_slice(port.to_string().as_bytes());
    }
    out.extend_from_slice(&buf[r.end..lr.end]);
}
