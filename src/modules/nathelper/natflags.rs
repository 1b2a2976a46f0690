//! `nat_uac_test` (OpenSIPS nathelper): the tests that tell a UA behind NAT, selected by the old
//! bitmask or by the 3.x flag names.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::sip::sdp::Sdp;
use crate::sip::{Contact, HdrId, Msg};

pub const PRIVATE_CONTACT: u32 = 1;
pub const DIFF_IP_SRC_VIA: u32 = 2;
pub const PRIVATE_VIA: u32 = 4;
pub const PRIVATE_SDP: u32 = 8;
pub const DIFF_PORT_SRC_VIA: u32 = 16;
pub const DIFF_IP_SRC_CONTACT: u32 = 32;
pub const DIFF_PORT_SRC_CONTACT: u32 = 64;
pub const CARRIER_GRADE_NAT: u32 = 128;

const NAMES: [(&str, u32); 8] = [
    ("private-contact", PRIVATE_CONTACT),
    ("diff-ip-src-via", DIFF_IP_SRC_VIA),
    ("private-via", PRIVATE_VIA),
    ("private-sdp", PRIVATE_SDP),
    ("diff-port-src-via", DIFF_PORT_SRC_VIA),
    ("diff-ip-src-contact", DIFF_IP_SRC_CONTACT),
    ("diff-port-src-contact", DIFF_PORT_SRC_CONTACT),
    ("carrier-grade-nat", CARRIER_GRADE_NAT),
];

/// `"19"` or `"private-contact,diff-ip-src-via"` to the bitmask; the error names the bad flag.
pub fn parse_flags(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    let mut mask = 0;
    for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let bit = NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(f))
            .map(|(_, b)| *b)
            .ok_or_else(|| format!("unknown nat_uac_test flag `{f}`"))?;
        mask |= bit;
    }
    Ok(mask)
}

