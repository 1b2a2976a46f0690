//! The script check behind generation: a [`ScriptChecker`] takes script text and says whether
//! it passes, with errors by line.
//!
//! Implementations: [`OsipsBinaryChecker`] runs `osips -C -f FILE`; [`StructuralChecker`]
//! (in `structural.rs`) is osipsconfig's own check of what the templates must get right. When
//! the script library exposes its checker, wrap it in a type implementing [`ScriptChecker`] and
//! return it from [`default_checker`]; nothing else changes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

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
    Failed(Vec<CheckError>),
    /// The checker could not run (no binary, binary without `-C`); the reason says why.
    Unavailable(String),
}

/// Checks the text of a generated script.
pub trait ScriptChecker: Send + Sync {
    /// Short name for the status line (`osips -C`, `structure`).
    fn name(&self) -> &str;
    fn check(&self, script: &str) -> CheckOutcome;
}

/// Runs `osips -C -f FILE` on a temporary copy of the script.
#[derive(Debug, Clone)]
pub struct OsipsBinaryChecker {
    binary: PathBuf,
}

impl OsipsBinaryChecker {
    pub fn new(binary: PathBuf) -> Self {
        OsipsBinaryChecker { binary }
    }

    /// `$OSIPS_BIN`, else `osips` beside the running executable, else `osips` on `PATH`.
    pub fn locate() -> Option<Self> {
        if let Some(p) = std::env::var_os("OSIPS_BIN") {
            return Some(Self::new(PathBuf::from(p)));
        }
        let sibling = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("osips")))
            .filter(|p| p.is_file());
        if let Some(p) = sibling {
            return Some(Self::new(p));
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("osips"))
                .find(|p| p.is_file())
                .map(Self::new)
        })
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn run(&self, script: &str) -> Result<std::process::Output, String> {
        let file = TempScript::write(script)
            .map_err(|e| format!("cannot write a temporary script: {e}"))?;
        Command::new(&self.binary)
            .arg("-C")
            .arg("-f")
            .arg(&file.0)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))
    }

    /// A binary that accepts a script that is not one does not implement `-C`: treat it as
    /// unavailable rather than trust its "pass".
    pub fn probe(&self) -> Result<(), String> {
        let out = self.run("route {\n\tthis is not a script (\n")?;
        if out.status.success() {
            return Err(format!(
                "{} does not check scripts yet (it accepted an invalid one)",
                self.binary.display()
            ));
        }
        Ok(())
    }
}

impl ScriptChecker for OsipsBinaryChecker {
    fn name(&self) -> &str {
        "osips -C"
    }

    fn check(&self, script: &str) -> CheckOutcome {
        match self.run(script) {
            Err(e) => CheckOutcome::Unavailable(e),
            Ok(out) if out.status.success() => CheckOutcome::Passed,
            Ok(out) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&out.stdout)
                );
                let mut errors: Vec<CheckError> =
                    text.lines().filter_map(parse_error_line).collect();
                if errors.is_empty() {
                    let first = text
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("script rejected");
                    errors.push(CheckError {
                        line: 0,
                        column: None,
                        message: first.trim().to_string(),
                    });
                }
                CheckOutcome::Failed(errors)
            }
        }
    }
}

/// Reads `FILE:LINE:COL: message`, `FILE:LINE: message` or `... line N[, column M] ...`.
fn parse_error_line(line: &str) -> Option<CheckError> {
    static RE: std::sync::OnceLock<(regex::Regex, regex::Regex)> = std::sync::OnceLock::new();
    let (colon, words) = RE.get_or_init(|| {
        (
            regex::Regex::new(r"^(?:[^:\s]*:)?(\d+)(?::(\d+))?:\s*(.+)$").expect("static regex"),
            regex::Regex::new(r"(?i)\bline\s+(\d+)(?:\s*,?\s*col(?:umn)?\s+(\d+))?[:,]?\s*(.*)$")
                .expect("static regex"),
        )
    });
    let c = colon
        .captures(line.trim())
        .or_else(|| words.captures(line.trim()))?;
    let line_no = c.get(1)?.as_str().parse().ok()?;
    let column = c.get(2).and_then(|m| m.as_str().parse().ok());
    let message = c
        .get(3)
        .map(|m| m.as_str().trim().to_string())
        .unwrap_or_default();
    Some(CheckError {
        line: line_no,
        column,
        message: if message.is_empty() {
            line.trim().to_string()
        } else {
            message
        },
    })
}

struct TempScript(PathBuf);

impl TempScript {
    fn write(text: &str) -> std::io::Result<TempScript> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "osipsconfig-check-{}-{}.cfg",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text)?;
        Ok(TempScript(path))
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The result of the full check: the proxy's own check when it is available, and osipsconfig's
/// structural check always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub checker: String,
    pub outcome: CheckOutcome,
    pub structure: CheckOutcome,
}

impl CheckReport {
    /// True when nothing that ran found an error.
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

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        let part = |name: &str, o: &CheckOutcome| match o {
            CheckOutcome::Passed => format!("{name}: OK"),
            CheckOutcome::Failed(e) => format!(
                "{name}: {} error{}: {}",
                e.len(),
                if e.len() == 1 { "" } else { "s" },
                e[0]
            ),
            CheckOutcome::Unavailable(why) => format!("{name}: checker unavailable ({why})"),
        };
        // failures first, then passes, then what could not run: the line is cut on narrow screens
        let rank = |o: &CheckOutcome| match o {
            CheckOutcome::Failed(_) => 0,
            CheckOutcome::Passed => 1,
            CheckOutcome::Unavailable(_) => 2,
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

/// A checker that is honestly absent.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

impl ScriptChecker for Unavailable {
    fn name(&self) -> &str {
        "osips -C"
    }
    fn check(&self, _script: &str) -> CheckOutcome {
        CheckOutcome::Unavailable(self.0.clone())
    }
}

/// The checker osipsconfig uses: the `osips` binary when it is found and really checks scripts,
/// otherwise [`Unavailable`] with the reason.
pub fn default_checker() -> Box<dyn ScriptChecker> {
    match OsipsBinaryChecker::locate() {
        None => Box::new(Unavailable("osips binary not found; set OSIPS_BIN".into())),
        Some(b) => match b.probe() {
            Ok(()) => Box::new(b),
            Err(why) => Box::new(Unavailable(why)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_line_column() {
        let e = parse_error_line("/tmp/x.cfg:12:5: unknown function foo").unwrap();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (12, Some(5), "unknown function foo")
        );
    }

    #[test]
    fn parses_line_words() {
        let e =
            parse_error_line("ERROR: parse error in config file, line 7, column 3: syntax error")
                .unwrap();
        assert_eq!((e.line, e.column), (7, Some(3)));
        assert!(parse_error_line("nothing useful here").is_none());
    }

    #[test]
    fn binary_that_accepts_anything_is_unavailable() {
        let c = OsipsBinaryChecker::new(PathBuf::from("/bin/true"));
        assert!(c.probe().is_err());
        let c = OsipsBinaryChecker::new(PathBuf::from("/nonexistent/osips"));
        assert!(matches!(c.check("route{}"), CheckOutcome::Unavailable(_)));
    }

    #[test]
    fn failing_binary_reports_errors() {
        // `false` exits 1 with no output: a failure without a line.
        let c = OsipsBinaryChecker::new(PathBuf::from("/bin/false"));
        assert!(c.probe().is_ok());
        match c.check("route{}") {
            CheckOutcome::Failed(e) => assert_eq!(e[0].line, 0),
            other => panic!("{other:?}"),
        }
    }
}
