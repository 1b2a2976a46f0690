//! Syntax tree of an opensips.cfg script, as written (names not yet resolved). Every node has a span.

use super::span::{Span, Spanned};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Global(GlobalParam),
    LoadModule(Spanned<String>),
    ModParam(ModParam),
    Route(RouteBlock),
}

/// Value of a global parameter, as far as the parser can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum GlobalValue {
    Int(i64),
    Str(String),
    Ident(String),
    /// Socket / alias / blacklist / scaling definitions: the source text of the rest of the line.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GlobalParam {
    pub name: Spanned<String>,
    pub value: Spanned<GlobalValue>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModParamValue {
    Str(String),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModParam {
    /// Module name or `|`-separated regex of names.
    pub module: Spanned<String>,
    pub param: Spanned<String>,
    pub value: Spanned<ModParamValue>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    Request,
    Failure,
    OnReply,
    Branch,
    Error,
    Local,
    Startup,
    Timer,
    Event,
}

impl RouteKind {
    pub fn keyword(self) -> &'static str {
        match self {
            RouteKind::Request => "route",
            RouteKind::Failure => "failure_route",
            RouteKind::OnReply => "onreply_route",
            RouteKind::Branch => "branch_route",
            RouteKind::Error => "error_route",
            RouteKind::Local => "local_route",
            RouteKind::Startup => "startup_route",
            RouteKind::Timer => "timer_route",
            RouteKind::Event => "event_route",
        }
    }

    pub fn from_keyword(k: &str) -> Option<RouteKind> {
        Some(match k {
            "route" | "request_route" => RouteKind::Request,
            "failure_route" => RouteKind::Failure,
            "onreply_route" | "reply_route" => RouteKind::OnReply,
            "branch_route" => RouteKind::Branch,
            "error_route" => RouteKind::Error,
            "local_route" => RouteKind::Local,
            "startup_route" => RouteKind::Startup,
            "timer_route" => RouteKind::Timer,
            "event_route" => RouteKind::Event,
            _ => return None,
        })
    }

    pub const ALL: [RouteKind; 9] = [
        RouteKind::Request,
        RouteKind::Failure,
        RouteKind::OnReply,
        RouteKind::Branch,
        RouteKind::Error,
        RouteKind::Local,
        RouteKind::Startup,
        RouteKind::Timer,
        RouteKind::Event,
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteBlock {
    pub kind: RouteKind,
    /// None for the unnamed block (`route`, `onreply_route`, `error_route`, ...). `route[0]` is unnamed.
    pub name: Option<Spanned<String>>,
    /// `timer_route[name, interval]`.
    pub interval: Option<i64>,
    /// `event_route[E_X, async]`: run on a delivery worker instead of the raising thread.
    pub asynchronous: bool,
    pub body: Block,
    /// Span of the header (`failure_route[x]`).
    pub span: Span,
}

pub type Block = Vec<Stmt>;

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

/// A function argument as written: only literals and variables are allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgKind {
    Str {
        value: String,
        single: bool,
    },
    Int(i64),
    Var(String),
    Null,
    /// `f(, "x")`: parameter omitted.
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub kind: ArgKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Spanned<String>,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `:=`
    Replace,
    /// `+= -= *= /= %= &= |= ^=`
    Compound(BinOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Match,
    NotMatch,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Lt => "<",
            CmpOp::Ge => ">=",
            CmpOp::Le => "<=",
            CmpOp::Match => "=~",
            CmpOp::NotMatch => "!~",
        }
    }
}

/// Arithmetic expression (right side of assignments, `[ ... ]` tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Int(i64),
    Str(String),
    Var(Spanned<String>),
    Null,
    Call(Call),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    BitNot(Box<Expr>),
    Neg(Box<Expr>),
    /// A comparison used as a value (0/1).
    Cond(Box<Cond>),
}

/// Right operand of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Var(Spanned<String>),
    Str(String),
    Int(i64),
    Null,
    /// `10.0.0.0/8`, `1.2.3.4`, `10.0.0.0/255.0.0.0`.
    Net(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp {
        lhs: Spanned<String>,
        op: CmpOp,
        rhs: Spanned<Operand>,
    },
    /// `[ arith ]`
    Arith(Expr),
    Call(Call),
    /// `route(x)` in a condition: its return code.
    Route(RouteCall),
    Var(Spanned<String>),
    Int(i64),
    Assign(Box<Stmt>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteRef {
    Name(String),
    /// Name with `$` (a format string) or a variable.
    Dynamic(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteCall {
    pub target: Spanned<RouteRef>,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// None for `default:`.
    pub label: Option<Spanned<CaseLabel>>,
    pub body: Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaseLabel {
    Int(i64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    Call(Call),
    Route(RouteCall),
    Assign {
        lhs: Spanned<String>,
        op: AssignOp,
        rhs: Expr,
    },
    If {
        cond: Cond,
        then: Block,
        els: Option<Block>,
    },
    While {
        cond: Cond,
        body: Block,
    },
    ForEach {
        var: Spanned<String>,
        src: Spanned<String>,
        body: Block,
    },
    Switch {
        subject: Spanned<String>,
        cases: Vec<Case>,
    },
    Block(Block),
    Break,
    /// `return`, `return(v)`, `return(v, a, b...)`.
    Return(Vec<Arg>),
    Exit,
    Drop,
    Assert {
        cond: Cond,
        desc: Option<String>,
    },
    /// `log([level,] msg)`
    Log {
        level: Option<i64>,
        msg: String,
    },
    /// `xlog([level,] fmt)` / `xdbg(fmt)` (level "L_DBG").
    Xlog {
        level: Option<Arg>,
        fmt: Spanned<String>,
    },
    Error(String, String),
    Async {
        call: Call,
        resume: Spanned<String>,
        timeout: Option<i64>,
    },
    Launch {
        call: Call,
        report: Option<Spanned<String>>,
        text: Option<String>,
    },
    Nop,
}