/// RFC 1918 and RFC 6598 (shared address space) addresses; with `cgn` also RFC 6333 (192.0.0.0/29).
pub fn is_private_ip(ip: IpAddr, cgn: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (cgn && in_net(v4, Ipv4Addr::new(192, 0, 0, 0), 29))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn in_net(ip: Ipv4Addr, net: Ipv4Addr, bits: u32) -> bool {
    let mask = u32::MAX << (32 - bits);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// `is_rfc1918(text)`: the text is an IP address of a private range.
pub fn is_rfc1918(text: &str) -> bool {
    parse_ip(text.as_bytes()).is_some_and(|ip| is_private_ip(ip, false))
}

fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    let h = std::str::from_utf8(host).ok()?;
    h.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Host and port of the first Contact URI (port defaulted to 5060 / 5061 for sips).
fn contact_hostport(m: &Msg) -> Option<(Vec<u8>, u16)> {
    let v = m.header(HdrId::Contact)?;
    let c = Contact::parse(v).ok()?;
    let a = c.addr()?;
    let default = if a.uri.scheme_raw.eq_ignore_ascii_case(b"sips") {
        5061
    } else {
        5060
    };
    Some((a.uri.host.to_vec(), a.uri.port.unwrap_or(default)))
}

fn sdp_private(m: &Msg, cgn: bool) -> bool {
    let Ok(sdp) = Sdp::parse(m.body()) else {
        return false;
    };
    let private = |a: &[u8]| parse_ip(a).is_some_and(|ip| is_private_ip(ip, cgn));
    if sdp.session().connection().is_some_and(|c| private(c.addr)) {
        return true;
    }
    sdp.media_sections()
        .any(|s| s.connection().is_some_and(|c| private(c.addr)))
}

/// True when any selected test says the sender of `m` (seen from `src`) is behind NAT.
pub fn test(m: &Msg, src: SocketAddr, flags: u32) -> bool {
    let cgn = flags & CARRIER_GRADE_NAT != 0;
    let private = |host: &[u8]| parse_ip(host).is_some_and(|ip| is_private_ip(ip, cgn));
    let differs = |host: &[u8]| parse_ip(host) != Some(src.ip());
    let via = m.via1().ok();
    let contact = contact_hostport(m);
    let on = |bit: u32| flags & bit != 0;
    (on(PRIVATE_CONTACT) && contact.as_ref().is_some_and(|(h, _)| private(h)))
        || (on(DIFF_IP_SRC_VIA) && via.as_ref().is_some_and(|v| differs(v.host)))
        || (on(PRIVATE_VIA) && via.as_ref().is_some_and(|v| private(v.host)))
        || (on(PRIVATE_SDP) && sdp_private(m, cgn))
        || (on(DIFF_PORT_SRC_VIA)
            && via
                .as_ref()
                .is_some_and(|v| v.port.unwrap_or(5060) != src.port()))
        || (on(DIFF_IP_SRC_CONTACT) && contact.as_ref().is_some_and(|(h, _)| differs(h)))
        || (on(DIFF_PORT_SRC_CONTACT) && contact.as_ref().is_some_and(|(_, p)| *p != src.port()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A request from a UA that believes it is 192.168.1.20:5062 (never sent to: parsed only).
    fn msg(via: &str, contact: &str, sdp_c: Option<&str>) -> Msg {
        let body = sdp_c
            .map(|c| {
                format!(
                    "v=0\r\no=- 1 1 IN IP4 {c}\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
                )
            })
            .unwrap_or_default();
        let text = format!(
            "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:bob@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
             Contact: {contact}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Msg::parse(Bytes::from(text)).unwrap()
    }

    fn src() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    #[test]
    fn flags_by_number_and_by_name() {
        assert_eq!(parse_flags("19").unwrap(), 1 | 2 | 16);
        assert_eq!(
            parse_flags("private-contact, diff-port-src-contact").unwrap(),
            1 | 64
        );
        assert!(parse_flags("nope").unwrap_err().contains("nope"));
    }

    #[test]
    fn private_ranges() {
        assert!(is_rfc1918("10.1.2.3"));
        assert!(is_rfc1918("172.31.0.1"));
        assert!(!is_rfc1918("172.32.0.1"));
        assert!(is_rfc1918("192.168.0.1"));
        assert!(is_rfc1918("100.64.0.1"));
        assert!(!is_rfc1918("127.0.0.2"));
        assert!(!is_rfc1918("not an ip"));
        let ds_lite: IpAddr = "192.0.0.2".parse().unwrap();
        assert!(!is_private_ip(ds_lite, false));
        assert!(is_private_ip(ds_lite, true));
    }

    #[test]
    fn each_test_against_a_natted_and_a_direct_message() {
        let natted = msg(
            "192.168.1.20:5062",
            "<sip:a@192.168.1.20:5062>",
            Some("192.168.1.20"),
        );
        let direct = msg(
            "127.0.0.1:40000",
            "<sip:a@127.0.0.1:40000>",
            Some("127.0.0.1"),
        );
        for bit in [1, 2, 4, 8, 16, 32, 64] {
            assert!(test(&natted, src(), bit), "flag {bit} on the NATed message");
            assert!(
                !test(&direct, src(), bit),
                "flag {bit} on the direct message"
            );
        }
        // Only the port differs.
        let port_only = msg("127.0.0.1:5060", "<sip:a@127.0.0.1>", None);
        assert!(!test(&port_only, src(), 1 | 2 | 4 | 8 | 32));
        assert!(test(&port_only, src(), 16));
        assert!(test(&port_only, src(), 64));
        // A different public-looking host, same port.
        let other = msg("127.0.0.9:40000", "<sip:a@127.0.0.9:40000>", None);
        assert!(test(&other, src(), 2));
        assert!(test(&other, src(), 32));
        assert!(!test(&other, src(), 1 | 4 | 16 | 64));
    }
}
