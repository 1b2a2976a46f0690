//! auth: digest challenges (`www_challenge`, `proxy_challenge`), `consume_credentials`, and the
//! verification every credential source shares ([`verify::authorize`], used by auth_db).
//!
//! Nonces are signed and self-contained ([`nonce::Nonces`]): an expired one gets `stale=true` in
//! the next challenge, a replayed (nonce, nc) is refused.

pub mod challenge;
pub mod nonce;
pub mod script_vars;
pub mod verify;

use std::sync::Arc;

use parking_lot::RwLock;

use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx};

use nonce::Nonces;
use script_vars::VarRef;

/// Default `nonce_expire` (seconds), as OpenSIPS.
pub const DEFAULT_NONCE_EXPIRE: u32 = 30;

/// The auth module's running configuration.
pub struct AuthState {
    pub nonces: Nonces,
    /// `realm_prefix`: stripped from a realm taken from the request.
    pub realm_prefix: String,
    /// `disable_nonce_check`: no nonce-count replay check.
    pub disable_nonce_check: bool,
    /// `password_spec` / `username_spec` of `pv_www_authorize`, and whether the password is clear
    /// (`calculate_ha1`) or an HA1.
    pub password_spec: VarRef,
    pub username_spec: Option<VarRef>,
    pub calculate_ha1: bool,
    /// `rpid_avp`, `rpid_prefix`, `rpid_suffix`.
    pub rpid_avp: VarRef,
    pub rpid_prefix: String,
    pub rpid_suffix: String,
}

static STATE: RwLock<Option<Arc<AuthState>>> = RwLock::new(None);

/// The running state; a default one (random secret, 30 s nonces) when `init` did not run.
pub fn state() -> Arc<AuthState> {
    if let Some(s) = STATE.read().as_ref() {
        return s.clone();
    }
    let mut w = STATE.write();
    w.get_or_insert_with(|| Arc::new(default_state(None, DEFAULT_NONCE_EXPIRE)))
        .clone()
}

fn default_state(secret: Option<&str>, expire: u32) -> AuthState {
    let secret = match secret {
        Some(s) => s.as_bytes().to_vec(),
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    AuthState {
        nonces: Nonces::new(secret, expire),
        realm_prefix: String::new(),
        disable_nonce_check: false,
        password_spec: VarRef::Avp("password".into()),
        username_spec: None,
        calculate_ha1: false,
        rpid_avp: VarRef::Avp("rpid".into()),
        rpid_prefix: String::new(),
        rpid_suffix: ";party=calling;id-type=subscriber;screen=yes".into(),
    }
}

fn int_param(ctx: &InitCtx<'_>, name: &str) -> Result<Option<i64>, String> {
    match ctx.params.get(name) {
        None => Ok(None),
        Some(ParamValue::Int(i)) => Ok(Some(*i)),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("modparam {name}: `{s}` is not a number")),
    }
}

fn str_param<'a>(ctx: &'a InitCtx<'_>, name: &str) -> Option<&'a str> {
    match ctx.params.get(name) {
        Some(ParamValue::Str(s)) => Some(s),
        _ => None,
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let expire = match int_param(ctx, "nonce_expire")? {
        None => DEFAULT_NONCE_EXPIRE,
        Some(n) if (1..=86_400).contains(&n) => n as u32,
        Some(n) => {
            return Err(format!(
                "modparam nonce_expire: {n} is not 1..86400 seconds"
            ));
        }
    };
    let secret = str_param(ctx, "secret").filter(|s| !s.is_empty());
    let mut st = default_state(secret, expire);
    st.realm_prefix = str_param(ctx, "realm_prefix").unwrap_or("").to_string();
    st.disable_nonce_check = int_param(ctx, "disable_nonce_check")?.unwrap_or(0) != 0;
    st.calculate_ha1 = int_param(ctx, "calculate_ha1")?.unwrap_or(0) != 0;
    let var = |name: &str| -> Result<Option<VarRef>, String> {
        str_param(ctx, name)
            .filter(|s| !s.is_empty())
            .map(|s| VarRef::parse(s).map_err(|e| format!("modparam {name}: {e}")))
            .transpose()
    };
    if let Some(v) = var("password_spec")? {
        st.password_spec = v;
    }
    st.username_spec = var("username_spec")?;
    if let Some(v) = var("rpid_avp")? {
        st.rpid_avp = v;
    }
    if let Some(p) = str_param(ctx, "rpid_prefix") {
        st.rpid_prefix = p.to_string();
    }
    if let Some(s) = str_param(ctx, "rpid_suffix") {
        st.rpid_suffix = s.to_string();
    }
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

fn www_challenge(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    challenge::send(ctx, args, false)
}

fn proxy_challenge(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    challenge::send(ctx, args, true)
}

fn pv_www_authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    script_vars::pv_authorize(ctx, args, false)
}

fn pv_proxy_authorize(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    script_vars::pv_authorize(ctx, args, true)
}

fn consume_credentials(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    verify::consume(ctx)
}

const R: RouteMask = RouteMask::REQUEST;

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "auth",
    params: &[
        ParamSpec::str("secret"),
        ParamSpec::int("nonce_expire"),
        ParamSpec::str("realm_prefix"),
        ParamSpec::int("disable_nonce_check"),
        ParamSpec::str("rpid_prefix"),
        ParamSpec::str("rpid_suffix"),
        ParamSpec::str("rpid_avp"),
        ParamSpec::str("username_spec"),
        ParamSpec::str("password_spec"),
        ParamSpec::int("calculate_ha1"),
    ],
    functions: &[
        FunctionSpec {
            name: "www_challenge",
            params: &[p::STR, p::OPT_STR, p::OPT_STR],
            routes: R,
            handler: www_challenge,
        },
        FunctionSpec {
            name: "proxy_challenge",
            params: &[p::STR, p::OPT_STR, p::OPT_STR],
            routes: R,
            handler: proxy_challenge,
        },
        FunctionSpec {
            name: "consume_credentials",
            params: &[],
            routes: R,
            handler: consume_credentials,
        },
        FunctionSpec {
            name: "pv_www_authorize",
            params: &[p::STR],
            routes: R,
            handler: pv_www_authorize,
        },
        FunctionSpec {
            name: "pv_proxy_authorize",
            params: &[p::STR],
            routes: R,
            handler: pv_proxy_authorize,
        },
        FunctionSpec {
            name: "is_rpid_user_e164",
            params: &[],
            routes: R.or(RouteMask::FAILURE),
            handler: script_vars::is_rpid_user_e164,
        },
        FunctionSpec {
            name: "append_rpid_hf",
            params: &[p::OPT_STR, p::OPT_STR],
            routes: R.or(RouteMask::BRANCH).or(RouteMask::FAILURE),
            handler: script_vars::append_rpid_hf,
        },
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
