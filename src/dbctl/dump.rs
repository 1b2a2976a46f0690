//! The backup file: a versioned, line-based text format, the same for every engine, checked
//! before anything is restored.
//!
//! ```text
//! OSIPS-DUMP 1
//! engine postgres
//! database opensips
//! schema 3.6
//! table subscriber
//! columns id username domain ...
//! row i1 talice texample.com N b00ff ...
//! end subscriber 1
//! trailer tables=1 rows=1 sha256=<hex of every byte before this line>
//! ```
//! Fields are separated by one space. Values: `N` (NULL), `i<int>`, `f<float>`, `t<text>`,
//! `b<hex>`; text and names escape `\` `space` `newline` `CR` `tab` as `\\` `\s` `\n` `\r` `\t`.

use std::io::{BufRead, Write};

use sha2::{Digest, Sha256};

use crate::db::{Engine, Value, url::engine_scheme};

pub const MAGIC: &str = "OSIPS-DUMP";
pub const FORMAT_VERSION: u32 = 1;

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' ' => out.push_str("\\s"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match it.next() {
            Some('\\') => '\\',
            Some('s') => ' ',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            other => {
                return Err(format!(
                    "bad escape \\{}",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        });
    }
    Ok(out)
}

fn encode_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('N'),
        Value::Int(i) => {
            out.push('i');
            out.push_str(&i.to_string());
        }
        Value::Float(f) => {
            out.push('f');
            out.push_str(&format!("{f:?}"));
        }
        Value::Text(s) => {
            out.push('t');
            escape(s, out);
        }
        Value::Blob(b) => {
            out.push('b');
            out.push_str(&hex::encode(b));
        }
    }
}

fn decode_value(field: &str) -> Result<Value, String> {
    let mut chars = field.chars();
    let tag = chars.next().ok_or("empty field")?;
    let rest = chars.as_str();
    Ok(match tag {
        'N' if rest.is_empty() => Value::Null,
        'i' => Value::Int(rest.parse().map_err(|_| format!("bad integer `{rest}`"))?),
        'f' => Value::Float(rest.parse().map_err(|_| format!("bad number `{rest}`"))?),
        't' => Value::Text(unescape(rest)?),
        'b' => Value::Blob(hex::decode(rest).map_err(|_| "bad hex blob".to_string())?),
        _ => {
            return Err(format!(
                "unknown value `{}`",
                field.chars().take(20).collect::<String>()
            ));
        }
    })
}

/// Writes a dump, hashing what it writes.
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
    tables: u64,
    rows: u64,
    table_rows: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(
        out: W,
        engine: Engine,
        database: &str,
        schema_release: &str,
    ) -> std::io::Result<Self> {
        let mut w = Writer {
            out,
            hash: Sha256::new(),
            tables: 0,
            rows: 0,
            table_rows: 0,
        };
        let mut db = String::new();
        escape(database, &mut db);
        w.line(&format!("{MAGIC} {FORMAT_VERSION}"))?;
        w.line(&format!("engine {}", engine_scheme(engine)))?;
        w.line(&format!("database {db}"))?;
        w.line(&format!("schema {schema_release}"))?;
        Ok(w)
    }

    fn line(&mut self, l: &str) -> std::io::Result<()> {
        self.hash.update(l.as_bytes());
        self.hash.update(b"\n");
        self.out.write_all(l.as_bytes())?;
        self.out.write_all(b"\n")
    }

    pub fn table(&mut self, name: &str, columns: &[String]) -> std::io::Result<()> {
        let mut l = String::from("table ");
        escape(name, &mut l);
        self.line(&l)?;
        let mut l = String::from("columns");
        for c in columns {
            l.push(' ');
            escape(c, &mut l);
        }
        self.tables += 1;
        self.table_rows = 0;
        self.line(&l)
    }

    pub fn row(&mut self, values: &[Value]) -> std::io::Result<()> {
        let mut l = String::from("row");
        for v in values {
            l.push(' ');
            encode_value(v, &mut l);
        }
        self.rows += 1;
        self.table_rows += 1;
        self.line(&l)
    }

    pub fn end_table(&mut self, name: &str) -> std::io::Result<()> {
        let mut l = String::from("end ");
        escape(name, &mut l);
        l.push_str(&format!(" {}", self.table_rows));
        self.line(&l)
    }

    /// Writes the trailer; returns (tables, rows).
    pub fn finish(mut self) -> std::io::Result<(u64, u64)> {
        let digest = hex::encode(self.hash.clone().finalize());
        let l = format!(
            "trailer tables={} rows={} sha256={digest}",
            self.tables, self.rows
        );
        self.out.write_all(l.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok((self.tables, self.rows))
    }
}

