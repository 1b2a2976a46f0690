//! SDP parsing into lines grouped in sections; values are borrowed from the body.

use std::fmt;

use crate::sip::scan::{parse_u16, parse_u32, parse_u64};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpError {
    pub line: usize,
    pub reason: &'static str,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SDP line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for SdpError {}

/// One `x=value` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The type letter (`v`, `o`, `c`, `m`, `a`, ...).
    pub kind: u8,
    pub value: &'a [u8],
    /// Offset of the line in the body.
    pub start: usize,
    /// Offset just past the line ending.
    pub end: usize,
    /// Length of the line ending (2 for CRLF, 1 for LF, 0 at the end of the body).
    pub eol: u8,
}

/// A parsed session description.
#[derive(Debug, Clone)]
pub struct Sdp<'a> {
    pub raw: &'a [u8],
    pub lines: Vec<Line<'a>>,
    /// Index into `lines` of every `m=` line.
    media_starts: Vec<usize>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub username: &'a [u8],
    pub sess_id: &'a [u8],
    pub sess_version: u64,
    pub nettype: &'a [u8],
    pub addrtype: &'a [u8],
    pub addr: &'a [u8],
}

/// `c=<nettype> <addrtype> <connection-address>` (address may carry `/ttl` or `/count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    pub nettype: &'a [u8],
    pub addrtype: &'a [u8],
    pub addr: &'a [u8],
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media<'a> {
    pub media: &'a [u8],
    pub port: u16,
    pub num_ports: Option<u16>,
    pub proto: &'a [u8],
    /// The format list as written (`0 8 101`).
    pub fmts: &'a [u8],
}

impl<'a> Media<'a> {
    pub fn fmt_list(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fmts.split(|&b| b == b' ').filter(|f| !f.is_empty())
    }
}

/// `a=candidate:<foundation> <component> <transport> <priority> <addr> <port> typ <type> ...`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub foundation: &'a [u8],
    pub component: u32,
    pub transport: &'a [u8],
    pub priority: u32,
    pub addr: &'a [u8],
    pub port: u16,
    pub typ: &'a [u8],
    pub raddr: Option<&'a [u8]>,
    pub rport: Option<u16>,
}

impl<'a> Candidate<'a> {
    /// Parses the value of an `a=candidate:` attribute (after `candidate:`).
    pub fn parse(v: &'a [u8]) -> Option<Candidate<'a>> {
        let mut it = v.split(|&b| b == b' ').filter(|s| !s.is_empty());
        let foundation = it.next()?;
        let component = parse_u32(it.next()?)?;
        let transport = it.next()?;
        let priority = parse_u32(it.next()?)?;
        let addr = it.next()?;
        let port = parse_u16(it.next()?)?;
        if it.next()? != b"typ" {
            return None;
        }
        let typ = it.next()?;
        let (mut raddr, mut rport) = (None, None);
        while let Some(k) = it.next() {
            let v = it.next();
            match k {
                b"raddr" => raddr = v,
                b"rport" => rport = v.and_then(parse_u16),
                _ => {}
            }
        }
        Some(Candidate {
            foundation,
            component,
            transport,
            priority,
            addr,
            port,
            typ,
            raddr,
            rport,
        })
    }
}

fn fields<const N: usize>(v: &[u8]) -> Option<[&[u8]; N]> {
    let mut out = [&b""[..]; N];
    let mut it = v.splitn(N, |&b| b == b' ');
    for slot in out.iter_mut() {
        *slot = it.next()?;
        if slot.is_empty() {
            return None;
        }
    }
    Some(out)
}

impl<'a> Sdp<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Sdp<'a>, SdpError> {
        let mut lines = Vec::with_capacity(16);
        let mut media_starts = Vec::new();
        let mut pos = 0;
        while pos < raw.len() {
            let (content_end, end, eol) = match memchr::memchr(b'\n', &raw[pos..]) {
                Some(i) => {
                    let nl = pos + i;
                    if nl > pos && raw[nl - 1] == b'\r' {
                        (nl - 1, nl + 1, 2)
                    } else {
                        (nl, nl + 1, 1)
                    }
                }
                None => (raw.len(), raw.len(), 0),
            };
            let line = &raw[pos..content_end];
            let n = lines.len() + 1;
            if line.is_empty() {
                // Tolerate trailing blank lines only.
                if raw[end..].iter().all(|&b| b == b'\r' || b == b'\n') {
                    break;
                }
                return Err(SdpError {
                    line: n,
                    reason: "empty line",
                });
            }
            if line.len() < 2 || line[1] != b'=' || !line[0].is_ascii_lowercase() {
                return Err(SdpError {
                    line: n,
                    reason: "line is not <type>=<value>",
                });
            }
            if line[0] == b'm' {
                media_starts.push(lines.len());
            }
            lines.push(Line {
                kind: line[0],
                value: &line[2..],
                start: pos,
                end,
                eol,
            });
            pos = end;
        }
        match lines.first() {
            Some(l) if l.kind == b'v' => {}
            _ => {
                return Err(SdpError {
                    line: 1,
                    reason: "SDP does not start with v=",
                });
            }
        }
        let sdp = Sdp {
            raw,
            lines,
            media_starts,
        };
        for (i, m) in sdp.media_starts.iter().enumerate() {
            if sdp.media(i).and_then(|s| s.media()).is_none() {
                return Err(SdpError {
                    line: m + 1,
                    reason: "bad m= line",
                });
            }
        }
        Ok(sdp)
    }

