//! `domain add|rm|show|showdb|reload`: the domains osips serves (domain table, domain module).

use serde_json::json;

use super::aor;
use super::ctx::{Ctx, now_text};
use super::error::{Failure, Outcome};
use super::mi_reload;
use super::output::{Report, Table};
use super::tenant;

pub(crate) fn reload_note(ctx: &Ctx) -> Option<String> {
    Some(mi_reload::after_change(&ctx.rc, "domains", "domain_reload"))
}

/// `domain add <domain> [--tenant NAME]` (the new domain shares the tenant's attributes).
pub fn add(ctx: &Ctx, domain: &str, tenant_name: Option<&str>) -> Outcome<Report> {
    aor::check_domain(domain)?;
    let t = ctx.table("DOMAIN_TABLE", "domain")?;
    let attrs = match tenant_name {
        Some(name) => {
            tenant::check_name(name)?;
            let found = tenant::load(ctx)?.into_iter().find(|x| x.name == name);
            match found {
                Some(x) => Some(tenant::encode(&x.name, &x.attrs)),
                None => {
                    return Err(Failure::failed(
                        format!("tenant '{name}' does not exist"),
                        "create it with `osipsctl tenant add NAME DOMAIN...`",
                    ));
                }
            }
        }
        None => None,
    };
    ctx.db()?.transaction(|tx| {
        if !tx
            .query(
                &format!("SELECT 1 FROM {t} WHERE domain = ?"),
                crate::params![domain],
            )?
            .is_empty()
        {
            return Err(Failure::failed(
                format!("domain '{domain}' already exists"),
                "see `osipsctl domain showdb`",
            ));
        }
        tx.execute(
            &format!("INSERT INTO {t} (domain, attrs, last_modified) VALUES (?, ?, ?)"),
            crate::params![domain, attrs.clone(), now_text()],
        )?;
        Ok::<_, Failure>(())
    })?;
    Ok(Report::message(format!("domain '{domain}' added"))
        .with_note(reload_note(ctx))
        .field("domain", json!(domain)))
}

/// `domain rm <domain>`.
pub fn rm(ctx: &Ctx, domain: &str) -> Outcome<Report> {
    let t = ctx.table("DOMAIN_TABLE", "domain")?;
    let n = ctx.db()?.execute(
        &format!("DELETE FROM {t} WHERE domain = ?"),
        crate::params![domain],
    )?;
    if n == 0 {
        return Err(Failure::failed(
            format!("domain '{domain}' does not exist"),
            "see `osipsctl domain showdb`",
        ));
    }
    Ok(Report::message(format!("domain '{domain}' removed")).with_note(reload_note(ctx)))
}

/// `domain showdb`: the domain table.
pub fn showdb(ctx: &Ctx) -> Outcome<Report> {
    let t = ctx.table("DOMAIN_TABLE", "domain")?;
    let rows = ctx
        .db()?
        .query(&format!("SELECT * FROM {t} ORDER BY domain"), &[])?;
    let mut table = Table::from_rows(&rows);
    if table.columns.is_empty() {
        table = Table::new(&["id", "domain", "attrs"]);
    }
    Ok(Report::table(table))
}

/// `domain show`: what the running osips has loaded (MI `domain_dump`).
pub fn show(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_reload::command(&ctx.rc, "domain_dump")?;
    Ok(Report {
        data: Some(v),
        ..Report::default()
    })
}

/// `<group> reload`: MI `method`.
pub fn reload(ctx: &Ctx, what: &str, method: &str) -> Outcome<Report> {
    mi_reload::command(&ctx.rc, method)?;
    Ok(Report::message(format!("osips reloaded {what}")))
}
