//! usrloc MI commands with OpenSIPS 3.x recipes and result shapes (`ul_mi.c`): ul_dump,
//! ul_show_contact, ul_rm, ul_rm_contact, ul_add, ul_sync, ul_flush.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe, ok};

use super::contact::{ContactInfo, Ucontact, parse_q, q_text};
use super::{Domain, UlError, Urecord, Usrloc, now, usrloc};

fn ul() -> Result<Arc<Usrloc>, MiError> {
    usrloc().ok_or_else(|| MiError::new(500, "usrloc not initialised"))
}

fn table(p: &MiParams<'_>) -> Result<(Arc<Usrloc>, Arc<Domain>), MiError> {
    let name = p.string("table_name")?;
    let u = ul()?;
    let d = u
        .existing(&name)
        .ok_or_else(|| MiError::new(404, "Table not found"))?;
    Ok((u, d))
}

/// `mi_fix_aor`: with use_domain the AOR needs a domain; without, a domain is dropped.
fn aor(u: &Usrloc, p: &MiParams<'_>) -> Result<String, MiError> {
    let a = p.string("aor")?;
    match (u.config().use_domain, a.split_once('@')) {
        (true, None) => Err(MiError::new(400, "Domain missing in AOR")),
        (false, Some((user, _))) => Ok(user.to_string()),
        _ => Ok(a),
    }
}

fn ul_err(e: UlError) -> MiError {
    match e {
        UlError::AorNotFound => MiError::new(404, "AOR not found"),
        UlError::ContactNotFound => MiError::new(404, "Contact not found"),
        other => MiError::new(500, other.to_string()),
    }
}

/// One contact as OpenSIPS prints it.
pub fn contact_json(c: &Ucontact, t: i64) -> Value {
    let mut o = Map::new();
    o.insert("Contact".into(), json!(c.contact()));
    o.insert("ContactID".into(), json!(c.contact_id.to_string()));
    let expires = if c.expires == 0 {
        json!("permanent")
    } else if t >= c.expires {
        json!("expired")
    } else {
        json!(c.expires - t)
    };
    o.insert("Expires".into(), expires);
    o.insert("Q".into(), json!(q_text(c.q)));
    o.insert("Callid".into(), json!(c.callid()));
    o.insert("Cseq".into(), json!(c.cseq));
    if !c.user_agent().is_empty() {
        o.insert("User-agent".into(), json!(c.user_agent()));
    }
    if let Some(r) = c.received() {
        o.insert("Received".into(), json!(r));
    }
    if let Some(p) = c.path() {
        o.insert("Path".into(), json!(p));
    }
    o.insert("State".into(), json!(c.state.name()));
    o.insert("Flags".into(), json!(c.flags));
    o.insert(
        "Cflags".into(),
        json!(if c.cflags == 0 {
            String::new()
        } else {
            c.cflags.to_string()
        }),
    );
    if let Some(s) = c.socket() {
        o.insert("Socket".into(), json!(s));
    }
    o.insert("Methods".into(), json!(c.methods));
    if let Some(a) = c.attr() {
        o.insert("Attr".into(), json!(a));
    }
    if let Some(i) = c.instance() {
        o.insert("SIP_instance".into(), json!(i));
    }
    if let Some(k) = c.kv_store() {
        o.insert("KV-Store".into(), json!(k));
    }
    Value::Object(o)
}

fn record_json(r: &Urecord, t: i64, brief: bool) -> Value {
    if brief {
        return json!({ "AOR": &*r.aor });
    }
    let contacts: Vec<Value> = r.contacts.iter().map(|c| contact_json(c, t)).collect();
    json!({ "AOR": &*r.aor, "Contacts": contacts })
}

