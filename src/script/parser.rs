//! Recursive-descent parser for the opensips.cfg grammar (OpenSIPS `cfg.y`), producing the AST with
//! spans. Errors are collected (the parser resynchronises at `;`, `}` or the next top-level keyword).

use super::ast::*;
use super::diag::Diagnostic;
use super::legacy;
use super::lexer::{Tok, Token};
use super::span::{SourceMap, Span, Spanned};

pub struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    sources: &'a SourceMap,
    pub diags: Vec<Diagnostic>,
    /// Depth of enclosing while / for / switch bodies (for `break`).
    loop_depth: usize,
    /// Active nested statements / conditions / expressions (bounded, so no input overflows the stack).
    nesting: usize,
}

/// A parse error already reported; the caller resynchronises.
struct Bail;

type PResult<T> = Result<T, Bail>;

/// Bound on nested blocks, conditions and expressions (OpenSIPS allows 100 nested expressions).
const MAX_NESTING: usize = 120;

const TOP_KEYWORDS: &[&str] = &[
    "route",
    "request_route",
    "failure_route",
    "onreply_route",
    "reply_route",
    "branch_route",
    "error_route",
    "local_route",
    "startup_route",
    "timer_route",
    "event_route",
    "loadmodule",
    "modparam",
];

impl<'a> Parser<'a> {
    pub fn new(toks: &'a [Token], sources: &'a SourceMap) -> Self {
        Parser {
            toks,
            pos: 0,
            sources,
            diags: Vec::new(),
            loop_depth: 0,
            nesting: 0,
        }
    }

    /// Parses a whole token stream (which must end with `Eof`).
    pub fn parse(toks: &'a [Token], sources: &'a SourceMap) -> (Config, Vec<Diagnostic>) {
        let mut p = Parser::new(toks, sources);
        let cfg = p.config();
        (cfg, p.diags)
    }

    // ----------------------------------------------------------------- token helpers

    fn tok(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_tok(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].span
    }

    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at(&self, t: &Tok) -> bool {
        self.tok() == t
    }

