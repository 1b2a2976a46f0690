//! The RTPProxy control protocol ("classic" text protocol, as OpenSIPS `rtpproxy.c` speaks it):
//! the script's one-letter flags turned into command modifiers, the `U` / `L` / `D` / `V`
//! command lines, and the replies (`<port> [<ip>]`, `E<n>`).

/// What the script's flag string asks for (OpenSIPS `force_rtp_proxy_body`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// Modifiers for the command letter (`A`, `I`, `E`, `S`, unknown letters passed on).
    pub modifiers: String,
    /// `a`: asymmetric UA (send to the SDP address, not the source address).
    pub asymmetric: bool,
    /// `l`: lookup only (answer side even for an offer).
    pub lookup: bool,
    /// `f`: ignore an earlier proxy's `a=nortpproxy:yes` mark.
    pub force: bool,
    /// `r`: trust the SDP address.
    pub real: bool,
    /// `o`: rewrite `o=` too.
    pub origin: bool,
    /// `c`: rewrite the session-level `c=` (media-level ones are always rewritten).
    pub session_conn: bool,
    /// `k`: keep the body (ask the proxy, change nothing).
    pub keep_body: bool,
    /// `z<N>` repacketize, `t<N>`/`T<N>` TTL: extra modifiers after the first group.
    pub extra: String,
}

/// Parses flags such as `"rco"`, `"ei"`, `"z20"`; unknown letters are passed to the proxy as
/// OpenSIPS does (with a warning).
pub fn parse_flags(text: &str) -> Flags {
    let mut f = Flags::default();
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let digits = |i: &mut usize| {
            let mut d = String::new();
            while *i + 1 < b.len() && b[*i + 1].is_ascii_digit() {
                *i += 1;
                d.push(b[*i]);
            }
            d
        };
        match c.to_ascii_lowercase() {
            'a' => {
                f.modifiers.push('A');
                f.asymmetric = true;
                f.real = true;
            }
            'i' => f.modifiers.push('I'),
            'e' => f.modifiers.push('E'),
            'l' => f.lookup = true,
            'k' => f.keep_body = true,
            'f' => f.force = true,
            'r' => f.real = true,
            'c' => f.session_conn = true,
            'o' => f.origin = true,
            's' | 'w' => f.modifiers.push('S'),
            'z' => {
                let d = digits(&mut i);
                f.extra.push('Z');
                f.extra.push_str(&d);
            }
            't' => {
                let d = digits(&mut i);
                f.extra.push(c);
                f.extra.push_str(&d);
            }
            // DTMF and notification need a dialog and a notify socket: not sent.
            'd' => {
                digits(&mut i);
            }
            'n' => {
                if b.get(i + 1) == Some(&'<') {
                    while i < b.len() && b[i] != '>' {
                        i += 1;
                    }
                }
            }
            ' ' | ',' => {}
            _ => {
                tracing::warn!("rtpproxy: unknown option `{c}`");
                f.modifiers.push(c);
            }
        }
        i += 1;
    }
    f
}

/// `U` (create / update, the offer side) or `L` (lookup, the answer side) for one media stream.
/// `tags` = (from_tag, to_tag) as sent (already swapped for the answering side); `medianum`
/// counts streams from 1; `ipv6` adds the `6` modifier.
#[allow(clippy::too_many_arguments)]
pub fn update(
    create: bool,
    flags: &Flags,
    ipv6: bool,
    call_id: &str,
    ip: &str,
    port: u16,
    tags: (&str, Option<&str>),
    medianum: usize,
) -> String {
    let mut s = String::with_capacity(96);
    s.push(if create { 'U' } else { 'L' });
    s.push_str(&flags.modifiers);
    if ipv6 {
        s.push('6');
    }
    s.push_str(&flags.extra);
    s.push(' ');
    s.push_str(call_id);
    s.push(' ');
    s.push_str(ip);
    s.push(' ');
    s.push_str(&port.to_string());
    s.push(' ');
    s.push_str(tags.0);
    s.push(';');
    s.push_str(&medianum.to_string());
    if let Some(t) = tags.1.filter(|t| !t.is_empty()) {
        s.push(' ');
        s.push_str(t);
        s.push(';');
        s.push_str(&medianum.to_string());
    }
    s
}

/// `D <callid> <from_tag> [<to_tag>]`: deletes the session.
pub fn delete(call_id: &str, from_tag: &str, to_tag: Option<&str>) -> String {
    match to_tag.filter(|t| !t.is_empty()) {
        Some(t) => format!("D {call_id} {from_tag} {t}"),
        None => format!("D {call_id} {from_tag}"),
    }
}

/// The base protocol version every RTPProxy answers to `V`.
pub const BASE_VERSION: &str = "20040107";
/// The capability OpenSIPS requires (`VF 20050322`).
pub const REQUIRED_CAP: &str = "20050322";

/// What the proxy answered to `U` / `L`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    pub port: u16,
    /// The address to advertise, when the proxy gave one.
    pub ip: Option<String>,
}

/// Parses a `U`/`L` reply; `E<n>` and port 0 are errors.
pub fn parse_update_reply(reply: &str) -> Result<Allocated, String> {
    let mut it = reply.split_whitespace();
    let first = it.next().ok_or("empty reply")?;
    if let Some(code) = first.strip_prefix('E') {
        return Err(format!("rtpproxy error E{code}"));
    }
    let port: u16 = first
        .parse()
        .map_err(|_| format!("bad port `{first}` in reply"))?;
    if port == 0 {
        return Err("rtpproxy has no session for this call (port 0)".into());
    }
    Ok(Allocated {
        port,
        ip: it.next().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_modifiers() {
        let f = parse_flags("aie");
        assert_eq!(f.modifiers, "AIE");
        assert!(f.asymmetric && f.real);
        let f = parse_flags("rcofkl");
        assert_eq!(f.modifiers, "");
        assert!(f.real && f.session_conn && f.origin && f.force && f.keep_body && f.lookup);
        let f = parse_flags("z20t5sw");
        assert_eq!(f.modifiers, "SS");
        assert_eq!(f.extra, "Z20t5");
        assert_eq!(parse_flags("n<udp:127.0.0.1:9>d101x").modifiers, "x");
    }

    #[test]
    fn update_lines() {
        let f = parse_flags("a");
        assert_eq!(
            update(true, &f, false, "cid@h", "127.0.0.2", 4000, ("ft", None), 1),
            "UA cid@h 127.0.0.2 4000 ft;1"
        );
        assert_eq!(
            update(
                false,
                &Flags::default(),
                true,
                "c",
                "::1",
                5,
                ("tt", Some("ft")),
                2
            ),
            "L6 c ::1 5 tt;2 ft;2"
        );
        let z = parse_flags("z30");
        assert_eq!(
            update(true, &z, false, "c", "127.0.0.1", 1, ("a", Some("")), 1),
            "UZ30 c 127.0.0.1 1 a;1"
        );
    }

    #[test]
    fn delete_lines() {
        assert_eq!(delete("c", "f", None), "D c f");
        assert_eq!(delete("c", "f", Some("t")), "D c f t");
    }

    #[test]
    fn replies() {
        assert_eq!(
            parse_update_reply("35000 127.0.0.1\n").unwrap(),
            Allocated {
                port: 35000,
                ip: Some("127.0.0.1".into())
            }
        );
        assert_eq!(parse_update_reply("35002").unwrap().ip, None);
        assert!(parse_update_reply("E8").unwrap_err().contains("E8"));
        assert!(parse_update_reply("0").is_err());
        assert!(parse_update_reply("").is_err());
        assert!(parse_update_reply("x").is_err());
    }
}
