//! Runs compiled routes (OpenSIPS `action.c`): statements, return codes (0 stops the script,
//! negative is false), `exit` / `drop`, `break`, `return(code, values...)`, sub-route calls with
//! `$param`, the `while` loop cap, and function calls through the descriptors' handlers.

use super::ast::{AssignOp, RouteKind};
use super::compiler::xlog_level;
use super::errinfo::ErrInfo;
use super::eval::{Halt, Invoke, int_op};
use super::ir::{
    CArg, CCall, CCase, CExpr, CRouteCall, CRouteTarget, CStmt, CStmtKind, CaseLabel, FuncRef,
    Script, XlogLevel,
};
use super::module::{ArgType, ArgValue, RunCtx};
use super::pv::{PvIndex, PvSpec};
use super::value::Value;

/// OpenSIPS `ROUTE_MAX_REC_LEV`.
const MAX_ROUTE_DEPTH: usize = 100;

/// Function calls with up to this many arguments pass them from the stack.
const STACK_ARGS: usize = 8;

/// How a block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctl {
    Next,
    Break,
    Return(i32),
    Halt(Halt),
}

/// Result of running a top-level route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// Code of the last action (or of `return`).
    pub rc: i32,
    /// `drop` ran (meaning depends on the route type).
    pub dropped: bool,
}

/// Runs routes of one compiled script. Holds the settings that shape execution.
pub struct Interpreter<'s> {
    script: &'s Script,
    depth: usize,
    max_while_loops: u32,
    xlog_level: i32,
    xlog_print_level: i32,
    log_level: i32,
    enable_asserts: bool,
}

impl<'s> Interpreter<'s> {
    pub fn new(script: &'s Script) -> Self {
        let int = |n: &str, d: i64| script.global_int(n).unwrap_or(d);
        Interpreter {
            script,
            depth: 0,
            max_while_loops: int("max_while_loops", 10000).clamp(0, u32::MAX as i64) as u32,
            xlog_level: int("xlog_level", 2) as i32,
            xlog_print_level: int("xlog_print_level", 2) as i32,
            log_level: int("log_level", 2) as i32,
            enable_asserts: int("enable_asserts", 0) != 0,
        }
    }

    /// Runs route `index` of the script from the top.
    pub fn run_route(&mut self, ctx: &mut RunCtx<'_>, index: usize) -> RunOutcome {
        self.depth = 0;
        let Some(route) = self.script.routes.get(index) else {
            return RunOutcome {
                rc: -1,
                dropped: false,
            };
        };
        ctx.route = route.kind;
        ctx.vars.bind(self.script.id, &self.script.var_names);
        ctx.err = None;
        match self.block(ctx, &route.body) {
            Ctl::Return(rc) => RunOutcome { rc, dropped: false },
            Ctl::Halt(Halt::Drop) => RunOutcome {
                rc: 0,
                dropped: true,
            },
            Ctl::Halt(Halt::Exit) => RunOutcome {
                rc: 0,
                dropped: false,
            },
            Ctl::Next | Ctl::Break => RunOutcome {
                rc: ctx.last_rc,
                dropped: false,
            },
        }
    }

    /// Runs the main request route.
    pub fn run_main(&mut self, ctx: &mut RunCtx<'_>) -> Option<RunOutcome> {
        let i = self.script.route_index(RouteKind::Request, None)?;
        Some(self.run_route(ctx, i))
    }

    fn block(&mut self, ctx: &mut RunCtx<'_>, stmts: &[CStmt]) -> Ctl {
        for s in stmts {
            // The most common statement, `$var(x) = <variable or constant>`, runs here without a
            // call into `exec`.
            if let CStmtKind::Assign { lhs, op, rhs } = &s.kind
                && let Some(dst) = lhs.slot
                && matches!(op, AssignOp::Set | AssignOp::Replace)
                && ctx.vars.bound_to() != 0
                && Self::assign_slot(ctx, dst, rhs)
            {
                ctx.last_rc = 1;
                if ctx.err.is_some()
                    && let Ctl::Halt(h) = self.error_route(ctx)
                {
                    return Ctl::Halt(h);
                }
                continue;
            }
            let mut c = self.exec(ctx, s);
            // OpenSIPS `run_action_list`: an error set by the action runs error_route now.
            if ctx.err.is_some()
                && let Ctl::Halt(h) = self.error_route(ctx)
            {
                c = Ctl::Halt(h);
            }
            match c {
                Ctl::Next => {}
                other => return other,
            }
        }
        Ctl::Next
    }

