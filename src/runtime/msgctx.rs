//! The SIP message as the script sees it: [`SipCtx`] implements `MessageAccess` for the core
//! pseudo-variables of OpenSIPS `pvar.c` ($ru, $rU, $si, $hdr(name)[i], ...), and carries what the
//! script decided for this request (new Request-URI, destination URI, flags, forward target).

use std::sync::Arc;

use crate::script::errinfo::ErrInfo;
use crate::script::pv::{PvIndex, PvSpec};
use crate::script::pvclass::PvClass;
use crate::script::{MessageAccess, Str, Value};
use crate::sip::{HdrId, Msg, Uri};
use crate::transport::{Destination, ReceiveInfo, SocketId};
use bytes::Bytes;
use std::cell::Cell;

use super::Shared;
use super::parsed::{NameAddrParts, Parsed, UriParts, entry};

/// One additional branch of a request (OpenSIPS `dset.c`): where a forking proxy sends a copy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Branch {
    /// The branch's Request-URI.
    pub uri: String,
    /// Next hop instead of the URI (`$du` of the branch; e.g. the `received` of a NATed contact).
    pub dst_uri: Option<String>,
    /// Route set to put in front (RFC 3327 Path of the registered contact), as a header value.
    pub path: Option<String>,
    /// q-value times 1000 (OpenSIPS `qvalue_t`); None = not given.
    pub q: Option<i32>,
    /// Branch flags (`setbflag` on this branch, `nat_bflag` from the contact).
    pub bflags: u32,
    /// `force_send_socket` of the branch (the socket the contact registered through).
    pub socket: Option<SocketId>,
}

impl Branch {
    pub fn new(uri: impl Into<String>) -> Branch {
        Branch {
            uri: uri.into(),
            ..Branch::default()
        }
    }
}

/// One message being run through the script, with the script's decisions.
pub struct SipCtx {
    pub msg: Msg,
    pub info: ReceiveInfo,
    pub shared: Arc<Shared>,
    /// Request-URI set by the script (`$ru = ...`, `seturi`, `strip`...); applied when forwarding.
    pub new_ruri: Option<String>,
    /// `$du`: the next hop instead of the Request-URI.
    pub dst_uri: Option<String>,
    /// Message flags (`setflag`).
    pub flags: u32,
    /// Branch flags of branch 0 (`setbflag`).
    pub bflags: u32,
    /// Extra branches (`append_branch`, registrar `lookup`), after the Request-URI's own branch.
    pub branches: Vec<Branch>,
    /// `forward()` was called: where to.
    pub forward: Option<Destination>,
    /// A reply was sent by the script.
    pub replied: bool,
    /// `force_send_socket()`.
    pub send_socket: Option<SocketId>,
    /// Record-Route asked for by the script and Route parameters found by `loose_route` (rr module).
    pub rr: crate::modules::rr::RrState,
    /// The tm module's view of this run (current transaction, armed routes, branch, reply);
    /// only tm reads it (`modules::tm::ctx::TmCtx`).
    pub tm: Option<Box<dyn std::any::Any + Send>>,
    /// `rtpengine_use_set()`: the rtpengine set for this message (None = the default set).
    pub rtpengine_set: Option<u32>,
    /// A parse error met while the script read the message (`$err.*`, `error_route`); taken by
    /// the interpreter after the read. Modules report theirs with [`SipCtx::set_error`].
    err: Cell<Option<ErrInfo>>,
    /// R-URI, From and To as parsed by earlier reads in this run.
    parsed: Parsed,
}

/// Text of `b`, a slice of the received message `buf`: shares the buffer (no copy).
fn s(buf: &Bytes, b: &[u8]) -> Value {
    Value::Str(Str::from_buf(buf, b))
}

fn opt(buf: &Bytes, b: Option<&[u8]>) -> Value {
    b.map(|b| s(buf, b)).unwrap_or(Value::Null)
}

fn port_value(p: u16) -> Value {
    Value::str_int(p as i32)
}

