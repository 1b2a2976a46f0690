//! The script side of the Event Interface (OpenSIPS `evi/event_route.c` and the core's
//! `raise_event` / `subscribe_event`): every `event_route[E_NAME]` block is subscribed to its
//! event, and runs with the event's parameters as `$param(name)` / `$param(N)` and no SIP
//! message. `event_route[E_X]` and `[E_X, sync]` run in the thread that raises the event, before
//! the raise returns; `[E_X, async]` runs on the subscription's delivery worker.
//!
//! A synchronous route runs while the raiser holds whatever it holds (usrloc raises its events
//! with the record locked, as OpenSIPS does): a route that must touch the same record, or block
//! for long, should be declared `async`.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Weak};

use crate::events::{EvValue, EventParams, EventRegistry, Expiry, RouteMode};
use crate::script::ast::RouteKind;
use crate::script::exec::Interpreter;
use crate::script::ir::{CArg, CCall, CCond, CExpr, CStmt, CStmtKind};
use crate::script::vars::{AvpStore, VarStore};
use crate::script::{ArgValue, RunCtx, Script, Value};

use super::Shared;

/// Event routes started from inside another event route of the same thread, at most.
pub const MAX_NESTING: u32 = 16;

thread_local! {
    /// `$var` values of the event routes run by this thread (OpenSIPS: per process).
    static VARS: RefCell<VarStore> = RefCell::new(VarStore::default());
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Subscribes the script's event routes and makes the registry run them; publishes the events
/// the script raises or subscribes to by a literal name (`raise_event("E_SCRIPT_X")`), so MI
/// subscribers can ask for them before the first raise.
pub fn install(shared: &Arc<Shared>) {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    shared
        .events
        .set_route_handler(Arc::new(move |name: &str, params: &EventParams| {
            if let Some(sh) = weak.upgrade() {
                dispatch(sh, name, params);
            }
        }));
    sync_routes(&shared.events, None, shared.script());
}

/// Brings the `route:` subscriptions in line with `new` (after `reload_routes`): routes gone
/// from the script are unsubscribed, new ones subscribed, changed modes applied.
pub fn sync_routes(events: &EventRegistry, old: Option<&Script>, new: &Script) {
    for name in script_events(new) {
        events.publish(&name, &[]);
    }
    if let Some(old) = old {
        for r in old.routes.iter().filter(|r| r.kind == RouteKind::Event) {
            let Some(name) = &r.name else { continue };
            if new.route(RouteKind::Event, Some(name)).is_none() {
                events.unsubscribe_route(name);
            }
        }
    }
    for r in new.routes.iter().filter(|r| r.kind == RouteKind::Event) {
        let Some(name) = &r.name else { continue };
        // An event nobody publishes yet: the route makes it exist, as OpenSIPS does.
        events.publish(name, &[]);
        let mode = if r.asynchronous {
            RouteMode::Async
        } else {
            RouteMode::Sync
        };
        if let Err(e) = events.subscribe_route(name, mode) {
            tracing::error!("event_route[{name}]: cannot subscribe: {e}");
        }
    }
}

/// Runs the route now, unless this thread belongs to an async runtime (the MI, the stream
/// transports): a route may call the database synchronously, which cannot be done there, so it
/// runs on a thread of its own.
fn dispatch(shared: Arc<Shared>, name: &str, params: &EventParams) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let (name, params) = (name.to_string(), params.clone());
        let spawned = std::thread::Builder::new()
            .name("event_route".into())
            .spawn(move || run(&shared, &name, &params));
        if let Err(e) = spawned {
            tracing::error!("event_route: cannot start a thread: {e}");
        }
        return;
    }
    run(&shared, name, params);
}

fn ev_value(v: &EvValue) -> Value {
    match v {
        EvValue::Int(i) => match i32::try_from(*i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::str(i.to_string()),
        },
        EvValue::Str(s) => Value::str(s.clone()),
        EvValue::Null => Value::Null,
    }
}

