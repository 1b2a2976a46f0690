//! Tenants: a tenant is a set of domains sharing attributes, kept in the `attrs` column of the
//! domain table as `tenant=NAME;key=value;...`.
//!
//! That is the form OpenSIPS scripts already read: `is_domain_local("$rd", "$var(attrs)")` (or
//! `lookup_domain`) returns the column as one string, and `$(var(attrs){param.value,tenant})`
//! picks a value. So names, keys and values may not hold `;`, `=`, quotes, commas, blanks or
//! control characters, and the whole string must fit the column's 255 characters.

use std::collections::BTreeMap;

use serde_json::json;

use super::aor;
use super::ctx::{Ctx, now_text, unix_now};
use super::domain::reload_note;
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use crate::db::Value;

/// `domain.attrs` is CHAR(255).
const ATTRS_MAX: usize = 255;

/// One tenant as found in the domain table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub domains: Vec<String>,
    /// Attributes other than `tenant`, in the order of the first domain's column.
    pub attrs: Vec<(String, String)>,
}

fn plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && !matches!(c, ';' | '=' | ',' | '"' | '\'' | '\\')
        })
}

/// Tenant names: letters, digits, `_`, `-`, `.`, up to 64 characters.
pub fn check_name(name: &str) -> Outcome<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(
            format!("`{name}` is not a valid tenant name"),
            "use 1-64 letters, digits, `_`, `-` or `.`",
        ))
    }
}