/// A part of `src` (bytes a parser returned from it): shares its buffer.
fn part(src: &Str, b: &[u8]) -> Value {
    match src.slice_bytes(b) {
        Some(t) => Value::Str(t),
        None => Value::str(String::from_utf8_lossy(b).into_owned()),
    }
}

fn opt_part(src: &Str, b: Option<&[u8]>) -> Value {
    b.map(|b| part(src, b)).unwrap_or(Value::Null)
}

fn uri_part(src: &Str, what: &str) -> Value {
    match Uri::parse(src.as_bytes()) {
        Ok(u) => match what {
            "user" => opt_part(src, u.user),
            "host" => part(src, u.host),
            // As OpenSIPS: no port in the URI reads as the scheme's default.
            "port" => port_value(
                u.port
                    .unwrap_or(if u.scheme_raw.eq_ignore_ascii_case(b"sips") {
                        5061
                    } else {
                        5060
                    }),
            ),
            _ => Value::Null,
        },
        Err(_) => Value::Null,
    }
}

impl SipCtx {
    pub fn new(msg: Msg, info: ReceiveInfo, shared: Arc<Shared>) -> SipCtx {
        SipCtx {
            msg,
            info,
            shared,
            new_ruri: None,
            dst_uri: None,
            flags: 0,
            bflags: 0,
            branches: Vec::new(),
            forward: None,
            replied: false,
            send_socket: None,
            rr: Default::default(),
            tm: None,
            rtpengine_set: None,
            err: Cell::new(None),
            parsed: Parsed::default(),
        }
    }

    /// Records a message parse error: the interpreter runs `error_route` after the current
    /// statement, with `$err.*` set from `e`.
    pub fn set_error(&self, e: ErrInfo) {
        self.err.set(Some(e));
    }

