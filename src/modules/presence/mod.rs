//! presence: a presence server after OpenSIPS's module (RFC 3903 PUBLISH, RFC 6665 SUBSCRIBE /
//! NOTIFY). Event packages come from other modules (presence_xml registers `presence` and
//! `presence.winfo`). `handle_publish([sender_uri])`, `handle_subscribe([force_active]
//! [, sharing_tag])`; MI `pres_phtable_list` (`presence:phtable_list`), `subs_phtable_list`,
//! `refresh_watchers` (`refreshWatchers`), `cleanup`; event `E_PRESENCE_PUBLISH`.
//!
//! Accepted and not acted on (as with one server and no clustering): `sharing_tag`,
//! `subs_htable_size`, `pres_htable_size`, `enable_sphere_check`, `mix_dialog_presence`,
//! `to_tag_pref`.
//!
//! Publications and subscriptions live in memory and in the `presentity` / `active_watchers`
//! tables; the `watchers` table keeps authorization decisions. With `fallback2db` every change
//! is written at once and what memory lacks is looked up in the database (servers sharing a
//! database); without it, subscriptions are written every `db_update_period` and at shutdown,
//! and loaded again at start.
//!
//! Map: [`event`] packages, [`pres`] publications, [`subs`] subscriptions, [`store`] tables,
//! [`publish`] / [`subscribe`] the script functions, [`notify`] NOTIFY requests, [`clean`]
//! the timer, [`mi`] MI commands, [`xml`] the XML reader the packages use.

pub mod auth;
pub mod clean;
pub mod event;
mod mi;
pub mod notify;
pub mod pres;
pub mod publish;
mod reply;
pub mod store;
pub mod subs;
pub mod subscribe;
pub mod winfo;
pub mod xml;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::modules::auth_db::db;
use crate::script::module::{InitCtx, p};
use crate::script::{FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask};

pub use event::{AuthDecision, EventPackage, add_event, search_event};
pub use pres::Publication;
pub use subs::{Status, Subscription};

/// The module parameters.
#[derive(Debug, Clone)]
pub struct Config {
    pub fallback2db: bool,
    pub expires_offset: u32,
    pub max_expires_subscribe: u32,
    pub max_expires_publish: u32,
    /// The shortest Expires a PUBLISH or SUBSCRIBE may ask for; shorter non-zero ones get
    /// `423 Interval Too Brief` (0: no minimum). Kamailio's parameter: OpenSIPS 3.x has none.
    pub min_expires: u32,
    /// Seconds between cleanups (0: none).
    pub clean_period: u64,
    /// Seconds between writes of changed subscriptions (without fallback2db; 0: none).
    pub db_update_period: u64,
    /// Our Contact in subscription dialogs instead of one made from the receiving socket.
    pub server_address: Option<String>,
    pub contact_user: String,
    pub notify_offline_body: bool,
    pub end_sub_on_timeout: bool,
    pub waiting_subs_daysno: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            fallback2db: false,
            expires_offset: 0,
            max_expires_subscribe: 3600,
            max_expires_publish: 3600,
            min_expires: 0,
            clean_period: 100,
            db_update_period: 100,
            server_address: None,
            contact_user: "presence".into(),
            notify_offline_body: false,
            end_sub_on_timeout: true,
            waiting_subs_daysno: 3,
        }
    }
}

/// The running module: parameters, tables in memory, the database.
pub struct Presence {
    pub cfg: Config,
    pub store: Option<Store>,
    pub pres: Mutex<pres::PresTable>,
    pub subs: Mutex<subs::SubsTable>,
}

use store::Store;

static PRESENCE: RwLock<Option<Arc<Presence>>> = RwLock::new(None);