/// The header of a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub engine: String,
    pub database: String,
    pub schema: String,
}

/// One item of a dump, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Table { name: String, columns: Vec<String> },
    Row(Vec<Value>),
    End { name: String, rows: u64 },
}

/// A table of a verified dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSummary {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
}

/// Why a dump cannot be used (line number, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// Reads a dump line by line; [`Reader::verify`] checks the whole file first.
pub struct Reader<R: BufRead> {
    input: R,
    line_no: u64,
    hash: Sha256,
    pub header: Header,
    current: Option<(String, usize, u64)>,
    tables: u64,
    rows: u64,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Result<Self, DumpError> {
        let mut r = Reader {
            input,
            line_no: 0,
            hash: Sha256::new(),
            header: Header {
                engine: String::new(),
                database: String::new(),
                schema: String::new(),
            },
            current: None,
            tables: 0,
            rows: 0,
            done: false,
        };
        let magic = r
            .next_line()?
            .ok_or_else(|| r.err("the file is empty: not an osips dump"))?;
        let expect = format!("{MAGIC} {FORMAT_VERSION}");
        if magic != expect {
            return Err(if magic.starts_with(MAGIC) {
                r.err(format!(
                    "dump format `{magic}` is not supported (this osipsdbctl reads `{expect}`)"
                ))
            } else {
                r.err("not an osips dump (no OSIPS-DUMP header)")
            });
        }
        r.header.engine = r.keyed("engine")?;
        r.header.database = unescape(&r.keyed("database")?).map_err(|m| r.err(m))?;
        r.header.schema = r.keyed("schema")?;
        Ok(r)
    }

    fn err(&self, m: impl Into<String>) -> DumpError {
        DumpError {
            line: self.line_no,
            message: m.into(),
        }
    }

    fn keyed(&mut self, key: &str) -> Result<String, DumpError> {
        let l = self
            .next_line()?
            .ok_or_else(|| self.err("the file ends inside the header (truncated)"))?;
        match l.split_once(' ') {
            Some((k, v)) if k == key => Ok(v.to_string()),
            _ => Err(self.err(format!("expected `{key} ...` in the header"))),
        }
    }

