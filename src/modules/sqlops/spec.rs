//! The `source` and `name` arguments of `sql_avp_load/store/delete` and the variable lists of
//! `sql_query` / `sql_query_one`.

use crate::script::pv::{PvSpec, parse_pv};

/// What part of the source identifies the preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The `uuid` column.
    Uuid,
    /// Username (and domain with `use_domain`) of a SIP URI.
    Uri,
    Username,
    Domain,
}

/// `source = (pvar|str_value)['/'('username'|'domain'|'uri'|'uuid')]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub var: Option<PvSpec>,
    pub text: String,
    pub key: Key,
}

/// `name = avp_spec['/'(table_name|'$'db_scheme)]`; `attr` None = every attribute (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub attr: Option<String>,
    pub table: Option<String>,
}

pub fn parse_source(text: &str) -> Result<Source, String> {
    let text = text.trim();
    let (base, key) = match text.rsplit_once('/') {
        Some((b, k)) => {
            let key = match k.trim().to_ascii_lowercase().as_str() {
                "uuid" => Key::Uuid,
                "uri" => Key::Uri,
                "username" => Key::Username,
                "domain" => Key::Domain,
                other => {
                    return Err(format!(
                        "source `{text}`: unknown flag `{other}` (username, domain, uri, uuid)"
                    ));
                }
            };
            (b.trim(), Some(key))
        }
        None => (text, None),
    };
    if base.is_empty() {
        return Err("empty source".into());
    }
    if base.starts_with('$') {
        let var = parse_pv(base).map_err(|e| format!("source `{base}`: {e:?}"))?;
        let uri_var = matches!(var.name.as_str(), "ru" | "fu" | "tu" | "ou");
        Ok(Source {
            key: key.unwrap_or(if uri_var { Key::Uri } else { Key::Uuid }),
            var: Some(var),
            text: base.to_string(),
        })
    } else {
        Ok(Source {
            var: None,
            text: base.to_string(),
            key: key.unwrap_or(Key::Uuid),
        })
    }
}

pub fn parse_name(text: &str) -> Result<Name, String> {
    let text = text.trim();
    let (avp, table) = if let Some(rest) = text.strip_prefix("$avp(") {
        let close = rest
            .find(')')
            .ok_or_else(|| format!("name `{text}`: no `)`"))?;
        let tail = rest[close + 1..].trim();
        let table = match tail.strip_prefix('/') {
            Some(t) => Some(t.trim()),
            None if tail.is_empty() => None,
            None => return Err(format!("name `{text}`: unexpected `{tail}`")),
        };
        (&rest[..close], table)
    } else {
        match text.split_once('/') {
            Some((a, t)) => (a.trim(), Some(t.trim())),
            None => (text, None),
        }
    };
    let avp = avp.trim();
    let avp = avp
        .strip_prefix("s:")
        .or_else(|| avp.strip_prefix("i:"))
        .unwrap_or(avp);
    if avp.is_empty() {
        return Err(format!("name `{text}`: no attribute"));
    }
    let table = match table {
        Some(t) if t.starts_with('$') => {
            return Err(format!(
                "name `{text}`: db_scheme `{t}` is not supported by osips"
            ));
        }
        Some("") => return Err(format!("name `{text}`: empty table")),
        t => t.map(str::to_string),
    };
    Ok(Name {
        attr: (avp != "*" && !avp.eq_ignore_ascii_case("a")).then(|| avp.to_string()),
        table,
    })
}

/// `"$avp(a); $var(b)"` as variables.
pub fn parse_var_list(text: &str) -> Result<Vec<PvSpec>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_pv(s).map_err(|e| format!("variable `{s}`: {e:?}")))
        .collect()
}

/// `$avp(n)` for the n-th column when no list is given (1-based).
pub fn default_avp(column: usize) -> PvSpec {
    parse_pv(&format!("$avp({})", column + 1)).expect("a valid $avp name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let s = parse_source("$fu").unwrap();
        assert_eq!(s.key, Key::Uri);
        assert_eq!(s.var.unwrap().name, "fu");
        assert_eq!(parse_source("$ru/domain").unwrap().key, Key::Domain);
        assert_eq!(parse_source("$avp(uuid)").unwrap().key, Key::Uuid);
        assert_eq!(parse_source("$var(u)/username").unwrap().key, Key::Username);
        let s = parse_source("abc-123").unwrap();
        assert!(s.var.is_none());
        assert_eq!((s.text.as_str(), s.key), ("abc-123", Key::Uuid));
        assert!(parse_source("$ru/nope").unwrap_err().contains("nope"));
        assert!(parse_source("").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_name("$avp(fwd)").unwrap(),
            Name {
                attr: Some("fwd".into()),
                table: None
            }
        );
        assert_eq!(
            parse_name("$avp(404fwd)/fwd_table").unwrap(),
            Name {
                attr: Some("404fwd".into()),
                table: Some("fwd_table".into())
            }
        );
        assert_eq!(parse_name("*").unwrap().attr, None);
        assert_eq!(
            parse_name("s:email/prefs").unwrap(),
            Name {
                attr: Some("email".into()),
                table: Some("prefs".into())
            }
        );
        assert!(
            parse_name("$avp(x)/$scheme")
                .unwrap_err()
                .contains("db_scheme")
        );
        assert!(parse_name("$avp(x").is_err());
        assert!(parse_name("$avp()").is_err());
    }

    #[test]
    fn variable_lists() {
        let l = parse_var_list("$avp(pass); $var(hash) ;").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].name.as_str(), l[1].name.as_str()), ("avp", "var"));
        assert!(parse_var_list("$avp(a);notavar").is_err());
        assert_eq!(default_avp(0).inner_literal(), Some("1"));
    }
}
