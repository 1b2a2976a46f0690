//! `ul show|rm|add` and `online`: the running osips's registrations over MI (usrloc's
//! `ul_dump`, `ul_show_contact`, `ul_rm`, `ul_rm_contact`, `ul_add`, with OpenSIPS 3.x recipes).

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::aor;
use super::ctx::Ctx;
use super::error::{Failure, Outcome};
use super::mi_link::{self, MiFailure, MiLink};
use super::output::{Report, Table};

fn table_name(ctx: &Ctx) -> &str {
    ctx.rc.table("UL_TABLE", "location")
}

fn aor_text(ctx: &Ctx, arg: &str) -> Outcome<String> {
    Ok(aor::parse(arg, ctx.rc.sip_domain())?.to_string())
}

/// The records of a `ul_dump` result: (AOR, its contacts).
fn records(v: &Json) -> Vec<(String, Vec<Json>)> {
    let mut out = Vec::new();
    let domains = v.get("Domains").and_then(Json::as_array);
    for d in domains.into_iter().flatten() {
        for r in d.get("AORs").and_then(Json::as_array).into_iter().flatten() {
            let aor = r
                .get("AOR")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            let contacts = r
                .get("Contacts")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            out.push((aor, contacts));
        }
    }
    out
}

const COLUMNS: &[&str] = &["AOR", "Contact", "Expires", "Q", "User-agent", "Socket"];

fn contact_rows(t: &mut Table, aor: &str, contacts: &[Json], brief: bool) {
    for c in contacts {
        let get = |k: &str| c.get(k).cloned().unwrap_or(json!(""));
        if brief {
            t.push(vec![json!(aor), get("Contact")]);
        } else {
            t.push(vec![
                json!(aor),
                get("Contact"),
                get("Expires"),
                get("Q"),
                get("User-agent"),
                get("Socket"),
            ]);
        }
    }
}

/// `ul show [aor] [--brief]`.
pub fn show(ctx: &Ctx, aor_arg: Option<&str>, brief: bool) -> Outcome<Report> {
    let columns: &[&str] = if brief { &COLUMNS[..2] } else { COLUMNS };
    let mut t = Table::new(columns);
    let v = match aor_arg {
        Some(a) => {
            let aor = aor_text(ctx, a)?;
            let v = mi_link::run(
                &ctx.rc,
                "ul_show_contact",
                json!({"table_name": table_name(ctx), "aor": aor}),
            )?;
            let contacts = v
                .get("Contacts")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            contact_rows(&mut t, &aor, &contacts, brief);
            v
        }
        None => {
            let params = if brief {
                json!({"brief": "brief"})
            } else {
                json!([])
            };
            let v = mi_link::run(&ctx.rc, "ul_dump", params)?;
            for (aor, contacts) in records(&v) {
                // OpenSIPS's brief dump names the AORs only, without their contacts
                if brief && contacts.is_empty() {
                    t.push(vec![json!(aor), json!("")]);
                }
                contact_rows(&mut t, &aor, &contacts, brief);
            }
            v
        }
    };
    Ok(Report::table(t).field("result", v))
}

/// `ul rm <aor> [contact]`.
pub fn rm(ctx: &Ctx, aor_arg: &str, contact: Option<&str>) -> Outcome<Report> {
    let aor = aor_text(ctx, aor_arg)?;
    let table = table_name(ctx);
    match contact {
        None => {
            mi_link::run(&ctx.rc, "ul_rm", json!({"table_name": table, "aor": aor}))?;
            Ok(Report::message(format!(
                "osips removed '{aor}' and its contacts"
            )))
        }
        Some(c) => {
            mi_link::run(
                &ctx.rc,
                "ul_rm_contact",
                json!({"table_name": table, "aor": aor, "contact": c}),
            )?;
            Ok(Report::message(format!(
                "osips removed contact {c} of '{aor}'"
            )))
        }
    }
}

/// The values of `ul add` after the AoR and contact.
pub struct Binding<'a> {
    pub expires: Option<&'a str>,
    pub q: &'a str,
    pub flags: &'a str,
    pub cflags: &'a str,
    pub methods: &'a str,
}

