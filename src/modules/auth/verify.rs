//! Checking digest credentials against a credential source (auth_db's subscriber table, ...),
//! with the OpenSIPS return codes, and `consume_credentials`.

use std::cell::RefCell;

use crate::runtime::SipCtx;
use crate::runtime::core_fns::sip;
use crate::script::RunCtx;
use crate::sip::digest::{self, DigestAlgorithm, DigestHash, Qop};
use crate::sip::scan::eq_ic;
use crate::sip::{AuthParams, HdrId, Method, Msg, NameAddr};

use super::nonce::{NonceCheck, parse_nc};
use super::state;

/// Return codes of `www_authorize` / `proxy_authorize` (OpenSIPS auth `auth_result_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum AuthResult {
    Authorized = 1,
    UserUnknown = -1,
    InvalidPassword = -2,
    StaleNonce = -3,
    NoCredentials = -4,
    Error = -5,
    NonceReused = -6,
}

/// What a credential source holds for a user: a precomputed HA1 or the clear password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Ha1(String),
    Password(String),
}

/// A lookup of the secret for (user, domain) usable with `hash`; `Ok(None)`: no such user.
pub type Lookup<'a> = dyn FnMut(&str, &str, DigestHash) -> Result<Option<Secret>, String> + 'a;

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The realm to use: the argument, or (when empty) the To host of a REGISTER challenged with
/// WWW-Authenticate, else the From host, without `realm_prefix`.
pub fn realm_of(m: &SipCtx, arg: &str, proxy: bool, prefix: &str) -> Option<String> {
    if !arg.is_empty() {
        return Some(arg.to_string());
    }
    let id = if !proxy && m.msg.method() == Method::Register {
        HdrId::To
    } else {
        HdrId::From
    };
    let na = NameAddr::parse(m.msg.header(id)?).ok()?;
    let host = String::from_utf8_lossy(na.uri.host).into_owned();
    if host.is_empty() {
        return None;
    }
    Some(
        match host.strip_prefix(prefix).filter(|_| !prefix.is_empty()) {
            Some(rest) if !rest.is_empty() => rest.to_string(),
            _ => host,
        },
    )
}

/// A credentials header that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedCredentials;

/// The Digest credentials for `realm` (header index and parameters).
pub fn credentials<'m>(
    msg: &'m Msg,
    proxy: bool,
    realm: &str,
) -> Result<Option<(usize, AuthParams<'m>)>, MalformedCredentials> {
    let id = if proxy {
        HdrId::ProxyAuthorization
    } else {
        HdrId::Authorization
    };
    for h in msg.headers().filter(|h| h.id == id) {
        // Other schemes (Basic, Bearer...) are not ours to judge.
        let v = crate::sip::scan::trim(h.value);
        if v.len() < 6 || !eq_ic(&v[..6], b"Digest") {
            continue;
        }
        let c = AuthParams::parse(h.value).map_err(|_| MalformedCredentials)?;
        if c.is_digest() && c.realm().is_some_and(|r| eq_ic(r, realm.as_bytes())) {
            return Ok(Some((h.index, c)));
        }
    }
    Ok(None)
}

/// The credentials authorized on a message, for `consume_credentials`.
struct Authorized {
    /// Address and length of the message buffer: which message it was.
    msg: (usize, usize),
    index: usize,
    value: Vec<u8>,
}

thread_local! {
    static AUTHORIZED: RefCell<Option<Authorized>> = const { RefCell::new(None) };
}

fn msg_key(msg: &Msg) -> (usize, usize) {
    let b = msg.as_bytes();
    (b.as_ptr() as usize, b.len())
}

/// `consume_credentials()`: removes the Authorization / Proxy-Authorization header that was
/// authorized on this message; -1 when none was.
pub fn consume(ctx: &mut RunCtx<'_>) -> i32 {
    let Some(m) = sip(ctx) else {
        return -1;
    };
    let key = msg_key(&m.msg);
    let Some(Authorized { index, value, .. }) = AUTHORIZED
        .with(|a| a.borrow_mut().take())
        .filter(|a| a.msg == key)
    else {
        tracing::error!("consume_credentials: no authorized credentials in this message");
        return -1;
    };
    if m.msg.header_at(index).map(|h| h.value) != Some(&value[..]) {
        return -1;
    }
    match m.msg.remove_header(index) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("consume_credentials: {e}");
            -1
        }
    }
}

/// `www_authorize` (proxy = false) / `proxy_authorize` against `lookup`.
pub fn authorize(
    ctx: &mut RunCtx<'_>,
    realm_arg: &str,
    proxy: bool,
    lookup: &mut Lookup<'_>,
) -> i32 {
    let Some(m) = sip(ctx) else {
        tracing::error!("authorize: no SIP message in this route");
        return AuthResult::Error as i32;
    };
    if !m.msg.is_request() {
        return AuthResult::Error as i32;
    }
    match check(m, realm_arg, proxy, lookup) {
        Ok(r) => r as i32,
        // As OpenSIPS: credentials that cannot be checked get a 400 here.
        Err(why) => {
            tracing::debug!("authorize: {why}; 400 sent");
            if let Some(core) = m.shared.core() {
                core.reply(&m.msg, &m.info, 400, "Bad Request");
                m.replied = true;
            }
            AuthResult::Error as i32
        }
    }
}

