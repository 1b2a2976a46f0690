//! The shell subset an `opensipsctlrc` is written in, parsed and never executed.
//!
//! Accepted: `KEY=value` (several per line, separated by blanks or `;`), `export KEY=value`,
//! `export KEY`, unquoted words with backslash escapes and line continuations, `'...'` (literal),
//! `"..."` (with `\$ \` \" \\` escapes and expansions), values spanning lines inside quotes,
//! `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, a leading `~/`, and `#` comments.
//! Everything that would run something (a command, `$(...)`, backquotes, pipes, redirections,
//! `if`, ...) is an error naming the line.

/// Where expansions read and assignments write.
pub(crate) trait Scope {
    fn lookup(&self, name: &str) -> Option<String>;
    fn assign(&mut self, name: &str, value: String, line: usize) -> Result<(), String>;
    fn warn(&mut self, line: usize, message: String);
}

/// A syntax error: 1-based line and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub message: String,
}

struct Cursor<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    scope: &'a mut dyn Scope,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses `text`, applying every assignment to `scope` in order.
pub(crate) fn parse(text: &str, scope: &mut dyn Scope) -> Result<(), SyntaxError> {
    let mut c = Cursor {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        scope,
    };
    c.statements()
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn err<T>(&self, line: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            line,
            message: message.into(),
        })
    }

    /// Skips blanks and backslash-newline continuations; returns true if anything was skipped.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    fn statements(&mut self) -> Result<(), SyntaxError> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(()),
                Some('\n' | ';') => {
                    self.bump();
                }
                Some('#') => self.skip_comment(),
                Some(_) => self.statement()?,
            }
        }
    }

    /// Reads the bare name at the cursor (no quotes), without consuming anything else.
    fn bare_word_ahead(&self) -> String {
        self.chars[self.pos..]
            .iter()
            .take_while(|c| is_name_char(**c))
            .collect()
    }

    fn at_word_end(&self) -> bool {
        matches!(self.peek(), None | Some(' ' | '\t' | '\r' | '\n' | ';'))
    }

    fn statement(&mut self) -> Result<(), SyntaxError> {
        let line = self.line;
        let first = self.bare_word_ahead();
        let export = first == "export" && {
            let after = self.chars.get(self.pos + first.len()).copied();
            matches!(after, Some(' ' | '\t') | None | Some('\n' | ';'))
        };
        if export {
            self.pos += first.len();
            let mut any = false;
            loop {
                self.skip_blanks();
                match self.peek() {
                    None | Some('\n' | ';') => break,
                    Some('#') => {
                        self.skip_comment();
                        break;
                    }
                    _ => {}
                }
                let name = self.bare_word_ahead();
                if !name.is_empty() && is_name_start(name.chars().next().unwrap_or('0')) {
                    let next = self.chars.get(self.pos + name.len()).copied();
                    if next != Some('=') {
                        // `export NAME`: marks an existing variable; nothing to store.
                        self.pos += name.len();
                        if !self.at_word_end() {
                            return self.err(self.line, "`export` takes NAME or NAME=value");
                        }
                        any = true;
                        continue;
                    }
                }
                self.assignment(line)?;
                any = true;
            }
            if !any {
                return self.err(line, "`export` without a variable name");
            }
            return Ok(());
        }
        let mut count = 0;
        loop {
            self.skip_blanks();
            match self.peek() {
                None | Some('\n' | ';') => break,
                Some('#') if count > 0 => {
                    self.skip_comment();
                    break;
                }
                _ => {}
            }
            self.assignment(line)?;
            count += 1;
        }
        Ok(())
    }

    fn not_assignment(&self, line: usize) -> SyntaxError {
        let rest: String = self.chars[self.pos..]
            .iter()
            .take_while(|c| **c != '\n')
            .collect();
        let rest = rest.trim();
        let shown: String = rest.chars().take(40).collect();
        let dots = if rest.chars().count() > 40 { "..." } else { "" };
        SyntaxError {
            line,
            message: format!(
                "not an assignment: `{shown}{dots}` (the rc file is read, never run: only KEY=value lines, comments and blank lines are allowed)"
            ),
        }
    }

    fn assignment(&mut self, stmt_line: usize) -> Result<(), SyntaxError> {
        let name = self.bare_word_ahead();
        let starts_ok = name.chars().next().is_some_and(is_name_start);
        if !starts_ok || self.chars.get(self.pos + name.len()) != Some(&'=') {
            return Err(self.not_assignment(self.line.max(stmt_line)));
        }
        let line = self.line;
        self.pos += name.len() + 1;
        let value = self.value()?;
        if let Err(message) = self.scope.assign(&name, value, line) {
            return self.err(line, message);
        }
        Ok(())
    }

    fn value(&mut self) -> Result<String, SyntaxError> {
        let mut out = String::new();
        if self.peek() == Some('~')
            && matches!(self.peek_at(1), None | Some('/' | ' ' | '\t' | '\n' | ';'))
        {
            self.bump();
            match self.scope.lookup("HOME") {
                Some(home) => out.push_str(&home),
                None => out.push('~'),
            }
        }
        loop {
            if self.at_word_end() {
                return Ok(out);
            }
            let line = self.line;
            let c = self.bump().unwrap_or(' ');
            match c {
                '\'' => loop {
                    match self.bump() {
                        None => {
                            return self.err(line, "unterminated single quote (') opened here");
                        }
                        Some('\'') => break,
                        Some(ch) => out.push(ch),
                    }
                },
                '"' => self.double_quoted(line, &mut out)?,
                '\\' => match self.bump() {
                    None => out.push('\\'),
                    Some('\n') => {}
                    Some(ch) => out.push(ch),
                },
                '$' => self.expansion(line, &mut out)?,
                '`' => {
                    return self.err(
                        line,
                        "command substitution (`...`) is not supported: the rc file is never run",
                    );
                }
                '(' | ')' | '|' | '&' | '<' | '>' => {
                    return self.err(
                        line,
                        format!(
                            "unquoted `{c}` is shell syntax osips does not run; quote the value"
                        ),
                    );
                }
                _ => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, open_line: usize, out: &mut String) -> Result<(), SyntaxError> {
        loop {
            let line = self.line;
            match self.bump() {
                None => return self.err(open_line, "unterminated double quote (\") opened here"),
                Some('"') => return Ok(()),
                Some('\\') => match self.peek() {
                    Some('\n') => {
                        self.bump();
                    }
                    Some(ch @ ('$' | '`' | '"' | '\\')) => {
                        self.bump();
                        out.push(ch);
                    }
                    _ => out.push('\\'),
                },
                Some('$') => self.expansion(line, out)?,
                Some('`') => {
                    return self.err(
                        line,
                        "command substitution (`...`) is not supported: the rc file is never run",
                    );
                }
                Some(ch) => out.push(ch),
            }
        }
    }

    /// After a `$`.
    fn expansion(&mut self, line: usize, out: &mut String) -> Result<(), SyntaxError> {
        match self.peek() {
            Some('{') => {
                self.bump();
                let name: String = self.bare_word_ahead();
                if !name.chars().next().is_some_and(is_name_start) {
                    return self.err(line, "`${` must be followed by a variable name");
                }
                self.pos += name.len();
                let (colon, op) = match (self.peek(), self.peek_at(1)) {
                    (Some('}'), _) => (false, None),
                    (Some(':'), Some('-')) => (true, Some('-')),
                    (Some('-'), _) => (false, Some('-')),
                    (Some(ch), _) => {
                        return self.err(
                            line,
                            format!("`${{{name}{ch}...}}`: only ${{NAME}}, ${{NAME:-word}} and ${{NAME-word}} are supported"),
                        );
                    }
                    (None, _) => return self.err(line, "unterminated `${`"),
                };
                if op.is_some() {
                    self.pos += if colon { 2 } else { 1 };
                }
                let mut word = String::new();
                if op.is_some() {
                    loop {
                        match self.bump() {
                            None => return self.err(line, "unterminated `${`"),
                            Some('}') => break,
                            Some('$') => self.expansion(line, &mut word)?,
                            Some('\\') => {
                                if let Some(ch) = self.bump() {
                                    word.push(ch)
                                }
                            }
                            Some(ch) => word.push(ch),
                        }
                    }
                } else {
                    self.bump();
                }
                let value = self.scope.lookup(&name);
                let use_word = match (&value, op, colon) {
                    (_, None, _) => false,
                    (None, Some(_), _) => true,
                    (Some(v), Some(_), true) => v.is_empty(),
                    (Some(_), Some(_), false) => false,
                };
                if use_word {
                    out.push_str(&word);
                } else {
                    match value {
                        Some(v) => out.push_str(&v),
                        None => self.undefined(line, &name),
                    }
                }
                Ok(())
            }
            Some('(') => self.err(
                line,
                "command substitution $(...) is not supported: the rc file is never run",
            ),
            Some(ch) if is_name_start(ch) => {
                let name = self.bare_word_ahead();
                self.pos += name.len();
                match self.scope.lookup(&name) {
                    Some(v) => out.push_str(&v),
                    None => self.undefined(line, &name),
                }
                Ok(())
            }
            Some(ch) if ch.is_ascii_digit() || "?$#@*!-".contains(ch) => self.err(
                line,
                format!("special parameter `${ch}` is not supported in an rc file"),
            ),
            _ => {
                out.push('$');
                Ok(())
            }
        }
    }

    fn undefined(&mut self, line: usize, name: &str) {
        self.scope.warn(
            line,
            format!("${name} is not set (expands to an empty string)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default, Debug)]
    struct Map {
        vars: Vec<(String, String, usize)>,
        env: HashMap<String, String>,
        warnings: Vec<(usize, String)>,
    }

    impl Scope for Map {
        fn lookup(&self, name: &str) -> Option<String> {
            self.vars
                .iter()
                .rev()
                .find(|(k, _, _)| k == name)
                .map(|(_, v, _)| v.clone())
                .or_else(|| self.env.get(name).cloned())
        }
        fn assign(&mut self, name: &str, value: String, line: usize) -> Result<(), String> {
            self.vars.push((name.into(), value, line));
            Ok(())
        }
        fn warn(&mut self, line: usize, message: String) {
            self.warnings.push((line, message));
        }
    }

    fn run(text: &str) -> Result<Map, SyntaxError> {
        let mut m = Map::default();
        m.env.insert("HOME".into(), "/home/u".into());
        m.env.insert("ENVVAR".into(), "fromenv".into());
        parse(text, &mut m)?;
        Ok(m)
    }

    fn get(m: &Map, k: &str) -> String {
        m.lookup(k).unwrap()
    }

    #[test]
    fn quoting_follows_shell_rules() {
        let m = run(concat!(
            "A=plain\n",
            "B=\"double $A ${A}x \\$A \\\" \\n\"\n",
            "C='single $A \\n'\n",
            "D=con\"cat\"'ed'\\ word\n",
            "E=\n",
            "F=\"multi\nline\"\n",
            "G=a\\\nb\n",
        ))
        .unwrap();
        assert_eq!(get(&m, "A"), "plain");
        assert_eq!(get(&m, "B"), "double plain plainx $A \" \\n");
        assert_eq!(get(&m, "C"), "single $A \\n");
        assert_eq!(get(&m, "D"), "concated word");
        assert_eq!(get(&m, "E"), "");
        assert_eq!(get(&m, "F"), "multi\nline");
        assert_eq!(get(&m, "G"), "ab");
        let f_line = m.vars.iter().find(|v| v.0 == "G").unwrap().2;
        assert_eq!(f_line, 8);
    }

    #[test]
    fn export_comments_and_several_per_line() {
        let m = run("# c\n  export A=1 B=2 # tail\nexport A\nC=3; D=$ENVVAR ; E=x#y\n").unwrap();
        assert_eq!(get(&m, "A"), "1");
        assert_eq!(get(&m, "B"), "2");
        assert_eq!(get(&m, "C"), "3");
        assert_eq!(get(&m, "D"), "fromenv");
        assert_eq!(get(&m, "E"), "x#y");
    }

    #[test]
    fn defaults_tilde_and_undefined() {
        let m = run("A=${NOPE:-dflt}\nB=${ENVVAR:-no}\nC=~/x\nD=$NOPE2\nE=a$/b\n").unwrap();
        assert_eq!(get(&m, "A"), "dflt");
        assert_eq!(get(&m, "B"), "fromenv");
        assert_eq!(get(&m, "C"), "/home/u/x");
        assert_eq!(get(&m, "D"), "");
        assert_eq!(get(&m, "E"), "a$/b");
        assert_eq!(m.warnings.len(), 1);
        assert_eq!(m.warnings[0].0, 4);
    }

    #[test]
    fn commands_are_errors_with_their_line() {
        for (text, line) in [
            ("A=1\nrm -rf /\n", 2),
            ("A=1\n\n$CHROOT_DIR=\"/x\"\n", 3),
            ("A=$(id)\n", 1),
            ("A=`id`\n", 1),
            ("A=1 ls\n", 1),
            ("A=\"open\n\n", 1),
            ("A='open\n", 1),
            ("A=x|y\n", 1),
            ("if [ x ]; then A=1; fi\n", 1),
            ("A=$1\n", 1),
            ("A=${B/x/y}\n", 1),
            ("export\n", 1),
            ("=value\n", 1),
        ] {
            let e = run(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e:?}");
        }
    }
}
