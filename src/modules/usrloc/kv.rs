//! The per-AoR key-value store from the script: `ul_add_key(domain, aor, key, value)`,
//! `ul_get_key(domain, aor, key, var)`, `ul_del_key(domain, aor, key)`. The AoR must be
//! registered; keys live in memory with its record (not in SQL-only mode, which keeps no record).

use crate::script::ast::AssignOp;
use crate::script::{ArgValue, RunCtx, Value};

use super::{DbMode, RecordGuard};

fn str_arg<'a>(args: &'a [ArgValue<'_>], i: usize) -> Option<&'a str> {
    args.get(i).and_then(ArgValue::str)
}

/// `sip:alice@example.com` or `alice@example.com` as the AoR key.
fn aor_key(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("sip:")
        .or_else(|| t.strip_prefix("sips:"))
        .unwrap_or(t)
}

/// Runs `f` on the locked record of a registered AoR; None (logged) when there is none.
fn with_aor<R>(
    what: &str,
    args: &[ArgValue<'_>],
    f: impl FnOnce(&mut RecordGuard<'_>) -> R,
) -> Option<R> {
    let (Some(table), Some(aor)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return None;
    };
    let ul = super::usrloc()?;
    if ul.config().db_mode == DbMode::SqlOnly {
        tracing::error!("{what}: the AoR key-value store is not kept in sql-only mode");
        return None;
    }
    let dom = ul.domain(table).ok()?;
    let mut g = dom.lock(aor_key(aor), false).ok()?;
    if g.contacts().is_empty() {
        tracing::debug!("{what}: AoR {aor} is not registered");
        return None;
    }
    Some(f(&mut g))
}

pub fn w_add_key(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(key), value) = (str_arg(args, 2), str_arg(args, 3).unwrap_or("")) else {
        return -1;
    };
    with_aor("ul_add_key", args, |g| g.set_key(key, value)).map_or(-1, |()| 1)
}

pub fn w_get_key(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(key), Some(ArgValue::Var(out))) = (str_arg(args, 2), args.get(3)) else {
        return -1;
    };
    let Some(Some(v)) = with_aor("ul_get_key", args, |g| g.key(key).map(str::to_string)) else {
        return -1;
    };
    match ctx.set_pv(out, AssignOp::Set, Value::str(v)) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("ul_get_key: {e}");
            -1
        }
    }
}

pub fn w_del_key(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(key) = str_arg(args, 2) else {
        return -1;
    };
    match with_aor("ul_del_key", args, |g| g.del_key(key)) {
        Some(true) => 1,
        _ => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::aor_key;

    #[test]
    fn aor_keys() {
        assert_eq!(aor_key("sip:alice@example.com"), "alice@example.com");
        assert_eq!(aor_key(" alice "), "alice");
    }
}
