//! usrloc: the location table (OpenSIPS `usrloc`). Records keyed by AOR in sharded tables
//! ([`Domain`]), kept in memory and, by working mode, written through, written back on the
//! timer, or kept only in SQL (several nodes share one table). A timer removes expired contacts
//! and raises the E_UL_* events.
//!
//! The API other modules use (as OpenSIPS's `usrloc_api`): [`domain`] gives a table by name,
//! [`Domain::with_record`] reads an AOR's contacts, [`Domain::lock`] changes them.

pub mod contact;
mod domain;
mod kv;
mod mi;
mod notify;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use crate::script::module::p;
use crate::script::module::{InitCtx, ModParams, ParamValue};
use crate::script::{FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask};

pub use contact::{ALL_METHODS, CState, ContactInfo, Q_UNSPECIFIED, Ucontact};
pub use domain::{Domain, FL_MEM, RecordGuard, Urecord};
pub use store::Store;

/// How usrloc uses the database (`db_mode` / `working_mode_preset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbMode {
    /// 0, "single-instance-no-db".
    None,
    /// 1, "single-instance-sql-write-through".
    WriteThrough,
    /// 2, "single-instance-sql-write-back": flushed every `timer_interval`.
    WriteBack,
    /// 3, "sql-only": the table is the only copy.
    SqlOnly,
}

impl DbMode {
    pub fn from_int(v: i64) -> Result<DbMode, String> {
        Ok(match v {
            0 => DbMode::None,
            1 => DbMode::WriteThrough,
            2 => DbMode::WriteBack,
            3 => DbMode::SqlOnly,
            _ => return Err(format!("db_mode {v} is not 0, 1, 2 or 3")),
        })
    }

    pub fn from_preset(p: &str) -> Result<DbMode, String> {
        Ok(match p {
            "single-instance-no-db" => DbMode::None,
            "single-instance-sql-write-through" => DbMode::WriteThrough,
            "single-instance-sql-write-back" => DbMode::WriteBack,
            "sql-only" => DbMode::SqlOnly,
            "federation-cachedb-cluster"
            | "full-sharing-cluster"
            | "full-sharing-cachedb-cluster" => {
                return Err(format!(
                    "working_mode_preset \"{p}\" needs clustering, which osips does not have"
                ));
            }
            _ => return Err(format!("unknown working_mode_preset \"{p}\"")),
        })
    }
}

/// The module parameters.
#[derive(Debug, Clone)]
pub struct Config {
    pub db_mode: DbMode,
    pub db_url: Option<String>,
    /// AOR = user@domain.
    pub use_domain: bool,
    /// Seconds between expiry (and write-back flush) runs.
    pub timer_interval: u64,
    /// log2 of the shard count.
    pub hash_bits: u32,
    /// 0: contacts match by URI; 1: by URI and Call-ID.
    pub matching_mode: u8,
    /// Newest contact first regardless of q.
    pub desc_time_order: bool,
    /// Branch flag (name) set on lookup for contacts saved behind NAT.
    pub nat_bflag: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db_mode: DbMode::None,
            db_url: None,
            use_domain: false,
            timer_interval: 60,
            hash_bits: 9,
            matching_mode: 0,
            desc_time_order: false,
            nat_bflag: None,
        }
    }
}

fn int(p: &ModParams, name: &str) -> Result<Option<i64>, String> {
    match p.get(name) {
        None => Ok(None),
        Some(ParamValue::Int(i)) => Ok(Some(*i)),
        Some(ParamValue::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("modparam \"{name}\": `{s}` is not a number")),
    }
}

fn string(p: &ModParams, name: &str) -> Option<String> {
    match p.get(name)? {
        ParamValue::Str(s) => Some(s.clone()),
        ParamValue::Int(i) => Some(i.to_string()),
    }
}

impl Config {
    pub fn from_params(p: &ModParams) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(preset) = string(p, "working_mode_preset") {
            c.db_mode = DbMode::from_preset(&preset)?;
        }
        if let Some(m) = int(p, "db_mode")? {
            c.db_mode = DbMode::from_int(m)?;
        }
        c.db_url = string(p, "db_url").filter(|u| !u.is_empty());
        if c.db_mode != DbMode::None && c.db_url.is_none() {
            return Err("the working mode writes to a database but db_url is not set".into());
        }
        c.use_domain = int(p, "use_domain")?.unwrap_or(0) != 0;
        if let Some(t) = int(p, "timer_interval")? {
            if t <= 0 {
                return Err(format!("timer_interval {t} must be positive"));
            }
            c.timer_interval = t as u64;
        }
        if let Some(h) = int(p, "hash_size")? {
            if !(1..=16).contains(&h) {
                return Err(format!("hash_size {h} must be from 1 to 16 (2^n slots)"));
            }
            c.hash_bits = h as u32;
        }
        if let Some(m) = int(p, "matching_mode")? {
            if !(0..=1).contains(&m) {
                return Err(format!("matching_mode {m} must be 0 or 1"));
            }
            c.matching_mode = m as u8;
        }
        c.desc_time_order = int(p, "desc_time_order")?.unwrap_or(0) != 0;
        c.nat_bflag = string(p, "nat_bflag");
        Ok(c)
    }
}