    /// The session-level section (lines before the first `m=`).
    pub fn session(&self) -> Section<'_, 'a> {
        let end = self
            .media_starts
            .first()
            .copied()
            .unwrap_or(self.lines.len());
        Section {
            sdp: self,
            first: 0,
            end,
            index: None,
        }
    }

    pub fn media_count(&self) -> usize {
        self.media_starts.len()
    }

    /// Media section `i` (0-based), from its `m=` line to the next one.
    pub fn media(&self, i: usize) -> Option<Section<'_, 'a>> {
        let first = *self.media_starts.get(i)?;
        let end = self
            .media_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.lines.len());
        Some(Section {
            sdp: self,
            first,
            end,
            index: Some(i),
        })
    }

    pub fn media_sections(&self) -> impl Iterator<Item = Section<'_, 'a>> + '_ {
        (0..self.media_count()).filter_map(|i| self.media(i))
    }

    pub fn origin(&self) -> Option<Origin<'a>> {
        let v = self.session().line(b'o')?.value;
        let [username, sess_id, ver, nettype, addrtype, addr] = fields::<6>(v)?;
        Some(Origin {
            username,
            sess_id,
            sess_version: parse_u64(ver)?,
            nettype,
            addrtype,
            addr,
        })
    }
}

/// The session section or one media section: a run of lines.
#[derive(Debug, Clone, Copy)]
pub struct Section<'s, 'a> {
    sdp: &'s Sdp<'a>,
    /// Index of the first line in `Sdp::lines`.
    pub first: usize,
    /// One past the last line.
    pub end: usize,
    /// Media index, `None` for the session section.
    pub index: Option<usize>,
}

