//! dialog MI commands: `dlg_list`, `dlg_end_dlg`, `profile_get_size`.

use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};

use super::dialogs;
use super::dlg::{Dialog, DlgRef, End, unix};
use super::track;

fn dialog_json(d: &Dialog) -> Value {
    let start = d.start.map(unix).unwrap_or(0);
    let timeout = if start > 0 {
        start + d.timeout.as_secs() as i64
    } else {
        0
    };
    json!({
        "ID": d.id,
        "state": d.state as i32,
        "user_flags": 0,
        "timestart": start,
        "timeout": timeout,
        "callid": d.callid,
        "from_uri": d.from_uri,
        "to_uri": d.to_uri,
        "caller_tag": d.from_tag,
        "caller_contact": d.caller_contact,
        "CALLEES": [{
            "callee_tag": d.to_tag,
            "callee_contact": d.callee_contact,
        }],
        "values": d.vals.iter().map(|(n, v)| json!({n: v})).collect::<Vec<_>>(),
        "profiles": d.profiles.iter().map(|(p, v)| json!({p: v.clone().unwrap_or_default()})).collect::<Vec<_>>(),
    })
}

fn not_running() -> MiError {
    MiError::server_error("the dialog module is not running")
}

fn text_param(p: &MiParams<'_>, name: &str) -> Result<Option<String>, MiError> {
    Ok(match p.value(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(MiError::invalid_params(format!(
                "{name}: a string or a number"
            )));
        }
    })
}

fn dlg_list(p: &MiParams<'_>) -> MiResult {
    let dm = dialogs().ok_or_else(not_running)?;
    let callid = text_param(p, "callid")?;
    let from_tag = text_param(p, "from_tag")?;
    let list: Vec<Value> = dm
        .table
        .all()
        .iter()
        .filter_map(|d| {
            let g = d.lock();
            let keep = callid.as_ref().is_none_or(|c| *c == g.callid)
                && from_tag.as_ref().is_none_or(|t| *t == g.from_tag);
            keep.then(|| dialog_json(&g))
        })
        .collect();
    Ok(json!({ "Dialogs": list }))
}

/// A dialog by its numeric ID or its Call-ID.
fn lookup(id: &str) -> Option<DlgRef> {
    let dm = dialogs()?;
    if let Ok(n) = id.trim().parse::<u64>()
        && let Some(d) = dm.table.get(n)
    {
        return Some(d);
    }
    dm.table
        .all()
        .into_iter()
        .find(|d| d.lock().callid == id.trim())
}

fn dlg_end_dlg(p: &MiParams<'_>) -> MiResult {
    dialogs().ok_or_else(not_running)?;
    let id = text_param(p, "dialog_id")?
        .ok_or_else(|| MiError::invalid_params("dialog_id is required"))?;
    let d = lookup(&id).ok_or_else(|| MiError::server_error("Dialog not found"))?;
    track::end(&d, End::Mi);
    Ok(json!("OK"))
}

fn profile_get_size(p: &MiParams<'_>) -> MiResult {
    let dm = dialogs().ok_or_else(not_running)?;
    let name =
        text_param(p, "profile")?.ok_or_else(|| MiError::invalid_params("profile is required"))?;
    let value = text_param(p, "value")?;
    if dm.profiles.kind(&name).is_none() {
        return Err(MiError::server_error(format!("Profile `{name}` not found")));
    }
    let n = dm.table.profile_size(&name, value.as_deref());
    Ok(json!({ "Profile": {
        "name": name,
        "value": value.unwrap_or_default(),
        "count": n,
    }}))
}

fn profile_name(
    p: &MiParams<'_>,
) -> Result<(std::sync::Arc<super::DialogModule>, String), MiError> {
    let dm = dialogs().ok_or_else(not_running)?;
    let name =
        text_param(p, "profile")?.ok_or_else(|| MiError::invalid_params("profile is required"))?;
    if dm.profiles.kind(&name).is_none() {
        return Err(MiError::server_error(format!("Profile `{name}` not found")));
    }
    Ok((dm, name))
}

fn profile_list_dlgs(p: &MiParams<'_>) -> MiResult {
    let (dm, name) = profile_name(p)?;
    let value = text_param(p, "value")?;
    let list: Vec<Value> = dm
        .table
        .all()
        .iter()
        .filter_map(|d| {
            let g = d.lock();
            (g.state != super::dlg::State::Deleted && g.in_profile(&name, value.as_deref()))
                .then(|| dialog_json(&g))
        })
        .collect();
    Ok(json!({ "Dialogs": list }))
}

fn profile_get_values(p: &MiParams<'_>) -> MiResult {
    let (dm, name) = profile_name(p)?;
    let mut counts: Vec<(String, u64)> = Vec::new();
    for d in dm.table.all() {
        let g = d.lock();
        if g.state == super::dlg::State::Deleted {
            continue;
        }
        for (_, v) in g.profiles.iter().filter(|(n, _)| *n == name) {
            let v = v.clone().unwrap_or_default();
            match counts.iter_mut().find(|(x, _)| *x == v) {
                Some(c) => c.1 += 1,
                None => counts.push((v, 1)),
            }
        }
    }
    let values: Vec<Value> = counts
        .into_iter()
        .map(|(v, n)| json!({"value": v, "count": n}))
        .collect();
    Ok(json!({ "Values": values }))
}

fn list_all_profiles(_: &MiParams<'_>) -> MiResult {
    let dm = dialogs().ok_or_else(not_running)?;
    let mut out: Vec<Value> = Vec::new();
    for (names, has) in [
        (&dm.profiles.with_value, true),
        (&dm.profiles.no_value, false),
    ] {
        for n in names {
            out.push(json!({"name": n, "has_value": has}));
        }
    }
    Ok(json!({ "Profiles": out }))
}

pub static MI_COMMANDS: [MiCommand; 6] = [
    MiCommand {
        name: "dlg_list",
        aliases: &[],
        help: "lists the dialogs (optionally by Call-ID and From tag)",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: dlg_list,
            },
            Recipe {
                params: &["callid"],
                handler: dlg_list,
            },
            Recipe {
                params: &["callid", "from_tag"],
                handler: dlg_list,
            },
        ],
    },
    MiCommand {
        name: "dlg_end_dlg",
        aliases: &[],
        help: "ends a dialog (by ID or Call-ID)",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["dialog_id"],
                handler: dlg_end_dlg,
            },
            Recipe {
                params: &["dialog_id", "extra_hdrs"],
                handler: dlg_end_dlg,
            },
        ],
    },
    MiCommand {
        name: "profile_get_size",
        aliases: &[],
        help: "how many dialogs a profile (and value) holds",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["profile"],
                handler: profile_get_size,
            },
            Recipe {
                params: &["profile", "value"],
                handler: profile_get_size,
            },
        ],
    },
    MiCommand {
        name: "profile_list_dlgs",
        aliases: &[],
        help: "lists the dialogs of a profile (and value)",
        flags: 0,
        recipes: &[
            Recipe {
                params: &["profile"],
                handler: profile_list_dlgs,
            },
            Recipe {
                params: &["profile", "value"],
                handler: profile_list_dlgs,
            },
        ],
    },
    MiCommand {
        name: "profile_get_values",
        aliases: &[],
        help: "the values of a profile with how many dialogs hold each",
        flags: 0,
        recipes: &[Recipe {
            params: &["profile"],
            handler: profile_get_values,
        }],
    },
    MiCommand {
        name: "list_all_profiles",
        aliases: &[],
        help: "the dialog profiles and whether they take a value",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: list_all_profiles,
        }],
    },
];