    /// Runs `error_route` for the error in `ctx.err` (not from error, onreply or local routes),
    /// then clears the error. The route's `exit` / `drop` end the whole run; otherwise the
    /// interrupted route goes on.
    fn error_route(&mut self, ctx: &mut RunCtx<'_>) -> Ctl {
        if matches!(
            ctx.route,
            RouteKind::Error | RouteKind::OnReply | RouteKind::Local
        ) {
            return Ctl::Next;
        }
        let Some(index) = self.script.route_index(RouteKind::Error, None) else {
            return Ctl::Next;
        };
        let script = self.script;
        let saved = std::mem::replace(&mut ctx.route, RouteKind::Error);
        let out = self.block(ctx, &script.routes[index].body);
        ctx.route = saved;
        ctx.err = None;
        match out {
            Ctl::Halt(h) => Ctl::Halt(h),
            _ => Ctl::Next,
        }
    }

    fn halt_or(r: Result<i32, Halt>, ctx: &mut RunCtx<'_>) -> Ctl {
        match r {
            Ok(0) => Ctl::Halt(Halt::Exit),
            Ok(rc) => {
                ctx.last_rc = rc;
                Ctl::Next
            }
            Err(h) => Ctl::Halt(h),
        }
    }

    fn location(&self, s: &CStmt) -> String {
        self.script.sources.location(s.span)
    }

