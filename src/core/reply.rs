//! Stateless replies (RFC 3261 §8.2.6): Vias (with received / rport), From, To with a tag,
//! Call-ID and CSeq copied from the request. Built by `sip::build_reply` from a parsed request,
//! or — when the parser rejected it — here, from whatever of those headers the raw bytes hold.

use std::hash::{BuildHasher, RandomState};

use crate::sip::scan::{eq_ic, find_unquoted, trim};
use crate::sip::{Method, Msg, NameAddr, ReplyOptions, Via, build_reply};
use crate::transport::{Destination, ReceiveInfo};

use super::via_route::{received_params, reply_destination};

/// Makes To tags for stateless replies: the same request (and its retransmissions) gets the same tag.
#[derive(Clone, Default)]
pub struct ToTagger {
    key: RandomState,
}

impl ToTagger {
    pub fn new() -> Self {
        Self::default()
    }

    fn tag(&self, call_id: &[u8], from_tag: &[u8], branch: &[u8]) -> String {
        let v = self.key.hash_one((call_id, from_tag, branch));
        format!("sl{v:016x}")
    }
}

fn status_line(out: &mut Vec<u8>, code: u16, reason: &str) {
    out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
}

fn header(out: &mut Vec<u8>, name: &str, parts: &[&[u8]]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
}

/// The top Via value as it goes into a reply: received added, an empty rport filled in.
fn first_via_value(via: &Via<'_>, info: &ReceiveInfo) -> Vec<u8> {
    let raw = via.raw;
    let (params, fill_rport) = received_params(via, info);
    let mut v = Vec::with_capacity(raw.len() + params.len() + 8);
    let rport_end = via
        .params
        .iter()
        .find(|p| fill_rport && eq_ic(p.name, b"rport"))
        .map(|p| p.name.as_ptr() as usize - raw.as_ptr() as usize + p.name.len())
        .filter(|&end| end <= raw.len());
    match rport_end {
        Some(end) => {
            v.extend_from_slice(&raw[..end]);
            v.extend_from_slice(format!("={}", info.src.port()).as_bytes());
            v.extend_from_slice(&raw[end..]);
        }
        None => v.extend_from_slice(raw),
    }
    v.extend_from_slice(params.as_bytes());
    v
}

/// Copies a Via line; for the top line, `first` replaces its first value.
fn via_line(out: &mut Vec<u8>, value: &[u8], first: Option<&[u8]>) {
    let Some(first) = first else {
        return header(out, "Via", &[value]);
    };
    let first_end = match find_unquoted(value, b',') {
        Ok(Some(i)) => trim(&value[..i]).len(),
        _ => value.len(),
    };
    header(out, "Via", &[first, &value[first_end..]]);
}

fn to_line(out: &mut Vec<u8>, to: &[u8], code: u16, tag: impl FnOnce() -> String) {
    let has_tag = NameAddr::parse(to).ok().and_then(|n| n.tag()).is_some();
    if has_tag || code == 100 {
        header(out, "To", &[to]);
    } else {
        header(out, "To", &[to, b";tag=", tag().as_bytes()]);
    }
}

const SERVER: &[u8] = b"Server: osips\r\n";

fn finish(out: &mut Vec<u8>) {
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// A reply to a parsed request (built by [`build_reply`]), and where to send it. `None` for ACK
/// (never answered) and for requests without a usable Via.
pub fn reply(
    tagger: &ToTagger,
    req: &Msg,
    info: &ReceiveInfo,
    code: u16,
    reason: &str,
) -> Option<(Vec<u8>, Destination)> {
    reply_with(tagger, req, info, code, reason, b"")
}

/// As [`reply`], with extra header lines (each ending in CRLF, e.g. a `WWW-Authenticate`).
pub fn reply_with(
    tagger: &ToTagger,
    req: &Msg,
    info: &ReceiveInfo,
    code: u16,
    reason: &str,
    extra: &[u8],
) -> Option<(Vec<u8>, Destination)> {
    if !req.is_request() || req.method() == Method::Ack {
        return None;
    }
    let via1 = req.via1().ok()?;
    let dest = reply_destination(&via1, info);
    let tag = tagger.tag(
        req.call_id(),
        req.from_tag().unwrap_or_default(),
        via1.branch().unwrap_or_default(),
    );
    let ip = match info.src.ip() {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let headers = [extra, SERVER].concat();
    let opts = ReplyOptions {
        to_tag: Some(tag.as_bytes()),
        received: Some((&ip, info.src.port())),
        extra_headers: &headers,
        ..ReplyOptions::default()
    };
    Some((build_reply(req, code, reason, &opts), dest))
}

/// Header lines of a raw message up to the blank line, with folded lines joined.
fn raw_headers(data: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    let mut lines = data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.next(); // start line
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = out.last_mut() {
                last.1.push(b' ');
                last.1.extend_from_slice(trim(line));
            }
            continue;
        }
        if let Some(c) = line.iter().position(|&b| b == b':') {
            out.push((trim(&line[..c]), trim(&line[c + 1..]).to_vec()));
        }
    }
    out
}

