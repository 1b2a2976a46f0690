//! dialog: calls tracked from their initial INVITE (`create_dialog`) to the BYE or the timeout.
//! States follow the INVITE transaction's replies (tm hooks: provisional → early, 2xx →
//! confirmed, failure → deleted); a BYE relayed statefully in the dialog ends it. Profiles
//! (with and without value), `$dlg_val`, `$DLG_*`, MI `dlg_list` / `dlg_end_dlg` /
//! `profile_get_size`; acc's `cdr` records are written when the call ends.
//!
//! Map: [`dlg`] the table and a dialog, [`track`] what tm tells us, [`funcs`] script side,
//! [`mi`] MI commands.

pub mod db;
pub mod dlg;
pub mod funcs;
pub mod mi;
pub mod stats;
pub mod track;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::modules::tm;
use crate::script::module::{InitCtx, ParamValue, PvExport, p};
use crate::script::{FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask};

/// Profile names from `profiles_with_value` / `profiles_no_value`.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    pub with_value: Vec<String>,
    pub no_value: Vec<String>,
}

impl Profiles {
    /// Whether `name` is a profile and takes a value.
    pub fn kind(&self, name: &str) -> Option<bool> {
        if self.with_value.iter().any(|p| p == name) {
            Some(true)
        } else if self.no_value.iter().any(|p| p == name) {
            Some(false)
        } else {
            None
        }
    }
}

/// "name1; name2/b" → names (the `/b` and `/s` sharing marks are accepted and ignored here).
pub fn profile_names(text: &str) -> Vec<String> {
    text.split(';')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.split('/').next().unwrap_or(s).trim().to_string())
        .collect()
}

pub struct DialogModule {
    pub table: dlg::Table,
    pub default_timeout: Duration,
    pub profiles: Profiles,
    /// `db_mode` 1 or 3.
    pub db: Option<db::DlgDb>,
    pub match_mode: dlg::MatchMode,
    /// Name of the Record-Route parameter carrying the dialog cookie (`rr_param`).
    pub rr_param: String,
}

/// A confirmed dialog changed: written now (`db_mode` 1) or at the next update (2).
pub fn persist(d: &mut dlg::Dialog) {
    let Some(dm) = dialogs() else { return };
    let Some(store) = dm.db.as_ref() else { return };
    if d.state != dlg::State::Confirmed {
        return;
    }
    match store.mode {
        1 => {
            if let Err(e) = store.save(d) {
                tracing::error!("dialog {}: cannot save: {e}", d.id);
            }
        }
        2 => d.dirty = true,
        _ => {}
    }
}

/// Writes the changed (`only_dirty`) or all confirmed dialogs.
fn flush(dm: &DialogModule, only_dirty: bool) {
    let Some(store) = dm.db.as_ref() else { return };
    for d in dm.table.all() {
        let mut g = d.lock();
        if g.state != dlg::State::Confirmed || (only_dirty && !g.dirty) {
            continue;
        }
        match store.save(&g) {
            Ok(()) => g.dirty = false,
            Err(e) => tracing::error!("dialog {}: cannot save: {e}", g.id),
        }
    }
}

/// `db_mode` 2: the changed dialogs are written every `db_update_period`.
fn schedule_flush(period: Duration) {
    crate::timer::global().schedule(
        period,
        Box::new(move || {
            if let Some(dm) = dialogs() {
                flush(&dm, true);
                schedule_flush(period);
            }
        }),
    );
}

/// Removes an ended dialog from the database.
pub fn forget(id: u64) {
    let Some(dm) = dialogs() else { return };
    if let Some(store) = dm.db.as_ref()
        && let Err(e) = store.remove(id)
    {
        tracing::error!("dialog {id}: cannot remove from the database: {e}");
    }
}

static DIALOG: RwLock<Option<Arc<DialogModule>>> = RwLock::new(None);

pub fn dialogs() -> Option<Arc<DialogModule>> {
    DIALOG.read().clone()
}