fn dump(brief: bool) -> MiResult {
    let u = ul()?;
    let t = now();
    let mut domains = Vec::new();
    for d in u.domains() {
        let mut aors = Vec::new();
        if u.config().db_mode == super::DbMode::SqlOnly {
            for a in d.aors().map_err(ul_err)? {
                if let Some(v) = d
                    .with_record(&a, |r| r.map(|r| record_json(r, t, brief)))
                    .map_err(ul_err)?
                {
                    aors.push(v);
                }
            }
        } else {
            d.for_each(|r| aors.push(record_json(r, t, brief)));
        }
        domains.push(json!({ "name": d.name(), "hash_size": d.hash_size(), "AORs": aors }));
    }
    Ok(json!({ "Domains": domains }))
}

fn mi_dump(_p: &MiParams<'_>) -> MiResult {
    dump(false)
}

/// OpenSIPS reads `brief` as an integer; "brief" (what opensipsctl sent) counts as set too.
fn mi_dump_brief(p: &MiParams<'_>) -> MiResult {
    let brief = match p.int("brief") {
        Ok(n) => n != 0,
        Err(_) => p.string("brief")?.eq_ignore_ascii_case("brief"),
    };
    dump(brief)
}

fn mi_show_contact(p: &MiParams<'_>) -> MiResult {
    let (u, d) = table(p)?;
    let a = aor(&u, p)?;
    let t = now();
    d.with_record(&a, |r| r.map(|r| record_json(r, t, false)))
        .map_err(ul_err)?
        .ok_or_else(|| MiError::new(404, "AOR not found"))
}

fn mi_rm(p: &MiParams<'_>) -> MiResult {
    let (u, d) = table(p)?;
    let a = aor(&u, p)?;
    let mut g = d.lock(&a, true).map_err(ul_err)?;
    g.delete_all()
        .map_err(|_| MiError::new(500, "Failed to delete AOR"))?;
    ok()
}

fn mi_rm_contact(p: &MiParams<'_>) -> MiResult {
    let (u, d) = table(p)?;
    let a = aor(&u, p)?;
    let contact = p.string("contact")?;
    let mut g = d.lock(&a, true).map_err(ul_err)?;
    if g.contacts().is_empty() {
        return Err(MiError::new(404, "AOR not found"));
    }
    let id = g
        .contacts()
        .iter()
        .find(|c| c.contact() == contact)
        .map(|c| c.contact_id)
        .ok_or_else(|| MiError::new(404, "Contact not found"))?;
    g.delete(id).map_err(ul_err)?;
    ok()
}

const MI_CALLID: &str = "dfjrewr12386fd6-343@opensips.mi";
const MI_UA: &str = "OpenSIPS MI Server";

fn mi_add(p: &MiParams<'_>) -> MiResult {
    let (u, d) = table(p)?;
    let a = aor(&u, p)?;
    let contact = p.string("contact")?;
    let lower = contact.to_ascii_lowercase();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:") || lower.starts_with("tel:")) {
        return Err(MiError::new(400, "Bad parameter value"));
    }
    let expires = p.int("expires")?;
    if expires < 0 {
        return Err(MiError::new(400, "Bad parameter value"));
    }
    let q = match p.value("q") {
        Some(Value::Number(n)) => n.as_f64().map(|f| (f * 1000.0).round() as i16),
        Some(v) => crate::mi::value_as_string(v).and_then(|s| parse_q(&s)),
        None => None,
    }
    .filter(|q| (0..=1000).contains(q))
    .ok_or_else(|| MiError::new(400, "Bad parameter value"))?;
    let flags = p.int("flags")? as u32;
    let cflags = p.int("cflags")? as u32;
    let methods = p.int("methods")? as u32;
    let t = now();
    let mut ci = ContactInfo {
        contact: &contact,
        callid: MI_CALLID,
        user_agent: MI_UA,
        expires: if expires == 0 { 0 } else { t + expires },
        q,
        cseq: 1,
        flags,
        cflags,
        methods,
        last_modified: t,
        ..ContactInfo::default()
    };
    let mut g = d.lock(&a, true).map_err(ul_err)?;
    let existing = g
        .contacts()
        .iter()
        .find(|c| c.contact() == contact)
        .map(|c| (c.contact_id, c.cseq));
    match existing {
        Some((id, cseq)) => {
            ci.cseq = cseq;
            g.update(id, &ci)
        }
        None => g.insert(&ci).map(|_| ()),
    }
    .map_err(|_| MiError::new(500, "Internal Error"))?;
    ok()
}