/// The module's state once its init ran.
pub fn presence() -> Option<Arc<Presence>> {
    PRESENCE.read().clone()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn uint(ctx: &InitCtx<'_>, name: &str, default: i64) -> Result<u64, String> {
    let v = db::int_param(ctx, name, default)?;
    Ok(v.max(0) as u64)
}

fn config(ctx: &InitCtx<'_>) -> Result<Config, String> {
    let d = Config::default();
    let cap = |v: u64| v.min(u32::MAX as u64) as u32;
    let server_address = db::str_param(ctx, "server_address", "");
    Ok(Config {
        fallback2db: db::int_param(ctx, "fallback2db", 0)? != 0,
        expires_offset: cap(uint(ctx, "expires_offset", 0)?),
        max_expires_subscribe: cap(uint(ctx, "max_expires_subscribe", 3600)?),
        max_expires_publish: cap(uint(ctx, "max_expires_publish", 3600)?),
        min_expires: cap(uint(ctx, "min_expires", 0)?),
        clean_period: uint(ctx, "clean_period", 100)?,
        db_update_period: uint(ctx, "db_update_period", 100)?,
        server_address: (!server_address.trim().is_empty())
            .then(|| server_address.trim().to_string()),
        contact_user: db::str_param(ctx, "contact_user", &d.contact_user),
        notify_offline_body: db::int_param(ctx, "notify_offline_body", 0)? != 0,
        end_sub_on_timeout: db::int_param(ctx, "end_sub_on_timeout", 1)? != 0,
        waiting_subs_daysno: cap(uint(ctx, "waiting_subs_daysno", 3)?.min(30)),
    })
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let cfg = config(ctx)?;
    if let Some(a) = &cfg.server_address
        && crate::sip::Uri::parse(a.as_bytes()).is_err()
    {
        return Err(format!("modparam server_address: `{a}` is not a SIP URI"));
    }
    // Without db_url OpenSIPS's presence is a library only; osips keeps its state in memory.
    let store = match ctx.params.get("db_url") {
        Some(_) => {
            let handle = db::open(ctx)?;
            let names = [
                db::str_param(ctx, "presentity_table", "presentity"),
                db::str_param(ctx, "active_watchers_table", "active_watchers"),
                db::str_param(ctx, "watchers_table", "watchers"),
            ];
            let names = [names[0].as_str(), names[1].as_str(), names[2].as_str()];
            let s = Store::new(handle, names)?;
            s.check_versions(names)?;
            Some(s)
        }
        None => None,
    };
    let p = Presence {
        cfg,
        store,
        pres: Mutex::default(),
        subs: Mutex::default(),
    };
    p.load()?;
    let p = Arc::new(p);
    *PRESENCE.write() = Some(p.clone());
    clean::start(&p);
    Ok(())
}

impl Presence {
    /// Reads what the database holds: live publications, and (without fallback2db, where
    /// memory is the reference) live subscriptions.
    fn load(&self) -> Result<(), String> {
        let Some(st) = &self.store else { return Ok(()) };
        let now = now();
        let mut pres = self.pres.lock();
        for p in st.live_publications(now)? {
            pres.put(p);
        }
        drop(pres);
        if !self.cfg.fallback2db {
            let mut subs = self.subs.lock();
            for s in st.live_subscriptions(now)? {
                subs.map.insert(s.key.clone(), s);
            }
        }
        Ok(())
    }

    /// Writes the subscriptions changed since the last write (without fallback2db).
    pub fn flush(&self) {
        let Some(st) = &self.store else { return };
        let changed: Vec<Subscription> = {
            let mut subs = self.subs.lock();
            subs.map
                .values_mut()
                .filter(|s| s.dirty)
                .map(|s| {
                    s.dirty = false;
                    s.clone()
                })
                .collect()
        };
        for s in changed {
            if let Err(e) = st.save_subscription(&s) {
                tracing::error!("presence: {e}");
                if let Some(m) = self.subs.lock().map.get_mut(&s.key) {
                    m.dirty = true;
                }
            }
        }
    }

    /// Stores a new or changed subscription: at once with fallback2db, else at the next flush.
    pub fn save_subscription(&self, mut s: Subscription) -> Result<(), String> {
        if self.cfg.fallback2db
            && let Some(st) = &self.store
        {
            st.save_subscription(&s)?;
            s.dirty = false;
        } else {
            s.dirty = self.store.is_some();
        }
        self.subs.lock().map.insert(s.key.clone(), s);
        Ok(())
    }

    /// Forgets a subscription, in memory and in the database.
    pub fn delete_subscription(&self, key: &subs::DialogKey) {
        self.subs.lock().map.remove(key);
        if let Some(st) = &self.store
            && let Err(e) = st.delete_subscription(key)
        {
            tracing::error!("presence: {e}");
        }
    }
}

fn destroy() {
    if let Some(p) = PRESENCE.write().take() {
        clean::stop();
        p.flush();
    }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "presence",
    deps: &["tm"],
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::int("fallback2db"),
        ParamSpec::int("expires_offset"),
        ParamSpec::int("max_expires_subscribe"),
        ParamSpec::int("max_expires_publish"),
        ParamSpec::int("min_expires"),
        ParamSpec::int("clean_period"),
        ParamSpec::int("db_update_period"),
        ParamSpec::str("server_address"),
        ParamSpec::str("contact_user"),
        ParamSpec::str("presentity_table"),
        ParamSpec::str("active_watchers_table"),
        ParamSpec::str("watchers_table"),
        ParamSpec::int("subs_htable_size"),
        ParamSpec::int("pres_htable_size"),
        ParamSpec::int("enable_sphere_check"),
        ParamSpec::int("waiting_subs_daysno"),
        ParamSpec::int("mix_dialog_presence"),
        ParamSpec::int("notify_offline_body"),
        ParamSpec::int("end_sub_on_timeout"),
        ParamSpec::str("to_tag_pref"),
    ],
    functions: &[
        FunctionSpec {
            name: "handle_publish",
            params: &[p::OPT_STR],
            routes: RouteMask::REQUEST,
            handler: publish::handle_publish,
        },
        FunctionSpec {
            name: "handle_subscribe",
            params: &[p::OPT_INT, p::OPT_STR],
            routes: RouteMask::REQUEST,
            handler: subscribe::handle_subscribe,
        },
    ],
    mi_commands: mi::MI,
    events: &[publish::E_PRESENCE_PUBLISH],
    init: Some(init),
    destroy: Some(destroy),
    ..ModuleDescriptor::EMPTY
};
