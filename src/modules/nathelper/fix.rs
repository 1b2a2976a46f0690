//! The rewrites of nathelper: the Contact URI to the source address (`fix_nated_contact`), the
//! `received` parameter (`add_rcv_param`) and the SDP addresses (`fix_nated_sdp`).

use std::net::SocketAddr;

use crate::sip::sdp::{Sdp, SdpEditor};
use crate::sip::{Contact, HdrId, Msg};
use crate::transport::Proto;

/// `ip:port` of a source address (IPv6 in brackets).
pub fn hostport(src: SocketAddr) -> String {
    match src {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// `sip:ip:port[;transport=x]`: what `fix_nated_register` and `add_rcv_param` store.
pub fn received_uri(src: SocketAddr, proto: Proto) -> String {
    let mut s = format!("sip:{}", hostport(src));
    if proto != Proto::Udp {
        s.push_str(";transport=");
        s.push_str(proto.name());
    }
    s
}

/// The text of `uri` with its host:port replaced and `extra` parameters appended; wrapped in
/// `<>` when it was not and parameters are added (they would read as header parameters).
fn rebuilt(
    m: &Msg,
    uri_raw: &[u8],
    host: &[u8],
    headers: Option<&[u8]>,
    new_hp: Option<&str>,
    extra: &str,
    angle: bool,
) -> Option<(std::ops::Range<usize>, Vec<u8>)> {
    let r = m.range_of(uri_raw)?;
    let buf = m.as_bytes();
    let h = m.range_of(host)?;
    let mut hp_end = h.end;
    if buf.get(hp_end) == Some(&b':') {
        hp_end += 1;
        while hp_end < r.end && buf[hp_end].is_ascii_digit() {
            hp_end += 1;
        }
    }
    let params_end = match headers.and_then(|x| m.range_of(x)) {
        Some(x) => x.start - 1,
        None => r.end,
    };
    let mut out = Vec::with_capacity(r.len() + extra.len() + 32);
    let wrap = !angle && !extra.is_empty();
    if wrap {
        out.push(b'<');
    }
    out.extend_from_slice(&buf[r.start..h.start]);
    match new_hp {
        Some(hp) => out.extend_from_slice(hp.as_bytes()),
        None => out.extend_from_slice(&buf[h.start..hp_end]),
    }
    out.extend_from_slice(&buf[hp_end..params_end]);
    out.extend_from_slice(extra.as_bytes());
    out.extend_from_slice(&buf[params_end..r.end]);
    if wrap {
        out.push(b'>');
    }
    Some((r, out))
}

/// `fix_nated_contact([uri_params])`: the first Contact URI's host:port := the source address.
pub fn fix_contact(m: &mut Msg, src: SocketAddr, uri_params: &str) -> Result<(), String> {
    let v = m.header(HdrId::Contact).ok_or("no Contact header")?;
    let c = Contact::parse(v).map_err(|e| format!("bad Contact: {e}"))?;
    let a = c.addr().ok_or("Contact: * cannot be fixed")?;
    let (range, text) = rebuilt(
        m,
        a.uri.raw,
        a.uri.host,
        a.uri.headers,
        Some(&hostport(src)),
        uri_params,
        a.angle,
    )
    .ok_or("Contact outside the message")?;
    m.replace(range, &text).map_err(|e| e.to_string())
}

/// `add_rcv_param([to_uri])`: `;received="sip:ip:port"` on every Contact (as a URI parameter with
/// `to_uri`).
pub fn add_rcv(m: &mut Msg, src: SocketAddr, proto: Proto, to_uri: bool) -> Result<usize, String> {
    let rcv = received_uri(src, proto);
    let mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
    for v in m.list_values(HdrId::Contact) {
        let v = v.map_err(|e| format!("bad Contact: {e}"))?;
        let c = Contact::parse(v).map_err(|e| format!("bad Contact: {e}"))?;
        let Some(a) = c.addr() else { continue };
        if to_uri {
            // Escaped so that the URI stays one token (RFC 3261 §25.1 "hnv-unreserved").
            let escaped = rcv
                .replace(':', "%3A")
                .replace(';', "%3B")
                .replace('=', "%3D");
            let extra = format!(";received={escaped}");
            let e = rebuilt(
                m,
                a.uri.raw,
                a.uri.host,
                a.uri.headers,
                None,
                &extra,
                a.angle,
            )
            .ok_or("Contact outside the message")?;
            edits.push(e);
        } else {
            let end = m.range_of(v).ok_or("Contact outside the message")?.end;
            edits.push((end..end, format!(";received=\"{rcv}\"").into_bytes()));
        }
    }
    let n = edits.len();
    for (r, text) in edits {
        if r.is_empty() {
            m.insert(r.start, &text).map_err(|e| e.to_string())?;
        } else {
            m.replace(r, &text).map_err(|e| e.to_string())?;
        }
    }
    Ok(n)
}

pub const SDP_ADD_DIR_ACTIVE: u32 = 1;
pub const SDP_REWRITE_MEDIA_IP: u32 = 2;
pub const SDP_ADD_NO_RTPPROXY: u32 = 4;
pub const SDP_REWRITE_ORIGIN_IP: u32 = 8;
pub const SDP_REWRITE_NULL_IPS: u32 = 16;

/// `"3"` or `"add-dir-active,rewrite-media-ip"` to the bitmask.
pub fn parse_sdp_flags(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    let mut mask = 0;
    for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        mask |= match f.to_ascii_lowercase().as_str() {
            "add-dir-active" => SDP_ADD_DIR_ACTIVE,
            "rewrite-media-ip" => SDP_REWRITE_MEDIA_IP,
            "add-no-rtpproxy" => SDP_ADD_NO_RTPPROXY,
            "rewrite-origin-ip" => SDP_REWRITE_ORIGIN_IP,
            "rewrite-null-ips" => SDP_REWRITE_NULL_IPS,
            _ => return Err(format!("unknown fix_nated_sdp flag `{f}`")),
        };
    }
    Ok(mask)
}

fn is_null(addr: &[u8]) -> bool {
    addr == b"0.0.0.0" || addr == b"::"
}

/// The SDP body rewritten per `flags` with `ip`; None when there is nothing to change.
pub fn fix_sdp(
    body: &[u8],
    flags: u32,
    ip: &str,
    nortpproxy: &str,
) -> Result<Option<Vec<u8>>, String> {
    let sdp = Sdp::parse(body).map_err(|e| format!("bad SDP: {e}"))?;
    let mut ed = SdpEditor::new(&sdp);
    let mut changed = false;
    let null_too = flags & SDP_REWRITE_NULL_IPS != 0;
    if flags & SDP_REWRITE_MEDIA_IP != 0 {
        let sections = std::iter::once(sdp.session()).chain(sdp.media_sections());
        for s in sections {
            let Some(c) = s.connection() else { continue };
            if is_null(c.addr) && !null_too {
                continue;
            }
            let old = String::from_utf8_lossy(c.addr).into_owned();
            ed.set_connection(s.index, ip);
            ed.add_attr(s.index, format!("oldcip:{old}").as_bytes());
            changed = true;
        }
    }
    if flags & SDP_REWRITE_ORIGIN_IP != 0
        && let Some(o) = sdp.origin()
        && (!is_null(o.addr) || null_too)
    {
        let old = String::from_utf8_lossy(o.addr).into_owned();
        ed.set_origin_addr(ip);
        ed.add_attr(None, format!("oldoip:{old}").as_bytes());
        changed = true;
    }
    if flags & SDP_ADD_DIR_ACTIVE != 0 {
        ed.add_attr(None, b"direction:active");
        changed = true;
    }
    if flags & SDP_ADD_NO_RTPPROXY != 0 {
        let attr = nortpproxy.trim().trim_start_matches("a=");
        ed.add_attr(None, attr.as_bytes());
        changed = true;
    }
    Ok(changed.then(|| ed.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(contacts: &str) -> Msg {
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\n\
             CSeq: 1 REGISTER\r\nContact: {contacts}\r\nContent-Length: 0\r\n\r\n"
        );
        Msg::parse(Bytes::from(text)).unwrap()
    }

    fn src() -> SocketAddr {
        "127.0.0.7:40001".parse().unwrap()
    }

    fn out(m: &Msg) -> String {
        String::from_utf8(m.serialise()).unwrap()
    }

    #[test]
    fn contact_gets_the_source_address() {
        let mut m = msg("<sip:a@10.0.0.5:5062;ob>;expires=60");
        fix_contact(&mut m, src(), "").unwrap();
        assert!(out(&m).contains("Contact: <sip:a@127.0.0.7:40001;ob>;expires=60\r\n"));

        let mut m = msg("sip:a@10.0.0.5");
        fix_contact(&mut m, src(), ";nat=yes").unwrap();
        assert!(
            out(&m).contains("Contact: <sip:a@127.0.0.7:40001;nat=yes>\r\n"),
            "{}",
            out(&m)
        );

        let mut m = msg("*");
        assert!(fix_contact(&mut m, src(), "").is_err());
    }

    #[test]
    fn received_param_on_every_contact() {
        let mut m = msg("<sip:a@10.0.0.5:5062>, <sip:a@10.0.0.6>;q=0.5");
        assert_eq!(add_rcv(&mut m, src(), Proto::Udp, false).unwrap(), 2);
        let t = out(&m);
        assert!(
            t.contains(r#"<sip:a@10.0.0.5:5062>;received="sip:127.0.0.7:40001", <sip:a@10.0.0.6>;q=0.5;received="sip:127.0.0.7:40001""#),
            "{t}"
        );
        let mut m = msg("<sip:a@10.0.0.5:5062>");
        add_rcv(&mut m, src(), Proto::Tcp, true).unwrap();
        let t = out(&m);
        assert!(
            t.contains("<sip:a@10.0.0.5:5062;received=sip%3A127.0.0.7%3A40001%3Btransport%3Dtcp>"),
            "{t}"
        );
    }

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
                       m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\n";

    #[test]
    fn sdp_addresses_are_rewritten() {
        assert_eq!(parse_sdp_flags("3").unwrap(), 3);
        assert_eq!(
            parse_sdp_flags("rewrite-media-ip,rewrite-origin-ip").unwrap(),
            10
        );
        assert!(parse_sdp_flags("bogus").is_err());
        let b = fix_sdp(SDP.as_bytes(), 2 | 8, "127.0.0.7", "")
            .unwrap()
            .unwrap();
        let t = String::from_utf8(b).unwrap();
        assert!(t.contains("o=- 1 1 IN IP4 127.0.0.7\r\n"), "{t}");
        assert!(t.contains("c=IN IP4 127.0.0.7\r\n"), "{t}");
        assert!(t.contains("a=oldcip:10.0.0.5\r\n"), "{t}");
        assert!(t.contains("a=oldoip:10.0.0.5\r\n"), "{t}");
        assert!(t.contains("c=IN IP4 0.0.0.0\r\n"), "null address kept: {t}");
        assert!(!t.contains("10.0.0.5\r\nc="));
        let b = fix_sdp(SDP.as_bytes(), 2 | 16 | 4, "127.0.0.7", "a=nortpproxy:yes")
            .unwrap()
            .unwrap();
        let t = String::from_utf8(b).unwrap();
        assert!(!t.contains("c=IN IP4 0.0.0.0"), "{t}");
        assert!(t.contains("a=nortpproxy:yes\r\n"), "{t}");
        assert_eq!(fix_sdp(SDP.as_bytes(), 0, "127.0.0.7", "").unwrap(), None);
    }
}