    fn at_ident(&self, name: &str) -> bool {
        matches!(self.tok(), Tok::Ident(s) if s == name)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.at(t) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error_here(&mut self, msg: impl Into<String>, label: impl Into<String>) -> Bail {
        let span = self.span();
        self.diags.push(Diagnostic::error(span, msg).label(label));
        Bail
    }

    fn expect(&mut self, t: &Tok, what: &str) -> PResult<Span> {
        if self.at(t) {
            Ok(self.bump().span)
        } else {
            let found = self.tok().describe();
            Err(self.error_here(
                format!("expected `{}` {what}, found {found}", t.symbol()),
                format!("expected `{}`", t.symbol()),
            ))
        }
    }

    fn line_of(&self, span: Span) -> usize {
        self.sources.line_col(span).0
    }

    // ----------------------------------------------------------------- top level

    fn config(&mut self) -> Config {
        let mut cfg = Config::default();
        while !self.at(&Tok::Eof) {
            let start = self.pos;
            match self.top_item() {
                Ok(Some(item)) => cfg.items.push(item),
                Ok(None) => {}
                Err(Bail) => self.recover_top(start),
            }
        }
        cfg
    }

    /// Skips to the next token that can start a top-level item.
    fn recover_top(&mut self, start: usize) {
        if self.pos == start {
            self.bump();
        }
        let mut depth = 0i32;
        while !self.at(&Tok::Eof) {
            match self.tok() {
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    depth -= 1;
                    if depth <= 0 {
                        self.bump();
                        if depth < 0 {
                            continue;
                        }
                        return;
                    }
                }
                Tok::Ident(s)
                    if depth <= 0
                        && (TOP_KEYWORDS.contains(&s.as_str())
                            || matches!(self.peek_tok(1), Tok::Assign)) =>
                {
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    fn top_item(&mut self) -> PResult<Option<Item>> {
        let t = self.bump();
        let Tok::Ident(word) = &t.tok else {
            if t.tok == Tok::Semi {
                self.diags.push(
                    Diagnostic::error(t.span, "unexpected `;` at top level")
                        .label("global parameters take no `;`"),
                );
                return Ok(None);
            }
            self.diags.push(
                Diagnostic::error(
                    t.span,
                    format!("unexpected {} at top level", t.tok.describe()),
                )
                .label("expected a global parameter, loadmodule, modparam or a route block"),
            );
            return Err(Bail);
        };
        if let Some(kind) = RouteKind::from_keyword(word)
            && !self.at(&Tok::Assign)
        {
            return self
                .route_block(kind, t.span, word)
                .map(|r| Some(Item::Route(r)));
        }
        match word.as_str() {
            "loadmodule" => {
                let (s, span) = self.string("after loadmodule")?;
                Ok(Some(Item::LoadModule(Spanned::new(s, span))))
            }
            "modparam" => self.modparam(t.span).map(|m| Some(Item::ModParam(m))),
            "mem"
                if self.at(&Tok::Minus)
                    && matches!(self.peek_tok(1), Tok::Ident(g) if g == "group") =>
            {
                self.bump();
                let end = self.bump().span;
                if !self.at(&Tok::Assign) {
                    return Err(self.error_here("expected `=` after `mem-group`", "expected `=`"));
                }
                let eq = self.bump().span;
                self.global_value(Spanned::new("mem-group".into(), t.span.to(end)), eq)
                    .map(|g| Some(Item::Global(g)))
            }
            _ => {
                if !self.at(&Tok::Assign) {
                    let found = self.tok().describe();
                    self.diags.push(
                        Diagnostic::error(t.span, format!("unexpected word `{word}` at top level"))
                            .label(format!(
                                "expected `=` after a global parameter name, found {found}"
                            )),
                    );
                    return Err(Bail);
                }
                let eq = self.bump().span;
                self.global_value(Spanned::new(word.clone(), t.span), eq)
                    .map(|g| Some(Item::Global(g)))
            }
        }
    }

    fn string(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.tok().clone() {
            Tok::Str { value, .. } => Ok((value, self.bump().span)),
            other => Err(self.error_here(
                format!("expected a string {what}, found {}", other.describe()),
                "expected a quoted string",
            )),
        }
    }

    /// Adjacent string literals, concatenated (`"a" "b"`).
    fn folded_string(&mut self, what: &str) -> PResult<(String, Span)> {
        let (mut s, mut span) = self.string(what)?;
        while let Tok::Str { value, .. } = self.tok().clone() {
            s.push_str(&value);
            span = span.to(self.bump().span);
        }
        Ok((s, span))
    }

    fn modparam(&mut self, kw: Span) -> PResult<ModParam> {
        self.expect(&Tok::LParen, "after modparam")?;
        let (m, ms) = self.string("(module name)")?;
        self.expect(&Tok::Comma, "after the module name")?;
        let (p, ps) = self.string("(parameter name)")?;
        self.expect(&Tok::Comma, "after the parameter name")?;
        let vstart = self.span();
        let value = match self.tok().clone() {
            Tok::Str { .. } => ModParamValue::Str(self.folded_string("")?.0),
            Tok::Int { value, .. } => {
                self.bump();
                ModParamValue::Int(value)
            }
            Tok::Minus | Tok::Plus => {
                let neg = self.bump().tok == Tok::Minus;
                match self.tok().clone() {
                    Tok::Int { value, .. } => {
                        self.bump();
                        ModParamValue::Int(if neg { -value } else { value })
                    }
                    other => {
                        return Err(self.error_here(
                            format!("expected a number, found {}", other.describe()),
                            "expected a number",
                        ));
                    }
                }
            }
            other => {
                return Err(self.error_here(
                    format!(
                        "expected a string or a number as modparam value, found {}",
                        other.describe()
                    ),
                    "expected a value",
                ));
            }
        };
        let vspan = vstart.to(self.prev_span());
        let end = self.expect(&Tok::RParen, "closing modparam")?;
        // A trailing `;` after modparam is tolerated by OpenSIPS? It is not: report it.
        if self.at(&Tok::Semi) {
            let s = self.bump().span;
            self.diags.push(
                Diagnostic::warning(s, "stray `;` after modparam").label("not needed at top level"),
            );
        }
        Ok(ModParam {
            module: Spanned::new(m, ms),
            param: Spanned::new(p, ps),
            value: Spanned::new(value, vspan),
            span: kw.to(end),
        })
    }

    fn global_value(&mut self, name: Spanned<String>, eq: Span) -> PResult<GlobalParam> {
        let line = self.line_of(eq);
        let first = self.pos;
        if self.at(&Tok::Eof) {
            return Err(self.error_here(
                format!("missing value for `{}`", name.node),
                "expected a value",
            ));
        }
        // The value runs to the end of the line (global statements have no terminator), or further
        // while a `{` / `(` is open (multi-line `dst_blacklist` rules).
        let mut depth = 0i32;
        let mut line = line;
        while !self.at(&Tok::Eof)
            && (self.pos == first || depth > 0 || self.line_of(self.span()) == line)
        {
            match self.tok() {
                Tok::LBrace | Tok::LParen => depth += 1,
                Tok::RBrace | Tok::RParen => depth -= 1,
                _ => {}
            }
            line = self.line_of(self.span());
            self.bump();
        }
        let mut toks = &self.toks[first..self.pos];
        while toks.len() > 1 && toks[toks.len() - 1].tok == Tok::Semi {
            self.diags.push(
                Diagnostic::error(
                    toks[toks.len() - 1].span,
                    "unexpected `;` after a global parameter",
                )
                .label("global parameters take no `;`"),
            );
            toks = &toks[..toks.len() - 1];
        }
        let vspan = toks[0].span.to(toks[toks.len() - 1].span);
        let value = match toks {
            [t] => match &t.tok {
                Tok::Int { value, .. } => GlobalValue::Int(*value),
                Tok::Str { value, .. } => GlobalValue::Str(value.clone()),
                Tok::Ident(s) => GlobalValue::Ident(s.clone()),
                Tok::Null => GlobalValue::Ident("null".into()),
                _ => GlobalValue::Raw(self.sources.snippet(vspan).to_string()),
            },
            [m, n] if m.tok == Tok::Minus && matches!(n.tok, Tok::Int { .. }) => match n.tok {
                Tok::Int { value, .. } => GlobalValue::Int(-value),
                _ => unreachable!(),
            },
            ts if ts.iter().all(|t| matches!(t.tok, Tok::Str { .. })) => GlobalValue::Str(
                ts.iter()
                    .map(|t| match &t.tok {
                        Tok::Str { value, .. } => value.as_str(),
                        _ => "",
                    })
                    .collect(),
            ),
            _ => GlobalValue::Raw(self.sources.snippet(vspan).to_string()),
        };
        Ok(GlobalParam {
            span: name.span.to(vspan),
            name,
            value: Spanned::new(value, vspan),
        })
    }

    /// Route name inside `[...]`: an identifier, number or string, possibly with `-` / `.` / `:`.
    fn route_name(&mut self) -> PResult<Spanned<String>> {
        let start = self.span();
        if let Tok::Str { value, .. } = self.tok().clone() {
            self.bump();
            return Ok(Spanned::new(value, start));
        }
        let mut end = start;
        let mut n = 0;
        while matches!(
            self.tok(),
            Tok::Ident(_) | Tok::Int { .. } | Tok::Minus | Tok::Dot | Tok::Colon | Tok::Null
        ) {
            // Numbers lose their spelling in the lexer (yes/no words too): use the source text.
            end = self.bump().span;
            n += 1;
        }
        if n == 0 {
            let found = self.tok().describe();
            return Err(self.error_here(
                format!("expected a route name, found {found}"),
                "expected a name",
            ));
        }
        let span = start.to(end);
        Ok(Spanned::new(self.sources.snippet(span).to_string(), span))
    }

    fn route_block(&mut self, kind: RouteKind, kw: Span, word: &str) -> PResult<RouteBlock> {
        if word == "request_route" || word == "reply_route" {
            self.diags.push(
                Diagnostic::warning(kw, format!("`{word}` is Kamailio syntax"))
                    .label(format!("read as `{}`", kind.keyword())),
            );
        }
        let mut name = None;
        let mut interval = None;
        let mut asynchronous = false;
        if self.eat(&Tok::LBracket) {
            let n = self.route_name()?;
            if kind == RouteKind::Timer {
                self.expect(&Tok::Comma, "between the timer route name and its interval")?;
                match self.tok().clone() {
                    Tok::Int { value, .. } => {
                        self.bump();
                        interval = Some(value);
                    }
                    other => {
                        return Err(self.error_here(
                            format!(
                                "expected the timer interval in seconds, found {}",
                                other.describe()
                            ),
                            "expected a number",
                        ));
                    }
                }
            } else if kind == RouteKind::Event && self.eat(&Tok::Comma) {
                // event_route[E_X, sync|async]
                match self.tok().clone() {
                    Tok::Ident(m) if m == "sync" || m == "async" => {
                        asynchronous = m == "async";
                        self.bump();
                    }
                    other => {
                        return Err(self.error_here(
                            format!("expected `sync` or `async`, found {}", other.describe()),
                            "expected sync or async",
                        ));
                    }
                }
            }
            self.expect(&Tok::RBracket, "closing the route name")?;
            let unnamed = n.node == "0" && matches!(kind, RouteKind::Request | RouteKind::OnReply);
            if !unnamed {
                name = Some(n);
            }
        }
        let header = kw.to(self.prev_span());
        match kind {
            RouteKind::Failure | RouteKind::Branch | RouteKind::Event | RouteKind::Timer
                if name.is_none() =>
            {
                self.diags.push(
                    Diagnostic::error(header, format!("`{}` needs a name", kind.keyword())).label(
                        if kind == RouteKind::Timer {
                            "expected `[name, interval]`"
                        } else {
                            "expected `[name]`"
                        },
                    ),
                );
            }
            RouteKind::Error | RouteKind::Local | RouteKind::Startup if name.is_some() => {
                self.diags.push(
                    Diagnostic::error(header, format!("`{}` takes no name", kind.keyword()))
                        .label("remove the `[...]`"),
                );
            }
            _ => {}
        }
        self.expect(&Tok::LBrace, "opening the route body")?;
        let body = self.stmts_until_rbrace();
        Ok(RouteBlock {
            kind,
            name,
            interval,
            asynchronous,
            body,
            span: header,
        })
    }

    // ----------------------------------------------------------------- statements

    /// Statements up to the matching `}` (consumed).
    fn stmts_until_rbrace(&mut self) -> Block {
        let mut out = Vec::new();
        loop {
            match self.tok() {
                Tok::RBrace => {
                    self.bump();
                    return out;
                }
                Tok::Eof => {
                    self.error_here("unexpected end of file", "missing `}`");
                    return out;
                }
                _ => {}
            }
            let start = self.pos;
            match self.stmt() {
                Ok(s) => out.push(s),
                Err(Bail) => self.recover_stmt(start),
            }
        }
    }

    /// Skips past the next `;` at this nesting level, or stops before a `}` closing this block.
    fn recover_stmt(&mut self, start: usize) {
        if self.pos == start && !self.at(&Tok::RBrace) {
            self.bump();
        }
        let mut depth = 0i32;
        loop {
            match self.tok() {
                Tok::Eof => return,
                Tok::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                Tok::LBrace | Tok::LParen => depth += 1,
                Tok::RBrace if depth == 0 => return,
                Tok::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                Tok::RParen => depth = (depth - 1).max(0),
                Tok::Ident(s)
                    if depth == 0 && TOP_KEYWORDS[1..].contains(&s.as_str()) && s != "route" =>
                {
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// `block = action | "{" actions "}"`
    fn block(&mut self) -> PResult<Block> {
        if self.eat(&Tok::LBrace) {
            Ok(self.stmts_until_rbrace())
        } else {
            Ok(vec![self.stmt()?])
        }
    }

    fn loop_body(&mut self) -> PResult<Block> {
        self.loop_depth += 1;
        let b = self.block();
        self.loop_depth -= 1;
        b
    }

    fn end_stmt(&mut self) -> PResult<()> {
        if self.eat(&Tok::Semi) {
            return Ok(());
        }
        // Report at the end of the previous token, where the `;` is missing.
        let prev = self.prev_span();
        let at = Span::new(prev.file, prev.end as usize, prev.end as usize);
        let found = self.tok().describe();
        self.diags.push(
            Diagnostic::error(at, format!("expected `;`, found {found}")).label("missing `;`"),
        );
        // Keep going without consuming: the next statement probably starts here.
        Ok(())
    }

    /// Counts one level of nesting; errors past [`MAX_NESTING`].
    fn enter(&mut self) -> PResult<()> {
        if self.nesting >= MAX_NESTING {
            return Err(self.error_here(
                "nested too deeply",
                format!("more than {MAX_NESTING} levels"),
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        self.enter()?;
        let r = self.stmt_inner();
        self.nesting -= 1;
        r
    }

    fn stmt_inner(&mut self) -> PResult<Stmt> {
        let start = self.span();
        let kind = self.stmt_kind()?;
        Ok(Stmt {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn stmt_kind(&mut self) -> PResult<StmtKind> {
        match self.tok().clone() {
            Tok::Semi => {
                self.bump();
                Ok(StmtKind::Nop)
            }
            Tok::LBrace => {
                self.bump();
                Ok(StmtKind::Block(self.stmts_until_rbrace()))
            }
            Tok::Var(v) => {
                let vs = self.bump().span;
                let st = self.assignment(Spanned::new(v, vs))?;
                self.end_stmt()?;
                Ok(st)
            }
            Tok::Ident(w) => self.word_stmt(&w),
            other => Err(self.error_here(
                format!(
                    "unexpected {} where a statement was expected",
                    other.describe()
                ),
                "expected a statement",
            )),
        }
    }

    fn assignment(&mut self, lhs: Spanned<String>) -> PResult<StmtKind> {
        let op = match self.tok() {
            Tok::Assign => AssignOp::Set,
            Tok::ColonAssign => AssignOp::Replace,
            Tok::OpAssign(c) => AssignOp::Compound(match c {
                '+' => BinOp::Add,
                '-' => BinOp::Sub,
                '*' => BinOp::Mul,
                '/' => BinOp::Div,
                '%' => BinOp::Mod,
                '&' => BinOp::BitAnd,
                '|' => BinOp::BitOr,
                _ => BinOp::BitXor,
            }),
            other => {
                let found = other.describe();
                return Err(self.error_here(
                    format!(
                        "expected an assignment operator after `{}`, found {found}",
                        lhs.node
                    ),
                    "expected `=`, `:=`, `+=`, ...",
                ));
            }
        };
        self.bump();
        let rhs = self.expr()?;
        Ok(StmtKind::Assign { lhs, op, rhs })
    }

    fn word_stmt(&mut self, w: &str) -> PResult<StmtKind> {
        let kw = self.span();
        match w {
            "if" => {
                self.bump();
                self.expect(&Tok::LParen, "after `if`")?;
                let cond = self.cond()?;
                self.expect(&Tok::RParen, "closing the `if` condition")?;
                let then = self.block()?;
                let els = if self.at_ident("else") {
                    self.bump();
                    Some(self.block()?)
                } else {
                    None
                };
                Ok(StmtKind::If { cond, then, els })
            }
            "else" => Err(self.error_here("`else` without a matching `if`", "no `if` before this")),
            "while" => {
                self.bump();
                self.expect(&Tok::LParen, "after `while`")?;
                let cond = self.cond()?;
                self.expect(&Tok::RParen, "closing the `while` condition")?;
                let body = self.loop_body()?;
                Ok(StmtKind::While { cond, body })
            }
            "for" => {
                self.bump();
                self.expect(&Tok::LParen, "after `for`")?;
                let var = self.var("as the loop variable")?;
                if !self.at_ident("in") {
                    let found = self.tok().describe();
                    return Err(
                        self.error_here(format!("expected `in`, found {found}"), "expected `in`")
                    );
                }
                self.bump();
                let src = self.var("to iterate over")?;
                self.expect(&Tok::RParen, "closing `for (...)`")?;
                let body = self.loop_body()?;
                Ok(StmtKind::ForEach { var, src, body })
            }
            "switch" => {
                self.bump();
                self.switch()
            }
            "break" => {
                self.bump();
                if self.loop_depth == 0 {
                    self.diags.push(
                        Diagnostic::error(kw, "`break` outside of `switch`, `while` or `for`")
                            .label("nothing to break out of"),
                    );
                }
                self.end_stmt()?;
                Ok(StmtKind::Break)
            }
            "exit" | "drop" => {
                self.bump();
                if self.eat(&Tok::LParen) {
                    self.expect(&Tok::RParen, &format!("after `{w}(`"))?;
                }
                self.end_stmt()?;
                Ok(if w == "exit" {
                    StmtKind::Exit
                } else {
                    StmtKind::Drop
                })
            }
            "return" => {
                self.bump();
                let args = if self.eat(&Tok::LParen) {
                    self.args_until_rparen()?
                } else if self.at(&Tok::Semi) {
                    Vec::new()
                } else {
                    vec![self.arg()?]
                };
                self.end_stmt()?;
                Ok(StmtKind::Return(args))
            }
            "route" => {
                self.bump();
                let rc = self.route_call()?;
                self.end_stmt()?;
                Ok(StmtKind::Route(rc))
            }
            "assert" => {
                self.bump();
                self.expect(&Tok::LParen, "after `assert`")?;
                let cond = self.cond()?;
                let desc = if self.eat(&Tok::Comma) {
                    Some(self.string("(assert description)")?.0)
                } else {
                    None
                };
                self.expect(&Tok::RParen, "closing `assert(`")?;
                self.end_stmt()?;
                Ok(StmtKind::Assert { cond, desc })
            }
            "log" => {
                self.bump();
                self.expect(&Tok::LParen, "after `log`")?;
                let mut level = None;
                if matches!(self.tok(), Tok::Int { .. } | Tok::Minus) {
                    level = Some(self.snumber()?);
                    self.expect(&Tok::Comma, "after the log level")?;
                }
                let (msg, _) = self.folded_string("(log message)")?;
                self.expect(&Tok::RParen, "closing `log(`")?;
                self.end_stmt()?;
                Ok(StmtKind::Log { level, msg })
            }
            "error" => {
                self.bump();
                self.expect(&Tok::LParen, "after `error`")?;
                let (a, _) = self.string("")?;
                self.expect(&Tok::Comma, "between the error() arguments")?;
                let (b, _) = self.string("")?;
                self.expect(&Tok::RParen, "closing `error(`")?;
                self.end_stmt()?;
                Ok(StmtKind::Error(a, b))
            }
            "xlog" | "xdbg" => {
                self.bump();
                self.expect(&Tok::LParen, &format!("after `{w}`"))?;
                let mut level = None;
                let first = self.arg()?;
                let fmt = if self.eat(&Tok::Comma) {
                    level = Some(first);
                    let (s, sp) = self.folded_string("(xlog format)")?;
                    Spanned::new(s, sp)
                } else {
                    match first.kind {
                        ArgKind::Str { value, .. } => {
                            // Adjacent literals fold into the format.
                            let mut s = value;
                            let mut sp = first.span;
                            while let Tok::Str { value, .. } = self.tok().clone() {
                                s.push_str(&value);
                                sp = sp.to(self.bump().span);
                            }
                            Spanned::new(s, sp)
                        }
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    first.span,
                                    format!("{w}() needs a format string"),
                                )
                                .label("expected a quoted string"),
                            );
                            return Err(Bail);
                        }
                    }
                };
                if w == "xdbg" && level.is_some() {
                    self.diags.push(
                        Diagnostic::error(kw, "xdbg() takes only a format string")
                            .label("remove the level"),
                    );
                }
                if w == "xdbg" {
                    level = Some(Arg {
                        kind: ArgKind::Str {
                            value: "L_DBG".into(),
                            single: false,
                        },
                        span: kw,
                    });
                }
                self.expect(&Tok::RParen, &format!("closing `{w}(`"))?;
                self.end_stmt()?;
                Ok(StmtKind::Xlog { level, fmt })
            }
            "async" | "launch" => {
                self.bump();
                self.expect(&Tok::LParen, &format!("after `{w}`"))?;
                let call = match self.tok().clone() {
                    Tok::Ident(name) if self.peek_tok(1) == &Tok::LParen => {
                        let ns = self.bump().span;
                        self.call(name, ns)?
                    }
                    other => {
                        return Err(self.error_here(
                            format!("expected a function call, found {}", other.describe()),
                            "expected `function(...)`",
                        ));
                    }
                };
                let st = if w == "async" {
                    self.expect(&Tok::Comma, "before the resume route")?;
                    let resume = self.route_name()?;
                    let timeout = if self.eat(&Tok::Comma) {
                        Some(self.snumber()?)
                    } else {
                        None
                    };
                    StmtKind::Async {
                        call,
                        resume,
                        timeout,
                    }
                } else {
                    let mut report = None;
                    let mut text = None;
                    if self.eat(&Tok::Comma) {
                        report = Some(self.route_name()?);
                        if self.eat(&Tok::Comma) {
                            text = Some(self.string("(launch text)")?.0);
                        }
                    }
                    StmtKind::Launch { call, report, text }
                };
                self.expect(&Tok::RParen, &format!("closing `{w}(`"))?;
                self.end_stmt()?;
                Ok(st)
            }
            _ => {
                self.bump();
                if self.at(&Tok::LParen) {
                    let call = self.call(w.to_string(), kw)?;
                    self.end_stmt()?;
                    return Ok(StmtKind::Call(call));
                }
                if matches!(self.tok(), Tok::Assign | Tok::ColonAssign) {
                    self.diags.push(
                        Diagnostic::error(kw, format!("`{w}` cannot be assigned here")).label(
                            "global parameters are set at top level, variables start with `$`",
                        ),
                    );
                    return Err(Bail);
                }
                self.diags.push(
                    Diagnostic::error(
                        kw,
                        format!("bare word `{w}` found, command calls need '()'"),
                    )
                    .label(format!("write `{w}()`")),
                );
                Err(Bail)
            }
        }
    }

    fn var(&mut self, what: &str) -> PResult<Spanned<String>> {
        match self.tok().clone() {
            Tok::Var(v) => Ok(Spanned::new(v, self.bump().span)),
            other => Err(self.error_here(
                format!("expected a variable {what}, found {}", other.describe()),
                "expected a `$` variable",
            )),
        }
    }

    fn snumber(&mut self) -> PResult<i64> {
        let neg = self.eat(&Tok::Minus);
        match self.tok().clone() {
            Tok::Int { value, .. } => {
                self.bump();
                Ok(if neg { -value } else { value })
            }
            other => Err(self.error_here(
                format!("expected a number, found {}", other.describe()),
                "expected a number",
            )),
        }
    }

    fn switch(&mut self) -> PResult<StmtKind> {
        self.expect(&Tok::LParen, "after `switch`")?;
        let subject = self.var("to switch on")?;
        self.expect(&Tok::RParen, "closing `switch(`")?;
        self.expect(&Tok::LBrace, "opening the switch body")?;
        let mut cases: Vec<Case> = Vec::new();
        self.loop_depth += 1;
        let mut seen_default = false;
        loop {
            match self.tok().clone() {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::Eof => {
                    self.error_here("unexpected end of file in switch", "missing `}`");
                    break;
                }
                Tok::Ident(w) if w == "case" => {
                    let cs = self.bump().span;
                    let label = match self.tok().clone() {
                        Tok::Str { value, .. } => {
                            self.bump();
                            CaseLabel::Str(value)
                        }
                        Tok::Int { .. } | Tok::Minus => CaseLabel::Int(self.snumber()?),
                        other => {
                            self.error_here(
                                format!(
                                    "expected a number or a string after `case`, found {}",
                                    other.describe()
                                ),
                                "case labels are constants",
                            );
                            self.recover_stmt(self.pos);
                            continue;
                        }
                    };
                    let span = cs.to(self.prev_span());
                    if self.expect(&Tok::Colon, "after the case label").is_err() {
                        self.recover_stmt(self.pos);
                    }
                    let body = self.case_body();
                    cases.push(Case {
                        label: Some(Spanned::new(label, span)),
                        body,
                    });
                }
                Tok::Ident(w) if w == "default" => {
                    let ds = self.bump().span;
                    if seen_default {
                        self.diags.push(
                            Diagnostic::error(ds, "more than one `default` in switch")
                                .label("second default"),
                        );
                    }
                    seen_default = true;
                    if self.expect(&Tok::Colon, "after `default`").is_err() {
                        self.recover_stmt(self.pos);
                    }
                    let body = self.case_body();
                    cases.push(Case { label: None, body });
                }
                other => {
                    self.error_here(
                        format!("expected `case` or `default`, found {}", other.describe()),
                        "expected `case`",
                    );
                    let p = self.pos;
                    self.recover_stmt(p);
                }
            }
        }
        self.loop_depth -= 1;
        Ok(StmtKind::Switch { subject, cases })
    }

    fn case_body(&mut self) -> Block {
        let mut out = Vec::new();
        loop {
            match self.tok() {
                Tok::RBrace | Tok::Eof => return out,
                Tok::Ident(w) if w == "case" || w == "default" => return out,
                _ => {}
            }
            let start = self.pos;
            match self.stmt() {
                Ok(s) => out.push(s),
                Err(Bail) => self.recover_stmt(start),
            }
        }
    }

    fn route_call(&mut self) -> PResult<RouteCall> {
        self.expect(&Tok::LParen, "after `route`")?;
        let ts = self.span();
        let target = match self.tok().clone() {
            Tok::Str { value, .. } if value.contains('$') => {
                self.bump();
                Spanned::new(RouteRef::Dynamic(value), ts)
            }
            Tok::Var(v) => {
                self.bump();
                Spanned::new(RouteRef::Dynamic(v), ts)
            }
            _ => {
                let n = self.route_name()?;
                Spanned::new(RouteRef::Name(n.node), n.span)
            }
        };
        let mut args = Vec::new();
        if self.eat(&Tok::Comma) {
            args = self.args_until_rparen()?;
        } else {
            self.expect(&Tok::RParen, "closing `route(`")?;
        }
        Ok(RouteCall { target, args })
    }

    /// `name(args)`; the name token was consumed.
    fn call(&mut self, name: String, name_span: Span) -> PResult<Call> {
        self.expect(&Tok::LParen, &format!("after `{name}`"))?;
        let args = self.args_until_rparen()?;
        Ok(Call {
            name: Spanned::new(name, name_span),
            args,
            span: name_span.to(self.prev_span()),
        })
    }

    /// Arguments after `(` up to and including `)`; empty slots are [`ArgKind::Empty`].
    fn args_until_rparen(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            if matches!(self.tok(), Tok::Comma | Tok::RParen) {
                let s = self.span();
                args.push(Arg {
                    kind: ArgKind::Empty,
                    span: Span::new(s.file, s.start as usize, s.start as usize),
                });
            } else {
                args.push(self.arg()?);
            }
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&Tok::RParen, "closing the argument list")?;
            return Ok(args);
        }
    }

    fn arg(&mut self) -> PResult<Arg> {
        let start = self.span();
        let kind = match self.tok().clone() {
            Tok::Str { value, single } => {
                self.bump();
                ArgKind::Str { value, single }
            }
            Tok::Int { value, .. } => {
                self.bump();
                ArgKind::Int(value)
            }
            Tok::Minus => ArgKind::Int(self.snumber()?),
            Tok::Var(v) => {
                self.bump();
                ArgKind::Var(v)
            }
            Tok::Null => {
                self.bump();
                ArgKind::Null
            }
            Tok::Ident(w) => {
                self.bump();
                let msg = if self.at(&Tok::LParen) {
                    format!("function call `{w}(...)` used as an argument")
                } else {
                    format!("bare word `{w}` used as an argument")
                };
                self.diags.push(
                    Diagnostic::error(start, msg)
                        .label("arguments are quoted strings, numbers or variables"),
                );
                return Err(Bail);
            }
            other => {
                let found = other.describe();
                return Err(self.error_here(
                    format!("unexpected {found} in argument list"),
                    "expected a string, number or variable",
                ));
            }
        };
        if matches!(self.tok(), Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash)
            && !matches!(kind, ArgKind::Str { .. })
        {
            return Err(self.error_here(
                "expressions are not allowed as function arguments",
                "compute it into a $var first",
            ));
        }
        Ok(Arg {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    // ----------------------------------------------------------------- conditions

    /// `cond = unary { ("&&"|"||") unary }` — both operators have the same precedence, left-assoc.
    fn cond(&mut self) -> PResult<Cond> {
        let mut lhs = self.cond_unary()?;
        loop {
            let and = match self.tok() {
                Tok::AndAnd => true,
                Tok::OrOr => false,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.cond_unary()?;
            lhs = if and {
                Cond::And(Box::new(lhs), Box::new(rhs))
            } else {
                Cond::Or(Box::new(lhs), Box::new(rhs))
            };
        }
    }

    fn cond_unary(&mut self) -> PResult<Cond> {
        self.enter()?;
        let r = self.cond_unary_inner();
        self.nesting -= 1;
        r
    }

    fn cond_unary_inner(&mut self) -> PResult<Cond> {
        if self.eat(&Tok::Not) {
            return Ok(Cond::Not(Box::new(self.cond_unary()?)));
        }
        if self.eat(&Tok::LParen) {
            let c = self.cond()?;
            self.expect(&Tok::RParen, "closing the parenthesis")?;
            return Ok(c);
        }
        if self.eat(&Tok::LBracket) {
            let e = self.expr()?;
            self.expect(&Tok::RBracket, "closing `[ ... ]`")?;
            return Ok(Cond::Arith(e));
        }
        self.cond_elem()
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        Some(match self.tok() {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Gt => CmpOp::Gt,
            Tok::Lt => CmpOp::Lt,
            Tok::Ge => CmpOp::Ge,
            Tok::Le => CmpOp::Le,
            Tok::Match => CmpOp::Match,
            Tok::NotMatch => CmpOp::NotMatch,
            _ => return None,
        })
    }

    fn cond_elem(&mut self) -> PResult<Cond> {
        let start = self.span();
        match self.tok().clone() {
            Tok::Var(v) => {
                self.bump();
                let lhs = Spanned::new(v, start);
                if let Some(op) = self.cmp_op() {
                    self.bump();
                    return self.comparison(lhs, op);
                }
                if matches!(
                    self.tok(),
                    Tok::Assign | Tok::ColonAssign | Tok::OpAssign(_)
                ) {
                    let kind = self.assignment(lhs)?;
                    return Ok(Cond::Assign(Box::new(Stmt {
                        kind,
                        span: start.to(self.prev_span()),
                    })));
                }
                Ok(Cond::Var(lhs))
            }
            Tok::Int { .. } | Tok::Minus => Ok(Cond::Int(self.snumber()?)),
            Tok::Ident(w) => {
                if w == "route" && self.peek_tok(1) == &Tok::LParen {
                    self.bump();
                    return Ok(Cond::Route(self.route_call()?));
                }
                if self.peek_tok(1) == &Tok::LParen {
                    let ns = self.bump().span;
                    return Ok(Cond::Call(self.call(w, ns)?));
                }
                if let Some(pv) = legacy::keyword_pv(&w) {
                    self.bump();
                    return self.legacy_comparison(&w, pv, start);
                }
                if w == "msg" && self.peek_tok(1) == &Tok::Colon {
                    self.bump();
                    self.bump();
                    if self.at_ident("len") {
                        self.bump();
                        return self.legacy_comparison(
                            "msg:len",
                            "$ml",
                            start.to(self.prev_span()),
                        );
                    }
                    return Err(self.error_here("expected `len` after `msg:`", "expected `len`"));
                }
                self.bump();
                self.diags.push(
                    Diagnostic::error(
                        start,
                        format!("bare word `{w}` found, command calls need '()'"),
                    )
                    .label("expected a function call, a variable or a comparison"),
                );
                Err(Bail)
            }
            Tok::Str { .. } => {
                self.bump();
                if self.cmp_op().is_some() {
                    self.diags.push(
                        Diagnostic::error(
                            start,
                            "the left side of a comparison must be a variable",
                        )
                        .label("swap the operands"),
                    );
                } else {
                    self.diags.push(
                        Diagnostic::error(start, "a string is not a condition")
                            .label("compare a variable with it"),
                    );
                }
                Err(Bail)
            }
            other => Err(self.error_here(
                format!("unexpected {} in condition", other.describe()),
                "expected a condition",
            )),
        }
    }

    /// `legacy_kw op rhs` rewritten to the modern variable (with a warning).
    fn legacy_comparison(&mut self, word: &str, pv: &str, span: Span) -> PResult<Cond> {
        self.diags.push(
            Diagnostic::warning(
                span,
                format!("legacy core keyword `{word}` (removed in OpenSIPS 2.4)"),
            )
            .label(format!("read as `{pv}`")),
        );
        let Some(op) = self.cmp_op() else {
            let found = self.tok().describe();
            return Err(self.error_here(
                format!("expected a comparison after `{word}`, found {found}"),
                "expected `==`, `!=`, `=~`...",
            ));
        };
        self.bump();
        self.comparison(Spanned::new(pv.to_string(), span), op)
    }

    /// An IPv6 address or network written without quotes (`::1`, `2001:db8::/32`, `[::1]`): the
    /// lexer splits it into numbers, words and colons; they are glued back when contiguous.
    fn ipv6_literal(&mut self) -> Option<String> {
        let first = self.pos;
        let mut end = first;
        let mut prev_end = self.toks[first].span.start;
        while end < self.toks.len() - 1 {
            let t = &self.toks[end];
            let glued = t.span.start == prev_end;
            let ok = matches!(
                t.tok,
                Tok::Int { .. }
                    | Tok::Ident(_)
                    | Tok::Colon
                    | Tok::Ipv4(_)
                    | Tok::LBracket
                    | Tok::RBracket
                    | Tok::Slash
            );
            if !glued || !ok {
                break;
            }
            prev_end = t.span.end;
            end += 1;
        }
        if end == first {
            return None;
        }
        let span = self.toks[first].span.to(self.toks[end - 1].span);
        let text = self.sources.snippet(span).to_string();
        let addr = text.split('/').next().unwrap_or("");
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if !text.contains(':') || addr.parse::<std::net::Ipv6Addr>().is_err() {
            return None;
        }
        self.pos = end;
        Some(text.replace(['[', ']'], ""))
    }

    fn comparison(&mut self, lhs: Spanned<String>, op: CmpOp) -> PResult<Cond> {
        let start = self.span();
        if matches!(
            self.tok(),
            Tok::Colon | Tok::Int { .. } | Tok::Ident(_) | Tok::LBracket
        ) && let Some(net) = self.ipv6_literal()
        {
            let span = start.to(self.prev_span());
            return Ok(Cond::Cmp {
                lhs,
                op,
                rhs: Spanned::new(Operand::Net(net), span),
            });
        }
        let rhs = match self.tok().clone() {
            Tok::Str { value, .. } => {
                self.bump();
                Operand::Str(value)
            }
            Tok::Int { .. } | Tok::Minus => Operand::Int(self.snumber()?),
            Tok::Null => {
                self.bump();
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    self.diags.push(
                        Diagnostic::error(start, "`null` can only be compared with `==` or `!=`")
                            .label("here"),
                    );
                }
                Operand::Null
            }
            Tok::Var(v) => {
                self.bump();
                Operand::Var(Spanned::new(v, start))
            }
            Tok::Ipv4(ip) => {
                self.bump();
                let mut net = ip;
                if self.eat(&Tok::Slash) {
                    match self.tok().clone() {
                        Tok::Int { value, .. } => {
                            self.bump();
                            net = format!("{net}/{value}");
                        }
                        Tok::Ipv4(mask) => {
                            self.bump();
                            net = format!("{net}/{mask}");
                        }
                        other => {
                            return Err(self.error_here(
                                format!(
                                    "expected a prefix length or mask, found {}",
                                    other.describe()
                                ),
                                "expected /N",
                            ));
                        }
                    }
                }
                Operand::Net(net)
            }
            Tok::Ident(w) if w == "myself" => {
                self.bump();
                let span = start;
                self.diags.push(
                    Diagnostic::warning(
                        span,
                        "legacy core value `myself` (removed in OpenSIPS 2.4)",
                    )
                    .label(format!(
                        "read as `is_myself(\"{}\")`",
                        legacy::myself_arg(&lhs.node)
                    )),
                );
                let call = Cond::Call(Call {
                    name: Spanned::new("is_myself".into(), span),
                    args: vec![Arg {
                        kind: ArgKind::Str {
                            value: legacy::myself_arg(&lhs.node),
                            single: false,
                        },
                        span: lhs.span,
                    }],
                    span: lhs.span.to(span),
                });
                return Ok(match op {
                    CmpOp::Eq => call,
                    CmpOp::Ne => Cond::Not(Box::new(call)),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(
                                span,
                                "`myself` can only be compared with `==` or `!=`",
                            )
                            .label("here"),
                        );
                        call
                    }
                });
            }
            Tok::Ident(w) if legacy::constant(&w).is_some() => {
                self.bump();
                let v = legacy::constant(&w).unwrap_or_default();
                self.diags.push(
                    Diagnostic::warning(
                        start,
                        format!("legacy core value `{w}` (removed in OpenSIPS 2.4)"),
                    )
                    .label(format!("read as \"{v}\"")),
                );
                if w == "max_len" {
                    Operand::Int(65535)
                } else {
                    Operand::Str(v.to_string())
                }
            }
            other => {
                let found = other.describe();
                return Err(self.error_here(
                    format!("expected a value after `{}`, found {found}", op.symbol()),
                    "expected a string, number, variable, null or address",
                ));
            }
        };
        let span = start.to(self.prev_span());
        Ok(Cond::Cmp {
            lhs,
            op,
            rhs: Spanned::new(rhs, span),
        })
    }

    // ----------------------------------------------------------------- arithmetic

    /// Lowest level: bitwise `| & ^ << >>` over the additive level.
    fn expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.expr_add()?;
        loop {
            let op = match self.tok() {
                Tok::Pipe => BinOp::BitOr,
                Tok::Amp => BinOp::BitAnd,
                Tok::Caret => BinOp::BitXor,
                Tok::Shl => BinOp::Shl,
                Tok::Shr => BinOp::Shr,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.expr_add()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    /// `+ - * / %` share one level, left-associative (`2+3*4` is 20, as in OpenSIPS).
    fn expr_add(&mut self) -> PResult<Expr> {
        let mut lhs = self.expr_unary()?;
        loop {
            let op = match self.tok() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.expr_unary()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn expr_unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.expr_unary_inner();
        self.nesting -= 1;
        r
    }

    fn expr_unary_inner(&mut self) -> PResult<Expr> {
        if self.eat(&Tok::Tilde) {
            return Ok(Expr::BitNot(Box::new(self.expr_unary()?)));
        }
        if self.eat(&Tok::Minus) {
            return Ok(match self.expr_unary()? {
                Expr::Int(i) => Expr::Int(-i),
                e => Expr::Neg(Box::new(e)),
            });
        }
        let start = self.span();
        match self.tok().clone() {
            Tok::Int { value, .. } => {
                self.bump();
                Ok(Expr::Int(value))
            }
            Tok::Str { value, .. } => {
                self.bump();
                Ok(Expr::Str(value))
            }
            Tok::Null => {
                self.bump();
                Ok(Expr::Null)
            }
            Tok::Var(v) => {
                self.bump();
                let lhs = Spanned::new(v, start);
                if let Some(op) = self.cmp_op() {
                    self.bump();
                    return Ok(Expr::Cond(Box::new(self.comparison(lhs, op)?)));
                }
                Ok(Expr::Var(lhs))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                self.expect(&Tok::RParen, "closing the parenthesis")?;
                Ok(e)
            }
            Tok::Ident(w) if self.peek_tok(1) == &Tok::LParen && w != "route" => {
                let ns = self.bump().span;
                Ok(Expr::Call(self.call(w, ns)?))
            }
            Tok::Ipv4(ip) => {
                self.bump();
                Ok(Expr::Str(ip))
            }
            other => Err(self.error_here(
                format!("unexpected {} in expression", other.describe()),
                "expected a value",
            )),
        }
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
