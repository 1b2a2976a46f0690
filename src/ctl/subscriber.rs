//! Subscribers: `add` (one, or a CSV file in one transaction), `passwd`, `rm`, `show`.
//!
//! The realm of every digest is the user's domain. `ha1`, `ha1_sha256` and `ha1_sha512t256`
//! are written when the columns exist (OpenSIPS ≥ 3.2), `ha1b` when the `version` row of the
//! subscriber table is 7 (OpenSIPS ≤ 3.1). The clear password goes into `password` only with
//! `STORE_PLAINTEXT_PW=1` (osips's default is 0: hashes only).

use std::path::Path;

use serde_json::json;

use super::aor::{self, Aor};
use super::ctx::Ctx;
use super::digest::Ha1;
use super::error::{Failure, Outcome};
use super::output::{Report, Table};
use crate::db::{Tx, Value, admin};

/// The plaintext `password` column is CHAR(25).
const PASSWORD_MAX: usize = 25;

/// How rows are written on this database.
struct Plan {
    sub: String,
    ucol: String,
    ha1b: bool,
    sha: bool,
    plaintext: bool,
    /// `dbaliases` (quoted) when `ALIASES_TYPE=DB`.
    aliases: Option<String>,
}

impl Plan {
    fn new(ctx: &Ctx) -> Outcome<Plan> {
        let db = ctx.db()?;
        let name = ctx.table_name("SUB_TABLE", "subscriber");
        let sub = ctx.table("SUB_TABLE", "subscriber")?;
        let cols: Vec<String> = admin::columns(db, name)?
            .into_iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        if cols.is_empty() {
            return Err(Failure::failed(
                format!("table `{name}` does not exist"),
                "create the database with `osipsdbctl create` (or `osipsdbctl add auth_db`)",
            ));
        }
        let version = if ctx.has_table("version")? {
            db.query_opt(
                "SELECT table_version FROM version WHERE table_name = ?",
                crate::params![name],
            )?
            .and_then(|r| r.get(0).as_i64())
        } else {
            None
        };
        let has = |c: &str| cols.iter().any(|x| x == c);
        let aliases = match ctx.rc.aliases_type() {
            Some(t) if t.eq_ignore_ascii_case("DB") => Some(ctx.table("DA_TABLE", "dbaliases")?),
            _ => None,
        };
        Ok(Plan {
            sub,
            ucol: ctx.user_col()?,
            ha1b: version == Some(7) && has("ha1b"),
            sha: has("ha1_sha256") && has("ha1_sha512t256"),
            plaintext: ctx.rc.store_plaintext_pw()?,
            aliases,
        })
    }

    fn check_password(&self, password: &str) -> Outcome<()> {
        if password.is_empty() {
            return Err(Failure::usage("the password is empty", "give a password"));
        }
        if self.plaintext && password.chars().count() > PASSWORD_MAX {
            return Err(Failure::usage(
                format!(
                    "the password is longer than the {PASSWORD_MAX} characters the clear-text column holds"
                ),
                "use a shorter password, or STORE_PLAINTEXT_PW=0 to store the hashes only",
            ));
        }
        Ok(())
    }

    /// Column names and values for `password` of `a`.
    fn secrets(&self, a: &Aor, password: &str) -> Vec<(&'static str, Value)> {
        let h = Ha1::compute(&a.user, &a.domain, password);
        let mut v = vec![
            (
                "password",
                Value::from(if self.plaintext { password } else { "" }),
            ),
            ("ha1", h.md5.into()),
        ];
        if self.ha1b {
            v.push(("ha1b", h.md5b.into()));
        }
        if self.sha {
            v.push(("ha1_sha256", h.sha256.into()));
            v.push(("ha1_sha512t256", h.sha512t256.into()));
        }
        v
    }

    fn exists(&self, tx: &mut Tx<'_>, a: &Aor) -> Outcome<bool> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE {} = ? AND domain = ?",
            self.sub, self.ucol
        );
        Ok(!tx
            .query(&sql, crate::params![&a.user, &a.domain])?
            .is_empty())
    }

    fn insert(&self, tx: &mut Tx<'_>, a: &Aor, password: &str) -> Outcome<()> {
        self.check_password(password)?;
        if self.exists(tx, a)? {
            return Err(Failure::failed(
                format!("user '{a}' already exists"),
                "use `osipsctl passwd` to change the password",
            ));
        }
        if let Some(t) = &self.aliases {
            let sql = format!(
                "SELECT username, domain FROM {t} WHERE alias_username = ? AND alias_domain = ?"
            );
            if let Some(r) = tx
                .query(&sql, crate::params![&a.user, &a.domain])?
                .into_iter()
                .next()
            {
                return Err(Failure::failed(
                    format!(
                        "'{a}' is already an alias of '{}@{}' (ALIASES_TYPE=DB)",
                        r.get(0).to_text().unwrap_or_default(),
                        r.get(1).to_text().unwrap_or_default()
                    ),
                    "pick another name, or remove the alias with `osipsctl alias_db rm`",
                ));
            }
        }
        let secrets = self.secrets(a, password);
        let mut cols = vec![self.ucol.clone(), "domain".to_string()];
        let mut vals = vec![Value::from(&a.user), Value::from(&a.domain)];
        for (c, v) in secrets {
            cols.push(c.to_string());
            vals.push(v);
        }
        let marks = vec!["?"; cols.len()].join(", ");
        tx.execute(
            &format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                self.sub,
                cols.join(", ")
            ),
            &vals,
        )?;
        Ok(())
    }
}

