//! Diagnostics (errors and warnings) with a rustc-like rendering: location, source line, caret.

use super::span::{SourceMap, Span};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of problem a diagnostic reports, for tools that treat some kinds apart (osipsconfig
/// writes a script whose only errors are modules osips does not implement yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiagCode {
    /// A real OpenSIPS module that osips does not implement yet; the script may still be valid
    /// OpenSIPS.
    ModuleNotImplemented { module: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The kind of problem, when a tool may need to tell it apart (most diagnostics have none).
    pub code: Option<DiagCode>,
    pub message: String,
    pub span: Span,
    /// Text printed after the carets.
    pub label: String,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: None,
            message: message.into(),
            span,
            label: String::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    pub fn code(mut self, code: DiagCode) -> Self {
        self.code = Some(code);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic like rustc does:
    ///
    /// ```text
    /// error: unknown function `foo`
    ///   --> a.cfg:3:5
    ///    |
    ///  3 |     foo();
    ///    |     ^^^ label
    ///    = note: ...
    /// ```
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{kind}: {}", self.message);
        let file = sources.file(self.span.file);
        let (line, col) = file.line_col(self.span.start as usize);
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}:{line}:{col}", file.path.display());
        let _ = writeln!(out, "{pad} |");
        let text = file.line_text(line);
        let _ = writeln!(out, "{line} | {}", text.replace('\t', "    "));
        // The caret row mirrors tabs of the source line so it lines up.
        let prefix: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { "    " } else { " " })
            .collect();
        let line_rest = text.chars().count().saturating_sub(col - 1);
        let covered = sources.snippet(self.span);
        let covered = covered.split('\n').next().unwrap_or("");
        let width = covered.chars().count().clamp(1, line_rest.max(1));
        let carets = "^".repeat(width);
        if self.label.is_empty() {
            let _ = writeln!(out, "{pad} | {prefix}{carets}");
        } else {
            let _ = writeln!(out, "{pad} | {prefix}{carets} {}", self.label);
        }
        for n in &self.notes {
            let _ = writeln!(out, "{pad} = note: {n}");
        }
        out
    }
}

/// Renders a list of diagnostics, separated by blank lines, followed by a summary line.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(sources));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors > 0 || warnings > 0 {
        let _ = writeln!(
            out,
            "{errors} error{}, {warnings} warning{}",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let mut sm = SourceMap::new();
        let id = sm.add("t.cfg", "route {\n\tfoo(1);\n}\n".to_string());
        let d = Diagnostic::error(Span::new(id, 9, 12), "unknown function `foo`")
            .label("not exported")
            .note("missing loadmodule?");
        let r = d.render(&sm);
        assert_eq!(
            r,
            "error: unknown function `foo`\n --> t.cfg:2:2\n  |\n2 |     foo(1);\n  |     ^^^ not exported\n  = note: missing loadmodule?\n"
        );
    }
}
