//! The opensips.cfg script engine: lexer, parser (AST with spans), compiler (names resolved once
//! through the module descriptors), values, variables, transformations and expression evaluation.
//!
//! Entry points: [`check_file`] / [`check_str`] compile a script and return every diagnostic;
//! [`Registry::builtin`] lists the core and the implemented modules.

pub mod ast;
pub mod compiler;
pub mod core_cmds;
pub mod diag;
pub mod errinfo;
pub mod eval;
pub mod exec;
#[cfg(test)]
mod exec_tests;
pub mod globals;
pub mod ir;
pub mod known_modules;
pub mod legacy;
pub mod lexer;
pub mod module;
pub mod parser;
pub mod pv;
pub mod pvclass;
pub mod pvnames;
pub mod source;
pub mod span;
pub mod text;
pub mod transform;
pub mod value;
pub mod vars;

pub use diag::{DiagCode, Diagnostic, Severity};
pub use ir::Script;
pub use module::{
    ArgType, ArgValue, CmdHandler, FunctionSpec, MessageAccess, ModParamKind, ModuleDescriptor,
    ParamKind, ParamSpec, PvExport, Registry, RouteMask, RunCtx,
};
pub use span::{SourceMap, Span};
pub use value::{Str, Value};

use std::path::Path;

/// Result of loading and compiling a script.
#[derive(Debug)]
pub struct Checked {
    /// The compiled script, when there are no errors.
    pub script: Option<Script>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read (for rendering the diagnostics).
    pub sources: SourceMap,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// All diagnostics rendered rustc-style, with a summary line.
    pub fn render(&self) -> String {
        diag::render_all(&self.diagnostics, &self.sources)
    }
}

fn finish(
    toks: Vec<lexer::Token>,
    sources: SourceMap,
    mut diags: Vec<Diagnostic>,
    reg: &Registry,
) -> Checked {
    let (cfg, parse_diags) = parser::Parser::parse(&toks, &sources);
    diags.extend(parse_diags);
    let parse_failed = diags.iter().any(|d| d.is_error());
    let (script, compile_diags) = compiler::compile(&cfg, sources.clone(), reg);
    diags.extend(compile_diags);
    diags.sort_by_key(|d| (d.span.file.0, d.span.start));
    Checked {
        script: if parse_failed { None } else { script },
        diagnostics: diags,
        sources,
    }
}

/// Loads `path` (with its includes), parses and compiles it. Err only when the file cannot be read.
pub fn check_file(path: &Path, reg: &Registry) -> Result<Checked, String> {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let toks = source::load_file(path, &mut sources, &mut diags)?;
    Ok(finish(toks, sources, diags, reg))
}

/// Parses and compiles a script given as text; `name` is used in messages.
pub fn check_str(name: &str, text: &str, reg: &Registry) -> Checked {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let toks = source::load_str(name, text, &mut sources, &mut diags);
    finish(toks, sources, diags, reg)
}

/// Parses only (no name resolution): the AST and the syntax diagnostics.
pub fn parse_str(name: &str, text: &str) -> (ast::Config, Vec<Diagnostic>, SourceMap) {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let toks = source::load_str(name, text, &mut sources, &mut diags);
    let (cfg, d) = parser::Parser::parse(&toks, &sources);
    diags.extend(d);
    (cfg, diags, sources)
}
