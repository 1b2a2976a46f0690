//! What a command returns and how it is printed: an aligned table (or one JSON object) on
//! stdout, messages on stderr.

use serde_json::{Map, Value as Json, json};

use crate::db::{Row, Value};

/// Rows with named columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Database rows, every column.
    pub fn from_rows(rows: &[Row]) -> Table {
        let columns = rows
            .first()
            .map(|r| r.columns.iter().cloned().collect())
            .unwrap_or_default();
        Table {
            columns,
            rows: rows
                .iter()
                .map(|r| r.values.iter().map(json_of).collect())
                .collect(),
        }
    }

    pub fn push(&mut self, row: Vec<Json>) {
        self.rows.push(row);
    }

    /// The rows as JSON objects keyed by column name.
    pub fn to_json(&self) -> Json {
        Json::Array(
            self.rows
                .iter()
                .map(|r| {
                    let mut o = Map::new();
                    for (c, v) in self.columns.iter().zip(r) {
                        o.insert(c.clone(), v.clone());
                    }
                    Json::Object(o)
                })
                .collect(),
        )
    }

    /// Columns padded to the widest cell; NULL shows as `NULL`.
    pub fn render(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(cell_text).collect())
            .collect();
        let mut width: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for r in &cells {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = width.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let line = |vals: &[String]| {
            let mut s = String::new();
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(v);
                if i + 1 < vals.len() {
                    let pad = width[i].saturating_sub(v.chars().count());
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&self.columns);
        out.push('\n');
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        out.push('\n');
        for r in &cells {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

/// A database value as JSON (blobs as hex).
pub fn json_of(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Blob(b) => json!(hex::encode(b)),
    }
}

fn cell_text(v: &Json) -> String {
    let s = match v {
        Json::Null => "NULL".to_string(),
        Json::String(s) => s.clone(),
        Json::Array(a) => a.iter().map(cell_text).collect::<Vec<_>>().join(","),
        Json::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", cell_text(v)))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    // Keep one row on one line whatever the data holds.
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The result of one command.
#[derive(Debug, Default)]
pub struct Report {
    /// The one-line summary (stderr in text mode).
    pub message: Option<String>,
    /// Rows for stdout.
    pub table: Option<Table>,
    /// Free-form data (MI answers) for stdout.
    pub data: Option<Json>,
    /// More lines for stderr (reload results, warnings).
    pub notes: Vec<String>,
    /// Fields added to the JSON object.
    pub fields: Map<String, Json>,
    /// The command printed its output itself (`monitor`).
    pub silent: bool,
}

impl Report {
    pub fn message(msg: impl Into<String>) -> Report {
        Report {
            message: Some(msg.into()),
            ..Report::default()
        }
    }

    pub fn table(t: Table) -> Report {
        Report {
            table: Some(t),
            ..Report::default()
        }
    }

    pub fn with_note(mut self, note: Option<String>) -> Report {
        self.notes.extend(note);
        self
    }

    pub fn field(mut self, key: &str, v: Json) -> Report {
        self.fields.insert(key.to_string(), v);
        self
    }

    /// Text mode: the table or data on stdout, messages on stderr.
    pub fn print_text(&self) {
        if let Some(t) = &self.table {
            print!("{}", t.render());
        }
        if let Some(d) = &self.data {
            match d {
                Json::String(s) => println!("{s}"),
                other => println!(
                    "{}",
                    serde_json::to_string_pretty(other).unwrap_or_default()
                ),
            }
        }
        if let Some(m) = &self.message {
            eprintln!("{m}");
        }
        for n in &self.notes {
            eprintln!("{n}");
        }
    }

    /// JSON mode: one object.
    pub fn to_json(&self, command: &str) -> Json {
        let mut o = Map::new();
        o.insert("ok".into(), json!(true));
        o.insert("command".into(), json!(command));
        if let Some(m) = &self.message {
            o.insert("message".into(), json!(m));
        }
        if let Some(t) = &self.table {
            o.insert("rows".into(), t.to_json());
        }
        if let Some(d) = &self.data {
            o.insert("result".into(), d.clone());
        }
        if !self.notes.is_empty() {
            o.insert("notes".into(), json!(self.notes));
        }
        for (k, v) in &self.fields {
            o.insert(k.clone(), v.clone());
        }
        o.insert("exit".into(), json!(0));
        Json::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_one_line_per_row() {
        let mut t = Table::new(&["user", "n"]);
        t.push(vec![json!("älice"), json!(1)]);
        t.push(vec![json!("b\nob"), Json::Null]);
        assert_eq!(t.render(), "user   n\n-----  ----\nälice  1\nb ob   NULL\n");
        assert_eq!(
            t.to_json(),
            json!([{"user": "älice", "n": 1}, {"user": "b\nob", "n": null}])
        );
    }
}