/// Why a usrloc operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UlError {
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("the working mode needs a database")]
    NoDatabase,
    #[error("contact values too long")]
    TooLong,
    #[error("{0}")]
    Invalid(String),
    #[error("AOR not found")]
    AorNotFound,
    #[error("Contact not found")]
    ContactNotFound,
}

/// What every table of one usrloc instance shares.
pub struct UlCtx {
    pub cfg: Config,
    pub store: Option<Store>,
    pub notify: notify::Notify,
}

/// The usrloc instance of the running script.
pub struct Usrloc {
    ctx: Arc<UlCtx>,
    domains: RwLock<HashMap<String, Arc<Domain>>>,
}

/// Unix time now, in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Usrloc {
    /// Connects to the database when the mode needs one (and checks the `location` table).
    pub fn new(
        cfg: Config,
        events: Option<Arc<crate::events::EventRegistry>>,
    ) -> Result<Arc<Usrloc>, String> {
        let store = match (&cfg.db_url, cfg.db_mode) {
            (Some(url), m) if m != DbMode::None => {
                let s = Store::connect(url).map_err(|e| format!("db_url: {e}"))?;
                Some(s)
            }
            _ => None,
        };
        Ok(Arc::new(Usrloc {
            ctx: Arc::new(UlCtx {
                cfg,
                store,
                notify: notify::Notify::new(events),
            }),
            domains: RwLock::new(HashMap::new()),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.ctx.cfg
    }

    /// The table `name`, created (and, in write-through / write-back mode, loaded) on first use.
    pub fn domain(&self, name: &str) -> Result<Arc<Domain>, UlError> {
        if let Some(d) = self.domains.read().get(name) {
            return Ok(d.clone());
        }
        let mut all = self.domains.write();
        if let Some(d) = all.get(name) {
            return Ok(d.clone());
        }
        let d = Arc::new(Domain::new(name, self.ctx.clone()));
        if let Some(store) = &self.ctx.store {
            store.check(name)?;
            if matches!(
                self.ctx.cfg.db_mode,
                DbMode::WriteThrough | DbMode::WriteBack
            ) {
                let rows = store.load(name, now(), self.ctx.cfg.use_domain)?;
                tracing::info!("usrloc: {} contacts loaded from table {name}", rows.len());
                d.preload(rows);
            }
        }
        all.insert(name.to_string(), d.clone());
        Ok(d)
    }

    /// An existing table (MI commands never create one).
    pub fn existing(&self, name: &str) -> Option<Arc<Domain>> {
        self.domains.read().get(name).cloned()
    }

    pub fn domains(&self) -> Vec<Arc<Domain>> {
        let mut v: Vec<_> = self.domains.read().values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// One timer run: expiry, then the write-back flush.
    pub fn timer(&self) {
        let t = now();
        for d in self.domains() {
            if let Err(e) = d.expire(t) {
                tracing::error!("usrloc: expiring contacts of {}: {e}", d.name());
            }
            if self.ctx.cfg.db_mode == DbMode::WriteBack
                && let Err(e) = d.flush()
            {
                tracing::error!("usrloc: flushing {} to the database: {e}", d.name());
            }
        }
    }

    /// `ul_flush`: the write-back flush now.
    pub fn flush(&self) -> Result<(), UlError> {
        if self.ctx.cfg.db_mode == DbMode::WriteBack {
            for d in self.domains() {
                d.flush()?;
            }
        }
        Ok(())
    }

    /// Sum of AORs over every table (`registered_users`).
    pub fn registered_users(&self) -> u64 {
        self.domains.read().values().map(|d| d.users()).sum()
    }
}

static CURRENT: RwLock<Option<Arc<Usrloc>>> = RwLock::new(None);

/// The running usrloc (None before `init` or when the module is not loaded).
pub fn usrloc() -> Option<Arc<Usrloc>> {
    CURRENT.read().clone()
}

/// The table `name` of the running usrloc (created on first use).
pub fn domain(name: &str) -> Result<Arc<Domain>, UlError> {
    usrloc()
        .ok_or_else(|| UlError::Invalid("the usrloc module is not loaded".into()))?
        .domain(name)
}

/// Makes `ul` the running instance (tests and `init`).
pub fn install(ul: Arc<Usrloc>) {
    *CURRENT.write() = Some(ul);
}

/// Runs the expiry timer every `timer_interval` until the instance is replaced or dropped: the
/// ticks come from the timer wheel (`crate::timer`); the work (which may write to the database)
/// runs on usrloc's own thread so it never delays the wheel.
fn start_timer(ul: &Arc<Usrloc>) {
    let weak: Weak<Usrloc> = Arc::downgrade(ul);
    let every = Duration::from_secs(ul.ctx.cfg.timer_interval.max(1));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let worker = weak.clone();
    let spawned = std::thread::Builder::new()
        .name("usrloc-timer".into())
        .spawn(move || {
            for () in rx {
                let Some(ul) = worker.upgrade() else { return };
                ul.timer();
            }
        });
    if let Err(e) = spawned {
        tracing::error!("usrloc: cannot start the timer: {e}");
        return;
    }
    schedule_tick(weak, every, tx);
}

fn schedule_tick(weak: Weak<Usrloc>, every: Duration, tx: std::sync::mpsc::Sender<()>) {
    crate::timer::global().schedule(
        every,
        Box::new(move || {
            let Some(ul) = weak.upgrade() else { return };
            if !usrloc().is_some_and(|c| Arc::ptr_eq(&c, &ul)) {
                return; // replaced: its thread ends when the sender is dropped
            }
            drop(ul);
            if tx.send(()).is_ok() {
                schedule_tick(weak, every, tx);
            }
        }),
    );
}

fn register_stats(ul: &Arc<Usrloc>, stats: &crate::stats::Stats, table: &str) {
    let w = Arc::downgrade(ul);
    stats.register_fn("usrloc", "registered_users", move || {
        w.upgrade().map_or(0, |u| u.registered_users())
    });
    let stat = |what: &'static str, f: fn(&Domain) -> u64| {
        let w = Arc::downgrade(ul);
        let t = table.to_string();
        stats.register_fn("usrloc", &format!("{table}-{what}"), move || {
            w.upgrade()
                .and_then(|u| u.existing(&t))
                .map_or(0, |d| f(&d))
        });
    };
    stat("users", Domain::users);
    stat("contacts", Domain::contact_count);
    stat("expires", Domain::expired_count);
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let cfg = Config::from_params(ctx.params)?;
    let shared = crate::runtime::global_shared();
    let ul = Usrloc::new(cfg, shared.as_ref().map(|s| s.events.clone()))?;
    // The table most scripts name; others are made on first use.
    ul.domain("location")
        .map_err(|e| format!("table location: {e}"))?;
    if let Some(s) = &shared {
        register_stats(&ul, &s.stats, "location");
    }
    install(ul.clone());
    start_timer(&ul);
    Ok(())
}

/// Write-back: what the timer has not written yet goes to the database on a clean stop.
fn destroy() {
    if let Some(ul) = usrloc()
        && let Err(e) = ul.flush()
    {
        tracing::error!("usrloc: flushing at shutdown: {e}");
    }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "usrloc",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::int("db_mode"),
        ParamSpec::str("working_mode_preset"),
        ParamSpec::int("use_domain"),
        ParamSpec::int("timer_interval"),
        ParamSpec::int("hash_size"),
        ParamSpec::int("matching_mode"),
        ParamSpec::int("desc_time_order"),
        ParamSpec::bflag("nat_bflag"),
    ],
    functions: &[
        FunctionSpec {
            name: "ul_add_key",
            params: &[p::STATIC, p::STR, p::STR, p::STR],
            routes: RouteMask::ALL,
            handler: kv::w_add_key,
        },
        FunctionSpec {
            name: "ul_get_key",
            params: &[p::STATIC, p::STR, p::STR, p::VAR],
            routes: RouteMask::ALL,
            handler: kv::w_get_key,
        },
        FunctionSpec {
            name: "ul_del_key",
            params: &[p::STATIC, p::STR, p::STR],
            routes: RouteMask::ALL,
            handler: kv::w_del_key,
        },
    ],
    // Statistics are computed when read: `init` registers registered_users and the per-table
    // `<table>-users`, `-contacts`, `-expires` as functions.
    mi_commands: mi::MI_COMMANDS,
    events: crate::events::USRLOC_EVENTS,
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests;
