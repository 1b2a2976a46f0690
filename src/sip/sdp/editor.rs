//! Line-level SDP editing: replace, remove or insert lines, plus the rewrites a proxy does for
//! NAT traversal and media relay (connection address, media port, `a=rtcp`, origin address).
//! Untouched lines are copied byte for byte.

use super::lines::{Sdp, Section};

#[derive(Debug, Clone)]
enum Op {
    Replace(Vec<u8>),
    Remove,
}

/// Records edits against a parsed [`Sdp`] and writes the new body with [`SdpEditor::finish`].
#[derive(Debug, Clone)]
pub struct SdpEditor<'s, 'a> {
    sdp: &'s Sdp<'a>,
    /// Per line: replacement or removal.
    ops: Vec<Option<Op>>,
    /// Lines inserted after line `i` (`usize::MAX` = before the first line is never used).
    inserts: Vec<(usize, Vec<u8>)>,
}

/// Position of a line type in the order RFC 8866 §5 requires.
fn kind_rank(kind: u8) -> usize {
    b"vosiuepcbtrzkam"
        .iter()
        .position(|&k| k == kind)
        .unwrap_or(usize::MAX)
}

fn addrtype(addr: &str) -> &'static str {
    if addr.contains(':') { "IP6" } else { "IP4" }
}

impl<'s, 'a> SdpEditor<'s, 'a> {
    pub fn new(sdp: &'s Sdp<'a>) -> Self {
        Self {
            sdp,
            ops: vec![None; sdp.lines.len()],
            inserts: Vec::new(),
        }
    }

    fn section(&self, media: Option<usize>) -> Option<Section<'s, 'a>> {
        match media {
            None => Some(self.sdp.session()),
            Some(i) => self.sdp.media(i),
        }
    }

    /// Replaces line `index` with `kind=value`.
    pub fn replace_line(&mut self, index: usize, kind: u8, value: &[u8]) {
        if let Some(op) = self.ops.get_mut(index) {
            let mut l = vec![kind, b'='];
            l.extend_from_slice(value);
            *op = Some(Op::Replace(l));
        }
    }

    pub fn remove_line(&mut self, index: usize) {
        if let Some(op) = self.ops.get_mut(index) {
            *op = Some(Op::Remove);
        }
    }

    /// Inserts `kind=value` after line `index`.
    pub fn insert_after(&mut self, index: usize, kind: u8, value: &[u8]) {
        let mut l = vec![kind, b'='];
        l.extend_from_slice(value);
        self.inserts.push((index, l));
    }

    /// Sets the address of the `c=` line of a section (`None` = session level), adding a `c=`
    /// line when the section has none. Returns false when the section does not exist.
    pub fn set_connection(&mut self, media: Option<usize>, addr: &str) -> bool {
        let Some(sec) = self.section(media) else {
            return false;
        };
        let value = format!("IN {} {}", addrtype(addr), addr);
        match sec.line_index(b'c') {
            Some(i) => self.replace_line(i, b'c', value.as_bytes()),
            None => {
                // c= goes after m= (media) or before t= (session: after o=, s=, i=, u=, e=, p=).
                let after = match media {
                    Some(_) => sec.first,
                    None => sec
                        .lines()
                        .iter()
                        .rposition(|l| {
                            matches!(l.kind, b'v' | b'o' | b's' | b'i' | b'u' | b'e' | b'p')
                        })
                        .unwrap_or(0),
                };
                self.insert_after(after, b'c', value.as_bytes());
            }
        }
        true
    }

    /// Sets the address of `o=`.
    pub fn set_origin_addr(&mut self, addr: &str) -> bool {
        let Some(o) = self.sdp.origin() else {
            return false;
        };
        let Some(i) = self.sdp.session().line_index(b'o') else {
            return false;
        };
        let mut v = Vec::new();
        for part in [o.username, o.sess_id] {
            v.extend_from_slice(part);
            v.push(b' ');
        }
        v.extend_from_slice(o.sess_version.to_string().as_bytes());
        v.extend_from_slice(b" IN ");
        v.extend_from_slice(addrtype(addr).as_bytes());
        v.push(b' ');
        v.extend_from_slice(addr.as_bytes());
        self.replace_line(i, b'o', &v);
        true
    }

    /// Sets the port of media section `media` (keeps `/<number of ports>`).
    pub fn set_media_port(&mut self, media: usize, port: u16) -> bool {
        let Some(sec) = self.sdp.media(media) else {
            return false;
        };
        let Some(m) = sec.media() else { return false };
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(m.media);
        v.push(b' ');
        v.extend_from_slice(port.to_string().as_bytes());
        if let Some(n) = m.num_ports {
            v.push(b'/');
            v.extend_from_slice(n.to_string().as_bytes());
        }
        v.push(b' ');
        v.extend_from_slice(m.proto);
        v.push(b' ');
        v.extend_from_slice(m.fmts);
        self.replace_line(sec.first, b'm', &v);
        true
    }

