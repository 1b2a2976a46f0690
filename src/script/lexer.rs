//! Tokeniser for the opensips.cfg language (OpenSIPS `cfg.lex`).
//!
//! Quirks kept on purpose: `#` starts a comment anywhere outside a string (so `#!define` is a comment),
//! block comments nest, `yes/no/on/off/true/false/enable/disable` are numbers, single-quoted strings are
//! raw, a `$` variable token runs until whitespace or an operator at parenthesis depth 0.

use super::diag::Diagnostic;
use super::span::{FileId, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// A number; `word` is true for the boolean words (`yes`, `off`, ...).
    Int {
        value: i64,
        word: bool,
    },
    Str {
        value: String,
        single: bool,
    },
    /// A `$...` pseudo-variable, text as written (with the `$`).
    Var(String),
    /// Dotted-quad IPv4 address.
    Ipv4(String),
    Null,
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Colon,
    Dot,
    Assign,
    ColonAssign,
    /// `+= -= *= /= %= &= |= ^=`, the operator character.
    OpAssign(char),
    Eq,
    Ne,
    Match,
    NotMatch,
    Gt,
    Lt,
    Ge,
    Le,
    Not,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Shl,
    Shr,
    /// Any other character (an error is reported by the parser where it matters).
    Other(char),
    Eof,
}

impl Tok {
    /// How the token is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int { value, .. } => format!("number `{value}`"),
            Tok::Str { .. } => "a string".to_string(),
            Tok::Var(v) => format!("variable `{v}`"),
            Tok::Ipv4(ip) => format!("address `{ip}`"),
            Tok::Eof => "end of file".to_string(),
            Tok::Null => "`null`".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    pub fn symbol(&self) -> String {
        match self {
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::Semi => ";".into(),
            Tok::Comma => ",".into(),
            Tok::Colon => ":".into(),
            Tok::Dot => ".".into(),
            Tok::Assign => "=".into(),
            Tok::ColonAssign => ":=".into(),
            Tok::OpAssign(c) => format!("{c}="),
            Tok::Eq => "==".into(),
            Tok::Ne => "!=".into(),
            Tok::Match => "=~".into(),
            Tok::NotMatch => "!~".into(),
            Tok::Gt => ">".into(),
            Tok::Lt => "<".into(),
            Tok::Ge => ">=".into(),
            Tok::Le => "<=".into(),
            Tok::Not => "!".into(),
            Tok::AndAnd => "&&".into(),
            Tok::OrOr => "||".into(),
            Tok::Plus => "+".into(),
            Tok::Minus => "-".into(),
            Tok::Star => "*".into(),
            Tok::Slash => "/".into(),
            Tok::Percent => "%".into(),
            Tok::Amp => "&".into(),
            Tok::Pipe => "|".into(),
            Tok::Caret => "^".into(),
            Tok::Tilde => "~".into(),
            Tok::Shl => "<<".into(),
            Tok::Shr => ">>".into(),
            Tok::Other(c) => c.to_string(),
            Tok::Null => "null".into(),
            Tok::Eof => "<eof>".into(),
            Tok::Ident(s) | Tok::Var(s) | Tok::Ipv4(s) => s.clone(),
            Tok::Int { value, .. } => value.to_string(),
            Tok::Str { value, .. } => format!("{value:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Kamailio preprocessor words that OpenSIPS silently treats as comments.
const KAMAILIO_DIRECTIVES: &[&str] = &[
    "define",
    "ifdef",
    "ifndef",
    "endif",
    "else",
    "subst",
    "substdef",
    "trydef",
    "redefine",
    "include_file",
    "import_file",
    "KAMAILIO",
    "SER",
];

/// Characters that end a `$` variable token at parenthesis depth 0.
fn ends_var(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b';' | b','
                | b'='
                | b'+'
                | b'-'
                | b'*'
                | b'/'
                | b'%'
                | b'|'
                | b'&'
                | b'^'
                | b'~'
                | b'<'
                | b'>'
                | b'!'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'"'
                | b'\''
                | b'#'
        )
}

pub struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    file: FileId,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, file: FileId) -> Self {
        Lexer {
            src: text.as_bytes(),
            text,
            // A UTF-8 byte-order mark (editors on Windows) is not part of the script.
            pos: if text.starts_with('\u{feff}') { 3 } else { 0 },
            file,
            diags: Vec::new(),
        }
    }

    /// Tokenises the whole text; the last token is `Eof`.
    pub fn tokenize(text: &str, file: FileId) -> (Vec<Token>, Vec<Diagnostic>) {
        let mut lx = Lexer::new(text, file);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            let eof = t.tok == Tok::Eof;
            out.push(t);
            if eof {
                break;
            }
        }
        (out, lx.diags)
    }