/// A note when the domain is not served (not in the domain table).
fn domain_note(ctx: &Ctx, domain: &str) -> Option<String> {
    let t = ctx.table("DOMAIN_TABLE", "domain").ok()?;
    let rows = ctx
        .db()
        .ok()?
        .query(
            &format!("SELECT 1 FROM {t} WHERE domain = ?"),
            crate::params![domain],
        )
        .ok()?;
    rows.is_empty().then(|| {
        format!("note: domain '{domain}' is not in the domain table; add it with `osipsctl domain add {domain}` if osips should serve it")
    })
}

/// `add <user[@domain]> <password>`.
pub fn add(ctx: &Ctx, user: &str, password: Option<&str>) -> Outcome<Report> {
    let a = aor::parse(user, ctx.rc.sip_domain())?;
    let plan = Plan::new(ctx)?;
    let password = ctx.password(password, &a.to_string())?;
    ctx.db()?.transaction(|tx| plan.insert(tx, &a, &password))?;
    Ok(Report::message(format!("new user '{a}' added"))
        .with_note(domain_note(ctx, &a.domain))
        .field("user", json!(a.user))
        .field("domain", json!(a.domain)))
}

/// Splits one CSV line (`,` separated, `"` quoting with `""` inside quotes).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote in the middle of a field".into()),
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) if was_quoted => {
                return Err(format!("`{c}` after the closing quote of a field"));
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(cur);
    Ok(out)
}

/// `add --csv FILE`: one `user[@domain],password` per line (`#` comments and blank lines are
/// skipped); every user is added in one transaction, or none.
pub fn add_csv(ctx: &Ctx, file: &Path) -> Outcome<Report> {
    let shown = file.display().to_string();
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::usage(format!("cannot read {shown}: {e}"), "check the file name"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::usage(
            format!(
                "{shown}: not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        )
    })?;
    let at = |n: usize, f: Failure| {
        Failure::new(
            f.code,
            format!("{shown}:{n}: {}", f.message),
            format!("{}; no user was added", f.hint),
        )
    };
    let mut users = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        let line = if n == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = csv_fields(line).map_err(|e| at(n, Failure::usage(e, "fix the line")))?;
        if fields.len() != 2 {
            return Err(at(
                n,
                Failure::usage(
                    format!(
                        "{} fields, expected 2 (user[@domain],password)",
                        fields.len()
                    ),
                    "quote a password holding a comma as \"pass,word\"",
                ),
            ));
        }
        let a = aor::parse(fields[0].trim(), ctx.rc.sip_domain()).map_err(|f| at(n, f))?;
        users.push((n, a, fields[1].clone()));
    }
    if users.is_empty() {
        return Err(Failure::usage(
            format!("{shown} holds no user"),
            "write one user[@domain],password per line",
        ));
    }
    let plan = Plan::new(ctx)?;
    ctx.db()?.transaction(|tx| {
        for (n, a, pw) in &users {
            plan.insert(tx, a, pw).map_err(|f| at(*n, f))?;
        }
        Ok::<_, Failure>(())
    })?;
    let mut t = Table::new(&["username", "domain"]);
    for (_, a, _) in &users {
        t.push(vec![json!(a.user), json!(a.domain)]);
    }
    let mut r = Report::table(t);
    r.message = Some(format!("{} users added from {shown}", users.len()));
    Ok(r)
}

/// `passwd <user[@domain]> <password>`.
pub fn passwd(ctx: &Ctx, user: &str, password: Option<&str>) -> Outcome<Report> {
    let a = aor::parse(user, ctx.rc.sip_domain())?;
    let plan = Plan::new(ctx)?;
    let password = ctx.password(password, &a.to_string())?;
    plan.check_password(&password)?;
    let secrets = plan.secrets(&a, &password);
    let sets: Vec<String> = secrets.iter().map(|(c, _)| format!("{c} = ?")).collect();
    let mut vals: Vec<Value> = secrets.into_iter().map(|(_, v)| v).collect();
    vals.push(Value::from(&a.user));
    vals.push(Value::from(&a.domain));
    let sql = format!(
        "UPDATE {} SET {} WHERE {} = ? AND domain = ?",
        plan.sub,
        sets.join(", "),
        plan.ucol
    );
    let n = ctx.db()?.execute(&sql, &vals)?;
    if n == 0 {
        return Err(not_found(&a));
    }
    Ok(Report::message(format!("password of '{a}' changed")))
}