/// Parses `--attr key=value`.
pub fn parse_attr(arg: &str) -> Outcome<(String, String)> {
    let bad = || {
        Failure::usage(
            format!("attribute `{arg}` is not key=value"),
            "keys and values may not hold ; = , quotes, backslashes or blanks (the domain module reads them as key=value;...)",
        )
    };
    let (k, v) = arg.split_once('=').ok_or_else(bad)?;
    if !plain_token(k) || !plain_token(v) {
        return Err(bad());
    }
    if k == "tenant" {
        return Err(Failure::usage(
            "`tenant` is the tenant's name, not an attribute",
            "give the name as the first argument",
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `tenant=NAME;k=v;...`.
pub fn encode(name: &str, attrs: &[(String, String)]) -> String {
    let mut s = format!("tenant={name}");
    for (k, v) in attrs {
        s.push_str(&format!(";{k}={v}"));
    }
    s
}

/// The tenant name and other attributes of an `attrs` value, when it names a tenant.
pub fn decode(attrs: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut name = None;
    let mut rest = Vec::new();
    for part in attrs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if k == "tenant" && name.is_none() {
            name = Some(v.to_string());
        } else {
            rest.push((k.to_string(), v.to_string()));
        }
    }
    name.filter(|n| !n.is_empty()).map(|n| (n, rest))
}

/// Every tenant, sorted by name.
pub fn load(ctx: &Ctx) -> Outcome<Vec<Tenant>> {
    let t = ctx.table("DOMAIN_TABLE", "domain")?;
    let rows = ctx.db()?.query(
        &format!("SELECT domain, attrs FROM {t} WHERE attrs IS NOT NULL ORDER BY domain"),
        &[],
    )?;
    let mut by_name: BTreeMap<String, Tenant> = BTreeMap::new();
    for r in rows {
        let (Some(domain), Some(attrs)) = (r.get(0).to_text(), r.get(1).to_text()) else {
            continue;
        };
        if let Some((name, attrs)) = decode(&attrs) {
            by_name
                .entry(name.clone())
                .or_insert_with(|| Tenant {
                    name,
                    domains: Vec::new(),
                    attrs,
                })
                .domains
                .push(domain);
        }
    }
    Ok(by_name.into_values().collect())
}

fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Users and online users (distinct AoRs with a live contact) of a set of domains.
fn counts(ctx: &Ctx, domains: &[String]) -> Outcome<(i64, i64)> {
    let db = ctx.db()?;
    let sub = ctx.table("SUB_TABLE", "subscriber")?;
    let marks = in_list(domains.len());
    let vals: Vec<Value> = domains.iter().map(Value::from).collect();
    let users = db
        .query(
            &format!("SELECT COUNT(*) FROM {sub} WHERE domain IN ({marks})"),
            &vals,
        )?
        .first()
        .and_then(|r| r.get(0).as_i64())
        .unwrap_or(0);
    let online = if ctx.has_table(ctx.table_name("UL_TABLE", "location"))? {
        let ul = ctx.table("UL_TABLE", "location")?;
        let ucol = ctx.user_col()?;
        let mut v = vals.clone();
        v.push(Value::Int(unix_now()));
        db.query(
            &format!(
                "SELECT COUNT(*) FROM (SELECT DISTINCT {ucol}, domain FROM {ul} \
                 WHERE domain IN ({marks}) AND (expires = 0 OR expires > ?)) live"
            ),
            &v,
        )?
        .first()
        .and_then(|r| r.get(0).as_i64())
        .unwrap_or(0)
    } else {
        0
    };
    Ok((users, online))
}

/// `tenant add <name> <domain>... [--attr k=v]...`.
pub fn add(ctx: &Ctx, name: &str, domains: &[String], attrs: &[String]) -> Outcome<Report> {
    check_name(name)?;
    for d in domains {
        aor::check_domain(d)?;
    }
    let mut uniq = domains.to_vec();
    uniq.sort();
    uniq.dedup();
    if uniq.len() != domains.len() {
        return Err(Failure::usage(
            "a domain is named twice",
            "name each domain once",
        ));
    }
    let attrs = attrs
        .iter()
        .map(|a| parse_attr(a))
        .collect::<Outcome<Vec<_>>>()?;
    let encoded = encode(name, &attrs);
    aor::fit(
        "the tenant's attributes (tenant=NAME;k=v...)",
        &encoded,
        ATTRS_MAX,
    )?;
    if let Some(t) = load(ctx)?.into_iter().find(|t| t.name == name) {
        return Err(Failure::failed(
            format!("tenant '{name}' already exists ({})", t.domains.join(", ")),
            "add a domain to it with `osipsctl domain add DOMAIN --tenant NAME`",
        ));
    }
    let table = ctx.table("DOMAIN_TABLE", "domain")?;
    ctx.db()?.transaction(|tx| {
        for d in domains {
            if let Some(r) = tx
                .query(
                    &format!("SELECT attrs FROM {table} WHERE domain = ?"),
                    crate::params![d],
                )?
                .into_iter()
                .next()
            {
                let owner = r
                    .get(0)
                    .to_text()
                    .and_then(|a| decode(&a))
                    .map(|(n, _)| format!(" (tenant '{n}')"))
                    .unwrap_or_default();
                return Err(Failure::failed(
                    format!("domain '{d}' already exists{owner}"),
                    "a domain belongs to one tenant; remove it first with `osipsctl domain rm`",
                ));
            }
            tx.execute(
                &format!("INSERT INTO {table} (domain, attrs, last_modified) VALUES (?, ?, ?)"),
                crate::params![d, &encoded, now_text()],
            )?;
        }
        Ok::<_, Failure>(())
    })?;
    Ok(Report::message(format!(
        "tenant '{name}' added with {} domain{}",
        domains.len(),
        if domains.len() == 1 { "" } else { "s" }
    ))
    .with_note(reload_note(ctx))
    .field("tenant", json!(name))
    .field("attrs", json!(encoded)))
}

/// `tenant rm <name> [--cascade]`: refuses while the tenant has users, unless `cascade`, which
/// also removes the users and their aliases, ACL groups, preferences, contacts and speed dials.
pub fn rm(ctx: &Ctx, name: &str, cascade: bool) -> Outcome<Report> {
    check_name(name)?;
    let Some(t) = load(ctx)?.into_iter().find(|t| t.name == name) else {
        return Err(Failure::failed(
            format!("tenant '{name}' does not exist"),
            "list the tenants with `osipsctl tenant show`",
        ));
    };
    let (users, _) = counts(ctx, &t.domains)?;
    if users > 0 && !cascade {
        return Err(Failure::failed(
            format!("tenant '{name}' still has {users} users"),
            "remove them first, or add --cascade to remove them with the tenant",
        ));
    }
    let marks = in_list(t.domains.len());
    let vals: Vec<Value> = t.domains.iter().map(Value::from).collect();
    let mut targets: Vec<(String, String)> = Vec::new();
    for (key, default, cond) in [
        (
            "DA_TABLE",
            "dbaliases",
            format!("domain IN ({marks}) OR alias_domain IN ({marks})"),
        ),
        ("ACL_TABLE", "grp", format!("domain IN ({marks})")),
        (
            "AVP_TABLE",
            "usr_preferences",
            format!("domain IN ({marks})"),
        ),
        ("UL_TABLE", "location", format!("domain IN ({marks})")),
        ("SD_TABLE", "speed_dial", format!("domain IN ({marks})")),
        ("SUB_TABLE", "subscriber", format!("domain IN ({marks})")),
        ("DOMAIN_TABLE", "domain", format!("domain IN ({marks})")),
    ] {
        if ctx.has_table(ctx.table_name(key, default))? {
            targets.push((ctx.table(key, default)?, cond));
        }
    }
    let removed = ctx.db()?.transaction(|tx| {
        let mut removed = 0;
        for (table, cond) in &targets {
            let mut v = vals.clone();
            if cond.contains("alias_domain") {
                v.extend(vals.iter().cloned());
            }
            let n = tx.execute(&format!("DELETE FROM {table} WHERE {cond}"), &v)?;
            if table.contains("subscriber") {
                removed = n;
            }
        }
        Ok::<_, Failure>(removed)
    })?;
    Ok(Report::message(format!(
        "tenant '{name}' removed ({} domains, {removed} users)",
        t.domains.len()
    ))
    .with_note(reload_note(ctx))
    .field("domains", json!(t.domains))
    .field("users_removed", json!(removed)))
}

/// `tenant show [name]`: domains, attributes, users, online users.
pub fn show(ctx: &Ctx, name: Option<&str>) -> Outcome<Report> {
    let mut all = load(ctx)?;
    if let Some(n) = name {
        all.retain(|t| t.name == n);
        if all.is_empty() {
            return Err(Failure::failed(
                format!("tenant '{n}' does not exist"),
                "list the tenants with `osipsctl tenant show`",
            ));
        }
    }
    let mut table = Table::new(&["tenant", "domains", "attributes", "users", "online"]);
    for t in &all {
        let (users, online) = counts(ctx, &t.domains)?;
        let attrs: serde_json::Map<String, serde_json::Value> =
            t.attrs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        table.push(vec![
            json!(t.name),
            json!(t.domains),
            serde_json::Value::Object(attrs),
            json!(users),
            json!(online),
        ]);
    }
    Ok(Report::table(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_round_trip_and_refuse_separators() {
        let a = vec![("max_calls".to_string(), "10".to_string())];
        let s = encode("acme", &a);
        assert_eq!(s, "tenant=acme;max_calls=10");
        assert_eq!(decode(&s), Some(("acme".to_string(), a)));
        assert_eq!(decode("foo=bar"), None);
        assert_eq!(
            decode("x=1; tenant=t2"),
            Some(("t2".into(), vec![("x".into(), "1".into())]))
        );
        for bad in [
            "k", "k=", "=v", "k=v;x=y", "k=a b", "k='v'", "k=v,w", "tenant=x", "k=a\"b", "k=a=b",
        ] {
            assert!(parse_attr(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_attr("région=Zürich").unwrap().1, "Zürich");
        for bad in ["", "a b", "a;b", "a'b", "ä", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
