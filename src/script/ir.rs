//! The compiled script: names resolved to functions, routes and flag ids, variables and format
//! strings parsed, regular expressions compiled. This is what the interpreter runs.

use super::ast::{AssignOp, BinOp, CmpOp, RouteKind};
use super::globals::SocketDef;
use super::module::{FunctionSpec, ModParams, ModuleDescriptor};
use super::pv::{Format, PvSpec};
use super::span::{SourceMap, Span};
use super::value::Str;
use std::collections::HashMap;

/// A function reference after resolution.
#[derive(Debug, Clone)]
pub enum FuncRef {
    Resolved {
        module: &'static str,
        spec: &'static FunctionSpec,
    },
    /// Not checked: it may belong to a loaded module osips does not implement yet.
    Unresolved(String),
}

impl FuncRef {
    pub fn name(&self) -> &str {
        match self {
            FuncRef::Resolved { spec, .. } => spec.name,
            FuncRef::Unresolved(n) => n,
        }
    }
}

/// A checked function argument.
#[derive(Debug, Clone)]
pub enum CArg {
    /// Optional parameter omitted.
    None,
    Int(i32),
    /// Format string (`$` variables expanded at each call).
    Format(Format),
    /// String taken literally.
    Lit(Str),
    /// Variable read at call time (int or string parameter).
    Pv(PvSpec),
    /// Output variable.
    Var(PvSpec),
    Regex(regex::Regex),
    /// Variable holding a regex, compiled at call time.
    RegexPv(PvSpec),
    Flag(u32),
    Route(RouteKind, usize),
}

#[derive(Debug, Clone)]
pub struct CCall {
    pub func: FuncRef,
    pub args: Vec<CArg>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum CRouteTarget {
    /// Index into [`Script::routes`].
    Static(usize),
    /// Name computed at run time (format string or variable) among the request routes.
    Dynamic(Format),
}

#[derive(Debug, Clone)]
pub struct CRouteCall {
    pub target: CRouteTarget,
    pub args: Vec<CExpr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum CExpr {
    Int(i32),
    Str(Str),
    Null,
    Pv(PvSpec),
    Call(CCall),
    Binary(BinOp, Box<CExpr>, Box<CExpr>),
    BitNot(Box<CExpr>),
    Neg(Box<CExpr>),
    Cond(Box<CCond>),
}

#[derive(Debug, Clone)]
pub enum COperand {
    Pv(PvSpec),
    Str(Str),
    Int(i32),
    Null,
    /// Address or network for `==` / `!=` against an IP.
    Net(String),
    /// String literal on the right of `=~` / `!~`, compiled once (case-insensitive).
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub enum CCond {
    And(Box<CCond>, Box<CCond>),
    Or(Box<CCond>, Box<CCond>),
    Not(Box<CCond>),
    Cmp {
        lhs: PvSpec,
        op: CmpOp,
        rhs: COperand,
    },
    Arith(CExpr),
    Call(CCall),
    Route(CRouteCall),
    Pv(PvSpec),
    Int(i32),
    Assign(Box<CStmt>),
}

#[derive(Debug, Clone)]
pub enum CaseLabel {
    Int(i32),
    Str(String),
}

#[derive(Debug, Clone)]
pub struct CCase {
    /// None for `default`.
    pub label: Option<CaseLabel>,
    pub body: Vec<CStmt>,
}

/// xlog level: a constant (`L_ERR` = -1 ...) or a variable read at run time.
#[derive(Debug, Clone)]
pub enum XlogLevel {
    /// No level given: `xlog_print_level` applies.
    Default,
    Const(i32),
    Pv(PvSpec),
}

#[derive(Debug, Clone)]
pub enum CStmtKind {
    Call(CCall),
    Route(CRouteCall),
    Assign {
        lhs: PvSpec,
        op: AssignOp,
        rhs: CExpr,
    },
    If {
        cond: CCond,
        then: Vec<CStmt>,
        els: Option<Vec<CStmt>>,
    },
    While {
        cond: CCond,
        body: Vec<CStmt>,
    },
    ForEach {
        var: PvSpec,
        src: PvSpec,
        body: Vec<CStmt>,
    },
    Switch {
        subject: PvSpec,
        cases: Vec<CCase>,
    },
    Block(Vec<CStmt>),
    Break,
    /// `return(code, values...)`; no code = 1.
    Return {
        code: Option<CExpr>,
        values: Vec<CExpr>,
    },
    Exit,
    Drop,
    Assert {
        cond: CCond,
        desc: Option<String>,
    },
    Log {
        level: i32,
        msg: String,
    },
    Xlog {
        level: XlogLevel,
        fmt: Format,
    },
    Error(String, String),
    Async {
        call: CCall,
        resume: usize,
        timeout: Option<i32>,
    },
    Launch {
        call: CCall,
        report: Option<usize>,
        text: Option<String>,
    },
    Nop,
}

#[derive(Debug, Clone)]
pub struct CStmt {
    pub kind: CStmtKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct CRoute {
    pub kind: RouteKind,
    /// None for the unnamed block of its kind.
    pub name: Option<String>,
    /// `timer_route` interval in seconds.
    pub interval: Option<u32>,
    /// `event_route[E_X, async]`.
    pub asynchronous: bool,
    pub body: Vec<CStmt>,
    pub span: Span,
}

impl CRoute {
    /// How OpenSIPS names the block: `route`, `route[relay]`, `failure_route[missed]`.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => format!("{}[{n}]", self.kind.keyword()),
            None => self.kind.keyword().to_string(),
        }
    }
}

/// A global parameter after validation (under its current name).
#[derive(Debug, Clone, PartialEq)]
pub enum GlobalSetting {
    Int(i64),
    Str(String),
}

#[derive(Debug, Clone)]
pub struct LoadedModule {
    pub name: String,
    /// None: an OpenSIPS module osips does not implement yet.
    pub descriptor: Option<&'static ModuleDescriptor>,
    pub span: Span,
}

/// Flag names and the ids given to them, per kind (message flags and branch flags).
#[derive(Debug, Clone, Default)]
pub struct FlagNames {
    pub msg: Vec<String>,
    pub branch: Vec<String>,
}

impl FlagNames {
    pub const MAX: usize = 32;

