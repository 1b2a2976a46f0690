//! What the auth module reads from script variables: `pv_www_authorize` / `pv_proxy_authorize`
//! (the password in `password_spec`, optionally the user in `username_spec`) and the RPID
//! functions (`rpid_avp`, `is_rpid_user_e164`, `append_rpid_hf`).

use crate::runtime::core_fns::sip;
use crate::script::{ArgValue, RunCtx, Value};
use crate::sip::Uri;
use crate::sip::digest::DigestHash;

use super::state;
use super::verify::{self, Secret};

/// A variable named in a modparam: `$avp(name)` or `$var(name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarRef {
    Avp(String),
    Var(String),
}

impl VarRef {
    pub fn parse(spec: &str) -> Result<VarRef, String> {
        let s = spec.trim();
        let inner = |p: &str| {
            s.strip_prefix(p)
                .and_then(|r| r.strip_suffix(')'))
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        };
        if let Some(n) = inner("$avp(") {
            Ok(VarRef::Avp(n))
        } else if let Some(n) = inner("$var(") {
            Ok(VarRef::Var(n))
        } else {
            Err(format!("`{spec}` is not an $avp(name) or $var(name)"))
        }
    }

    pub fn read(&self, ctx: &RunCtx<'_>) -> Option<String> {
        let v = match self {
            VarRef::Avp(n) => ctx.avps.get(n, 0),
            VarRef::Var(n) => ctx.vars.get(n),
        };
        match v {
            Value::Null => None,
            v => v.as_str().map(|s| s.into_owned()),
        }
    }
}

/// `pv_www_authorize(realm)` (proxy = false) / `pv_proxy_authorize(realm)`.
pub fn pv_authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>], proxy: bool) -> i32 {
    let realm = args
        .first()
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let st = state();
    let Some(password) = st.password_spec.read(ctx) else {
        tracing::debug!("pv_authorize: the password variable is empty");
        return verify::AuthResult::UserUnknown as i32;
    };
    let expected_user = st.username_spec.as_ref().and_then(|u| u.read(ctx));
    let calculate = st.calculate_ha1;
    let mut lookup = |user: &str, _domain: &str, _hash: DigestHash| {
        if expected_user.as_deref().is_some_and(|u| u != user) {
            return Ok(None);
        }
        // Without calculate_ha1 the variable holds the HA1 of the algorithm the client chose.
        Ok(Some(if calculate {
            Secret::Password(password.clone())
        } else {
            Secret::Ha1(password.clone())
        }))
    };
    verify::authorize(ctx, &realm, proxy, &mut lookup)
}

/// E.164: `+` and 2 to 15 digits.
pub fn is_e164(user: &str) -> bool {
    user.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The user part of an RPID value (`"Name" <sip:+4912345@h>;party=calling`, a bare URI, or a
/// number).
fn rpid_user(rpid: &str) -> Option<String> {
    let uri = match (rpid.find('<'), rpid.find('>')) {
        (Some(a), Some(b)) if a < b => &rpid[a + 1..b],
        _ => rpid.split(';').next().unwrap_or(rpid).trim(),
    };
    if uri.starts_with("sip:") || uri.starts_with("sips:") || uri.starts_with("tel:") {
        if let Some(num) = uri.strip_prefix("tel:") {
            return Some(num.split(';').next().unwrap_or(num).to_string());
        }
        let u = Uri::parse(uri.as_bytes()).ok()?;
        return Some(String::from_utf8_lossy(u.user?).into_owned());
    }
    Some(uri.to_string())
}

/// `is_rpid_user_e164()`: the user of the RPID in `rpid_avp` is an E.164 number.
pub fn is_rpid_user_e164(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    match st.rpid_avp.read(ctx).and_then(|r| rpid_user(&r)) {
        Some(u) if is_e164(&u) => 1,
        _ => -1,
    }
}

/// `append_rpid_hf([prefix, suffix])`: adds `Remote-Party-ID: prefix RPID suffix`.
pub fn append_rpid_hf(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let st = state();
    let Some(rpid) = st.rpid_avp.read(ctx) else {
        return -1;
    };
    let (prefix, suffix) = match (
        args.first().and_then(ArgValue::str),
        args.get(1).and_then(ArgValue::str),
    ) {
        (Some(p), Some(s)) => (p.to_string(), s.to_string()),
        _ => (st.rpid_prefix.clone(), st.rpid_suffix.clone()),
    };
    let Some(m) = sip(ctx) else {
        return -1;
    };
    let value = format!("{prefix}{rpid}{suffix}");
    match m.msg.add_header("Remote-Party-ID", value.as_bytes()) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("append_rpid_hf: {e}");
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_refs() {
        assert_eq!(
            VarRef::parse("$avp(rpid)").unwrap(),
            VarRef::Avp("rpid".into())
        );
        assert_eq!(
            VarRef::parse(" $var(pw) ").unwrap(),
            VarRef::Var("pw".into())
        );
        assert!(VarRef::parse("$avp()").is_err());
        assert!(VarRef::parse("rpid").is_err());
    }

    #[test]
    fn e164_users() {
        assert!(is_e164("+4930123456"));
        assert!(!is_e164("4930123456"));
        assert!(!is_e164("+1"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+49a"));
        assert_eq!(
            rpid_user("\"Bob\" <sip:+4930123@h.test>;party=calling").as_deref(),
            Some("+4930123")
        );
        assert_eq!(rpid_user("tel:+4930123;npdi").as_deref(), Some("+4930123"));
        assert_eq!(rpid_user("+4930123").as_deref(), Some("+4930123"));
        assert_eq!(rpid_user("<sip:h.test>"), None);
    }
}