fn int(ctx: &InitCtx<'_>, name: &str, default: i64) -> Result<i64, String> {
    crate::modules::auth_db::db::int_param(ctx, name, default)
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let mut profiles = Profiles::default();
    for v in ctx.params.all("profiles_with_value") {
        if let ParamValue::Str(s) = v {
            profiles.with_value.extend(profile_names(s));
        }
    }
    for v in ctx.params.all("profiles_no_value") {
        if let ParamValue::Str(s) = v {
            profiles.no_value.extend(profile_names(s));
        }
    }
    let timeout = int(ctx, "default_timeout", 43200)?;
    if timeout <= 0 {
        return Err(format!(
            "modparam default_timeout: {timeout} is not a positive number of seconds"
        ));
    }
    let db_mode = int(ctx, "db_mode", 0)?;
    let store = match db_mode {
        0 => None,
        1..=3 => Some(db::DlgDb {
            db: crate::modules::auth_db::db::open(ctx)?,
            table: crate::modules::auth_db::db::str_param(ctx, "table_name", "dialog"),
            mode: db_mode,
        }),
        m => {
            return Err(format!(
                "modparam db_mode: {m}: 0 (none), 1 (realtime), 2 (delayed) or 3 (at shutdown)"
            ));
        }
    };
    let hash_size = int(ctx, "hash_size", 4096)?.clamp(1, u32::MAX as i64) as u32;
    let table = dlg::Table::new(hash_size);
    let loaded = match &store {
        Some(s) => s
            .load(&table)
            .map_err(|e| format!("loading dialogs from table {}: {e}", s.table))?,
        None => Vec::new(),
    };
    let n = loaded.len();
    for d in loaded {
        let r = table.insert(d);
        let mut g = r.lock();
        let left = g
            .start
            .map(|s| s + g.timeout)
            .and_then(|end| end.duration_since(std::time::SystemTime::now()).ok())
            .unwrap_or(Duration::from_secs(1));
        let full = g.timeout;
        g.timeout = left;
        track::arm_timeout(&r, &mut g);
        g.timeout = full;
    }
    if store.is_some() {
        tracing::info!("dialog: {n} dialogs loaded");
    }
    let period = int(ctx, "db_update_period", 60)?;
    if period <= 0 {
        return Err(format!(
            "modparam db_update_period: {period} is not a positive number of seconds"
        ));
    }
    let match_mode = dlg::MatchMode::from_param(int(ctx, "dlg_match_mode", 1)?)?;
    let rr_param = crate::modules::auth_db::db::str_param(ctx, "rr_param", "did");
    if rr_param.is_empty()
        || !rr_param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "modparam rr_param: `{rr_param}` is not a URI parameter name"
        ));
    }
    let delayed = store.as_ref().is_some_and(|s| s.mode == 2);
    *DIALOG.write() = Some(Arc::new(DialogModule {
        table,
        default_timeout: Duration::from_secs(timeout as u64),
        profiles,
        db: store,
        match_mode,
        rr_param,
    }));
    if delayed {
        schedule_flush(Duration::from_secs(period as u64));
    }
    tm::on_request(track::KEY, track::on_request);
    tm::on_provisional(track::KEY, track::on_provisional);
    tm::on_final(track::KEY, track::on_final);
    crate::modules::acc::set_cdr_hook(track::keep_cdr);
    Ok(())
}

fn destroy() {
    if let Some(d) = DIALOG.write().take() {
        for dl in d.table.all() {
            if let Some(t) = dl.lock().timer.take() {
                crate::timer::global().cancel(t);
            }
        }
        if d.db.as_ref().is_some_and(|s| s.mode >= 2) {
            flush(&d, false);
        }
    }
}

const R: RouteMask = RouteMask::REQUEST;
const RFOB: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::ONREPLY)
    .or(RouteMask::BRANCH);

const fn f(
    name: &'static str,
    params: &'static [crate::script::ParamKind],
    routes: RouteMask,
    handler: crate::script::module::CmdHandler,
) -> FunctionSpec {
    FunctionSpec {
        name,
        params,
        routes,
        handler,
    }
}

static PVS: [PvExport; 7] = [
    PvExport::read("DLG_status", false, funcs::pv_status),
    PvExport::read("DLG_lifetime", false, funcs::pv_lifetime),
    PvExport::read("DLG_dir", false, funcs::pv_dir),
    PvExport::read("DLG_did", false, funcs::pv_did),
    PvExport::read("DLG_count", false, funcs::pv_count),
    PvExport::read_write("DLG_timeout", false, funcs::pv_timeout, funcs::set_timeout),
    PvExport::read_write("dlg_val", true, funcs::pv_val, funcs::set_val),
];

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "dialog",
    deps: &["tm"],
    params: &[
        ParamSpec::int("default_timeout"),
        ParamSpec::int("dlg_match_mode"),
        ParamSpec::str("rr_param"),
        ParamSpec::int("delete_delay"),
        ParamSpec::int("db_mode"),
        ParamSpec::int("db_update_period"),
        ParamSpec::str("db_url"),
        ParamSpec::str("table_name"),
        ParamSpec::int("hash_size"),
        ParamSpec::int("enable_stats"),
        ParamSpec::str("profiles_with_value").multi(),
        ParamSpec::str("profiles_no_value").multi(),
    ],
    functions: &[
        f("create_dialog", &[p::OPT_STR], R, funcs::create_dialog),
        f("match_dialog", &[p::OPT_INT], R, funcs::match_dialog),
        f("validate_dialog", &[], R, funcs::validate_dialog),
        f(
            "set_dlg_profile",
            &[p::STR, p::OPT_STR, p::OPT_INT],
            RFOB,
            funcs::set_dlg_profile,
        ),
        f(
            "unset_dlg_profile",
            &[p::STR, p::OPT_STR],
            RFOB,
            funcs::unset_dlg_profile,
        ),
        f(
            "is_in_profile",
            &[p::STR, p::OPT_STR],
            RFOB,
            funcs::is_in_profile,
        ),
        f(
            "get_profile_size",
            &[p::STR, p::OPT_STR, p::VAR],
            RouteMask::ALL,
            funcs::get_profile_size,
        ),
        f(
            "store_dlg_value",
            &[p::STR, p::STR],
            RFOB,
            funcs::store_dlg_value,
        ),
        f(
            "fetch_dlg_value",
            &[p::STR, p::VAR],
            RFOB,
            funcs::fetch_dlg_value,
        ),
    ],
    pvs: &PVS,
    mi_commands: &mi::MI_COMMANDS,
    stats: &stats::STATS,
    events: &stats::EVENTS,
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_lists() {
        assert_eq!(
            profile_names("caller; callee/b;x/s"),
            ["caller", "callee", "x"]
        );
        let p = Profiles {
            with_value: vec!["user".into()],
            no_value: vec!["calls".into()],
        };
        assert_eq!(p.kind("user"), Some(true));
        assert_eq!(p.kind("calls"), Some(false));
        assert_eq!(p.kind("nope"), None);
    }
}