impl<'s, 'a> Section<'s, 'a> {
    pub fn lines(&self) -> &'s [Line<'a>] {
        &self.sdp.lines[self.first..self.end]
    }

    /// First line of this type in the section.
    pub fn line(&self, kind: u8) -> Option<&'s Line<'a>> {
        self.lines().iter().find(|l| l.kind == kind)
    }

    /// Index (in `Sdp::lines`) of the first line of this type in the section.
    pub fn line_index(&self, kind: u8) -> Option<usize> {
        self.lines()
            .iter()
            .position(|l| l.kind == kind)
            .map(|i| i + self.first)
    }

    /// The `m=` line of a media section.
    pub fn media(&self) -> Option<Media<'a>> {
        let l = self.lines().first().filter(|l| l.kind == b'm')?;
        let [media, port, proto, fmts] = fields::<4>(l.value)?;
        let (port, num_ports) = match memchr::memchr(b'/', port) {
            Some(s) => (parse_u16(&port[..s])?, Some(parse_u16(&port[s + 1..])?)),
            None => (parse_u16(port)?, None),
        };
        Some(Media {
            media,
            port,
            num_ports,
            proto,
            fmts,
        })
    }

    /// This section's own `c=` line.
    pub fn connection(&self) -> Option<Connection<'a>> {
        let v = self.line(b'c')?.value;
        let [nettype, addrtype, addr] = fields::<3>(v)?;
        Some(Connection {
            nettype,
            addrtype,
            addr,
        })
    }

    /// The connection that applies: media-level `c=`, else the session's.
    pub fn effective_connection(&self) -> Option<Connection<'a>> {
        self.connection()
            .or_else(|| self.sdp.session().connection())
    }

    /// Every `a=` attribute as (name, value).
    pub fn attrs(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 's {
        self.lines().iter().filter(|l| l.kind == b'a').map(|l| {
            match memchr::memchr(b':', l.value) {
                Some(c) => (&l.value[..c], Some(&l.value[c + 1..])),
                None => (l.value, None),
            }
        })
    }

    /// First attribute with this name: `Some(None)` for a flag such as `a=rtcp-mux`.
    pub fn attr(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.attrs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn has_attr(&self, name: &[u8]) -> bool {
        self.attr(name).is_some()
    }

    /// ICE candidates of this section (unparseable ones are skipped).
    pub fn candidates(&self) -> impl Iterator<Item = Candidate<'a>> + 's {
        self.attrs()
            .filter(|(n, _)| *n == b"candidate")
            .filter_map(|(_, v)| v.and_then(Candidate::parse))
    }

    /// `a=ice-ufrag`, falling back to the session level.
    pub fn ice_ufrag(&self) -> Option<&'a [u8]> {
        self.attr(b"ice-ufrag")
            .flatten()
            .or_else(|| self.sdp.session().attr(b"ice-ufrag").flatten())
    }

    /// `a=ice-pwd`, falling back to the session level.
    pub fn ice_pwd(&self) -> Option<&'a [u8]> {
        self.attr(b"ice-pwd")
            .flatten()
            .or_else(|| self.sdp.session().attr(b"ice-pwd").flatten())
    }

    pub fn rtcp_mux(&self) -> bool {
        self.has_attr(b"rtcp-mux")
    }

    /// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
    pub fn rtcp(&self) -> Option<(u16, Option<&'a [u8]>)> {
        let v = self.attr(b"rtcp").flatten()?;
        let mut it = v.split(|&b| b == b' ').filter(|s| !s.is_empty());
        let port = parse_u16(it.next()?)?;
        let addr = it.nth(2);
        Some((port, addr))
    }

    /// Media direction attribute (`sendrecv`, `sendonly`, `recvonly`, `inactive`), if any here.
    pub fn direction(&self) -> Option<&'a [u8]> {
        self.attrs()
            .map(|(n, _)| n)
            .find(|n| matches!(*n, b"sendrecv" | b"sendonly" | b"recvonly" | b"inactive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const WEBRTC: &[u8] = b"v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=ice-ufrag:F7gI\r\n\
a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n\
m=audio 54400 RTP/SAVPF 111 0\r\n\
c=IN IP4 127.0.0.5\r\n\
a=rtcp:54401 IN IP4 127.0.0.5\r\n\
a=candidate:1 1 UDP 2130706431 127.0.0.5 54400 typ host\r\n\
a=candidate:2 1 UDP 1694498815 127.0.0.9 61000 typ srflx raddr 127.0.0.5 rport 54400\r\n\
a=rtcp-mux\r\n\
a=sendrecv\r\n\
m=video 0 RTP/AVP 31\n\
a=ice-ufrag:Vid1\n";

    #[test]
    fn parses_sections_and_ice() {
        let sdp = Sdp::parse(WEBRTC).unwrap();
        let o = sdp.origin().unwrap();
        assert_eq!(o.sess_version, 2);
        assert_eq!(o.addr, b"127.0.0.1");
        assert_eq!(sdp.media_count(), 2);
        let a = sdp.media(0).unwrap();
        let m = a.media().unwrap();
        assert_eq!(
            (m.media, m.port, m.proto),
            (&b"audio"[..], 54400, &b"RTP/SAVPF"[..])
        );
        assert_eq!(m.fmt_list().collect::<Vec<_>>(), vec![&b"111"[..], b"0"]);
        assert_eq!(a.connection().unwrap().addr, b"127.0.0.5");
        assert_eq!(a.rtcp(), Some((54401, Some(&b"127.0.0.5"[..]))));
        assert!(a.rtcp_mux());
        assert_eq!(a.direction(), Some(&b"sendrecv"[..]));
        assert_eq!(a.ice_ufrag(), Some(&b"F7gI"[..]));
        assert_eq!(a.ice_pwd(), Some(&b"x9cml/YzichV2+XlhiMu8g"[..]));
        let c: Vec<_> = a.candidates().collect();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].typ, b"srflx");
        assert_eq!(c[1].raddr, Some(&b"127.0.0.5"[..]));
        assert_eq!(c[1].rport, Some(54400));
        let v = sdp.media(1).unwrap();
        assert_eq!(v.media().unwrap().port, 0);
        assert_eq!(v.ice_ufrag(), Some(&b"Vid1"[..]));
        assert_eq!(v.ice_pwd(), Some(&b"x9cml/YzichV2+XlhiMu8g"[..]));
        assert!(v.connection().is_none());
        assert!(v.effective_connection().is_none());
    }

    #[test]
    fn rejects_malformed_sdp() {
        assert!(Sdp::parse(b"o=x\r\n").is_err());
        assert!(Sdp::parse(b"v=0\r\nm =video 3227 RTP/AVP 31\r\n").is_err());
        assert!(Sdp::parse(b"v=0\r\nm=audio port RTP/AVP 0\r\n").is_err());
        assert!(Sdp::parse(b"v=0\r\n\r\nm=audio 1 RTP/AVP 0\r\n").is_err());
    }
}