    /// The current Request-URI (as rewritten by the script).
    pub fn ruri(&self) -> std::borrow::Cow<'_, str> {
        match &self.new_ruri {
            Some(u) => std::borrow::Cow::Borrowed(u),
            None => String::from_utf8_lossy(self.msg.ruri()),
        }
    }

    /// Rebuilds the Request-URI with one part replaced.
    pub fn set_ruri_part(&mut self, part: &str, value: Option<&str>) -> Result<(), String> {
        let cur = self.ruri().into_owned();
        let u = Uri::parse(cur.as_bytes()).map_err(|e| format!("bad Request-URI: {e}"))?;
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        let mut user = text(u.user);
        let mut pass = text(u.password);
        let mut host = String::from_utf8_lossy(u.host).into_owned();
        let mut port = u.port.map(|p| p.to_string());
        match part {
            "user" => user = value.map(str::to_string).filter(|v| !v.is_empty()),
            "userpass" => {
                let v = value.unwrap_or_default();
                match v.split_once(':') {
                    Some((a, b)) => {
                        user = Some(a.to_string());
                        pass = Some(b.to_string());
                    }
                    None => {
                        user = Some(v.to_string()).filter(|v| !v.is_empty());
                        pass = None;
                    }
                }
            }
            "host" => host = value.unwrap_or_default().to_string(),
            "hostport" => {
                let v = value.unwrap_or_default();
                match v.rsplit_once(':').filter(|(h, _)| !h.ends_with(':')) {
                    Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => {
                        host = h.to_string();
                        port = Some(p.to_string());
                    }
                    _ => {
                        host = v.to_string();
                        port = None;
                    }
                }
            }
            "port" => port = value.map(str::to_string).filter(|v| !v.is_empty()),
            _ => return Err(format!("unknown URI part {part}")),
        }
        let mut out = String::with_capacity(cur.len() + 16);
        out.push_str(&String::from_utf8_lossy(u.scheme_raw));
        out.push(':');
        if let Some(us) = &user {
            out.push_str(us);
            if let Some(p) = &pass {
                out.push(':');
                out.push_str(p);
            }
            out.push('@');
        }
        out.push_str(&host);
        if let Some(p) = &port {
            out.push(':');
            out.push_str(p);
        }
        let params = u.params.raw();
        if !params.is_empty() {
            if !params.starts_with(b";") {
                out.push(';');
            }
            out.push_str(&String::from_utf8_lossy(params));
        }
        if let Some(h) = u.headers {
            out.push('?');
            out.push_str(&String::from_utf8_lossy(h));
        }
        self.new_ruri = Some(out);
        Ok(())
    }

    /// The current Request-URI as a script string (a slice of the message when not rewritten).
    fn ruri_str(&self) -> Str {
        match &self.new_ruri {
            Some(u) => Str::from(u),
            None => Str::from_buf(&self.msg.buf, self.msg.ruri()),
        }
    }

    /// A part of the From / To value; `of_uri`: the part is in the URI, which must parse.
    fn nameaddr_part(
        &mut self,
        id: HdrId,
        what: fn(&NameAddrParts) -> Value,
        of_uri: bool,
    ) -> Value {
        let Some(raw) = self.msg.header(id) else {
            return Value::Null;
        };
        let buf = &self.msg.buf;
        let slot = if id == HdrId::From {
            &mut self.parsed.from
        } else {
            &mut self.parsed.to
        };
        let p = entry(
            slot,
            raw,
            |e: &NameAddrParts| &e.text,
            || NameAddrParts::parse(Str::from_buf(buf, raw)),
        );
        if !p.ok {
            // OpenSIPS parse_from_header / parse_to_header.
            let info = if id == HdrId::From {
                "error parsing From header"
            } else {
                "error parsing To header"
            };
            self.err.set(Some(ErrInfo::parser(info, 400, "bad header")));
            return Value::Null;
        }
        if of_uri && !p.uri_ok() {
            // OpenSIPS parse_from_uri / parse_to_uri.
            let info = if id == HdrId::From {
                "error parsing From uri"
            } else {
                "error parsing To uri"
            };
            self.err.set(Some(ErrInfo::parser(info, 400, "bad uri")));
            return Value::Null;
        }
        what(p)
    }

    /// The current R-URI's parts, parsed once per R-URI text.
    fn ruri_parts(&mut self) -> &UriParts {
        let raw: &[u8] = match &self.new_ruri {
            Some(u) => u.as_bytes(),
            None => self.msg.ruri(),
        };
        let (new_ruri, buf) = (&self.new_ruri, &self.msg.buf);
        entry(
            &mut self.parsed.ruri,
            raw,
            |e: &UriParts| &e.text,
            || {
                UriParts::parse(match new_ruri {
                    Some(u) => Str::from(u),
                    None => Str::from_buf(buf, raw),
                })
            },
        )
    }

    fn header_value(&self, spec: &PvSpec) -> Value {
        let name = spec.inner_literal().unwrap_or_default();
        let buf = &self.msg.buf;
        let mut lines = named_values(&self.msg, name);
        match &spec.index {
            None => lines.next().map(|v| s(buf, v)).unwrap_or(Value::Null),
            Some(PvIndex::At(i)) => {
                let i = if *i < 0 {
                    let n = named_values(&self.msg, name).count() as i32;
                    n + *i
                } else {
                    *i
                };
                match usize::try_from(i).ok().and_then(|i| lines.nth(i)) {
                    Some(v) => s(buf, v),
                    None => Value::Null,
                }
            }
            Some(PvIndex::All) => {
                let all: Vec<String> = lines
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                if all.is_empty() {
                    Value::Null
                } else {
                    Value::str(all.join(","))
                }
            }
            _ => Value::Null,
        }
    }

    fn dst_host_port(&self) -> (Value, Value) {
        let src = match &self.dst_uri {
            Some(d) => Str::from(d),
            None => self.ruri_str(),
        };
        (uri_part(&src, "host"), uri_part(&src, "port"))
    }
}

