//! The script check behind generation: a [`ScriptChecker`] takes script text and says whether
//! it passes, with errors by line.
//!
//! Implementations: [`LibraryChecker`] is the check of `osips -C` (the script library's
//! compiler, with every module osips provides); [`StructuralChecker`] (in `structural.rs`) is
//! osipsconfig's own check of what the templates must get right.
//!
//! [`StructuralChecker`]: super::structural::StructuralChecker

use crate::script::{DiagCode, Registry, check_str};

/// One problem in a script; `line` is 1-based, 0 when the checker gave no line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.message),
            (l, Some(c)) => write!(f, "line {l}:{c}: {}", self.message),
            (l, None) => write!(f, "line {l}: {}", self.message),
        }
    }
}

/// What a checker says about one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Passed,
    /// The script is correct OpenSIPS, but it loads these modules, which osips does not
    /// implement yet (so osips cannot run it yet); names in the order of their `loadmodule`.
    NotImplemented(Vec<String>),
    Failed(Vec<CheckError>),
}

/// Checks the text of a generated script.
pub trait ScriptChecker: Send + Sync {
    /// Short name for the status line (`osips -C`, `structure`).
    fn name(&self) -> &str;
    fn check(&self, script: &str) -> CheckOutcome;
}

/// The check `osips -C` runs, called in-process: parse and compile against the modules osips
/// provides. "Module not implemented yet" errors are told apart from real errors by their
/// diagnostic code.
pub struct LibraryChecker {
    registry: Registry,
}

impl LibraryChecker {
    pub fn new() -> Self {
        LibraryChecker {
            registry: Registry::builtin(),
        }
    }
}

impl Default for LibraryChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptChecker for LibraryChecker {
    fn name(&self) -> &str {
        "osips -C"
    }

    fn check(&self, script: &str) -> CheckOutcome {
        let checked = check_str("opensips.cfg", script, &self.registry);
        let mut errors = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        for d in checked.errors() {
            match &d.code {
                Some(DiagCode::ModuleNotImplemented { module }) => {
                    if !missing.contains(module) {
                        missing.push(module.clone());
                    }
                }
                None => {
                    let (line, column) = checked.sources.line_col(d.span);
                    let message = if d.label.is_empty() {
                        d.message.clone()
                    } else {
                        format!("{} ({})", d.message, d.label)
                    };
                    errors.push(CheckError {
                        line,
                        column: Some(column),
                        message,
                    });
                }
            }
        }
        if !errors.is_empty() {
            CheckOutcome::Failed(errors)
        } else if !missing.is_empty() {
            CheckOutcome::NotImplemented(missing)
        } else {
            CheckOutcome::Passed
        }
    }
}

/// The result of the full check: the proxy's own check and osipsconfig's structural check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub checker: String,
    pub outcome: CheckOutcome,
    pub structure: CheckOutcome,
}

impl CheckReport {
    /// True when no check found an error (modules osips does not implement yet are not errors:
    /// the script is valid OpenSIPS).
    pub fn passed(&self) -> bool {
        !matches!(self.outcome, CheckOutcome::Failed(_))
            && !matches!(self.structure, CheckOutcome::Failed(_))
    }

    /// Every error found, proxy check first.
    pub fn errors(&self) -> Vec<CheckError> {
        let mut v = Vec::new();
        for o in [&self.outcome, &self.structure] {
            if let CheckOutcome::Failed(e) = o {
                v.extend(e.iter().cloned());
            }
        }
        v
    }

    /// The modules the script loads that osips does not implement yet.
    pub fn not_implemented(&self) -> &[String] {
        match &self.outcome {
            CheckOutcome::NotImplemented(m) => m,
            _ => &[],
        }
    }

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        if self.passed() && !self.not_implemented().is_empty() {
            // the names matter more than which check said OK: they come first on narrow screens
            return format!(
                "OK except modules osips does not implement yet: {}",
                self.not_implemented().join(", ")
            );
        }
        let part = |name: &str, o: &CheckOutcome| match o {
            CheckOutcome::Passed => format!("{name}: OK"),
            CheckOutcome::NotImplemented(m) => format!(
                "{name}: OK except modules osips does not implement yet: {}",
                m.join(", ")
            ),
            CheckOutcome::Failed(e) => format!(
                "{name}: {} error{}: {}",
                e.len(),
                if e.len() == 1 { "" } else { "s" },
                e[0]
            ),
        };
        // failures first: the line is cut on narrow screens
        let rank = |o: &CheckOutcome| match o {
            CheckOutcome::Failed(_) => 0,
            CheckOutcome::Passed => 1,
            CheckOutcome::NotImplemented(_) => 2,
        };
        let mut parts = [
            (self.checker.as_str(), &self.outcome),
            ("structure", &self.structure),
        ];
        parts.sort_by_key(|(_, o)| rank(o));
        parts
            .iter()
            .map(|(n, o)| part(n, o))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// A checker plus the structural check, as used by the TUI and the CLI.
pub struct Checks {
    pub checker: Box<dyn ScriptChecker>,
    pub structural: Box<dyn ScriptChecker>,
}

impl Checks {
    /// For the built-in templates: the structural check also rejects unknown functions.
    pub fn new(checker: Box<dyn ScriptChecker>) -> Self {
        Checks {
            checker,
            structural: Box::new(super::structural::StructuralChecker),
        }
    }

    /// For templates read from a directory: functions osipsconfig does not know are left to
    /// the proxy's checker.
    pub fn lenient(checker: Box<dyn ScriptChecker>) -> Self {
        Checks {
            checker,
            structural: Box::new(super::structural::LenientStructuralChecker),
        }
    }

    pub fn run(&self, script: &str) -> CheckReport {
        CheckReport {
            checker: self.checker.name().to_string(),
            outcome: self.checker.check(script),
            structure: self.structural.check(script),
        }
    }
}

/// The checker osipsconfig uses: the script library's, as `osips -C` runs it.
pub fn default_checker() -> Box<dyn ScriptChecker> {
    Box::new(LibraryChecker::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_error_has_its_line_and_column() {
        let script = "# a comment\n\nroute {\n\tno_such_function();\n}\n";
        match LibraryChecker::new().check(script) {
            CheckOutcome::Failed(e) => {
                assert_eq!((e[0].line, e[0].column), (4, Some(2)), "{e:?}");
                assert!(e[0].message.contains("no_such_function"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn modules_not_implemented_are_not_errors() {
        let script = "loadmodule \"tm.so\"\nloadmodule \"rr.so\"\nloadmodule \"tm.so\"\n\nroute {\n\tif (loose_route())\n\t\tt_relay();\n\texit;\n}\n";
        let out = LibraryChecker::new().check(script);
        assert_eq!(out, CheckOutcome::NotImplemented(vec!["rr".into()]));
        let report = CheckReport {
            checker: "osips -C".into(),
            outcome: out,
            structure: CheckOutcome::Passed,
        };
        assert!(report.passed());
        assert_eq!(
            report.summary(),
            "OK except modules osips does not implement yet: rr"
        );
    }

    #[test]
    fn real_errors_win_over_missing_modules() {
        let script = "loadmodule \"tm.so\"\nroute {\n\t$x = ;\n}\n";
        match LibraryChecker::new().check(script) {
            CheckOutcome::Failed(e) => assert_eq!(e[0].line, 3, "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_clean_script_passes() {
        assert_eq!(
            LibraryChecker::new().check("route {\n\texit;\n}\n"),
            CheckOutcome::Passed
        );
    }
}