    /// The next line without its newline; hashed unless it is the trailer.
    fn next_line(&mut self) -> Result<Option<String>, DumpError> {
        let mut buf = Vec::new();
        let n = self
            .input
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.err(format!("read error: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if buf.last() != Some(&b'\n') {
            return Err(self.err("the last line is cut off (truncated file)"));
        }
        buf.pop();
        let s = String::from_utf8(buf).map_err(|_| self.err("not UTF-8 text"))?;
        if !s.starts_with("trailer ") {
            self.hash.update(s.as_bytes());
            self.hash.update(b"\n");
        }
        Ok(Some(s))
    }

    /// The next item; `None` after a verified trailer.
    pub fn next_item(&mut self) -> Result<Option<Item>, DumpError> {
        if self.done {
            return Ok(None);
        }
        let Some(l) = self.next_line()? else {
            return Err(self.err("the file ends without its trailer (truncated file)"));
        };
        let (kind, rest) = l.split_once(' ').unwrap_or((l.as_str(), ""));
        match kind {
            "table" => {
                if self.current.is_some() {
                    return Err(self.err("`table` before the previous table's `end`"));
                }
                let name = unescape(rest).map_err(|m| self.err(m))?;
                let cl = self
                    .next_line()?
                    .ok_or_else(|| self.err("the file ends after `table` (truncated)"))?;
                let cols = cl
                    .strip_prefix("columns")
                    .ok_or_else(|| self.err("expected `columns ...` after `table`"))?;
                let columns = cols
                    .split(' ')
                    .filter(|c| !c.is_empty())
                    .map(unescape)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| self.err(m))?;
                if columns.is_empty() {
                    return Err(self.err("a table without columns"));
                }
                self.current = Some((name.clone(), columns.len(), 0));
                self.tables += 1;
                Ok(Some(Item::Table { name, columns }))
            }
            "row" => {
                let Some((_, ncols, count)) = self.current.as_mut() else {
                    return Err(self.err("`row` outside a table"));
                };
                let ncols = *ncols;
                *count += 1;
                let values = if rest.is_empty() && l == "row" {
                    Vec::new()
                } else {
                    rest.split(' ')
                        .map(decode_value)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|m| self.err(m))?
                };
                if values.len() != ncols {
                    return Err(self.err(format!(
                        "a row with {} values in a table of {ncols} columns",
                        values.len()
                    )));
                }
                self.rows += 1;
                Ok(Some(Item::Row(values)))
            }
            "end" => {
                let Some((name, _, count)) = self.current.take() else {
                    return Err(self.err("`end` outside a table"));
                };
                let (n, c) = rest
                    .rsplit_once(' ')
                    .ok_or_else(|| self.err("bad `end` line"))?;
                let ename = unescape(n).map_err(|m| self.err(m))?;
                let rows: u64 = c.parse().map_err(|_| self.err("bad row count"))?;
                if ename != name || rows != count {
                    return Err(self.err(format!(
                        "table {name}: the file says {rows} rows, {count} were found (damaged file)"
                    )));
                }
                Ok(Some(Item::End { name, rows }))
            }
            "trailer" => {
                if self.current.is_some() {
                    return Err(self.err("trailer inside a table (truncated file)"));
                }
                let expect_hash = hex::encode(self.hash.clone().finalize());
                let expect = format!(
                    "tables={} rows={} sha256={expect_hash}",
                    self.tables, self.rows
                );
                if rest != expect {
                    return Err(self.err(
                        "the trailer's counts or checksum do not match the content (damaged file)",
                    ));
                }
                let mut extra = Vec::new();
                let n = self
                    .input
                    .read_to_end(&mut extra)
                    .map_err(|e| self.err(e.to_string()))?;
                if n > 0 {
                    return Err(self.err("data after the trailer"));
                }
                self.done = true;
                Ok(None)
            }
            _ => Err(self.err(format!(
                "unknown line `{}`",
                l.chars().take(30).collect::<String>()
            ))),
        }
    }

    /// Reads to the end, checking structure, counts and checksum. Returns the tables and their
    /// row counts.
    pub fn verify(mut self) -> Result<(Header, Vec<TableSummary>), DumpError> {
        let mut tables = Vec::new();
        let mut cols = Vec::new();
        while let Some(item) = self.next_item()? {
            match item {
                Item::Table { columns, .. } => cols = columns,
                Item::End { name, rows } => tables.push(TableSummary {
                    name,
                    columns: std::mem::take(&mut cols),
                    rows,
                }),
                Item::Row(_) => {}
            }
        }
        Ok((self.header, tables))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, Engine::Sqlite, "x y", "3.6").unwrap();
        w.table("t", &["a".into(), "b c".into()]).unwrap();
        w.row(&[Value::Int(-5), Value::Text("sp ace\\\n\t\r'\"é🎉".into())])
            .unwrap();
        w.row(&[Value::Null, Value::Blob(vec![0, 255, 10])])
            .unwrap();
        w.row(&[Value::Float(0.1), Value::Text(String::new())])
            .unwrap();
        w.end_table("t").unwrap();
        w.table("empty", &["a".into()]).unwrap();
        w.end_table("empty").unwrap();
        assert_eq!(w.finish().unwrap(), (2, 3));
        out
    }

    #[test]
    fn round_trip() {
        let data = sample();
        let mut r = Reader::new(&data[..]).unwrap();
        assert_eq!(r.header.database, "x y");
        let mut items = Vec::new();
        while let Some(i) = r.next_item().unwrap() {
            items.push(i);
        }
        assert_eq!(items.len(), 7);
        assert_eq!(
            items[1],
            Item::Row(vec![
                Value::Int(-5),
                Value::Text("sp ace\\\n\t\r'\"é🎉".into())
            ])
        );
        assert_eq!(
            items[2],
            Item::Row(vec![Value::Null, Value::Blob(vec![0, 255, 10])])
        );
        assert_eq!(
            items[3],
            Item::Row(vec![Value::Float(0.1), Value::Text(String::new())])
        );
        let (_, tables) = Reader::new(&data[..]).unwrap().verify().unwrap();
        assert_eq!(tables[0].rows, 3);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_refused() {
        let data = sample();
        for cut in 0..data.len() {
            let r = Reader::new(&data[..cut]).and_then(|r| r.verify());
            assert!(r.is_err(), "truncated at {cut} accepted");
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x01;
            let r = Reader::new(&d[..]).and_then(|r| r.verify());
            assert!(r.is_err(), "flip at {i} accepted");
        }
    }
}