fn not_found(a: &Aor) -> Failure {
    Failure::failed(
        format!("user '{a}' does not exist"),
        "list the users with `osipsctl show`",
    )
}

/// The tables that refer to a user, as (what, quoted table, quoted user column), found before a
/// transaction starts (SQLite holds its one connection during the transaction).
pub(crate) fn user_tables(ctx: &Ctx) -> Outcome<Vec<(&'static str, String, String)>> {
    let ucol = ctx.user_col()?;
    let mut out = Vec::new();
    for (key, default, what, col) in [
        ("DA_TABLE", "dbaliases", "aliases", "username".to_string()),
        ("ACL_TABLE", "grp", "ACL groups", ucol.clone()),
        ("AVP_TABLE", "usr_preferences", "preferences", ucol.clone()),
        ("UL_TABLE", "location", "contacts", ucol.clone()),
    ] {
        if ctx.has_table(ctx.table_name(key, default))? {
            out.push((what, ctx.table(key, default)?, col));
        }
    }
    out.push(("subscriber", ctx.table("SUB_TABLE", "subscriber")?, ucol));
    Ok(out)
}

/// Deletes a user's rows in `tables` (from [`user_tables`]); returns (what, count) pairs.
pub(crate) fn remove_user(
    tx: &mut Tx<'_>,
    tables: &[(&'static str, String, String)],
    a: &Aor,
) -> Outcome<Vec<(&'static str, u64)>> {
    let mut counts = Vec::new();
    for (what, t, col) in tables {
        let n = tx.execute(
            &format!("DELETE FROM {t} WHERE {col} = ? AND domain = ?"),
            crate::params![&a.user, &a.domain],
        )?;
        counts.push((*what, n));
    }
    Ok(counts)
}

/// `rm <user[@domain]>`: the subscriber and its aliases, ACL groups, preferences and contacts.
pub fn rm(ctx: &Ctx, user: &str) -> Outcome<Report> {
    let a = aor::parse(user, ctx.rc.sip_domain())?;
    let tables = user_tables(ctx)?;
    let counts = ctx.db()?.transaction(|tx| {
        let counts = remove_user(tx, &tables, &a)?;
        if counts.last().is_some_and(|(_, n)| *n == 0) {
            return Err(not_found(&a));
        }
        Ok::<_, Failure>(counts)
    })?;
    let detail: Vec<String> = counts
        .iter()
        .filter(|(w, _)| *w != "subscriber")
        .map(|(w, n)| format!("{n} {w}"))
        .collect();
    let mut r = Report::message(format!("user '{a}' removed ({})", detail.join(", ")));
    for (w, n) in &counts {
        r = r.field(&w.replace(' ', "_").to_ascii_lowercase(), json!(n));
    }
    Ok(r.with_note(Some(super::usrloc::drop_live_contacts(ctx, &a.to_string()))))
}

/// `show [user[@domain]]`: one user's row, or every user.
pub fn show(ctx: &Ctx, user: Option<&str>) -> Outcome<Report> {
    let sub = ctx.table("SUB_TABLE", "subscriber")?;
    let ucol = ctx.user_col()?;
    let db = ctx.db()?;
    let rows = match user {
        Some(u) => {
            let a = aor::parse(u, ctx.rc.sip_domain())?;
            let rows = db.query(
                &format!("SELECT * FROM {sub} WHERE {ucol} = ? AND domain = ?"),
                crate::params![&a.user, &a.domain],
            )?;
            if rows.is_empty() {
                return Err(not_found(&a));
            }
            rows
        }
        None => db.query(&format!("SELECT * FROM {sub} ORDER BY domain, {ucol}"), &[])?,
    };
    let mut t = Table::from_rows(&rows);
    if t.columns.is_empty() {
        t = Table::new(&["id", "username", "domain"]);
    }
    Ok(Report::table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc4180_quotes() {
        assert_eq!(csv_fields("a@b,pw").unwrap(), ["a@b", "pw"]);
        assert_eq!(csv_fields("a,\"p,w\"\"x\"").unwrap(), ["a", "p,w\"x"]);
        assert_eq!(csv_fields("a,").unwrap(), ["a", ""]);
        assert!(csv_fields("a,\"open").is_err());
        assert!(csv_fields("a,\"x\"y").is_err());
        assert!(csv_fields("a,x\"y").is_err());
    }
}
