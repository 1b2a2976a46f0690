//! auth: digest challenges (`www_challenge`, `proxy_challenge`), `consume_credentials`, and the
//! verification every credential source shares ([`verify::authorize`], used by auth_db).
//!
//! Nonces are signed and self-contained ([`nonce::Nonces`]): an expired one gets `stale=true` in
//! the next challenge, a replayed (nonce, nc) is refused.

pub mod challenge;
pub mod nonce;
pub mod verify;

use std::sync::Arc;

use parking_lot::RwLock;

use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::{ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx};

use nonce::Nonces;

/// Default `nonce_expire` (seconds), as OpenSIPS.
pub const DEFAULT_NONCE_EXPIRE: u32 = 30;

/// The auth module's running configuration.
pub struct AuthState {
    pub nonces: Nonces,
    /// `realm_prefix`: stripped from a realm taken from the request.
    pub realm_prefix: String,
    /// `disable_nonce_check`: no nonce-count replay check.
    pub disable_nonce_check: bool,
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
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

fn www_challenge(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    challenge::send(ctx, args, false)
}

fn proxy_challenge(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    challenge::send(ctx, args, true)
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
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};
