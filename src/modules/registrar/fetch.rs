//! `reg_fetch_contacts(domain, uri, profile)`, `reg_free_contacts(profile)` and
//! `$ulc(profile=>field)`: a copy of an AOR's contacts the script can read field by field
//! (`$(ulc(p=>addr)[1])` is the second contact). As in OpenSIPS, where the profiles live in the
//! worker process's private memory, they belong to the worker thread and stay until freed or
//! fetched again.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::modules::usrloc::contact::q_text;
use crate::modules::usrloc::{self, Ucontact};
use crate::script::pv::{PvIndex, PvSpec};
use crate::script::{RunCtx, Value};

/// One contact as fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedContact {
    pub addr: String,
    pub path: Option<String>,
    pub received: Option<String>,
    /// Unix time; 0 = permanent.
    pub expires: i64,
    pub callid: String,
    pub q: i16,
    pub cseq: u32,
    pub flags: u32,
    pub cflags: u32,
    pub user_agent: String,
    pub socket: Option<String>,
    pub modified: i64,
    pub methods: u32,
    pub sip_instance: Option<String>,
    pub kv_store: Option<String>,
    pub attr: Option<String>,
}

impl FetchedContact {
    fn of(c: &Ucontact) -> FetchedContact {
        let own = |s: Option<&str>| s.map(str::to_string);
        FetchedContact {
            addr: c.contact().to_string(),
            path: own(c.path()),
            received: own(c.received()),
            expires: c.expires,
            callid: c.callid().to_string(),
            q: c.q,
            cseq: c.cseq,
            flags: c.flags,
            cflags: c.cflags,
            user_agent: c.user_agent().to_string(),
            socket: own(c.socket()),
            modified: c.last_modified,
            methods: c.methods,
            sip_instance: own(c.instance()),
            kv_store: own(c.kv_store()),
            attr: own(c.attr()),
        }
    }
}

/// The contacts of one AOR at fetch time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub domain: String,
    pub aor: String,
    pub contacts: Vec<FetchedContact>,
}

thread_local! {
    static PROFILES: RefCell<HashMap<String, Fetched>> = RefCell::new(HashMap::new());
}

/// Reads the valid contacts of `aor` in table `table` into `profile`; the number fetched.
pub fn fetch(table: &str, aor: &str, profile: &str) -> Result<usize, usrloc::UlError> {
    let dom = usrloc::domain(table)?;
    let now = usrloc::now();
    let contacts: Vec<FetchedContact> = dom.with_record(aor, |r| {
        r.map(|r| {
            r.contacts
                .iter()
                .filter(|c| c.is_valid(now))
                .map(FetchedContact::of)
                .collect()
        })
        .unwrap_or_default()
    })?;
    let n = contacts.len();
    let f = Fetched {
        domain: table.to_string(),
        aor: aor.to_string(),
        contacts,
    };
    PROFILES.with(|p| p.borrow_mut().insert(profile.to_string(), f));
    Ok(n)
}

/// Forgets `profile`; false when there was none.
pub fn free(profile: &str) -> bool {
    PROFILES.with(|p| p.borrow_mut().remove(profile).is_some())
}

fn opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, Value::str)
}

fn int(v: impl TryInto<i32>) -> Value {
    v.try_into().map_or(Value::Null, Value::Int)
}