impl MessageAccess for SipCtx {
    fn get_pv(&mut self, pv: &PvSpec) -> Option<Value> {
        use PvClass as C;
        let m = &self.msg;
        let buf = &m.buf;
        let s = |b: &[u8]| s(buf, b);
        let opt = |b: Option<&[u8]>| opt(buf, b);
        let req = m.is_request();
        Some(match pv.class {
            C::Ru | C::RuUser | C::RuDomain | C::RuPort if req => {
                let p = self.ruri_parts();
                if !p.ok {
                    // OpenSIPS parse_sip_msg_uri, used by every R-URI variable.
                    self.set_error(ErrInfo::parser("error parsing r-uri", 400, "bad r-uri"));
                    return Some(Value::Null);
                }
                match pv.class {
                    C::Ru => Value::Str(p.text.clone()),
                    C::RuUser => p.user(),
                    C::RuDomain => p.host(),
                    _ => p.port(),
                }
            }
            C::Ou if req => s(m.ruri()),
            C::OuUser if req => uri_part(&Str::from_buf(buf, m.ruri()), "user"),
            C::OuDomain if req => uri_part(&Str::from_buf(buf, m.ruri()), "host"),
            C::Ru | C::RuUser | C::RuDomain | C::RuPort | C::Ou | C::OuUser | C::OuDomain => {
                Value::Null
            }
            C::Rm => {
                if req {
                    s(m.method_bytes())
                } else {
                    Value::str(m.cseq().method.as_str())
                }
            }
            C::Rs => match m.status() {
                Some(c) => Value::str_int(c as i32),
                None => Value::Null,
            },
            C::Rr => {
                if req {
                    Value::Null
                } else {
                    s(m.reason())
                }
            }
            C::Rv => Value::Str("SIP/2.0".into()),
            C::Si => Value::Str(Str::from_ip(self.info.src.ip())),
            C::Sp => port_value(self.info.src.port()),
            C::Ri => Value::Str(Str::from_ip(self.info.local.ip())),
            C::RiPort => port_value(self.info.local.port()),
            C::Proto => Value::str(self.info.proto.name().to_ascii_lowercase()),
            C::SocketIn => match pv.inner_literal().unwrap_or("") {
                "" | "name" => Value::str(format!(
                    "{}:{}",
                    self.info.proto.name().to_ascii_lowercase(),
                    self.info.local
                )),
                "ip" => Value::str(self.info.local.ip().to_string()),
                "port" => port_value(self.info.local.port()),
                "proto" => Value::str(self.info.proto.name().to_ascii_lowercase()),
                "af" => Value::Str(
                    if self.info.local.is_ipv4() {
                        "INET"
                    } else {
                        "INET6"
                    }
                    .into(),
                ),
                _ => Value::Null,
            },
            C::Fu => self.nameaddr_part(HdrId::From, NameAddrParts::uri, false),
            C::FuUser => self.nameaddr_part(HdrId::From, NameAddrParts::user, true),
            C::FuDomain => self.nameaddr_part(HdrId::From, NameAddrParts::domain, true),
            C::FuName => self.nameaddr_part(HdrId::From, NameAddrParts::name, false),
            C::FuTag => self.nameaddr_part(HdrId::From, NameAddrParts::tag, false),
            C::Tu => self.nameaddr_part(HdrId::To, NameAddrParts::uri, false),
            C::TuUser => self.nameaddr_part(HdrId::To, NameAddrParts::user, true),
            C::TuDomain => self.nameaddr_part(HdrId::To, NameAddrParts::domain, true),
            C::TuName => self.nameaddr_part(HdrId::To, NameAddrParts::name, false),
            C::TuTag => self.nameaddr_part(HdrId::To, NameAddrParts::tag, false),
            C::Ci => s(m.call_id()),
            C::Cs => {
                let n = m.cseq().num;
                Value::str_int(n as i32)
            }
            C::Ct => opt(m.header(HdrId::Contact)),
            C::ContentType => opt(m.content_type()),
            C::Cl => match m.content_length() {
                Some(n) => Value::str_int(n as i32),
                None => Value::Null,
            },
            C::Ua => opt(m.user_agent()),
            C::Rb => s(m.body()),
            C::Mb => s(m.as_bytes()),
            C::Ml => {
                let n = m.as_bytes().len();
                Value::str_int(n as i32)
            }
            C::Mf => Value::Int(self.flags as i32),
            C::Bf => Value::Int(self.bflags as i32),
            C::Du => match &self.dst_uri {
                Some(d) => Value::str(d.clone()),
                None => Value::Null,
            },
            C::Dd => {
                if self.dst_uri.is_none() && !req {
                    Value::Null
                } else {
                    self.dst_host_port().0
                }
            }
            C::Dp => self.dst_host_port().1,
            C::Auth => auth_pv(m, pv.name.as_str()),
            C::Challenge => challenge_pv(m, &pv.name["challenge.".len()..]),
            C::Hdr => self.header_value(pv),
            C::HdrCnt => {
                let name = pv.inner_literal().unwrap_or_default();
                Value::Int(named_values(m, name).count() as i32)
            }
            C::MsgIsRequest => Value::Int(req as i32),
            C::MsgType => Value::Str(if req { "request" } else { "reply" }.into()),
            C::Pid => Value::Int(std::process::id() as i32),
            C::TsSec => Value::Int(now().as_secs() as i32),
            C::TsMicro => Value::Int(now().subsec_micros() as i32),
            C::TsStart => Value::Int(self.shared.started_at as i32),
            C::Time => {
                // `$time(format)`: strftime is not available without libc's locale; seconds.
                Value::Int(now().as_secs() as i32)
            }
            C::Branch => match &pv.index {
                Some(PvIndex::At(i)) if *i >= 0 => self
                    .branches
                    .get(*i as usize)
                    .map(|b| Value::str(b.uri.clone()))
                    .unwrap_or(Value::Null),
                _ => self
                    .branches
                    .first()
                    .map(|b| Value::str(b.uri.clone()))
                    .unwrap_or(Value::Null),
            },
            C::Other | C::Var | C::Avp | C::Shv | C::Param | C::Return | C::Rc | C::Err => {
                return None;
            }
        })
    }

