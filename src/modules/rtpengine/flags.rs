//! The script's flag string (`"trust-address replace-origin ICE=remove RTP/AVP"`) turned into an
//! ng request dictionary, following OpenSIPS `parse_flags` / `rtpe_function_call`: known tokens
//! go to their own keys (`replace`, `direction`, `transport-protocol`, `rtcp-mux`, ...), other bare
//! tokens to the `flags` list and other `key=value` tokens to `key` in the dictionary.

use std::net::IpAddr;

use super::bencode::Bencode;

/// An ng command sent for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Offer,
    Answer,
    Delete,
    Query,
}

impl Op {
    pub fn command(self) -> &'static str {
        match self {
            Op::Offer => "offer",
            Op::Answer => "answer",
            Op::Delete => "delete",
            Op::Query => "query",
        }
    }
}

/// What the request needs from the SIP message.
#[derive(Debug, Clone, Default)]
pub struct MsgIds {
    pub is_request: bool,
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    /// Branch of the first and second Via.
    pub via1_branch: Option<String>,
    pub via2_branch: Option<String>,
    pub src_ip: Option<IpAddr>,
}

const TRANSPORTS: [&str; 6] = [
    "RTP/AVP",
    "RTP/SAVP",
    "RTP/AVPF",
    "RTP/SAVPF",
    "UDP/TLS/RTP/SAVP",
    "UDP/TLS/RTP/SAVPF",
];

#[derive(Default)]
struct Parsed {
    dict: Bencode,
    flags: Vec<String>,
    replace: Vec<String>,
    rtcp_mux: Vec<String>,
    direction: Vec<String>,
    /// 0x100 = set; low bits index TRANSPORTS.
    transport: u16,
    to: bool,
    to_tag: Option<String>,
    from_tag: Option<String>,
    call_id: Option<String>,
    /// 1, 2, 3 = auto.
    via: u8,
}