    fn exec(&mut self, ctx: &mut RunCtx<'_>, s: &CStmt) -> Ctl {
        match &s.kind {
            CStmtKind::Call(c) => {
                let rc = self.call(ctx, c);
                ctx.last_rc = rc;
                if rc == 0 {
                    Ctl::Halt(Halt::Exit)
                } else {
                    Ctl::Next
                }
            }
            CStmtKind::Route(rc) => {
                let r = self.route(ctx, rc);
                Self::halt_or(r, ctx)
            }
            // `block` already ran the slot-to-slot shapes (`assign_slot`): the rest is evaluated.
            CStmtKind::Assign { lhs, op, rhs } => {
                let r = self.assign(ctx, lhs, *op, rhs, s);
                ctx.last_rc = r;
                Ctl::Next
            }
            CStmtKind::If { cond, then, els } => match ctx.eval_cond(cond, self) {
                Err(h) => Ctl::Halt(h),
                Ok(true) => self.block(ctx, then),
                Ok(false) => match els {
                    Some(e) => self.block(ctx, e),
                    // OpenSIPS's IF_T: "default is continue" (1); a route ending here returns 1.
                    None => {
                        ctx.last_rc = 1;
                        Ctl::Next
                    }
                },
            },
            CStmtKind::While { cond, body } => {
                let mut n = 0u32;
                loop {
                    match ctx.eval_cond(cond, self) {
                        Err(h) => return Ctl::Halt(h),
                        Ok(false) => return Ctl::Next,
                        Ok(true) => {}
                    }
                    n += 1;
                    if n > self.max_while_loops {
                        tracing::error!(
                            "{}: while loop stopped after {} iterations (max_while_loops)",
                            self.location(s),
                            self.max_while_loops
                        );
                        return Ctl::Next;
                    }
                    match self.block(ctx, body) {
                        Ctl::Next => {}
                        Ctl::Break => return Ctl::Next,
                        other => return other,
                    }
                }
            }
            CStmtKind::ForEach { var, src, body } => {
                let mut i = 0;
                loop {
                    let mut item = src.clone();
                    item.index = Some(PvIndex::At(i));
                    let v = match ctx.get_pv(&item) {
                        Ok(Value::Null) | Err(_) => return Ctl::Next,
                        Ok(v) => v,
                    };
                    let op = if var.name == "json" {
                        AssignOp::Replace
                    } else {
                        AssignOp::Set
                    };
                    if let Err(e) = ctx.set_pv(var, op, v) {
                        tracing::error!("{}: {e}", self.location(s));
                        return Ctl::Next;
                    }
                    match self.block(ctx, body) {
                        Ctl::Next => {}
                        Ctl::Break => return Ctl::Next,
                        other => return other,
                    }
                    i += 1;
                }
            }
            CStmtKind::Switch { subject, cases } => self.switch(ctx, subject, cases, s),
            CStmtKind::Block(b) => self.block(ctx, b),
            CStmtKind::Break => Ctl::Break,
            CStmtKind::Return { code, values } => {
                let rc = match code {
                    None => 1,
                    Some(e) => match ctx.eval_expr(e, self) {
                        Ok(Value::Null) => -1,
                        Ok(Value::Int(i)) => i,
                        Ok(v) => v.as_int().unwrap_or(1),
                        Err(e) => {
                            tracing::error!("{}: {e}", self.location(s));
                            -1
                        }
                    },
                };
                let mut rets = Vec::with_capacity(values.len());
                for v in values {
                    rets.push(ctx.eval_expr(v, self).unwrap_or(Value::Null));
                }
                ctx.returns = rets;
                Ctl::Return(rc)
            }
            CStmtKind::Exit => Ctl::Halt(Halt::Exit),
            CStmtKind::Drop => Ctl::Halt(Halt::Drop),
            CStmtKind::Assert { cond, desc } => {
                if !self.enable_asserts {
                    return Ctl::Next;
                }
                match ctx.eval_cond(cond, self) {
                    Ok(true) => Ctl::Next,
                    Ok(false) => {
                        tracing::error!(
                            "{}: assertion failed: {}",
                            self.location(s),
                            desc.as_deref().unwrap_or("")
                        );
                        // error_route runs after this statement (see `block`).
                        ctx.err = Some(ErrInfo::assertion());
                        Ctl::Halt(Halt::Exit)
                    }
                    Err(h) => Ctl::Halt(h),
                }
            }
            CStmtKind::Log { level, msg } => {
                if *level <= self.log_level {
                    log_at(*level, msg);
                }
                ctx.last_rc = 1;
                Ctl::Next
            }
            CStmtKind::Xlog { level, fmt } => {
                let lvl = match level {
                    XlogLevel::Default => self.xlog_print_level,
                    XlogLevel::Const(l) => *l,
                    XlogLevel::Pv(p) => match ctx.get_pv(p) {
                        Ok(v) => v
                            .as_int()
                            .or_else(|| v.as_str().and_then(|s| xlog_level(&s)))
                            .unwrap_or(self.xlog_print_level),
                        Err(_) => self.xlog_print_level,
                    },
                };
                if lvl <= self.xlog_level {
                    let text = ctx.expand(fmt);
                    log_at(lvl, text.trim_end_matches('\n'));
                }
                ctx.last_rc = 1;
                Ctl::Next
            }
            CStmtKind::Error(a, b) => {
                tracing::error!(
                    "{}: error(\"{a}\", \"{b}\") is not implemented (as in OpenSIPS)",
                    self.location(s)
                );
                Ctl::Next
            }
            CStmtKind::Async { call, resume, .. } => {
                // Without an async reactor the function completes synchronously: OpenSIPS then runs
                // the resume route right away, and the current run ends.
                let rc = self.call(ctx, call);
                ctx.last_rc = rc;
                if let Some(r) = self.script.routes.get(*resume) {
                    let body = &r.body;
                    if let Ctl::Halt(h) = self.block(ctx, body) {
                        return Ctl::Halt(h);
                    }
                }
                Ctl::Halt(Halt::Exit)
            }
            CStmtKind::Launch { call, report, .. } => {
                let rc = self.call(ctx, call);
                if let Some(r) = report.and_then(|r| self.script.routes.get(r)) {
                    let saved = ctx.last_rc;
                    ctx.last_rc = rc;
                    let _ = self.block(ctx, &r.body);
                    ctx.last_rc = saved;
                }
                Ctl::Next
            }
            CStmtKind::Nop => Ctl::Next,
        }
    }