    fn set_pv(&mut self, pv: &PvSpec, value: &Value) -> Result<(), String> {
        if !self.msg.is_request() {
            return Err(format!("${} cannot be set on a reply", pv.name));
        }
        let text = value.as_str().map(|s| s.into_owned());
        match pv.name.as_str() {
            "ru" | "ruri" => match text {
                Some(t) if Uri::parse(t.as_bytes()).is_ok() => self.new_ruri = Some(t),
                Some(t) => return Err(format!("`{t}` is not a valid URI")),
                None => return Err("$ru cannot be set to NULL".into()),
            },
            "rU" | "ruri.user" => self.set_ruri_part("user", text.as_deref())?,
            "rd" | "ruri.domain" => match text {
                Some(t) if !t.is_empty() => self.set_ruri_part("host", Some(&t))?,
                _ => return Err("$rd cannot be empty".into()),
            },
            "rp" => self.set_ruri_part("port", text.as_deref())?,
            "du" | "duri" => match text {
                None => self.dst_uri = None,
                Some(t) if t.is_empty() => self.dst_uri = None,
                Some(t) if Uri::parse(t.as_bytes()).is_ok() => self.dst_uri = Some(t),
                Some(t) => return Err(format!("`{t}` is not a valid URI")),
            },
            "dd" | "dp" => {
                let cur = self
                    .dst_uri
                    .clone()
                    .unwrap_or_else(|| self.ruri().into_owned());
                let u = Uri::parse(cur.as_bytes()).map_err(|e| e.to_string())?;
                let host = String::from_utf8_lossy(u.host).into_owned();
                let (h, p) = if pv.name == "dd" {
                    (text.unwrap_or_default(), u.port.map(|p| p.to_string()))
                } else {
                    (host, text.filter(|t| !t.is_empty()))
                };
                self.dst_uri = Some(match p {
                    Some(p) => format!("sip:{h}:{p}"),
                    None => format!("sip:{h}"),
                });
            }
            "mf" | "flags" => self.flags = value.as_int().unwrap_or(0) as u32,
            "bf" => self.bflags = value.as_int().unwrap_or(0) as u32,
            other => return Err(format!("${other} is read-only")),
        }
        Ok(())
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn take_error(&mut self) -> Option<ErrInfo> {
        // Checked in place first: most reads set no error.
        if self.err.get_mut().is_none() {
            return None;
        }
        self.err.take()
    }

    fn read_pv(&mut self, pv: &PvSpec, err: &mut Option<ErrInfo>) -> Option<Value> {
        let v = MessageAccess::get_pv(self, pv);
        if let Some(e) = self.take_error() {
            *err = Some(e);
        }
        v
    }
}

/// Values of the header lines named `name` (case-insensitive; compact and long forms of a known
/// header match each other, as `Header::is_named`), the name resolved once per read rather than
/// once per line.
fn named_values<'m>(m: &'m Msg, name: &'m str) -> NamedValues<'m> {
    let id = HdrId::from_name(name.as_bytes());
    NamedValues {
        m,
        name: name.as_bytes(),
        id,
        // Lines before the first of this id cannot match.
        next: m.first_header_index(id).unwrap_or(usize::MAX),
    }
}

struct NamedValues<'m> {
    m: &'m Msg,
    name: &'m [u8],
    id: HdrId,
    next: usize,
}

