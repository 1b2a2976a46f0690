//! `save()`: REGISTER processing (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 instance / reg-id).
//! Every contact of the request is checked before anything changes, so a refused request leaves
//! the bindings as they were.

use std::fmt::Write as _;

use crate::modules::usrloc::contact::{ALL_METHODS, Q_UNSPECIFIED, methods_mask, q_text};
use crate::modules::usrloc::{self, ContactInfo, Ucontact, UlError};
use crate::runtime::SipCtx;
use crate::sip::{Contact, HdrId};

use super::RegConfig;
use super::flags::{PathMode, SaveFlags};
use super::pn::{self, FL_PN_ON, PnAction};

/// A refusal: code, reason, P-Registrar-Error text and extra header lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub info: &'static str,
    pub headers: String,
}

fn refuse(code: u16, info: &'static str) -> Refusal {
    let reason = match code {
        400 => "Bad Request",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        500 => "Server Internal Error",
        555 => "Push Notification Service Not Supported",
        _ => "Service Unavailable",
    };
    Refusal {
        code,
        reason,
        info,
        headers: String::new(),
    }
}

fn ul_refusal(e: UlError) -> Refusal {
    tracing::error!("save: {e}");
    match e {
        UlError::Db(_) | UlError::NoDatabase => refuse(503, "usrloc database failure"),
        UlError::TooLong => refuse(400, "Contact/received too long"),
        _ => refuse(500, "usrloc_contact_insert failed"),
    }
}

/// `max_aor_len`, `max_username_len` and `max_domain_len` (OpenSIPS answers 500, R_AOR_LEN).
pub(super) fn check_aor_len(aor: &str, cfg: &RegConfig) -> Result<(), Refusal> {
    let (user, domain) = aor.rsplit_once('@').unwrap_or((aor, ""));
    if aor.len() > cfg.max_aor_len
        || user.len() > cfg.max_username_len
        || domain.len() > cfg.max_domain_len
    {
        return Err(refuse(500, "Address Of Record too long"));
    }
    Ok(())
}

/// `expires` moved by `delta` seconds (`expires_max_deviation`, against re-REGISTER storms after
/// a restart), kept within `min`..`max` (0 = no maximum).
pub(super) fn deviate(expires: u32, delta: i64, min: u32, max: u32) -> u32 {
    let mut e = (i64::from(expires) + delta).max(i64::from(min.max(1)));
    if max > 0 {
        e = e.min(i64::from(max));
    }
    e as u32
}

/// One Contact of the request, checked.
struct Plan {
    uri: String,
    /// Seconds; 0 removes the binding.
    expires: u32,
    q: i16,
    instance: Option<String>,
    reg_id: u32,
    methods: u32,
    /// RFC 8599: what the PN parameters of the Contact ask for.
    pn: PnAction,
}

impl Plan {
    /// The values of `pn_ct_match_params` this contact is matched by, instead of its URI.
    fn pn_key(&self) -> Option<&[String]> {
        match &self.pn {
            PnAction::On { key, .. } | PnAction::MatchOnly(key) => Some(key),
            _ => None,
        }
    }
}

/// Values the script gives `save()` through AVPs (`received_avp`, `attr_avp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptAvps {
    pub received: Option<String>,
    pub attr: Option<String>,
}