    /// Sets (or adds) `a=rtcp:<port>[ IN IP4 <addr>]` in media section `media`.
    pub fn set_rtcp(&mut self, media: usize, port: u16, addr: Option<&str>) -> bool {
        let Some(sec) = self.sdp.media(media) else {
            return false;
        };
        let mut v = format!("rtcp:{port}");
        if let Some(a) = addr {
            v.push_str(&format!(" IN {} {}", addrtype(a), a));
        }
        let existing = sec
            .lines()
            .iter()
            .position(|l| l.kind == b'a' && l.value.starts_with(b"rtcp:"))
            .map(|i| i + sec.first);
        match existing {
            Some(i) => self.replace_line(i, b'a', v.as_bytes()),
            None => {
                let after = sec.line_index(b'c').unwrap_or(sec.first);
                self.insert_after(after, b'a', v.as_bytes());
            }
        }
        true
    }

    /// Removes every `a=<name>` / `a=<name>:...` line of a section; returns how many.
    pub fn remove_attr(&mut self, media: Option<usize>, name: &[u8]) -> usize {
        let Some(sec) = self.section(media) else {
            return 0;
        };
        let idx: Vec<usize> = sec
            .lines()
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.kind == b'a'
                    && l.value.starts_with(name)
                    && matches!(l.value.get(name.len()), None | Some(b':'))
            })
            .map(|(i, _)| i + sec.first)
            .collect();
        for &i in &idx {
            self.remove_line(i);
        }
        idx.len()
    }

    /// Appends `a=<value>` at the end of a section.
    pub fn add_attr(&mut self, media: Option<usize>, value: &[u8]) -> bool {
        let Some(sec) = self.section(media) else {
            return false;
        };
        self.insert_after(sec.end.saturating_sub(1), b'a', value);
        true
    }

    /// Writes the edited SDP.
    pub fn finish(&self) -> Vec<u8> {
        let raw = self.sdp.raw;
        let mut out = Vec::with_capacity(raw.len() + 64);
        let n = self.sdp.lines.len();
        for (i, l) in self.sdp.lines.iter().enumerate() {
            match &self.ops[i] {
                Some(Op::Remove) => {}
                Some(Op::Replace(text)) => {
                    out.extend_from_slice(text);
                    out.extend_from_slice(if l.eol == 1 { b"\n" } else { b"\r\n" });
                }
                None => {
                    out.extend_from_slice(&raw[l.start..l.end]);
                    if l.eol == 0 && (i + 1 < n || self.inserts.iter().any(|(a, _)| *a == i)) {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            let mut here: Vec<&Vec<u8>> = self
                .inserts
                .iter()
                .filter(|(a, _)| *a == i)
                .map(|(_, t)| t)
                .collect();
            here.sort_by_key(|t| kind_rank(t[0]));
            for text in here {
                out.extend_from_slice(text);
                out.extend_from_slice(if l.eol == 1 { b"\n" } else { b"\r\n" });
            }
        }
        if let Some(last) = self.sdp.lines.last() {
            out.extend_from_slice(&raw[last.end..]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines::Sdp;
    use super::*;

    const OFFER: &[u8] =
        b"v=0\r\no=alice 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 8\r\na=rtcp:49171\r\na=sendrecv\r\nm=video 51372/2 RTP/AVP 31\r\n";

    #[test]
    fn untouched_sdp_is_identical() {
        let sdp = Sdp::parse(OFFER).unwrap();
        assert_eq!(SdpEditor::new(&sdp).finish(), OFFER);
    }

    #[test]
    fn rewrites_for_media_relay() {
        let sdp = Sdp::parse(OFFER).unwrap();
        let mut e = SdpEditor::new(&sdp);
        assert!(e.set_connection(None, "127.0.0.10"));
        assert!(e.set_origin_addr("127.0.0.10"));
        assert!(e.set_media_port(0, 30000));
        assert!(e.set_rtcp(0, 30001, Some("127.0.0.10")));
        assert!(e.set_media_port(1, 30002));
        assert!(e.set_rtcp(1, 30003, None));
        assert!(e.set_connection(Some(1), "::1"));
        assert_eq!(e.remove_attr(Some(0), b"sendrecv"), 1);
        assert!(e.add_attr(Some(0), b"nortpproxy:yes"));
        let out = e.finish();
        let expected =
            b"v=0\r\no=alice 1 1 IN IP4 127.0.0.10\r\ns=-\r\nc=IN IP4 127.0.0.10\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 8\r\na=rtcp:30001 IN IP4 127.0.0.10\r\na=nortpproxy:yes\r\n\
m=video 30002/2 RTP/AVP 31\r\nc=IN IP6 ::1\r\na=rtcp:30003\r\n";
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
        let again = Sdp::parse(&out).unwrap();
        assert_eq!(again.media(1).unwrap().rtcp(), Some((30003, None)));
    }
}