    /// `$var(x) = $var(y)`, `$var(x) = <message variable>` and `$var(x) = <constant>` straight
    /// into the slot (the common shapes, with no value passed through the evaluator); false when
    /// `rhs` is another shape.
    #[inline(always)]
    fn assign_slot(ctx: &mut RunCtx<'_>, dst: u32, rhs: &CExpr) -> bool {
        match rhs {
            CExpr::Pv(p) if p.trans.is_empty() => match p.slot {
                Some(src) => ctx.vars.copy_slot(src, dst),
                None if p.class.is_message() => match ctx.read_message_pv(p) {
                    Some(v) => ctx.vars.set_slot(dst, v).is_ok(),
                    None => false,
                },
                None => false,
            },
            CExpr::Int(i) => ctx.vars.set_slot(dst, Value::Int(*i)).is_ok(),
            CExpr::Str(t) => ctx.vars.set_slot(dst, Value::Str(t.clone())).is_ok(),
            // Integer arithmetic on integer-typed $vars and literals.
            CExpr::Binary(op, l, r) => match (Self::int_operand(ctx, l), Self::int_operand(ctx, r))
            {
                (Some(a), Some(b)) => ctx
                    .vars
                    .set_slot(dst, Value::Int(int_op(*op, a, b)))
                    .is_ok(),
                _ => false,
            },
            _ => false,
        }
    }

    #[inline(always)]
    fn int_operand(ctx: &RunCtx<'_>, e: &CExpr) -> Option<i32> {
        match e {
            CExpr::Int(i) => Some(*i),
            CExpr::Pv(p) => ctx.slot_int(p),
            _ => None,
        }
    }

    fn assign(
        &mut self,
        ctx: &mut RunCtx<'_>,
        lhs: &PvSpec,
        op: AssignOp,
        rhs: &super::ir::CExpr,
        s: &CStmt,
    ) -> i32 {
        let mut v = match ctx.eval_expr(rhs, self) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("{}: {e}", self.location(s));
                return -1;
            }
        };
        // `$var(name) = ...`: straight into its slot.
        if let Some(dst) = lhs.slot
            && matches!(op, AssignOp::Set | AssignOp::Replace)
            && ctx.vars.bound_to() != 0
        {
            match ctx.vars.set_slot(dst, v) {
                Ok(()) => return 1,
                Err(back) => v = back,
            }
        }
        match ctx.set_pv(lhs, op, v) {
            Ok(()) => 1,
            Err(e) => {
                tracing::error!("{}: {e}", self.location(s));
                -1
            }
        }
    }

    fn switch(
        &mut self,
        ctx: &mut RunCtx<'_>,
        subject: &PvSpec,
        cases: &[CCase],
        s: &CStmt,
    ) -> Ctl {
        let v = match ctx.get_pv(subject) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("{}: {e}", self.location(s));
                Value::Null
            }
        };
        ctx.last_rc = 1;
        let matches = |l: &CaseLabel| match l {
            // An integer also has a string form, so `case "5":` matches 5 (as in OpenSIPS).
            CaseLabel::Str(c) => v
                .with_text(|s| s.len() == c.len() && s.eq_ignore_ascii_case(c))
                .unwrap_or(false),
            CaseLabel::Int(i) => v.as_int() == Some(*i),
        };
        let start = cases
            .iter()
            .position(|c| c.label.as_ref().is_some_and(matches))
            .or_else(|| cases.iter().position(|c| c.label.is_none()));
        let Some(start) = start else {
            return Ctl::Next;
        };
        for c in &cases[start..] {
            match self.block(ctx, &c.body) {
                Ctl::Next => {}
                Ctl::Break => return Ctl::Next,
                other => return other,
            }
        }
        Ctl::Next
    }
}

fn log_at(level: i32, msg: &str) {
    match level {
        i32::MIN..=-1 => tracing::error!(target: "script", "{msg}"),
        1 => tracing::warn!(target: "script", "{msg}"),
        2 | 3 => tracing::info!(target: "script", "{msg}"),
        _ => tracing::debug!(target: "script", "{msg}"),
    }
}