/// What the 200 OK carries.
#[derive(Debug)]
pub struct Accepted {
    pub headers: String,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `received` of a NATed UA: the script's received AVP, or with `path-received` the
/// `received` parameter of the first Path URI.
fn received_value(m: &SipCtx, flags: &SaveFlags, avp: Option<String>) -> Option<String> {
    if flags.path_received
        && let Some(Ok(first)) = m.msg.paths().next()
        && let Some(r) = first.uri.param(b"received")
    {
        let r = text(r);
        return Some(r.trim_matches('"').to_string());
    }
    avp.filter(|a| !a.is_empty())
}

fn socket_name(m: &SipCtx, flags: &SaveFlags, cfg: &RegConfig) -> Option<String> {
    if flags.socket_header
        && let Some(v) = m.msg.header_by_name(&cfg.sock_hdr_name)
    {
        return Some(text(v).trim().to_string());
    }
    received_socket(m)
}

/// The socket the message came in on, `proto:ip:port` (without its `as` advertised address).
pub fn received_socket(m: &SipCtx) -> Option<String> {
    let core = m.shared.core()?;
    let def = core.transport().socket(m.info.socket)?.to_string();
    Some(def.split(" as ").next().unwrap_or(&def).to_string())
}

/// Processes the REGISTER in `m` for `aor` on table `table`.
pub fn save(
    m: &SipCtx,
    cfg: &RegConfig,
    table: &str,
    flags: &SaveFlags,
    aor: &str,
    avps: ScriptAvps,
) -> Result<Accepted, Refusal> {
    let msg = &m.msg;
    check_aor_len(aor, cfg)?;
    let hdr_expires = match msg.expires() {
        None => None,
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => return Err(refuse(400, "Expires parse error")),
    };
    let mut contacts = Vec::new();
    for c in msg.contacts() {
        contacts.push(c.map_err(|_| refuse(400, "Contact parse error"))?);
    }
    let star = contacts.iter().any(|c| matches!(c, Contact::Star));
    if star && contacts.len() > 1 {
        return Err(refuse(400, "* used in contact and more than 1 contact"));
    }
    if star && hdr_expires != Some(0) {
        return Err(refuse(400, "* used in contact and expires is not zero"));
    }

    let min_expires = flags.min_expires.unwrap_or(cfg.min_expires);
    let max_expires = flags.max_expires.unwrap_or(cfg.max_expires);
    let allow = {
        let lines: Vec<String> = msg.headers_of(HdrId::Allow).map(text).collect();
        (!lines.is_empty()).then(|| methods_mask(&lines.join(",")))
    };
    // OpenSIPS skips the PN processing when save() enforces a matching mode.
    let pn_on = cfg.pn.enable && flags.matching_mode.is_none();
    let upstream = if pn_on {
        pn::upstream_pns(msg.headers_by_name("Feature-Caps"))
    } else {
        Vec::new()
    };
    let mut plans = Vec::new();
    for c in &contacts {
        let Some(addr) = c.addr() else { continue };
        let mut expires = c.expires().or(hdr_expires).unwrap_or(cfg.default_expires);
        if expires > 0 && expires < min_expires {
            let mut r = refuse(423, "Interval Too Brief");
            r.headers = format!("Min-Expires: {min_expires}\r\n");
            return Err(r);
        }
        if max_expires > 0 && expires > max_expires {
            expires = max_expires;
        }
        if expires > 0 && cfg.expires_max_deviation > 0 {
            let d = i64::from(cfg.expires_max_deviation);
            expires = deviate(
                expires,
                rand::random_range(-d..=d),
                min_expires,
                max_expires,
            );
        }
        let methods = allow
            .or_else(|| {
                addr.params
                    .value(b"methods")
                    .map(|v| methods_mask(text(v).trim_matches('"')))
            })
            .unwrap_or(ALL_METHODS);
        if addr.uri.raw.len() > cfg.max_contact_len {
            return Err(refuse(400, "Contact/received too long"));
        }
        let pn = if pn_on {
            pn::inspect(&cfg.pn, &addr.uri, &upstream)
        } else {
            PnAction::None
        };
        if pn == PnAction::Unsupported {
            return Err(refuse(555, "Unsupported PNS"));
        }
        plans.push(Plan {
            pn,
            uri: text(addr.uri.raw),
            expires,
            q: c.q().map(|q| q as i16).unwrap_or(cfg.default_q),
            instance: c.instance().map(text),
            reg_id: c.reg_id().unwrap_or(0),
            methods,
        });
    }

    let path = if flags.path == PathMode::Ignore {
        None
    } else {
        let lines: Vec<String> = msg.headers_of(HdrId::Path).map(text).collect();
        (!lines.is_empty()).then(|| lines.join(","))
    };
    let path_supported = msg.has_token(HdrId::Supported, b"path");
    if path.is_some() && flags.path == PathMode::Strict && !path_supported {
        let mut r = refuse(420, "No support for found Path indicated");
        r.headers = "Unsupported: path\r\n".into();
        return Err(r);
    }

    let dom = usrloc::domain(table).map_err(ul_refusal)?;
    let matching = flags.matching_mode.unwrap_or_else(ul_matching_mode);
    let mut g = dom.lock(aor, !flags.memory_only).map_err(ul_refusal)?;
    let now = usrloc::now();
    let callid = text(msg.call_id());
    let cseq = msg.cseq().num;
    let received = received_value(m, flags, avps.received);
    let attr = avps.attr.filter(|a| !a.is_empty());
    let socket = socket_name(m, flags, cfg);
    let user_agent: String = msg
        .user_agent()
        .map(text)
        .unwrap_or_default()
        .chars()
        .take(255)
        .collect();

    if star {
        g.delete_all().map_err(ul_refusal)?;
        return Ok(Accepted {
            headers: String::new(),
        });
    }

    // Which existing binding each contact updates (None: a new one).
    let find = |cs: &[Ucontact], p: &Plan| -> Option<u64> {
        if let Some(key) = p.pn_key() {
            return cs
                .iter()
                .find(|c| cfg.pn.match_key_of(c.contact()).as_deref() == Some(key))
                .map(|c| c.contact_id);
        }
        cs.iter()
            .find(|c| match &p.instance {
                Some(i) => {
                    c.instance() == Some(i.as_str()) && (p.reg_id == 0 || c.reg_id == p.reg_id)
                }
                None => c.contact() == p.uri && (matching == 0 || c.callid() == callid),
            })
            .map(|c| c.contact_id)
    };

    // max_contacts counts the bindings valid after this request.
    let max = flags.max_contacts.unwrap_or(cfg.max_contacts);
    if max > 0 {
        let mut valid: Vec<u64> = g
            .contacts()
            .iter()
            .filter(|c| c.is_valid(now))
            .map(|c| c.contact_id)
            .collect();
        let mut new = 0usize;
        for p in &plans {
            match find(g.contacts(), p) {
                Some(id) if p.expires == 0 => valid.retain(|v| *v != id),
                Some(_) => {}
                None if p.expires > 0 => new += 1,
                None => {}
            }
        }
        let total = valid.len() + new;
        if total > max as usize {
            if !flags.force_registration || new > max as usize {
                return Err(refuse(503, "Too many registered contacts"));
            }
            // Make room by dropping the oldest bindings this request does not refresh.
            let touched: Vec<u64> = plans.iter().filter_map(|p| find(g.contacts(), p)).collect();
            let mut old: Vec<(i64, u64)> = g
                .contacts()
                .iter()
                .filter(|c| c.is_valid(now) && !touched.contains(&c.contact_id))
                .map(|c| (c.last_modified, c.contact_id))
                .collect();
            old.sort();
            for (_, id) in old.into_iter().take(total - max as usize) {
                g.delete(id).map_err(ul_refusal)?;
            }
        }
    }

    for p in &plans {
        let existing = find(g.contacts(), p);
        let ci = ContactInfo {
            contact: &p.uri,
            received: received.as_deref(),
            path: path.as_deref(),
            callid: &callid,
            user_agent: &user_agent,
            socket: socket.as_deref(),
            instance: p.instance.as_deref(),
            attr: attr.as_deref(),
            kv_store: None,
            expires: if p.expires == 0 {
                0
            } else {
                now + i64::from(p.expires)
            },
            q: p.q,
            cseq,
            flags: if matches!(p.pn, PnAction::On { .. }) {
                FL_PN_ON
            } else {
                0
            },
            cflags: m.bflags,
            methods: p.methods,
            reg_id: p.reg_id,
            last_modified: now,
        };
        match existing {
            Some(id) => {
                let old = g.contacts().iter().find(|c| c.contact_id == id);
                // RFC 3261 §10.3 step 7: the same Call-ID with a CSeq not higher is a
                // retransmission or out of order: the binding is left alone.
                if let Some(o) = old
                    && o.callid() == callid
                    && (cseq < o.cseq || (cseq == o.cseq && !cfg.allow_dup_cseq))
                {
                    continue;
                }
                if p.expires == 0 {
                    g.delete(id).map_err(ul_refusal)?;
                } else {
                    g.update(id, &ci).map_err(ul_refusal)?;
                }
            }
            None if p.expires > 0 => {
                g.insert(&ci).map_err(ul_refusal)?;
            }
            None => {}
        }
    }

    let gruu = !cfg.disable_gruu && msg.has_token(HdrId::Supported, b"gruu");
    let use_domain = usrloc::usrloc().is_some_and(|u| u.config().use_domain);
    let mut headers = String::new();
    let mut first = true;
    let only_req = flags.only_request_contacts;
    for c in g.contacts().iter().filter(|c| c.is_valid(now)) {
        if only_req && !plans.iter().any(|p| p.uri == c.contact()) {
            continue;
        }
        headers.push_str(if first { "Contact: " } else { ", " });
        first = false;
        let _ = write!(headers, "<{}>", c.contact());
        if c.q != Q_UNSPECIFIED {
            let _ = write!(headers, ";q={}", q_text(c.q));
        }
        let _ = write!(headers, ";expires={}", c.expires_in(now));
        if let Some(r) = c.received() {
            let _ = write!(headers, ";{}=\"{}\"", cfg.received_param, r);
        }
        if gruu && let Some(inst) = c.instance() {
            let sock = c.socket().or(socket.as_deref()).unwrap_or("");
            headers.push_str(&super::gruu::contact_params(
                &cfg.gruu_secret,
                now,
                aor,
                use_domain,
                super::gruu::socket_hostport(sock),
                inst,
                c.callid(),
            ));
        }
    }
    if !first {
        headers.push_str("\r\n");
    }
    if let Some(p) = &path
        && flags.path != PathMode::Off
        && path_supported
    {
        let _ = write!(headers, "Path: {p}\r\nSupported: path\r\n");
    }
    if pn_on {
        let actions: Vec<PnAction> = plans.into_iter().map(|p| p.pn).collect();
        headers.push_str(&pn::reply_fcaps(&cfg.pn, &actions));
    }
    Ok(Accepted { headers })
}

/// usrloc's `matching_mode` modparam.
fn ul_matching_mode() -> u8 {
    usrloc::usrloc().map_or(0, |u| u.config().matching_mode)
}