/// Runs `event_route[name]` of the current script with `params`; false if there is none (or
/// the nesting limit stopped it).
pub fn run(shared: &Shared, name: &str, params: &EventParams) -> bool {
    let script = shared.script();
    let Some(index) = script.route_index(RouteKind::Event, Some(name)) else {
        return false;
    };
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_NESTING {
        tracing::error!(
            "event_route[{name}]: more than {MAX_NESTING} nested event routes, skipped"
        );
        return false;
    }
    DEPTH.with(|d| d.set(depth + 1));
    let params: Vec<(Option<String>, Value)> = params
        .iter()
        .map(|(n, v)| (n.map(str::to_string), ev_value(v)))
        .collect();
    let go = |vars: &mut VarStore| {
        let mut avps = AvpStore::default();
        let mut ctx = RunCtx {
            route: RouteKind::Event,
            vars,
            avps: &mut avps,
            shv: &shared.shv,
            msg: None,
            params: params.clone(),
            returns: Vec::new(),
            last_rc: 1,
            err: None,
        };
        Interpreter::new(script).run_route(&mut ctx, index);
    };
    VARS.with(|v| match v.try_borrow_mut() {
        Ok(mut vars) => go(&mut vars),
        // an event route raised from an event route: its own variables
        Err(_) => go(&mut VarStore::default()),
    });
    DEPTH.with(|d| d.set(depth));
    true
}

fn registry() -> Option<Arc<EventRegistry>> {
    super::global_shared().map(|s| s.events.clone())
}

/// All values of an AVP argument, most recent first (OpenSIPS walks AVPs in that order).
fn avp_values(ctx: &RunCtx<'_>, arg: Option<&ArgValue<'_>>) -> Option<Vec<Value>> {
    match arg {
        Some(ArgValue::Var(pv)) if pv.name == "avp" => {
            let name = pv.inner_literal()?;
            Some(ctx.avps.values(name).cloned().collect())
        }
        _ => None,
    }
}

/// The parameters of a script `raise_event`: values from `vals`, named from `attrs` pairwise.
/// Err when a value has no name or a name is not a string.
pub fn script_params(attrs: Option<&[Value]>, vals: &[Value]) -> Result<EventParams, String> {
    let mut p = EventParams::new();
    for (i, v) in vals.iter().enumerate() {
        let name = match attrs {
            None => None,
            Some(a) => match a.get(i) {
                None => return Err("missing attribute".into()),
                Some(Value::Str(s)) | Some(Value::StrInt(s, _)) => Some(s.as_str()),
                Some(_) => return Err("invalid attribute name - must be string".into()),
            },
        };
        let ev = match v {
            Value::Int(i) => EvValue::Int(i64::from(*i)),
            Value::Null => EvValue::Null,
            other => EvValue::Str(other.as_str().map(|s| s.into_owned()).unwrap_or_default()),
        };
        p.push(name, ev);
    }
    if attrs.is_some_and(|a| a.len() > vals.len()) {
        tracing::error!("raise_event: too many attribute names");
    }
    Ok(p)
}

/// `raise_event(name[, attrs_avp[, vals_avp]])`: with one AVP its values are positional
/// parameters; with both, the first names the second's values (most recent with most recent).
/// No subscriber: nothing is raised and the call succeeds, as in OpenSIPS.
pub fn raise_event(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(name) = args.first().and_then(ArgValue::str) else {
        return -1;
    };
    if name.is_empty() {
        tracing::error!("raise_event: empty event name");
        return -1;
    }
    let Some(reg) = registry() else {
        tracing::error!("raise_event: the event interface is not running");
        return -1;
    };
    let id = reg.publish(name, &[]);
    if !reg.has_subscribers(id) {
        return 1;
    }
    let first = avp_values(ctx, args.get(1));
    let second = avp_values(ctx, args.get(2));
    let (attrs, vals) = match (first, second) {
        (a, Some(v)) => (a, v),
        (Some(v), None) => (None, v),
        (None, None) => (None, Vec::new()),
    };
    match script_params(attrs.as_deref(), &vals) {
        Ok(p) => {
            reg.raise(id, p);
            1
        }
        Err(e) => {
            tracing::error!("raise_event({name}): {e}");
            -1
        }
    }
}

/// `subscribe_event(name, socket[, expire])`: no expire = never expires.
pub fn subscribe_event(_ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(name), Some(socket)) = (
        args.first().and_then(ArgValue::str),
        args.get(1).and_then(ArgValue::str),
    ) else {
        return -1;
    };
    let Some(reg) = registry() else {
        tracing::error!("subscribe_event: the event interface is not running");
        return -1;
    };
    reg.publish(name, &[]);
    let expiry = match args.get(2).and_then(ArgValue::int) {
        Some(e) if e < 0 => {
            tracing::error!("subscribe_event: negative expire");
            return -1;
        }
        Some(e) => Expiry::Secs(e as u32),
        None => Expiry::Never,
    };
    match reg.subscribe(name, socket, expiry) {
        Ok(()) => 1,
        Err(e) => {
            tracing::error!("subscribe_event({name}, {socket}): {e}");
            -1
        }
    }
}

