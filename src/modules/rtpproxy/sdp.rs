//! What rtpproxy_offer / rtpproxy_answer read from and write to the SDP: one stream per `m=`
//! with a non-zero port (address from its `c=` or the session's), then the body with the proxy's
//! ports and address (`m=`, `c=`, `a=rtcp`, optionally `o=`) and the "already proxied" mark.

use crate::sip::sdp::{Sdp, SdpEditor};

use super::command::Flags;

/// One media stream to ask the proxy about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Index of the media section.
    pub index: usize,
    /// Its number for the proxy (1-based, counting every `m=`).
    pub medianum: usize,
    /// The address in the SDP.
    pub ip: String,
    pub port: u16,
}

/// The streams of `sdp` (port 0 streams are left alone, as OpenSIPS does).
pub fn streams(sdp: &Sdp<'_>) -> Result<Vec<Stream>, String> {
    let mut out = Vec::new();
    for (i, sec) in sdp.media_sections().enumerate() {
        let m = sec.media().ok_or("bad m= line")?;
        if m.port == 0 {
            continue;
        }
        let c = sec
            .effective_connection()
            .ok_or_else(|| format!("no c= for media {}", i + 1))?;
        out.push(Stream {
            index: i,
            medianum: i + 1,
            ip: String::from_utf8_lossy(c.addr).into_owned(),
            port: m.port,
        });
    }
    if out.is_empty() {
        return Err("SDP without media streams".into());
    }
    Ok(out)
}

/// Whether the body carries the mark `mark` (e.g. `a=nortpproxy:yes`) on a line of its own.
pub fn proxied(body: &[u8], mark: &[u8]) -> bool {
    if mark.is_empty() {
        return false;
    }
    body.windows(mark.len())
        .enumerate()
        .any(|(i, w)| w == mark && (i == 0 || matches!(body[i - 1], b'\n' | b'\r')))
}

/// The body with each stream's new `port` and the proxy address `ip`; `mark` (a `x=value` line)
/// is appended unless already there.
pub fn rewrite(
    sdp: &Sdp<'_>,
    flags: &Flags,
    ports: &[(usize, u16)],
    ip: &str,
    mark: Option<&str>,
) -> Vec<u8> {
    let mut e = SdpEditor::new(sdp);
    let mut session_done = false;
    for &(i, port) in ports {
        e.set_media_port(i, port);
        let Some(sec) = sdp.media(i) else { continue };
        if sec.connection().is_some() {
            e.set_connection(Some(i), ip);
        } else if !session_done {
            e.set_connection(None, ip);
            session_done = true;
        }
        if let Some((_, addr)) = sec.rtcp() {
            e.set_rtcp(i, port.saturating_add(1), addr.map(|_| ip));
        }
    }
    if flags.session_conn && !session_done && sdp.session().connection().is_some() {
        e.set_connection(None, ip);
    }
    if flags.origin {
        e.set_origin_addr(ip);
    }
    if let Some(m) = mark
        && let Some((k, v)) = m.trim_end().split_once('=')
        && k.len() == 1
        && !proxied(sdp.raw, m.trim_end().as_bytes())
        && !sdp.lines.is_empty()
    {
        e.insert_after(sdp.lines.len() - 1, k.as_bytes()[0], v.as_bytes());
    }
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::rtpproxy::command::parse_flags;

    const OFFER: &[u8] =
        b"v=0\r\no=a 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtcp:4001\r\nm=video 0 RTP/AVP 96\r\n\
m=video 4002 RTP/AVP 97\r\nc=IN IP4 127.0.0.4\r\n";

    #[test]
    fn streams_skip_port_zero_and_use_the_right_c_line() {
        let sdp = Sdp::parse(OFFER).unwrap();
        let s = streams(&sdp).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].index, s[0].medianum, s[0].ip.as_str(), s[0].port),
            (0, 1, "127.0.0.2", 4000)
        );
        assert_eq!(
            (s[1].index, s[1].medianum, s[1].ip.as_str(), s[1].port),
            (2, 3, "127.0.0.4", 4002)
        );
        assert!(streams(&Sdp::parse(b"v=0\r\ns=-\r\n").unwrap()).is_err());
    }

    #[test]
    fn rewrite_ports_addresses_and_mark() {
        let sdp = Sdp::parse(OFFER).unwrap();
        let out = rewrite(
            &sdp,
            &parse_flags("o"),
            &[(0, 35000), (2, 35002)],
            "127.0.0.1",
            Some("a=nortpproxy:yes\r\n"),
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 35000 RTP/AVP 0\r\na=rtcp:35001\r\nm=video 0 RTP/AVP 96\r\n\
m=video 35002 RTP/AVP 97\r\nc=IN IP4 127.0.0.1\r\na=nortpproxy:yes\r\n"
        );
        assert!(proxied(text.as_bytes(), b"a=nortpproxy:yes"));
        let again = Sdp::parse(text.as_bytes()).unwrap();
        let twice = rewrite(
            &again,
            &parse_flags(""),
            &[(0, 1)],
            "127.0.0.1",
            Some("a=nortpproxy:yes"),
        );
        assert_eq!(
            String::from_utf8(twice)
                .unwrap()
                .matches("nortpproxy")
                .count(),
            1
        );
    }

    #[test]
    fn mark_must_start_a_line() {
        assert!(!proxied(
            b"v=0\r\nx=a=nortpproxy:yes\r\n",
            b"a=nortpproxy:yes"
        ));
        assert!(!proxied(b"anything", b""));
    }
}