    pub fn msg_id(&self, name: &str) -> Option<u32> {
        self.msg.iter().position(|n| n == name).map(|i| i as u32)
    }

    pub fn branch_id(&self, name: &str) -> Option<u32> {
        self.branch.iter().position(|n| n == name).map(|i| i as u32)
    }
}

/// A compiled script, ready for the interpreter.
#[derive(Debug, Clone)]
pub struct Script {
    pub sources: SourceMap,
    /// Global parameters in script order (deprecated names already mapped).
    pub globals: Vec<(String, GlobalSetting, Span)>,
    pub sockets: Vec<(SocketDef, Span)>,
    /// `alias=` values, as written.
    pub aliases: Vec<String>,
    pub mpath: Vec<String>,
    pub modules: Vec<LoadedModule>,
    /// modparam values per module name.
    pub modparams: HashMap<String, ModParams>,
    pub routes: Vec<CRoute>,
    pub flags: FlagNames,
    /// `$var` names by slot (see [`PvSpec::slot`]).
    pub var_names: Vec<String>,
    /// Unique per compiled script: a worker's variable table is bound to one script at a time.
    pub id: u64,
    route_index: HashMap<(RouteKind, Option<String>), usize>,
}

impl Script {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sources: SourceMap,
        globals: Vec<(String, GlobalSetting, Span)>,
        sockets: Vec<(SocketDef, Span)>,
        aliases: Vec<String>,
        mpath: Vec<String>,
        modules: Vec<LoadedModule>,
        modparams: HashMap<String, ModParams>,
        routes: Vec<CRoute>,
        flags: FlagNames,
        var_names: Vec<String>,
    ) -> Script {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let route_index = routes
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.kind, r.name.clone()), i))
            .collect();
        Script {
            sources,
            globals,
            sockets,
            aliases,
            mpath,
            modules,
            modparams,
            routes,
            flags,
            var_names,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            route_index,
        }
    }

    /// Last value set for a global parameter.
    pub fn global(&self, name: &str) -> Option<&GlobalSetting> {
        self.globals
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v)
    }

    pub fn global_int(&self, name: &str) -> Option<i64> {
        match self.global(name)? {
            GlobalSetting::Int(i) => Some(*i),
            GlobalSetting::Str(_) => None,
        }
    }

    pub fn global_str(&self, name: &str) -> Option<&str> {
        match self.global(name)? {
            GlobalSetting::Str(s) => Some(s),
            GlobalSetting::Int(_) => None,
        }
    }

    /// Index of a route block (None name = the unnamed block of that kind).
    pub fn route_index(&self, kind: RouteKind, name: Option<&str>) -> Option<usize> {
        self.route_index
            .get(&(kind, name.map(str::to_string)))
            .copied()
    }

    pub fn route(&self, kind: RouteKind, name: Option<&str>) -> Option<&CRoute> {
        self.route_index(kind, name).map(|i| &self.routes[i])
    }

    /// The main request route.
    pub fn main_route(&self) -> Option<&CRoute> {
        self.route(RouteKind::Request, None)
    }

    pub fn is_loaded(&self, module: &str) -> bool {
        self.modules.iter().any(|m| m.name == module)
    }
}