fn int_arg(what: &str, v: &str) -> Outcome<i64> {
    v.trim().parse().map_err(|_| {
        Failure::usage(
            format!("{what} `{v}` is not a whole number"),
            "see `osipsctl ul add --help`",
        )
    })
}

/// `ul add <aor> <contact> [expires]` (MI `ul_add`; expires 0 = permanent).
pub fn add(ctx: &Ctx, aor_arg: &str, contact: &str, b: &Binding<'_>) -> Outcome<Report> {
    let aor = aor_text(ctx, aor_arg)?;
    let lower = contact.to_ascii_lowercase();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
        return Err(Failure::usage(
            format!("contact `{contact}` is not a SIP URI"),
            "give sip:user@host[:port]",
        ));
    }
    let expires = int_arg("expires", b.expires.unwrap_or("0"))?;
    if expires < 0 {
        return Err(Failure::usage(
            "expires must not be negative",
            "0 means the contact never expires",
        ));
    }
    b.q.trim()
        .parse::<f64>()
        .map_err(|_| Failure::usage(format!("q `{}` is not a number", b.q), "e.g. 0.5 or 1.00"))?;
    let mut params = json!({
        "table_name": table_name(ctx),
        "aor": aor,
        "contact": contact,
        "expires": expires,
        "q": b.q,
        "flags": int_arg("flags", b.flags)?,
        "cflags": int_arg("cflags", b.cflags)?,
        "methods": int_arg("methods", b.methods)?,
    });
    let link = MiLink::from_rc(&ctx.rc)?;
    let r = match link.call("ul_add", params.clone()) {
        // OpenSIPS 3.0-3.2 named a ninth, unused parameter.
        Err(MiFailure::Refused { code: -32602, .. }) => {
            params["unsused"] = json!("0");
            link.call("ul_add", params)
        }
        other => other,
    };
    r.map_err(|f| link.failure("ul_add", f))?;
    let life = if expires == 0 {
        "permanent".to_string()
    } else {
        format!("expires in {expires} s")
    };
    Ok(Report::message(format!(
        "osips added contact {contact} to '{aor}' ({life})"
    )))
}

/// After `rm`: asks the running osips to forget the user's registrations (MI `ul_rm`, as
/// opensipsctl did) and says what happened, one line.
pub fn drop_live_contacts(ctx: &Ctx, aor: &str) -> String {
    let link = match MiLink::from_rc(&ctx.rc) {
        Ok(l) => l,
        Err(f) => {
            return format!(
                "cannot ask osips to drop the contacts of '{aor}': {}",
                f.line()
            );
        }
    };
    match link.call("ul_rm", json!({"table_name": table_name(ctx), "aor": aor})) {
        Ok(_) => format!("osips dropped the registered contacts of '{aor}'"),
        Err(MiFailure::Refused { code: 404, .. }) => {
            format!("osips had no registered contacts of '{aor}'")
        }
        Err(MiFailure::Refused { code, message, .. }) => format!(
            "osips at {} refused ul_rm ({code} {message}); contacts of '{aor}' it holds in memory stay until they expire",
            link.describe
        ),
        Err(MiFailure::Unreachable(_)) => format!(
            "no running osips answered at {}; contacts of '{aor}' it holds in memory stay until they expire",
            link.describe
        ),
    }
}

/// `online`: the distinct AoRs of `ul_dump`, sorted.
pub fn online(ctx: &Ctx) -> Outcome<Report> {
    let v = mi_link::run(&ctx.rc, "ul_dump", json!([]))?;
    let aors: BTreeSet<String> = records(&v)
        .into_iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(a, _)| a)
        .collect();
    let mut t = Table::new(&["AOR"]);
    for a in &aors {
        t.push(vec![json!(a)]);
    }
    Ok(Report::table(t).field("count", json!(aors.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_records_are_read() {
        let v = json!({"Domains": [{"name": "location", "hash_size": 512, "AORs": [
            {"AOR": "b@x", "Contacts": [{"Contact": "sip:b@127.0.0.2"}]},
            {"AOR": "a@x", "Contacts": []}
        ]}]});
        let r = records(&v);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "b@x");
        assert_eq!(r[0].1.len(), 1);
        assert!(records(&json!("OK")).is_empty());
    }
}
