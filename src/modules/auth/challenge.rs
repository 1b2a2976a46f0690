//! `www_challenge` / `proxy_challenge`: a 401 / 407 with one WWW-/Proxy-Authenticate per
//! algorithm (RFC 8760 §2.4: preferred first), sent statelessly.

use crate::runtime::SipCtx;
use crate::runtime::core_fns::sip;
use crate::script::{ArgValue, RunCtx};
use crate::sip::digest::DigestAlgorithm;

use super::nonce::NonceCheck;
use super::verify::{credentials, now, realm_of};
use super::{AuthState, state};

/// The `qop` values a challenge may offer.
fn parse_qop(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    for q in text.split(',').map(str::trim).filter(|q| !q.is_empty()) {
        match q {
            "auth" | "auth-int" => out.push(q),
            other => return Err(format!("unknown qop `{other}` (auth, auth-int)")),
        }
    }
    Ok(out)
}

fn parse_algorithms(text: &str) -> Result<Vec<DigestAlgorithm>, String> {
    let mut out = Vec::new();
    for a in text.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let alg = DigestAlgorithm::parse(a.as_bytes()).ok_or_else(|| {
            format!("unknown algorithm `{a}` (MD5, SHA-256, SHA-512-256, with or without -sess)")
        })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        out.push(DigestAlgorithm::MD5);
    }
    Ok(out)
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// True when the request carries credentials for `realm` whose nonce was ours but expired.
fn stale(m: &SipCtx, proxy: bool, realm: &str, st: &AuthState) -> bool {
    let Ok(Some((_, c))) = credentials(&m.msg, proxy, realm) else {
        return false;
    };
    c.nonce()
        .is_some_and(|n| st.nonces.check(n, now()) == NonceCheck::Stale)
}

/// The challenge header lines (CRLF-terminated).
pub fn header_lines(
    st: &AuthState,
    proxy: bool,
    realm: &str,
    qop: &[&str],
    algorithms: &[DigestAlgorithm],
    stale: bool,
) -> String {
    let name = if proxy {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    let mut out = String::new();
    // One nonce per offered algorithm: a client may answer any of them.
    for alg in algorithms {
        let nonce = st.nonces.issue(now());
        out.push_str(&format!(
            "{name}: Digest realm={}, nonce=\"{nonce}\"",
            quote(realm)
        ));
        if !qop.is_empty() {
            out.push_str(&format!(", qop=\"{}\"", qop.join(",")));
        }
        out.push_str(", algorithm=");
        out.push_str(alg.name());
        if stale {
            out.push_str(", stale=true");
        }
        out.push_str("\r\n");
    }
    out
}

/// `www_challenge(realm[, qop[, algorithms]])` (proxy = false) and `proxy_challenge(...)`.
pub fn send(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], proxy: bool) -> i32 {
    let func = if proxy {
        "proxy_challenge"
    } else {
        "www_challenge"
    };
    let realm_arg = args.first().and_then(ArgValue::str).unwrap_or("");
    let qop = match parse_qop(args.get(1).and_then(ArgValue::str).unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            tracing::error!("{func}: {e}");
            return -1;
        }
    };
    let algorithms = match parse_algorithms(args.get(2).and_then(ArgValue::str).unwrap_or("")) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{func}: {e}");
            return -1;
        }
    };
    let st = state();
    let Some(m) = sip(ctx) else {
        tracing::error!("{func}: no SIP message in this route");
        return -1;
    };
    if !m.msg.is_request() {
        tracing::error!("{func}: a reply cannot be challenged");
        return -1;
    }
    // www_authorize already answered 400 to credentials it could not read: one reply only.
    if m.replied {
        tracing::debug!("{func}: the request was already answered; no challenge sent");
        return -1;
    }
    let Some(realm) = realm_of(m, realm_arg, proxy, &st.realm_prefix) else {
        tracing::error!("{func}: no realm given and none in the request");
        return -1;
    };
    let stale = stale(m, proxy, &realm, &st);
    let lines = header_lines(&st, proxy, &realm, &qop, &algorithms, stale);
    let Some(core) = m.shared.core() else {
        return -1;
    };
    let (code, reason) = if proxy {
        (407, "Proxy Authentication Required")
    } else {
        (401, "Unauthorized")
    };
    core.reply_with_headers(&m.msg, &m.info, code, reason, lines.as_bytes());
    m.replied = true;
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::AuthParams;

    #[test]
    fn challenge_lines_per_algorithm() {
        let st = super::super::default_state(Some("s"), 30);
        let algs = parse_algorithms("SHA-256, MD5").unwrap();
        let l = header_lines(&st, false, "ex\"a", &["auth"], &algs, true);
        let lines: Vec<&str> = l.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("WWW-Authenticate: Digest realm=\"ex\\\"a\""));
        let c = AuthParams::parse(lines[0].split_once(": ").unwrap().1.as_bytes()).unwrap();
        assert_eq!(c.algorithm(), Some(&b"SHA-256"[..]));
        assert_eq!(c.qop(), Some(&b"auth"[..]));
        assert!(c.stale());
        assert!(matches!(
            st.nonces.check(c.nonce().unwrap(), now()),
            NonceCheck::Valid { .. }
        ));
        let p = header_lines(&st, true, "r", &[], &[DigestAlgorithm::MD5], false);
        assert!(p.starts_with("Proxy-Authenticate: Digest realm=\"r\", nonce=\""));
        assert!(!p.contains("qop") && !p.contains("stale"));
    }

    #[test]
    fn bad_qop_and_algorithms_are_refused() {
        assert!(parse_qop("auth, auth-int").is_ok());
        assert!(parse_qop("").unwrap().is_empty());
        assert!(parse_qop("auth-conf").is_err());
        assert!(parse_algorithms("SHA-1").is_err());
        assert_eq!(parse_algorithms("").unwrap(), vec![DigestAlgorithm::MD5]);
    }
}