    fn span(&self, start: usize) -> Span {
        Span::new(self.file, start, self.pos)
    }

    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn skip_trivia(&mut self) {
        loop {
            let c = self.peek(0);
            if c == 0 && self.pos >= self.src.len() {
                return;
            }
            if c.is_ascii_whitespace() || c == 0x08 {
                self.pos += 1;
            } else if c == b'\\'
                && (self.peek(1) == b'\n' || (self.peek(1) == b'\r' && self.peek(2) == b'\n'))
            {
                self.pos += if self.peek(1) == b'\r' { 3 } else { 2 };
            } else if c == b'#' {
                let start = self.pos;
                while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                    self.pos += 1;
                }
                self.check_kamailio_directive(start);
            } else if c == b'/' && self.peek(1) == b'*' {
                self.block_comment();
            } else {
                return;
            }
        }
    }

    fn check_kamailio_directive(&mut self, start: usize) {
        let line = &self.text[start..self.pos];
        let Some(rest) = line.strip_prefix("#!") else {
            return;
        };
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if KAMAILIO_DIRECTIVES.contains(&word.as_str()) {
            let span = Span::new(self.file, start, start + 2 + word.len());
            self.diags.push(
                Diagnostic::warning(span, format!("`#!{word}` is a comment in OpenSIPS scripts"))
                    .label("ignored")
                    .note("Kamailio preprocessor directives have no effect; use `opensips -p` templating or include_file"),
            );
        }
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1;
        while self.pos < self.src.len() {
            if self.peek(0) == b'/' && self.peek(1) == b'*' {
                depth += 1;
                self.pos += 2;
            } else if self.peek(0) == b'*' && self.peek(1) == b'/' {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.diags.push(
            Diagnostic::error(
                Span::new(self.file, start, start + 2),
                "unterminated block comment",
            )
            .label("comment starts here"),
        );
    }

    pub fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.pos;
        if self.pos >= self.src.len() {
            return Token {
                tok: Tok::Eof,
                span: self.span(start),
            };
        }
        let c = self.src[self.pos];
        let tok = match c {
            b'"' => self.double_string(),
            b'\'' => self.single_string(),
            b'$' => self.variable(),
            b'0'..=b'9' => self.number(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(),
            _ => self.operator(),
        };
        Token {
            tok,
            span: self.span(start),
        }
    }

    fn word(&mut self) -> Tok {
        let start = self.pos;
        while self.pos < self.src.len()
            && (self.src[self.pos].is_ascii_alphanumeric() || self.src[self.pos] == b'_')
        {
            self.pos += 1;
        }
        let w = &self.text[start..self.pos];
        match w {
            "yes" | "true" | "on" | "enable" => Tok::Int {
                value: 1,
                word: true,
            },
            "no" | "false" | "off" | "disable" => Tok::Int {
                value: 0,
                word: true,
            },
            "null" | "NULL" => Tok::Null,
            "and" => Tok::AndAnd,
            "or" => Tok::OrOr,
            "not" => Tok::Not,
            _ => Tok::Ident(w.to_string()),
        }
    }

    fn number(&mut self) -> Tok {
        let start = self.pos;
        // Dotted quad?
        let mut p = self.pos;
        let mut parts = 0;
        loop {
            let ds = p;
            while p < self.src.len() && self.src[p].is_ascii_digit() {
                p += 1;
            }
            if p == ds {
                break;
            }
            parts += 1;
            if parts < 4
                && p < self.src.len()
                && self.src[p] == b'.'
                && self.src.get(p + 1).is_some_and(|c| c.is_ascii_digit())
            {
                p += 1;
            } else {
                break;
            }
        }
        if parts == 4 {
            self.pos = p;
            return Tok::Ipv4(self.text[start..p].to_string());
        }
        if self.peek(0) == b'0'
            && matches!(self.peek(1), b'x' | b'X')
            && self.peek(2).is_ascii_hexdigit()
        {
            self.pos += 2;
            let ds = self.pos;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            return self.int_value(start, &self.text[ds..self.pos], 16);
        }
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        {
            return self.int_value(start, &digits[1..], 8);
        }
        self.int_value(start, digits, 10)
    }

    fn int_value(&mut self, start: usize, digits: &str, radix: u32) -> Tok {
        match i64::from_str_radix(digits, radix) {
            Ok(v) if v <= u32::MAX as i64 => Tok::Int {
                value: v,
                word: false,
            },
            _ => {
                self.diags.push(
                    Diagnostic::error(self.span(start), "number out of range")
                        .label("does not fit in 32 bits"),
                );
                Tok::Int {
                    value: 0,
                    word: false,
                }
            }
        }
    }

    fn variable(&mut self) -> Tok {
        let start = self.pos;
        self.pos += 1;
        let mut depth = 0usize;
        while self.pos < self.src.len() {
            let c = self.src[self.pos];
            if c == b'(' {
                depth += 1;
            } else if c == b')' {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                if depth == 0 {
                    self.pos += 1;
                    // `$name(x)` ends at its closing parenthesis unless an index/transformation form follows.
                    continue;
                }
            } else if depth == 0 && ends_var(c) {
                break;
            }
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        if text.len() == 1 {
            self.diags.push(
                Diagnostic::error(self.span(start), "lone `$`").label("expected a variable name"),
            );
        } else if depth > 0 {
            self.diags.push(
                Diagnostic::error(self.span(start), "unbalanced parentheses in variable")
                    .label("missing `)`"),
            );
        }
        Tok::Var(text.to_string())
    }

    fn double_string(&mut self) -> Tok {
        let start = self.pos;
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            if self.pos >= self.src.len() {
                self.diags.push(
                    Diagnostic::error(
                        Span::new(self.file, start, start + 1),
                        "unterminated string",
                    )
                    .label("string starts here"),
                );
                break;
            }
            let c = self.src[self.pos];
            if c == b'"' {
                self.pos += 1;
                break;
            }
            if c != b'\\' {
                out.push(c);
                self.pos += 1;
                continue;
            }
            let n = self.peek(1);
            self.pos += 2;
            match n {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(0x07),
                b't' => out.push(b'\t'),
                b'"' => out.push(b'"'),
                b'\\' => out.push(b'\\'),
                b'\n' => {}
                b'\r' if self.peek(0) == b'\n' => self.pos += 1,
                b'x' if self.peek(0).is_ascii_hexdigit() => {
                    let mut v = 0u8;
                    let mut k = 0;
                    while k < 2 && self.peek(0).is_ascii_hexdigit() {
                        v = v * 16 + (self.peek(0) as char).to_digit(16).unwrap_or(0) as u8;
                        self.pos += 1;
                        k += 1;
                    }
                    out.push(v);
                }
                b'0'..=b'7' if (b'0'..=b'7').contains(&self.peek(0)) => {
                    // 2 or 3 octal digits; a single digit is kept as is so `\1` survives.
                    let mut v: u32 = (n - b'0') as u32;
                    let mut k = 1;
                    while k < 3 && (b'0'..=b'7').contains(&self.peek(0)) {
                        v = v * 8 + (self.peek(0) - b'0') as u32;
                        self.pos += 1;
                        k += 1;
                    }
                    out.push(v as u8);
                }
                0 => {
                    out.push(b'\\');
                    self.pos -= 1;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        }
        Tok::Str {
            value: String::from_utf8_lossy(&out).into_owned(),
            single: false,
        }
    }

    fn single_string(&mut self) -> Tok {
        let start = self.pos;
        self.pos += 1;
        let s = self.pos;
        while self.pos < self.src.len() && self.src[self.pos] != b'\'' {
            self.pos += 1;
        }
        let value = self.text[s..self.pos].to_string();
        if self.pos >= self.src.len() {
            self.diags.push(
                Diagnostic::error(
                    Span::new(self.file, start, start + 1),
                    "unterminated string",
                )
                .label("string starts here"),
            );
        } else {
            self.pos += 1;
        }
        Tok::Str {
            value,
            single: true,
        }
    }

    fn operator(&mut self) -> Tok {
        let c = self.peek(0);
        let n = self.peek(1);
        let two = |t: Tok, l: &mut Self| {
            l.pos += 2;
            t
        };
        match (c, n) {
            (b'=', b'=') => return two(Tok::Eq, self),
            (b'=', b'~') => return two(Tok::Match, self),
            (b'!', b'=') => return two(Tok::Ne, self),
            (b'!', b'~') => return two(Tok::NotMatch, self),
            (b'>', b'=') => return two(Tok::Ge, self),
            (b'<', b'=') => return two(Tok::Le, self),
            (b'<', b'<') => return two(Tok::Shl, self),
            (b'>', b'>') => return two(Tok::Shr, self),
            (b'&', b'&') => return two(Tok::AndAnd, self),
            (b'|', b'|') => return two(Tok::OrOr, self),
            (b':', b'=') => return two(Tok::ColonAssign, self),
            (b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^', b'=') => {
                return two(Tok::OpAssign(c as char), self);
            }
            _ => {}
        }
        self.pos += 1;
        match c {
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b';' => Tok::Semi,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'.' => Tok::Dot,
            b'=' => Tok::Assign,
            b'>' => Tok::Gt,
            b'<' => Tok::Lt,
            b'!' => Tok::Not,
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'*' => Tok::Star,
            b'/' => Tok::Slash,
            b'%' => Tok::Percent,
            b'&' => Tok::Amp,
            b'|' => Tok::Pipe,
            b'^' => Tok::Caret,
            b'~' => Tok::Tilde,
            _ => {
                // Keep multi-byte characters whole.
                let ch = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                self.pos += ch.len_utf8() - 1;
                Tok::Other(ch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let (t, d) = Lexer::tokenize(s, FileId(0));
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        t.into_iter()
            .map(|t| t.tok)
            .filter(|t| *t != Tok::Eof)
            .collect()
    }

    #[test]
    fn comments_nest_and_hash_everywhere() {
        assert_eq!(
            toks("a /* x /* y */ z */ b # c\n#!define X 1\nd"),
            vec![
                Tok::Ident("a".into()),
                Tok::Ident("b".into()),
                Tok::Ident("d".into())
            ]
        );
    }

    #[test]
    fn kamailio_directive_warns() {
        let (_, d) = Lexer::tokenize("#!define X 1\n", FileId(0));
        assert_eq!(d.len(), 1);
        assert!(!d[0].is_error());
    }

    #[test]
    fn booleans_are_numbers_and_null() {
        assert_eq!(
            toks("yes off NULL"),
            vec![
                Tok::Int {
                    value: 1,
                    word: true
                },
                Tok::Int {
                    value: 0,
                    word: true
                },
                Tok::Null
            ]
        );
    }

    #[test]
    fn numbers_hex_octal_ip() {
        assert_eq!(
            toks("0x1F 010 0 127.0.0.1"),
            vec![
                Tok::Int {
                    value: 31,
                    word: false
                },
                Tok::Int {
                    value: 8,
                    word: false
                },
                Tok::Int {
                    value: 0,
                    word: false
                },
                Tok::Ipv4("127.0.0.1".into())
            ]
        );
    }

    #[test]
    fn double_string_escapes() {
        let t = toks(r#""a\tb\x41\101\1\q\"""#);
        assert_eq!(
            t,
            vec![Tok::Str {
                value: "a\tbAA\\1\\q\"".into(),
                single: false
            }]
        );
    }

    #[test]
    fn single_string_is_raw() {
        assert_eq!(
            toks(r"'a\nb'"),
            vec![Tok::Str {
                value: r"a\nb".into(),
                single: true
            }]
        );
    }

    #[test]
    fn variable_tokens() {
        assert_eq!(
            toks("$(hdr(From){uri.user})==$var(x);$rU!=$avp(a)"),
            vec![
                Tok::Var("$(hdr(From){uri.user})".into()),
                Tok::Eq,
                Tok::Var("$var(x)".into()),
                Tok::Semi,
                Tok::Var("$rU".into()),
                Tok::Ne,
                Tok::Var("$avp(a)".into())
            ]
        );
        assert_eq!(
            toks("if($rU)"),
            vec![
                Tok::Ident("if".into()),
                Tok::LParen,
                Tok::Var("$rU".into()),
                Tok::RParen
            ]
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("=~ !~ := += << >= and or not"),
            vec![
                Tok::Match,
                Tok::NotMatch,
                Tok::ColonAssign,
                Tok::OpAssign('+'),
                Tok::Shl,
                Tok::Ge,
                Tok::AndAnd,
                Tok::OrOr,
                Tok::Not
            ]
        );
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(toks("\u{feff}route"), vec![Tok::Ident("route".into())]);
    }

    #[test]
    fn line_continuation() {
        assert_eq!(
            toks("a \\\n b"),
            vec![Tok::Ident("a".into()), Tok::Ident("b".into())]
        );
    }

    #[test]
    fn unterminated_comment_is_error() {
        let (_, d) = Lexer::tokenize("/* /* */", FileId(0));
        assert!(d[0].is_error());
    }
}