/// A reply to a request the parser refused (`code` / `reason` from its error), built from the raw
/// bytes; `None` when no reply is possible (a response, an ACK, no parsable Via).
pub fn reply_to_raw(
    tagger: &ToTagger,
    data: &[u8],
    info: &ReceiveInfo,
    code: u16,
    reason: &str,
) -> Option<(Vec<u8>, Destination)> {
    let start = data.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let data = &data[start..];
    let first_line = data.split(|&b| b == b'\n').next()?;
    if first_line.starts_with(b"SIP/") || first_line.starts_with(b"ACK ") {
        return None;
    }
    let headers = raw_headers(data);
    let is_via = |n: &&[u8]| eq_ic(n, b"via") || eq_ic(n, b"v");
    let top = headers.iter().find(|(n, _)| is_via(n))?;
    let first = match find_unquoted(&top.1, b',') {
        Ok(Some(i)) => &top.1[..i],
        _ => &top.1[..],
    };
    let via1 = Via::parse(first).ok()?;
    let dest = reply_destination(&via1, info);
    let top_value = first_via_value(&via1, info);
    let value_of = |long: &[u8], short: &[u8]| {
        headers
            .iter()
            .find(|(n, _)| eq_ic(n, long) || eq_ic(n, short))
            .map(|(_, v)| v.as_slice())
    };
    let mut out = Vec::with_capacity(512);
    status_line(&mut out, code, reason);
    let mut first_via = true;
    for (_, v) in headers.iter().filter(|(n, _)| is_via(n)) {
        via_line(&mut out, v, first_via.then_some(&top_value[..]));
        first_via = false;
    }
    let call_id = value_of(b"call-id", b"i");
    let from = value_of(b"from", b"f");
    if let Some(f) = from {
        header(&mut out, "From", &[f]);
    }
    if let Some(t) = value_of(b"to", b"t") {
        to_line(&mut out, t, code, || {
            let from_tag = from
                .and_then(|f| NameAddr::parse(f).ok())
                .and_then(|n| n.tag());
            tagger.tag(
                call_id.unwrap_or_default(),
                from_tag.unwrap_or_default(),
                via1.branch().unwrap_or_default(),
            )
        });
    }
    if let Some(c) = call_id {
        header(&mut out, "Call-ID", &[c]);
    }
    if let Some(c) = value_of(b"cseq", b"cseq") {
        header(&mut out, "CSeq", &[c]);
    }
    finish(&mut out);
    Some((out, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.5:5070;rport;branch=z9hG4bKa, SIP/2.0/UDP 127.0.0.6;branch=z9hG4bKb\r\n\
        v: SIP/2.0/UDP 127.0.0.7;branch=z9hG4bKc\r\n\
        Max-Forwards: 70\r\nFrom: <sip:alice@h>;tag=f1\r\nTo: <sip:bob@h>\r\nCall-ID: cid1\r\n\
        CSeq: 4 INVITE\r\nContact: <sip:alice@127.0.0.5:5070>\r\nContent-Length: 0\r\n\r\n";

    fn info() -> ReceiveInfo {
        ReceiveInfo::udp(
            "127.0.0.5:40000".parse().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
            0,
        )
    }

    #[test]
    fn reply_copies_headers_and_adds_a_stable_tag() {
        let t = ToTagger::new();
        let m = Msg::parse(bytes::Bytes::from(REQ)).unwrap();
        let (r, dest) = reply(&t, &m, &info(), 483, "Too Many Hops").unwrap();
        let r = String::from_utf8(r).unwrap();
        assert_eq!(dest.addr, "127.0.0.5:40000".parse().unwrap());
        assert!(r.starts_with("SIP/2.0 483 Too Many Hops\r\n"), "{r}");
        assert!(r.contains("Via: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKa;received=127.0.0.5;rport=40000, SIP/2.0/UDP 127.0.0.6;branch=z9hG4bKb\r\n"), "{r}");
        assert!(
            r.contains("Via: SIP/2.0/UDP 127.0.0.7;branch=z9hG4bKc\r\n"),
            "{r}"
        );
        assert!(r.contains("From: <sip:alice@h>;tag=f1\r\n"));
        assert!(r.contains("To: <sip:bob@h>;tag=sl"));
        assert!(r.contains("Call-ID: cid1\r\nCSeq: 4 INVITE\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(!r.contains("Contact"));
        let parsed = Msg::parse(bytes::Bytes::from(r.clone())).unwrap();
        assert_eq!(parsed.status(), Some(483));
        let (again, _) = reply(&t, &m, &info(), 483, "Too Many Hops").unwrap();
        assert_eq!(
            String::from_utf8(again).unwrap(),
            r,
            "retransmission gets the same tag"
        );
    }

    #[test]
    fn no_reply_to_ack_or_responses() {
        let t = ToTagger::new();
        let ack = REQ
            .replace("INVITE sip", "ACK sip")
            .replace("4 INVITE", "4 ACK");
        let m = Msg::parse(bytes::Bytes::from(ack.clone())).unwrap();
        assert!(reply(&t, &m, &info(), 400, "Bad").is_none());
        assert!(reply_to_raw(&t, ack.as_bytes(), &info(), 400, "Bad").is_none());
        assert!(
            reply_to_raw(
                &t,
                b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n",
                &info(),
                400,
                "x"
            )
            .is_none()
        );
        assert!(reply_to_raw(&t, b"garbage", &info(), 400, "x").is_none());
    }

    #[test]
    fn raw_reply_from_a_broken_request() {
        let t = ToTagger::new();
        let broken = REQ
            .replace("CSeq: 4 INVITE", "CSeq: four INVITE")
            .replace("To: <sip:bob@h>", "t: <sip:bob@h>\r\n  ;x=1");
        let (r, dest) = reply_to_raw(&t, broken.as_bytes(), &info(), 400, "Bad CSeq").unwrap();
        let r = String::from_utf8(r).unwrap();
        assert_eq!(dest.addr, "127.0.0.5:40000".parse().unwrap());
        assert!(r.starts_with("SIP/2.0 400 Bad CSeq\r\n"));
        assert!(r.contains("To: <sip:bob@h> ;x=1;tag=sl"), "{r}");
        assert!(r.contains("CSeq: four INVITE\r\n"));
        assert!(r.contains("Via: SIP/2.0/UDP 127.0.0.7;branch=z9hG4bKc\r\n"));
    }
}