/// Builds the request for `op` (which `force-answer` may turn into an answer) with `sdp`.
pub fn build<'f>(
    mut op: Op,
    flags: &'f str,
    ids: &MsgIds,
    sdp: Option<&[u8]>,
) -> Result<(Op, Bencode), String> {
    let mut p = Parsed {
        to: op != Op::Delete,
        ..Parsed::default()
    };
    let mut iniface: Option<String> = None;
    let mut outiface: Option<String> = None;
    let sdp_op = matches!(op, Op::Offer | Op::Answer);
    for tok in flags.split_whitespace() {
        let (key, val) = match tok.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (tok, None),
        };
        let need = |v: Option<&'f str>| v.ok_or_else(|| format!("flag `{key}` needs a value"));
        match key {
            "RTP" => p.transport = (p.transport | 0x100) & !0x001,
            "AVP" => p.transport = (p.transport | 0x100) & !0x002,
            "SRTP" => p.transport |= 0x101,
            "AVPF" => p.transport |= 0x102,
            "RTP/AVP" => p.transport = 0x100,
            "RTP/SAVP" => p.transport = 0x101,
            "RTP/AVPF" => p.transport = 0x102,
            "RTP/SAVPF" => p.transport = 0x103,
            "UDP/TLS/RTP/SAVP" => p.transport = 0x104,
            "UDP/TLS/RTP/SAVPF" => p.transport = 0x105,
            "to-tag" => {
                if let Some(v) = val {
                    p.to_tag = Some(v.to_string());
                }
                p.to = true;
            }
            "call-id" | "callid" => p.call_id = Some(need(val)?.to_string()),
            "from-tag" => p.from_tag = Some(need(val)?.to_string()),
            "internal" | "external" if val.is_none() => {
                if iniface.is_some() {
                    outiface = Some(key.to_string());
                } else {
                    iniface = Some(key.to_string());
                }
            }
            "in-iface" => iniface = Some(need(val)?.to_string()),
            "out-iface" => outiface = Some(need(val)?.to_string()),
            "direction" => p.direction.push(need(val)?.to_string()),
            "via-branch" => {
                p.via = match need(val)? {
                    "1" => 1,
                    "2" => 2,
                    "auto" => 3,
                    v => return Err(format!("flag via-branch: bad value `{v}`")),
                }
            }
            "repacketize" => {
                let n: i64 = need(val)?.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("flag repacketize: bad value `{}`", val.unwrap_or(""))
                })?;
                p.dict.insert("repacketize", Bencode::Int(n));
            }
            "delete-delay" => {
                let n: i64 = need(val)?
                    .parse()
                    .map_err(|_| format!("flag delete-delay: bad value `{}`", val.unwrap_or("")))?;
                p.dict.insert("delete-delay", Bencode::Int(n));
            }
            "force-answer" => {
                if op != Op::Offer {
                    return Err("force-answer is only allowed in an offer".into());
                }
                op = Op::Answer;
            }
            "address-family" => match need(val)? {
                v @ ("IP4" | "IP6") => p.dict.insert("address family", Bencode::str(v)),
                v => return Err(format!("flag address-family: bad value `{v}` (IP4 or IP6)")),
            },
            "replace-origin" if sdp_op => p.replace.push("origin".into()),
            "replace-session-connection" if sdp_op => p.replace.push("session-connection".into()),
            "replace-zero-address" if sdp_op => p.replace.push("zero-address".into()),
            "replace-origin" | "replace-session-connection" | "replace-zero-address" => {}
            k if k.starts_with("rtcp-mux-") && val.is_none() => {
                let m = &k["rtcp-mux-".len()..];
                if !["offer", "demux", "accept", "reject", "require"].contains(&m) {
                    return Err(format!("unknown flag `{k}`"));
                }
                p.rtcp_mux.push(m.to_string());
            }
            _ => match val {
                None => p.flags.push(key.to_string()),
                Some(v) => p.dict.insert(key, Bencode::str(v)),
            },
        }
    }
    match (iniface, outiface) {
        (Some(i), Some(o)) => {
            p.direction.push(i);
            p.direction.push(o);
        }
        (Some(_), None) => return Err("in-iface given without out-iface".into()),
        (None, Some(_)) => return Err("out-iface given without in-iface".into()),
        (None, None) => {}
    }
    if p.direction.len() % 2 == 1 {
        return Err("direction needs two interfaces".into());
    }

    let mut d = std::mem::take(&mut p.dict);
    if let (true, Some(sdp)) = (matches!(op, Op::Offer | Op::Answer), sdp) {
        d.insert("sdp", Bencode::Bytes(sdp.to_vec()));
    }
    for (k, l) in [
        ("direction", &p.direction),
        ("flags", &p.flags),
        ("replace", &p.replace),
        ("rtcp-mux", &p.rtcp_mux),
    ] {
        if !l.is_empty() {
            d.insert(k, Bencode::list_of(l));
        }
    }
    if p.transport & 0x100 != 0 {
        d.insert(
            "transport-protocol",
            Bencode::str(TRANSPORTS[(p.transport & 0x7) as usize % TRANSPORTS.len()]),
        );
    }
    let call_id = p.call_id.unwrap_or_else(|| ids.call_id.clone());
    if call_id.is_empty() {
        return Err("no Call-ID".into());
    }
    d.insert("call-id", Bencode::str(&call_id));
    if p.via != 0 {
        let which = match p.via {
            3 if ids.is_request => 1,
            3 => 2,
            v => v,
        };
        let b = if which == 1 {
            &ids.via1_branch
        } else {
            &ids.via2_branch
        };
        let b = b
            .as_deref()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("no branch in Via {which}"))?;
        d.insert("via-branch", Bencode::str(b));
    }
    if let Some(ip) = ids.src_ip {
        let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
        d.insert(
            "received-from",
            Bencode::list_of([fam.to_string(), ip.to_string()]),
        );
    }
    let from_tag = p.from_tag.unwrap_or_else(|| ids.from_tag.clone());
    if from_tag.is_empty() {
        return Err("no From tag".into());
    }
    let to_tag = p
        .to_tag
        .or_else(|| ids.to_tag.clone())
        .filter(|t| !t.is_empty());
    // The callee's side names its own tag first: an answer in a request (ACK / PRACK with SDP),
    // an offer in a reply (late offer in a 200), a query from a reply.
    let callee_side = if ids.is_request {
        op == Op::Answer
    } else {
        matches!(op, Op::Offer | Op::Query)
    };
    if callee_side {
        let to = to_tag.ok_or("no To tag")?;
        d.insert("from-tag", Bencode::str(&to));
        d.insert("to-tag", Bencode::str(&from_tag));
    } else {
        d.insert("from-tag", Bencode::str(&from_tag));
        if let (true, Some(t)) = (p.to, to_tag) {
            d.insert("to-tag", Bencode::str(&t));
        }
    }
    d.insert("command", Bencode::str(op.command()));
    Ok((op, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(req: bool) -> MsgIds {
        MsgIds {
            is_request: req,
            call_id: "c1@127.0.0.1".into(),
            from_tag: "ft".into(),
            to_tag: (!req).then(|| "tt".to_string()),
            via1_branch: Some("z9hG4bK1".into()),
            via2_branch: Some("z9hG4bK2".into()),
            src_ip: Some("127.0.0.2".parse().unwrap()),
        }
    }

    fn s(d: &Bencode, k: &str) -> Option<String> {
        d.get_str(k)
    }

    fn list(d: &Bencode, k: &str) -> Vec<String> {
        match d.get(k) {
            Some(Bencode::List(l)) => l.iter().filter_map(Bencode::as_str).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn offer_with_the_flags_of_the_reference() {
        let (op, d) = build(
            Op::Offer,
            "trust-address replace-origin replace-session-connection ICE=remove RTP/SAVP DTLS=off \
             SDES-off in-iface=pub out-iface=priv address-family=IP4 record-call=yes \
             rtcp-mux-demux via-branch=1 delete-delay=5 symmetric",
            &ids(true),
            Some(b"v=0\r\n"),
        )
        .unwrap();
        assert_eq!(op, Op::Offer);
        assert_eq!(s(&d, "command").as_deref(), Some("offer"));
        assert_eq!(s(&d, "sdp").as_deref(), Some("v=0\r\n"));
        assert_eq!(s(&d, "call-id").as_deref(), Some("c1@127.0.0.1"));
        assert_eq!(s(&d, "from-tag").as_deref(), Some("ft"));
        assert!(d.get("to-tag").is_none());
        assert_eq!(s(&d, "ICE").as_deref(), Some("remove"));
        assert_eq!(s(&d, "DTLS").as_deref(), Some("off"));
        assert_eq!(s(&d, "record-call").as_deref(), Some("yes"));
        assert_eq!(s(&d, "transport-protocol").as_deref(), Some("RTP/SAVP"));
        assert_eq!(s(&d, "address family").as_deref(), Some("IP4"));
        assert_eq!(s(&d, "via-branch").as_deref(), Some("z9hG4bK1"));
        assert_eq!(d.get("delete-delay"), Some(&Bencode::Int(5)));
        assert_eq!(
            list(&d, "flags"),
            ["trust-address", "SDES-off", "symmetric"]
        );
        assert_eq!(list(&d, "replace"), ["origin", "session-connection"]);
        assert_eq!(list(&d, "direction"), ["pub", "priv"]);
        assert_eq!(list(&d, "rtcp-mux"), ["demux"]);
        assert_eq!(list(&d, "received-from"), ["IP4", "127.0.0.2"]);
    }

    #[test]
    fn answer_in_a_reply_and_in_an_ack() {
        let (_, d) = build(Op::Answer, "", &ids(false), Some(b"v=0\r\n")).unwrap();
        assert_eq!(s(&d, "from-tag").as_deref(), Some("ft"));
        assert_eq!(s(&d, "to-tag").as_deref(), Some("tt"));
        let mut ack = ids(true);
        ack.to_tag = Some("tt".into());
        let (_, d) = build(Op::Answer, "", &ack, Some(b"v=0\r\n")).unwrap();
        assert_eq!(s(&d, "from-tag").as_deref(), Some("tt"));
        assert_eq!(s(&d, "to-tag").as_deref(), Some("ft"));
        assert!(build(Op::Answer, "", &ids(true), Some(b"")).is_err());
    }

    #[test]
    fn late_offer_in_a_reply_names_the_callee_first() {
        let (_, d) = build(Op::Offer, "", &ids(false), Some(b"v=0\r\n")).unwrap();
        assert_eq!(s(&d, "from-tag").as_deref(), Some("tt"));
        assert_eq!(s(&d, "to-tag").as_deref(), Some("ft"));
        let (_, d) = build(Op::Delete, "to-tag", &ids(false), None).unwrap();
        assert_eq!(s(&d, "from-tag").as_deref(), Some("ft"));
        assert_eq!(s(&d, "to-tag").as_deref(), Some("tt"));
    }

    #[test]
    fn any_flag_text_gives_a_request_or_an_error() {
        let mut seed = 7u32;
        let alphabet = b"=- aRTP/SVFIcefortgixn12";
        for _ in 0..3000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = (seed >> 24) as usize % 40;
            let text: String = (0..n)
                .map(|i| {
                    let k = (seed.rotate_left(i as u32 * 3) >> 8) as usize % alphabet.len();
                    alphabet[k] as char
                })
                .collect();
            for op in [Op::Offer, Op::Answer, Op::Delete, Op::Query] {
                if let Ok((_, d)) = build(op, &text, &ids(false), Some(b"x")) {
                    assert!(
                        d.get("call-id").is_some() && d.get("command").is_some(),
                        "{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn delete_names_the_whole_call_unless_to_tag_is_asked() {
        let mut bye = ids(true);
        bye.to_tag = Some("tt".into());
        let (_, d) = build(Op::Delete, "", &bye, None).unwrap();
        assert_eq!(s(&d, "command").as_deref(), Some("delete"));
        assert!(d.get("to-tag").is_none() && d.get("sdp").is_none());
        let (_, d) = build(Op::Delete, "to-tag replace-origin", &bye, None).unwrap();
        assert_eq!(s(&d, "to-tag").as_deref(), Some("tt"));
        assert!(d.get("replace").is_none());
    }

    #[test]
    fn force_answer_and_overrides() {
        let (op, d) = build(
            Op::Offer,
            "force-answer call-id=other from-tag=f2 to-tag=t2 via-branch=auto",
            &ids(false),
            Some(b"x"),
        )
        .unwrap();
        assert_eq!(op, Op::Answer);
        assert_eq!(s(&d, "command").as_deref(), Some("answer"));
        assert_eq!(s(&d, "call-id").as_deref(), Some("other"));
        assert_eq!(s(&d, "from-tag").as_deref(), Some("f2"));
        assert_eq!(s(&d, "to-tag").as_deref(), Some("t2"));
        assert_eq!(s(&d, "via-branch").as_deref(), Some("z9hG4bK2"));
    }

    #[test]
    fn bad_flags_are_named() {
        for (f, what) in [
            ("via-branch=7", "via-branch"),
            ("in-iface=a", "out-iface"),
            ("address-family=IP5", "address-family"),
            ("repacketize=x", "repacketize"),
            ("call-id", "call-id"),
            ("rtcp-mux-bogus", "rtcp-mux-bogus"),
        ] {
            let e = build(Op::Offer, f, &ids(true), Some(b"")).unwrap_err();
            assert!(e.contains(what), "{f}: {e}");
        }
        assert!(build(Op::Answer, "force-answer", &ids(false), None).is_err());
        let mut none = ids(true);
        none.from_tag.clear();
        assert!(build(Op::Offer, "", &none, Some(b"")).is_err());
    }
}