fn sync(p: &MiParams<'_>, aor_given: bool) -> MiResult {
    let (u, d) = table(p)?;
    if u.config().db_mode == super::DbMode::SqlOnly {
        return Err(MiError::new(200, "Contacts already synced"));
    }
    if u.config().db_mode == super::DbMode::None {
        return Err(MiError::new(400, "No database in this working mode"));
    }
    let a = if aor_given { Some(aor(&u, p)?) } else { None };
    d.sync(a.as_deref()).map_err(ul_err)?;
    ok()
}

fn mi_sync(p: &MiParams<'_>) -> MiResult {
    sync(p, false)
}

fn mi_sync_aor(p: &MiParams<'_>) -> MiResult {
    sync(p, true)
}

/// OpenSIPS pulls the contacts from a cluster peer; osips has no usrloc clustering.
fn mi_cluster_sync(_p: &MiParams<'_>) -> MiResult {
    ul()?;
    Err(MiError::new(
        400,
        "Clustering not enabled: osips usrloc has no location_cluster",
    ))
}

fn mi_flush(_p: &MiParams<'_>) -> MiResult {
    ul()?.flush().map_err(ul_err)?;
    ok()
}

pub static MI_COMMANDS: &[MiCommand] = &[
    MiCommand {
        name: "ul_rm",
        aliases: &["rm"],
        help: "deletes an AOR and its contacts",
        flags: 0,
        recipes: &[Recipe {
            params: &["table_name", "aor"],
            handler: mi_rm,
        }],
    },
    MiCommand {
        name: "ul_rm_contact",
        aliases: &["rm_contact"],
        help: "deletes one contact of an AOR",
        flags: 0,
        recipes: &[Recipe {
            params: &["table_name", "aor", "contact"],
            handler: mi_rm_contact,
        }],
    },
    MiCommand {
        name: "ul_dump",
        aliases: &["dump"],
        help: "lists every AOR with its contacts",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_dump,
            },
            Recipe {
                params: &["brief"],
                handler: mi_dump_brief,
            },
        ],
    },
    MiCommand {
        name: "ul_flush",
        aliases: &["flush"],
        help: "writes pending changes to the database (write-back mode)",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_flush,
        }],
    },
    MiCommand {
        name: "ul_add",
        aliases: &["add"],
        help: "adds (or updates) a contact of an AOR",
        flags: 0,
        recipes: &[Recipe {
            params: &[
                "table_name",
                "aor",
                "contact",
                "expires",
                "q",
                "flags",
                "cflags",
                "methods",
            ],
            handler: mi_add,
        }],
    },
    MiCommand {
        name: "ul_show_contact",
        aliases: &["show_contact"],
        help: "shows the contacts of an AOR",
        flags: 0,
        recipes: &[Recipe {
            params: &["table_name", "aor"],
            handler: mi_show_contact,
        }],
    },
    MiCommand {
        name: "ul_sync",
        aliases: &["sync"],
        help: "rewrites the database table (or one AOR) from memory",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["table_name"],
                handler: mi_sync,
            },
            Recipe {
                params: &["table_name", "aor"],
                handler: mi_sync_aor,
            },
        ],
    },
    MiCommand {
        name: "ul_cluster_sync",
        aliases: &["cluster_sync"],
        help: "pulls the contacts from a cluster peer (refused: no usrloc clustering)",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: mi_cluster_sync,
        }],
    },
];
