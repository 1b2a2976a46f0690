//! Loading a script: reading files, tokenising them and splicing `include_file` / `import_file`
//! (OpenSIPS `cfg_pp.c`). Each included file keeps its own file id, so errors point into it.

use super::diag::Diagnostic;
use super::lexer::{Lexer, Tok, Token};
use super::span::{FileId, SourceMap, Span};
use std::path::{Path, PathBuf};

/// OpenSIPS aborts past this include depth.
const MAX_INCLUDE_DEPTH: usize = 50;

/// Reads and tokenises `path` and everything it includes. None when the main file cannot be read
/// (the error is in `diags` only if there is a file to point at; otherwise it is returned).
pub fn load_file(
    path: &Path,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<Token>, String> {
    let text = read(path)?;
    let id = sources.add(path, text);
    let mut stack = vec![canonical(path)];
    Ok(expand(id, sources, diags, &mut stack))
}

/// Tokenises a script given as text (`name` is used in messages and for relative includes).
pub fn load_str(
    name: &str,
    text: &str,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Token> {
    let id = sources.add(name, text.to_string());
    let mut stack = vec![PathBuf::from(name)];
    expand(id, sources, diags, &mut stack)
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Relative includes are tried against the working directory first, then the including file's folder.
fn resolve(name: &str, including: &Path) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    if p.exists() {
        return Some(p.to_path_buf());
    }
    let beside = including.parent().map(|d| d.join(p))?;
    beside.exists().then_some(beside)
}

fn expand(
    id: FileId,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
    stack: &mut Vec<PathBuf>,
) -> Vec<Token> {
    let (toks, lex_diags) = Lexer::tokenize(&sources.file(id).text, id);
    diags.extend(lex_diags);
    let including = sources.path(id).to_path_buf();
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let is_include =
            matches!(&toks[i].tok, Tok::Ident(w) if w == "include_file" || w == "import_file");
        if !is_include {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        let kw = toks[i].span;
        let Some(Token {
            tok: Tok::Str { value, .. },
            span,
        }) = toks.get(i + 1).cloned()
        else {
            diags.push(
                Diagnostic::error(kw, "include_file needs a quoted file name")
                    .label("expected a path after this"),
            );
            i += 1;
            continue;
        };
        i += 2;
        let whole = kw.to(span);
        let Some(path) = resolve(&value, &including) else {
            diags.push(
                Diagnostic::error(span, format!("cannot find included file `{value}`"))
                    .label("not found relative to the working directory or to this file"),
            );
            continue;
        };
        if stack.len() >= MAX_INCLUDE_DEPTH {
            diags.push(
                Diagnostic::error(whole, "include files nested too deeply")
                    .label(format!("more than {MAX_INCLUDE_DEPTH} levels")),
            );
            continue;
        }
        let canon = canonical(&path);
        if stack.contains(&canon) {
            diags.push(
                Diagnostic::error(whole, format!("`{value}` includes itself"))
                    .label("include cycle"),
            );
            continue;
        }
        let text = match read(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(span, e).label("cannot read this file"));
                continue;
            }
        };
        let inc = sources.add(&path, text);
        stack.push(canon);
        let mut inner = expand(inc, sources, diags, stack);
        stack.pop();
        inner.pop(); // its Eof
        out.extend(inner);
    }
    if out.last().map(|t| &t.tok) != Some(&Tok::Eof) {
        let end = sources.file(id).text.len();
        out.push(Token {
            tok: Tok::Eof,
            span: Span::new(id, end, end),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_spliced_with_their_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.cfg");
        std::fs::write(&inc, "b c\n").unwrap();
        let main = dir.path().join("main.cfg");
        std::fs::write(&main, "a\ninclude_file \"inc.cfg\"\nd\n").unwrap();
        let mut sm = SourceMap::new();
        let mut d = Vec::new();
        let toks = load_file(&main, &mut sm, &mut d).unwrap();
        assert!(d.is_empty(), "{d:?}");
        let words: Vec<_> = toks.iter().map(|t| t.tok.symbol()).collect();
        assert_eq!(words, ["a", "b", "c", "d", "<eof>"]);
        assert_eq!(sm.location(toks[1].span), format!("{}:1:1", inc.display()));
    }

    #[test]
    fn missing_and_cyclic_includes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.cfg");
        std::fs::write(
            &main,
            "import_file \"main.cfg\"\ninclude_file \"nope.cfg\"\n",
        )
        .unwrap();
        let mut sm = SourceMap::new();
        let mut d = Vec::new();
        load_file(&main, &mut sm, &mut d).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d[0].message.contains("includes itself"));
        assert!(d[1].message.contains("cannot find"));
    }
}

/// Pipes a script through an external preprocessor (`opensips -p CMD`, e.g. `m4` or `/bin/cat`): CMD
/// runs under `sh -c` with the script on its standard input; its standard output is the script.
pub fn preprocess(text: &str, cmd: &str) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run preprocessor `{cmd}`: {e}"))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("preprocessor has no standard input")?;
    let input = text.as_bytes().to_vec();
    // Written from another thread so a large script cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("preprocessor `{cmd}` failed: {e}"))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!(
            "preprocessor `{cmd}` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| format!("preprocessor `{cmd}` produced text that is not UTF-8"))
}

#[cfg(test)]
mod preprocess_tests {
    use super::preprocess;

    #[test]
    fn pipes_through_the_command() {
        assert_eq!(
            preprocess("route { FOO; }\n", "sed s/FOO/exit/").unwrap(),
            "route { exit; }\n"
        );
        assert!(
            preprocess("x", "exit 3")
                .unwrap_err()
                .contains("exited with")
        );
    }
}