/// The value of `field` for contact `index` (negative counts from the end) of a profile.
pub fn field(f: &Fetched, field: &str, index: i32) -> Result<Value, String> {
    match field {
        "aor" => return Ok(Value::str(f.aor.as_str())),
        "domain" => return Ok(Value::str(f.domain.as_str())),
        "count" => return Ok(int(f.contacts.len())),
        _ => {}
    }
    let n = f.contacts.len() as i64;
    let i = if index < 0 {
        n + i64::from(index)
    } else {
        i64::from(index)
    };
    let known = [
        "addr",
        "path",
        "received",
        "expires",
        "callid",
        "q",
        "cseq",
        "flags",
        "cflags",
        "user_agent",
        "socket",
        "modified",
        "methods",
        "sip_instance",
        "kv_store",
        "attr",
    ];
    if !known.contains(&field) {
        return Err(format!("$ulc: unknown field `{field}`"));
    }
    let Some(c) = usize::try_from(i).ok().and_then(|i| f.contacts.get(i)) else {
        return Ok(Value::Null);
    };
    Ok(match field {
        "addr" => Value::str(c.addr.as_str()),
        "path" => opt(&c.path),
        "received" => opt(&c.received),
        "expires" => int(c.expires),
        "callid" => Value::str(c.callid.as_str()),
        "q" => Value::str(q_text(c.q)),
        "cseq" => int(c.cseq),
        "flags" => int(c.flags),
        "cflags" => int(c.cflags),
        "user_agent" => Value::str(c.user_agent.as_str()),
        "socket" => opt(&c.socket),
        "modified" => int(c.modified),
        "methods" => int(c.methods),
        "sip_instance" => opt(&c.sip_instance),
        "kv_store" => opt(&c.kv_store),
        _ => opt(&c.attr),
    })
}

/// `$ulc(profile=>field)`, optionally indexed.
pub fn pv_ulc(ctx: &mut RunCtx<'_>, spec: &PvSpec) -> Option<Value> {
    let name = ctx.inner_name(spec).ok()?.into_owned();
    let Some((profile, fld)) = name.split_once("=>") else {
        tracing::error!("$ulc({name}): expected $ulc(profile=>field)");
        return Some(Value::Null);
    };
    let index = match &spec.index {
        None => 0,
        Some(PvIndex::At(i)) => *i,
        Some(PvIndex::Pv(p)) => {
            let v = ctx.get_pv(p).ok()?;
            v.as_int()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?
        }
        Some(_) => 0,
    };
    let (profile, fld) = (profile.trim(), fld.trim());
    PROFILES.with(|p| {
        let p = p.borrow();
        let Some(f) = p.get(profile) else {
            return Some(Value::Null);
        };
        match field(f, fld, index) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("{e}");
                Some(Value::Null)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(addr: &str, q: i16) -> FetchedContact {
        FetchedContact {
            addr: addr.into(),
            path: None,
            received: Some("sip:127.0.0.9:5999".into()),
            expires: 1000,
            callid: "cid".into(),
            q,
            cseq: 7,
            flags: 0,
            cflags: 4,
            user_agent: "ua".into(),
            socket: Some("udp:127.0.0.1:5060".into()),
            modified: 900,
            methods: 0xff,
            sip_instance: Some("urn:x".into()),
            kv_store: None,
            attr: None,
        }
    }

    #[test]
    fn fields_by_index() {
        let f = Fetched {
            domain: "location".into(),
            aor: "alice@example.com".into(),
            contacts: vec![
                contact("sip:a@127.0.0.2", 1000),
                contact("sip:a@127.0.0.3", 500),
            ],
        };
        assert_eq!(field(&f, "count", 0).unwrap(), Value::Int(2));
        assert_eq!(
            field(&f, "aor", 5).unwrap().as_str().unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            field(&f, "addr", 1).unwrap().as_str().unwrap(),
            "sip:a@127.0.0.3"
        );
        assert_eq!(
            field(&f, "addr", -1).unwrap().as_str().unwrap(),
            "sip:a@127.0.0.3"
        );
        assert_eq!(field(&f, "q", 1).unwrap().as_str().unwrap(), "0.5");
        assert_eq!(field(&f, "cseq", 0).unwrap(), Value::Int(7));
        assert_eq!(field(&f, "path", 0).unwrap(), Value::Null);
        assert_eq!(field(&f, "addr", 2).unwrap(), Value::Null);
        assert_eq!(field(&f, "addr", -3).unwrap(), Value::Null);
        assert!(field(&f, "bogus", 0).is_err());
    }

    #[test]
    fn free_forgets_a_profile() {
        PROFILES.with(|p| {
            p.borrow_mut().insert(
                "x".into(),
                Fetched {
                    domain: "location".into(),
                    aor: "a".into(),
                    contacts: vec![],
                },
            )
        });
        assert!(free("x"));
        assert!(!free("x"));
    }
}
