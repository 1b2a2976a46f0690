//! The `routeid` of a rule: a script `route[name]` run on the message when `do_routing` (or a
//! rule fallback in `use_next_gw`) takes the rule, as OpenSIPS's `run_top_route`. A `drop` in
//! it stops the routing; anything else (`exit`, a negative return) lets it go on.

use crate::runtime::msgctx::SipCtx;
use crate::script::ast::RouteKind;
use crate::script::exec::Interpreter;
use crate::script::{RunCtx, Script};

/// Whether `route[name]` exists in `script` (checked when the rules are loaded).
pub fn exists(script: &Script, name: &str) -> bool {
    script.route_index(RouteKind::Request, Some(name)).is_some()
}

/// Runs `route[name]` on the message of `ctx`, with its `$var`s and AVPs; false when the
/// route dropped the routing. The name is looked up in the script running now, so a
/// `reload_routes` is followed.
pub fn run(ctx: &mut RunCtx<'_>, rule_id: i64, name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    let Some(script) = ctx
        .msg
        .as_mut()
        .and_then(|m| m.as_any().downcast_mut::<SipCtx>())
        .map(|sc| sc.shared.script())
    else {
        return true;
    };
    let Some(index) = script.route_index(RouteKind::Request, Some(name)) else {
        tracing::error!("drouting: rule {rule_id}: no route[{name}] in the running script");
        return true;
    };
    let mut sub = RunCtx {
        route: RouteKind::Request,
        vars: &mut *ctx.vars,
        avps: &mut *ctx.avps,
        shv: ctx.shv,
        msg: match ctx.msg.as_mut() {
            Some(m) => Some(&mut **m),
            None => None,
        },
        params: Vec::new(),
        returns: Vec::new(),
        last_rc: 1,
        err: None,
    };
    let out = Interpreter::new(script).run_route(&mut sub, index);
    if out.dropped {
        tracing::debug!("drouting: route[{name}] of rule {rule_id} drops the routing");
    }
    !out.dropped
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::runtime::{Runtime, Shared};
    use crate::script::vars::{AvpStore, VarStore};
    use crate::sip::Msg;
    use crate::transport::ReceiveInfo;

    const SCRIPT: &str = "socket = udp:127.0.0.1:5060
route { exit; }
route[dr_check] {
    $avp(seen) = $rU;
    if ($rU == \"stop\") drop;
    return(-1);
}
";

    fn sip_ctx(user: &str) -> SipCtx {
        let rt = Runtime::load_str("t.cfg", SCRIPT).unwrap();
        let shared = Arc::new(Shared::new(rt.script, rt.settings, 0));
        let msg = format!(
            "INVITE sip:{user}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5062;branch=z9hG4bK-1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.9>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        let info = ReceiveInfo::udp(
            "127.0.0.9:5062".parse().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
            0,
        );
        SipCtx::new(Msg::parse(Bytes::from(msg)).unwrap(), info, shared)
    }

    /// Runs `route[name]` for a request to `user`: whether routing goes on, and `$avp(seen)`.
    fn run_for(user: &str, name: &str, vars: &mut VarStore) -> (bool, String) {
        let mut sc = sip_ctx(user);
        let shared = sc.shared.clone();
        let mut avps = AvpStore::default();
        let mut ctx = RunCtx {
            route: RouteKind::Request,
            vars,
            avps: &mut avps,
            shv: &shared.shv,
            msg: Some(&mut sc),
            params: Vec::new(),
            returns: Vec::new(),
            last_rc: 1,
            err: None,
        };
        let go_on = run(&mut ctx, 7, name);
        let seen = avps.get("seen", 0).to_display().into_owned();
        (go_on, seen)
    }

    #[test]
    fn the_rule_route_runs_on_the_message_and_only_drop_stops_the_routing() {
        let mut vars = VarStore::default();
        // A negative return is no drop: the routing goes on, as in OpenSIPS.
        assert_eq!(
            run_for("4021", "dr_check", &mut vars),
            (true, "4021".into())
        );
        assert_eq!(
            run_for("stop", "dr_check", &mut vars),
            (false, "stop".into())
        );
        // A name the script lacks runs nothing and stops nothing.
        assert!(run_for("4021", "nope", &mut vars).0);
        assert!(run_for("4021", "", &mut vars).0);
    }

    #[test]
    fn route_names_are_checked_against_the_script() {
        let sc = sip_ctx("x");
        let script = sc.shared.script();
        assert!(exists(script, "dr_check"));
        assert!(!exists(script, "nope"));
    }
}
