//! A small XML reader for event bodies (PIDF, pres-rules): well-formedness (one root, tags
//! nested and closed, attributes quoted and unique, entity references known), and a tree of
//! elements with the byte span of each, enough to check a root, read rules and merge tuples.

use std::ops::Range;

/// One element: qualified name, attributes, children and the text directly inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
    /// Bytes of the whole element in the document, start tag to end tag.
    pub span: Range<usize>,
}

impl Element {
    /// The name without its namespace prefix.
    pub fn local(&self) -> &str {
        local(&self.name)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Children whose local name is `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.local() == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local() == name)
    }

    /// Every element below this one (depth first) whose local name is `name`.
    pub fn descendants<'a>(&'a self, name: &'a str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.local() == name {
                out.push(c);
            }
            c.descendants(name, out);
        }
    }
}

pub fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Parses a whole document into its root element; the error names the byte offset.
pub fn parse(doc: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(doc).map_err(|e| format!("not UTF-8: {e}"))?;
    Parser {
        s: text,
        b: doc,
        i: 0,
        depth: 0,
    }
    .document()
}

/// Deeper documents are refused (the reader recurses per level).
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

fn is_name(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == b'-' || c == b'.'
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn starts(&self, p: &str) -> bool {
        self.s[self.i..].starts_with(p)
    }

    fn skip_ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn skip_past(&mut self, end: &str, what: &str) -> Result<(), String> {
        match self.s[self.i..].find(end) {
            Some(p) => {
                self.i += p + end.len();
                Ok(())
            }
            None => self.err(&format!("unterminated {what}")),
        }
    }

    /// Comments, processing instructions and white space between top-level items.
    fn misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.starts("<?") {
                self.skip_past("?>", "processing instruction")?;
            } else if self.starts("<!--") {
                self.skip_past("-->", "comment")?;
            } else if self.starts("<!DOCTYPE") {
                return self.err("DOCTYPE is not accepted");
            } else {
                return Ok(());
            }
        }
    }

    fn document(mut self) -> Result<Element, String> {
        if self.starts("\u{feff}") {
            self.i += 3;
        }
        self.misc()?;
        if self.i >= self.b.len() || self.b[self.i] != b'<' {
            return self.err("no root element");
        }
        let root = self.element()?;
        self.misc()?;
        if self.i != self.b.len() {
            return self.err("content after the root element");
        }
        Ok(root)
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        if self.i >= self.b.len() || !is_name_start(self.b[self.i]) {
            return self.err("bad name");
        }
        while self.i < self.b.len() && is_name(self.b[self.i]) {
            self.i += 1;
        }
        Ok(self.s[start..self.i].to_string())
    }

    /// Text with its entity references resolved.
    fn unescape(&self, raw: &str, at: usize) -> Result<String, String> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(p) = rest.find('&') {
            out.push_str(&rest[..p]);
            let Some(end) = rest[p..].find(';') else {
                return Err(format!("unterminated entity reference near byte {at}"));
            };
            let ent = &rest[p + 1..p + end];
            let c = match ent {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x") {
                        u32::from_str_radix(h, 16).ok()
                    } else if let Some(d) = ent.strip_prefix('#') {
                        d.parse().ok()
                    } else {
                        None
                    };
                    match n.and_then(char::from_u32) {
                        Some(c) => c,
                        None => return Err(format!("unknown entity `&{ent};` near byte {at}")),
                    }
                }
            };
            out.push(c);
            rest = &rest[p + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn element(&mut self) -> Result<Element, String> {
        let start = self.i;
        self.i += 1; // '<'
        let name = self.name()?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let before = self.i;
            self.skip_ws();
            match self.b.get(self.i) {
                None => return self.err("unterminated start tag"),
                Some(b'/') => {
                    if self.b.get(self.i + 1) != Some(&b'>') {
                        return self.err("`/` not followed by `>`");
                    }
                    self.i += 2;
                    return Ok(Element {
                        name,
                        attrs,
                        children: Vec::new(),
                        text: String::new(),
                        span: start..self.i,
                    });
                }
                Some(b'>') => {
                    self.i += 1;
                    break;
                }
                Some(_) => {
                    if self.i == before {
                        return self.err("no space before an attribute");
                    }
                    let an = self.name()?;
                    self.skip_ws();
                    if self.b.get(self.i) != Some(&b'=') {
                        return self.err("attribute without `=`");
                    }
                    self.i += 1;
                    self.skip_ws();
                    let q = match self.b.get(self.i) {
                        Some(&q) if q == b'"' || q == b'\'' => q,
                        _ => return self.err("unquoted attribute value"),
                    };
                    self.i += 1;
                    let vs = self.i;
                    while self.i < self.b.len() && self.b[self.i] != q {
                        if self.b[self.i] == b'<' {
                            return self.err("`<` in an attribute value");
                        }
                        self.i += 1;
                    }
                    if self.i >= self.b.len() {
                        return self.err("unterminated attribute value");
                    }
                    let v = self.unescape(&self.s[vs..self.i], vs)?;
                    self.i += 1;
                    if attrs.iter().any(|(n, _)| *n == an) {
                        return self.err(&format!("attribute `{an}` given twice"));
                    }
                    attrs.push((an, v));
                }
            }
        }
        let mut children = Vec::new();
        let mut text = String::new();
        loop {
            if self.i >= self.b.len() {
                return self.err(&format!("element `{name}` not closed"));
            }
            if self.starts("</") {
                self.i += 2;
                let end = self.name()?;
                if end != name {
                    return self.err(&format!("`</{end}>` closes `<{name}>`"));
                }
                self.skip_ws();
                if self.b.get(self.i) != Some(&b'>') {
                    return self.err("bad end tag");
                }
                self.i += 1;
                return Ok(Element {
                    name,
                    attrs,
                    children,
                    text,
                    span: start..self.i,
                });
            } else if self.starts("<!--") {
                self.skip_past("-->", "comment")?;
            } else if self.starts("<![CDATA[") {
                let s = self.i + 9;
                self.skip_past("]]>", "CDATA section")?;
                text.push_str(&self.s[s..self.i - 3]);
            } else if self.starts("<?") {
                self.skip_past("?>", "processing instruction")?;
            } else if self.b[self.i] == b'<' {
                if self.depth >= MAX_DEPTH {
                    return self.err("elements nested too deep");
                }
                self.depth += 1;
                children.push(self.element()?);
                self.depth -= 1;
            } else {
                let s = self.i;
                while self.i < self.b.len() && self.b[self.i] != b'<' {
                    self.i += 1;
                }
                text.push_str(&self.unescape(&self.s[s..self.i], s)?);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.com">
  <tuple id="t1"><status><basic>open</basic></status><note>at &amp; work</note></tuple>
  <!-- a comment -->
</presence>"#;

    #[test]
    fn reads_a_pidf_document() {
        let root = parse(PIDF.as_bytes()).unwrap();
        assert_eq!(root.local(), "presence");
        assert_eq!(root.attr("entity"), Some("sip:alice@example.com"));
        let tuple = root.child("tuple").unwrap();
        assert_eq!(tuple.attr("id"), Some("t1"));
        assert_eq!(tuple.child("note").unwrap().text, "at & work");
        assert_eq!(&PIDF[tuple.span.clone()][..16], "<tuple id=\"t1\"><");
        let mut basics = Vec::new();
        root.descendants("basic", &mut basics);
        assert_eq!(basics[0].text, "open");
    }

    #[test]
    fn prefixed_names() {
        let root = parse(b"<p:presence xmlns:p='x'><p:tuple/></p:presence>").unwrap();
        assert_eq!(root.local(), "presence");
        assert_eq!(root.children[0].local(), "tuple");
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in [
            "",
            "plain text",
            "<a>",
            "<a></b>",
            "<a><b></a></b>",
            "<a x=1/>",
            "<a x='1' x='2'/>",
            "<a/><b/>",
            "<a>&nope;</a>",
            "<a>&amp</a>",
            "<a x='<'/>",
            "<!DOCTYPE a><a/>",
            "<a><!-- open</a>",
            "<1a/>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        assert!(parse(&[0xff, 0xfe]).is_err());
        assert!(parse("<a>".repeat(100_000).as_bytes()).is_err());
    }

    #[test]
    fn never_panics_on_cut_documents() {
        for n in 0..PIDF.len() {
            if PIDF.is_char_boundary(n) {
                let _ = parse(&PIDF.as_bytes()[..n]);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        /// Any bytes, and a PIDF document with bytes changed: a tree or an error, never a
        /// panic; what parses has spans inside the document.
        #[test]
        fn any_input_is_handled(
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..6),
        ) {
            let _ = parse(&junk);
            let mut doc = PIDF.as_bytes().to_vec();
            for (at, b) in edits {
                let i = at % doc.len();
                doc[i] = b;
            }
            if let Ok(root) = parse(&doc) {
                proptest::prop_assert!(root.span.end <= doc.len());
                for c in &root.children {
                    proptest::prop_assert!(c.span.start >= root.span.start && c.span.end <= root.span.end);
                }
            }
        }
    }
}