impl Invoke for Interpreter<'_> {
    fn call(&mut self, ctx: &mut RunCtx<'_>, call: &CCall) -> i32 {
        let spec = match &call.func {
            FuncRef::Resolved { spec, .. } => *spec,
            FuncRef::Unresolved(name) => {
                tracing::error!(
                    "{}: `{name}` is not available (its module is not implemented)",
                    self.script.sources.location(call.span)
                );
                return -1;
            }
        };
        // Regexes held in variables are compiled for this call.
        let mut regexes = Vec::new();
        for a in &call.args {
            if let CArg::RegexPv(p) = a {
                let s = ctx
                    .get_pv(p)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.into_owned()))
                    .unwrap_or_default();
                match super::compiler::posix_regex(&s) {
                    Ok(r) => regexes.push(r),
                    Err(e) => {
                        tracing::error!(
                            "{}: bad regex in {}: {e}",
                            self.script.sources.location(call.span),
                            p.text
                        );
                        return -1;
                    }
                }
            }
        }
        let mut next_re = regexes.iter();
        // Arguments live on the stack for the usual short lists (no allocation per call).
        let mut on_stack: [ArgValue<'_>; STACK_ARGS] = std::array::from_fn(|_| ArgValue::None);
        let mut spilled = Vec::new();
        for (i, a) in call.args.iter().enumerate() {
            let want_int = spec.params.get(i).is_some_and(|p| p.ty == ArgType::Int);
            let v = match a {
                CArg::None => ArgValue::None,
                CArg::Int(v) => ArgValue::Int(*v),
                CArg::Format(f) => ArgValue::Str(ctx.expand_str(f)),
                CArg::Lit(s) => ArgValue::Str(s.clone()),
                CArg::Pv(p) => match ctx.get_pv(p) {
                    Ok(v) if want_int => match v
                        .as_int()
                        .or_else(|| v.as_str().and_then(|s| Value::parse_int(&s)))
                    {
                        Some(i) => ArgValue::Int(i),
                        None => {
                            tracing::error!(
                                "{}: {} is not an integer",
                                self.script.sources.location(call.span),
                                p.text
                            );
                            return -1;
                        }
                    },
                    Ok(Value::Int(i)) => ArgValue::Int(i),
                    Ok(v) => ArgValue::Str(v.into_text().unwrap_or_else(|| "<null>".into())),
                    Err(e) => {
                        tracing::error!("{}: {e}", self.script.sources.location(call.span));
                        return -1;
                    }
                },
                CArg::Var(p) => ArgValue::Var(p),
                CArg::Regex(r) => ArgValue::Regex(r),
                CArg::RegexPv(_) => match next_re.next() {
                    Some(r) => ArgValue::Regex(r),
                    None => ArgValue::None,
                },
                CArg::Flag(f) => ArgValue::Flag(*f),
                CArg::Route(k, r) => ArgValue::Route(*k, *r),
            };
            if call.args.len() <= STACK_ARGS {
                on_stack[i] = v;
            } else {
                spilled.push(v);
            }
        }
        let rc = if call.args.len() <= STACK_ARGS {
            (spec.handler)(ctx, &on_stack[..call.args.len()])
        } else {
            (spec.handler)(ctx, &spilled)
        };
        if let Some(e) = ctx.msg.as_mut().and_then(|m| m.take_error()) {
            ctx.err = Some(e);
        }
        rc
    }

    fn route(&mut self, ctx: &mut RunCtx<'_>, rc: &CRouteCall) -> Result<i32, Halt> {
        let index = match &rc.target {
            CRouteTarget::Static(i) => *i,
            CRouteTarget::Dynamic(f) => {
                let name = ctx.expand(f);
                match self.script.route_index(RouteKind::Request, Some(&name)) {
                    Some(i) => i,
                    None => {
                        tracing::error!(
                            "{}: no route[{name}]",
                            self.script.sources.location(rc.span)
                        );
                        return Ok(-1);
                    }
                }
            }
        };
        if self.depth >= MAX_ROUTE_DEPTH {
            tracing::error!(
                "{}: too many nested route() calls (max {MAX_ROUTE_DEPTH})",
                self.script.sources.location(rc.span)
            );
            return Ok(-1);
        }
        let mut params = Vec::with_capacity(rc.args.len());
        for a in &rc.args {
            params.push((None, ctx.eval_expr(a, self).unwrap_or(Value::Null)));
        }
        let saved = std::mem::replace(&mut ctx.params, params);
        self.depth += 1;
        let script = self.script;
        let out = self.block(ctx, &script.routes[index].body);
        self.depth -= 1;
        ctx.params = saved;
        match out {
            Ctl::Return(code) => Ok(code),
            Ctl::Halt(h) => Err(h),
            Ctl::Next | Ctl::Break => Ok(ctx.last_rc),
        }
    }

    fn stmt(&mut self, ctx: &mut RunCtx<'_>, s: &CStmt) -> Result<i32, Halt> {
        match self.exec(ctx, s) {
            Ctl::Halt(h) => Err(h),
            Ctl::Return(rc) => Ok(rc),
            _ => Ok(ctx.last_rc),
        }
    }
}