impl<'m> Iterator for NamedValues<'m> {
    type Item = &'m [u8];

    fn next(&mut self) -> Option<&'m [u8]> {
        while self.next < self.m.header_count() {
            let i = self.next;
            self.next += 1;
            if self.m.header_id_at(i) != Some(self.id) {
                continue;
            }
            let h = self.m.header_at(i)?;
            // An unknown name only matches lines of unknown id, by name.
            // Names are usually written as the message writes them: the exact compare first.
            if h.id != HdrId::Other || h.name == self.name || h.name.eq_ignore_ascii_case(self.name)
            {
                return Some(h.value);
            }
        }
        None
    }
}

/// `$au`, `$ar`, `$auth.nonce`...: fields of the first Digest credentials (Authorization, else
/// Proxy-Authorization). `$ad` is the domain of the user name, else the realm (as OpenSIPS).
fn auth_pv(m: &Msg, name: &str) -> Value {
    let Some(c) = [HdrId::Authorization, HdrId::ProxyAuthorization]
        .into_iter()
        .flat_map(|id| m.auth_headers(id))
        .filter_map(Result::ok)
        .find(crate::sip::AuthParams::is_digest)
    else {
        return Value::Null;
    };
    let field = |n: &str| {
        c.iter()
            .filter_map(Result::ok)
            .find(|p| p.name.eq_ignore_ascii_case(n.as_bytes()))
            .map(|p| String::from_utf8_lossy(&p.unescaped()).into_owned())
    };
    let user = field("username");
    let v = match name {
        "aU" => user,
        "au" => user.map(|u| u.split_once('@').map_or(u.clone(), |(a, _)| a.to_string())),
        "ad" => user
            .and_then(|u| u.split_once('@').map(|(_, d)| d.to_string()))
            .or_else(|| field("realm")),
        "ar" => field("realm"),
        "an" | "auth.nonce" => field("nonce"),
        "adu" => field("uri"),
        "auth.resp" => field("response"),
        "auth.cnonce" => field("cnonce"),
        "auth.opaque" => field("opaque"),
        "auth.alg" => field("algorithm"),
        "auth.qop" => field("qop"),
        "auth.nc" => field("nc"),
        _ => None,
    };
    v.map(Value::str).unwrap_or(Value::Null)
}

/// `$challenge.realm`...: a parameter of the first WWW-Authenticate (else Proxy-Authenticate)
/// Digest challenge of a reply.
fn challenge_pv(m: &Msg, field: &str) -> Value {
    [HdrId::WwwAuthenticate, HdrId::ProxyAuthenticate]
        .into_iter()
        .flat_map(|id| m.auth_headers(id))
        .filter_map(Result::ok)
        .find(crate::sip::AuthParams::is_digest)
        .and_then(|c| {
            c.iter()
                .filter_map(Result::ok)
                .find(|p| p.name.eq_ignore_ascii_case(field.as_bytes()))
                .map(|p| Value::str(String::from_utf8_lossy(&p.unescaped()).into_owned()))
        })
        .unwrap_or(Value::Null)
}

fn now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}