/// Event names given literally to `raise_event` / `subscribe_event` anywhere in the script.
pub fn script_events(script: &Script) -> Vec<String> {
    let mut out = Vec::new();
    for r in &script.routes {
        stmts(&r.body, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn call(c: &CCall, out: &mut Vec<String>) {
    if matches!(c.func.name(), "raise_event" | "subscribe_event") {
        let name = match c.args.first() {
            Some(CArg::Lit(s)) => Some(s.to_string()),
            Some(CArg::Format(f)) => f.static_text(),
            _ => None,
        };
        out.extend(name.filter(|n| !n.is_empty()));
    }
}

fn expr(e: &CExpr, out: &mut Vec<String>) {
    match e {
        CExpr::Call(c) => call(c, out),
        CExpr::Binary(_, a, b) => {
            expr(a, out);
            expr(b, out);
        }
        CExpr::BitNot(a) | CExpr::Neg(a) => expr(a, out),
        CExpr::Cond(c) => cond(c, out),
        _ => {}
    }
}

fn cond(c: &CCond, out: &mut Vec<String>) {
    match c {
        CCond::And(a, b) | CCond::Or(a, b) => {
            cond(a, out);
            cond(b, out);
        }
        CCond::Not(a) => cond(a, out),
        CCond::Arith(e) => expr(e, out),
        CCond::Call(c) => call(c, out),
        CCond::Assign(s) => stmts(std::slice::from_ref(s), out),
        _ => {}
    }
}

fn stmts(body: &[CStmt], out: &mut Vec<String>) {
    for s in body {
        match &s.kind {
            CStmtKind::Call(c) | CStmtKind::Async { call: c, .. } => call(c, out),
            CStmtKind::Launch { call: c, .. } => call(c, out),
            CStmtKind::Assign { rhs, .. } => expr(rhs, out),
            CStmtKind::If { cond: c, then, els } => {
                cond(c, out);
                stmts(then, out);
                if let Some(e) = els {
                    stmts(e, out);
                }
            }
            CStmtKind::While { cond: c, body } => {
                cond(c, out);
                stmts(body, out);
            }
            CStmtKind::ForEach { body, .. } | CStmtKind::Block(body) => stmts(body, out),
            CStmtKind::Switch { cases, .. } => {
                for c in cases {
                    stmts(&c.body, out);
                }
            }
            CStmtKind::Return { code, values } => {
                code.iter().chain(values).for_each(|e| expr(e, out));
            }
            CStmtKind::Assert { cond: c, .. } => cond(c, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_pair_names_with_values() {
        let names = [Value::Str("b".into()), Value::Str("a".into())];
        let vals = [Value::Int(2), Value::Str("x".into())];
        let p = script_params(Some(&names), &vals).unwrap();
        assert_eq!(p.get("b"), Some(&EvValue::Int(2)));
        assert_eq!(p.get("a"), Some(&EvValue::Str("x".into())));
        let p = script_params(None, &vals).unwrap();
        assert_eq!(p.get_index(1), Some(&EvValue::Int(2)));
        assert!(script_params(Some(&names[..1]), &vals).is_err());
        assert!(script_params(Some(&[Value::Int(1)]), &vals[..1]).is_err());
    }

    #[test]
    fn literal_event_names_are_found_everywhere() {
        let text = r#"
route {
    if (raise_event("E_SCRIPT_A")) { xlog("x"); }
    $var(i) = 0;
    while ($var(i) < 1) { raise_event("E_SCRIPT_B"); $var(i) = $var(i) + 1; }
    switch ($rU) { case "x": subscribe_event("E_SCRIPT_C", "udp:127.0.0.1:9"); break; }
    raise_event("E_$rU");
}
event_route[E_SCRIPT_A, async] { xlog("$param(1)"); }
"#;
        let checked = crate::script::check_str("t.cfg", text, &crate::script::Registry::builtin());
        let rendered = checked.render();
        let script = checked.script.unwrap_or_else(|| panic!("{rendered}"));
        assert_eq!(
            script_events(&script),
            ["E_SCRIPT_A", "E_SCRIPT_B", "E_SCRIPT_C"]
        );
        let r = script.route(RouteKind::Event, Some("E_SCRIPT_A")).unwrap();
        assert!(r.asynchronous);
    }
}