/// The verdict, or Err(why) when the request deserves a 400.
fn check(
    m: &SipCtx,
    realm_arg: &str,
    proxy: bool,
    lookup: &mut Lookup<'_>,
) -> Result<AuthResult, &'static str> {
    if matches!(m.msg.method(), Method::Ack | Method::Cancel) {
        return Ok(AuthResult::Authorized);
    }
    let st = state();
    let Some(realm) = realm_of(m, realm_arg, proxy, &st.realm_prefix) else {
        return Err("no realm in the request");
    };
    let (index, c) = match credentials(&m.msg, proxy, &realm) {
        Err(MalformedCredentials) => return Err("malformed credentials"),
        Ok(None) => return Ok(AuthResult::NoCredentials),
        Ok(Some(x)) => x,
    };
    let (Some(username), Some(nonce), Some(uri), Some(resp), Some(c_realm)) = (
        c.iter()
            .filter_map(Result::ok)
            .find(|p| eq_ic(p.name, b"username")),
        c.nonce(),
        c.uri(),
        c.response(),
        c.iter()
            .filter_map(Result::ok)
            .find(|p| eq_ic(p.name, b"realm")),
    ) else {
        return Err("credentials without username, nonce, uri or response");
    };
    let alg = match c.algorithm() {
        None => DigestAlgorithm::MD5,
        Some(a) => match DigestAlgorithm::parse(a) {
            Some(a) => a,
            None => return Err("unknown digest algorithm"),
        },
    };
    let qop_kind = c.qop();
    let (nc, cnonce) = (c.nc().unwrap_or(b""), c.cnonce().unwrap_or(b""));
    let qop = match qop_kind {
        None => Qop::None,
        Some(_) if nc.is_empty() || cnonce.is_empty() => {
            return Err("qop without nc or cnonce");
        }
        Some(q) if eq_ic(q, b"auth") => Qop::Auth { nc, cnonce },
        Some(q) if eq_ic(q, b"auth-int") => Qop::AuthInt {
            nc,
            cnonce,
            body: m.msg.body(),
        },
        Some(_) => return Err("unknown qop"),
    };
    let count = match qop {
        Qop::None => Some(1),
        _ => parse_nc(nc),
    };
    let Some(count) = count else {
        return Err("bad nonce-count");
    };
    let nonce_index = match st.nonces.check(nonce, now()) {
        NonceCheck::Valid { index } => index,
        NonceCheck::Stale | NonceCheck::Invalid => return Ok(AuthResult::StaleNonce),
    };
    let username = username.unescaped();
    let c_realm = c_realm.unescaped();
    let full = String::from_utf8_lossy(&username).into_owned();
    let user = full.split_once('@').map_or(full.as_str(), |(u, _)| u);
    let secret = match lookup(user, &realm, alg.hash) {
        Err(e) => {
            tracing::error!("authorize: {e}");
            return Ok(AuthResult::Error);
        }
        Ok(None) => return Ok(AuthResult::UserUnknown),
        Ok(Some(s)) => s,
    };
    let ha1 = match secret {
        Secret::Ha1(h) => h.trim().to_ascii_lowercase(),
        Secret::Password(p) => digest::ha1(alg.hash, &username, &c_realm, p.as_bytes()),
    };
    if ha1.len() != alg.hash.hex_len() {
        tracing::debug!("authorize: no {} secret for {full}", alg.name());
        return Ok(AuthResult::InvalidPassword);
    }
    let ha1 = digest::effective_ha1(alg, &ha1, nonce, cnonce);
    let want = digest::response(alg, &ha1, nonce, qop, m.msg.method_bytes(), uri);
    if !digest::response_matches(&want, resp) {
        return Ok(AuthResult::InvalidPassword);
    }
    if !st.disable_nonce_check && !st.nonces.use_count(nonce_index, count) {
        return Ok(AuthResult::NonceReused);
    }
    let msg = msg_key(&m.msg);
    let value = m
        .msg
        .header_at(index)
        .map(|h| h.value.to_vec())
        .unwrap_or_default();
    AUTHORIZED.with(|a| *a.borrow_mut() = Some(Authorized { msg, index, value }));
    Ok(AuthResult::Authorized)
}

/// The credentials `$au`, `$ar`... read: Authorization first, else Proxy-Authorization.
pub fn any_credentials(msg: &Msg) -> Option<AuthParams<'_>> {
    [HdrId::Authorization, HdrId::ProxyAuthorization]
        .into_iter()
        .flat_map(|id| msg.auth_headers(id))
        .filter_map(Result::ok)
        .find(AuthParams::is_digest)
}
