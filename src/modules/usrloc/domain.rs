//! One usrloc table (OpenSIPS `udomain_t`, e.g. "location"): records keyed by AOR in shards
//! chosen by the AOR's hash, each behind its own lock (no global lock). In SQL-only mode the
//! shards hold nothing: a record is read from the database for each use, the shard lock only
//! serialises this node's changes of one AOR.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockWriteGuard};

use super::contact::{CState, ContactInfo, Q_UNSPECIFIED, Ucontact};
use super::notify::{AorEvent, ContactEvent};
use super::store::Exec;
use super::{DbMode, UlCtx, UlError, now};

/// `flags` bit of a contact saved with `memory-only` (OpenSIPS `FL_MEM`): never written to the
/// database.
pub const FL_MEM: u32 = 1;

/// The contacts of one address of record (OpenSIPS `urecord_t`), best first.
#[derive(Debug, Clone, Default)]
pub struct Urecord {
    pub aor: Box<str>,
    pub contacts: Vec<Ucontact>,
    /// The AoR's key-value store (`ul_add_key`), in memory only as in OpenSIPS; boxed so a
    /// record without keys costs one pointer.
    pub kv: Option<Box<HashMap<String, String>>>,
}

impl Urecord {
    /// Keeps contacts ordered by q (highest first), then newest first (OpenSIPS insert order).
    fn sort(&mut self, desc_time: bool) {
        self.contacts.sort_by(|a, b| {
            let qa = if a.q == Q_UNSPECIFIED { -1 } else { a.q };
            let qb = if b.q == Q_UNSPECIFIED { -1 } else { b.q };
            let by_q = qb.cmp(&qa);
            if desc_time {
                b.last_modified.cmp(&a.last_modified)
            } else {
                by_q.then(b.last_modified.cmp(&a.last_modified))
            }
        });
    }
}

#[derive(Default)]
struct Shard {
    records: HashMap<Box<str>, Urecord>,
    /// Write-back: ids of synced contacts deleted since the last flush.
    deleted: Vec<u64>,
}

/// One usrloc table.
pub struct Domain {
    name: String,
    shards: Box<[RwLock<Shard>]>,
    hasher: RandomState,
    ctx: Arc<UlCtx>,
    users: AtomicU64,
    contacts: AtomicU64,
    expired: AtomicU64,
    seq: AtomicU32,
}

impl Domain {
    pub fn new(name: &str, ctx: Arc<UlCtx>) -> Domain {
        let n = 1usize << ctx.cfg.hash_bits;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(16))
            .unwrap_or(0)
            ^ std::process::id().rotate_left(8);
        Domain {
            name: name.to_string(),
            shards: (0..n).map(|_| RwLock::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            ctx,
            users: AtomicU64::new(0),
            contacts: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            seq: AtomicU32::new(seed),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn hash_size(&self) -> usize {
        self.shards.len()
    }

    /// AORs and contacts held in memory, and contacts expired so far.
    pub fn users(&self) -> u64 {
        self.users.load(Ordering::Relaxed)
    }
    pub fn contact_count(&self) -> u64 {
        self.contacts.load(Ordering::Relaxed)
    }
    pub fn expired_count(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    fn shard_of(&self, aor: &str) -> usize {
        (self.hasher.hash_one(aor) as usize) & (self.shards.len() - 1)
    }

    /// A new contact id: the AOR's hash above, a counter below (as OpenSIPS 3.x builds them),
    /// kept below 2^63 for SQLite's signed integers.
    fn new_id(&self, aor: &str) -> u64 {
        let h = (self.hasher.hash_one(aor) as u32 & 0x7fff_ffff) as u64;
        (h << 32) | u64::from(self.seq.fetch_add(1, Ordering::Relaxed))
    }

    fn sql_only(&self) -> bool {
        self.ctx.cfg.db_mode == DbMode::SqlOnly
    }

    /// Adds records read from the database at start (write-through / write-back).
    pub fn preload(&self, rows: Vec<(String, Ucontact)>) {
        for (aor, c) in rows {
            let i = self.shard_of(&aor);
            let mut sh = self.shards[i].write();
            let rec = sh.records.entry(aor.as_str().into()).or_insert_with(|| {
                self.users.fetch_add(1, Ordering::Relaxed);
                Urecord {
                    aor: aor.as_str().into(),
                    contacts: Vec::new(),
                    kv: None,
                }
            });
            // Most AORs have one contact: no room for four (Vec's first growth).
            rec.contacts.reserve_exact(1);
            rec.contacts.push(c);
            rec.sort(self.ctx.cfg.desc_time_order);
            self.contacts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Runs `f` on a copy-free view of the record (None when the AOR has no contacts).
    pub fn with_record<R>(
        &self,
        aor: &str,
        f: impl FnOnce(Option<&Urecord>) -> R,
    ) -> Result<R, UlError> {
        if self.sql_only() {
            let rec = self.load_sql(aor)?;
            return Ok(f(rec.as_ref()));
        }
        let sh = self.shards[self.shard_of(aor)].read();
        Ok(f(sh.records.get(aor)))
    }

    /// Raises E_UL_CONTACT_REFRESH for contact `id` of `aor` (RFC 8599: the device must be
    /// woken up by a push notification). The record is not locked while the event runs, so an
    /// `event_route` may look the AOR up. False when the contact is gone or nobody listens.
    pub fn raise_refresh(
        &self,
        aor: &str,
        id: u64,
        reason: &str,
        req_callid: &str,
    ) -> Result<bool, UlError> {
        let c = self.with_record(aor, |r| {
            r.and_then(|r| r.contacts.iter().find(|c| c.contact_id == id).cloned())
        })?;
        Ok(c.is_some_and(|c| {
            self.ctx
                .notify
                .refresh(&self.name, aor, &c, reason, req_callid)
        }))
    }

    fn load_sql(&self, aor: &str) -> Result<Option<Urecord>, UlError> {
        let store = self.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
        let mut contacts = store.load_aor(&self.name, aor, self.ctx.cfg.use_domain)?;
        if contacts.is_empty() {
            return Ok(None);
        }
        let now = now();
        contacts.retain(|c| c.is_valid(now));
        let mut r = Urecord {
            aor: aor.into(),
            contacts,
            kv: None,
        };
        r.sort(self.ctx.cfg.desc_time_order);
        Ok(Some(r))
    }

    /// Locks the record of `aor` for changes (created empty if missing). `persist` false:
    /// the changes stay in memory (`memory-only`).
    pub fn lock(&self, aor: &str, persist: bool) -> Result<RecordGuard<'_>, UlError> {
        let mut shard = self.shards[self.shard_of(aor)].write();
        let rec = if self.sql_only() {
            self.load_sql(aor)?
        } else {
            shard.records.remove(aor)
        };
        let existed = rec.as_ref().is_some_and(|r| !r.contacts.is_empty());
        Ok(RecordGuard {
            dom: self,
            shard,
            rec: rec.unwrap_or_else(|| Urecord {
                aor: aor.into(),
                contacts: Vec::new(),
                kv: None,
            }),
            existed,
            persist,
        })
    }

    /// Every AOR (for `ul_dump`); in SQL-only mode read from the table.
    pub fn aors(&self) -> Result<Vec<String>, UlError> {
        if self.sql_only() {
            let store = self.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
            return Ok(store.aors(&self.name, self.ctx.cfg.use_domain)?);
        }
        let mut out = Vec::with_capacity(self.users() as usize);
        for s in self.shards.iter() {
            out.extend(s.read().records.keys().map(|k| k.to_string()));
        }
        Ok(out)
    }

    /// Calls `f` for every record held in memory, one shard locked at a time.
    pub fn for_each(&self, mut f: impl FnMut(&Urecord)) {
        for s in self.shards.iter() {
            for r in s.read().records.values() {
                f(r);
            }
        }
    }

    /// Removes the contacts expired at `now` (raising the delete events); in write-through and
    /// SQL-only mode their rows too, in write-back mode at the flush.
    pub fn expire(&self, now: i64) -> Result<u64, UlError> {
        let mut gone = 0u64;
        let mut ids = Vec::new();
        for s in self.shards.iter() {
            let mut sh = s.write();
            let Shard { records, deleted } = &mut *sh;
            records.retain(|_, rec| {
                let before = rec.contacts.len();
                rec.contacts.retain(|c| {
                    if c.is_valid(now) {
                        return true;
                    }
                    self.ctx
                        .notify
                        .contact(ContactEvent::Delete, &self.name, &rec.aor, c);
                    if c.flags & FL_MEM == 0 && c.state != CState::New {
                        match self.ctx.cfg.db_mode {
                            DbMode::WriteBack => deleted.push(c.contact_id),
                            DbMode::WriteThrough => ids.push(c.contact_id),
                            _ => {}
                        }
                    }
                    false
                });
                let n = (before - rec.contacts.len()) as u64;
                gone += n;
                self.contacts.fetch_sub(n, Ordering::Relaxed);
                if rec.contacts.is_empty() {
                    self.users.fetch_sub(1, Ordering::Relaxed);
                    self.ctx.notify.aor(AorEvent::Delete, &self.name, &rec.aor);
                    return false;
                }
                true
            });
        }
        self.expired.fetch_add(gone, Ordering::Relaxed);
        if let Some(store) = &self.ctx.store {
            match self.ctx.cfg.db_mode {
                DbMode::WriteThrough if !ids.is_empty() => {
                    let name = &self.name;
                    store.db().transaction(|tx| {
                        let mut ex = Exec::Tx(tx);
                        for id in &ids {
                            store.delete(&mut ex, name, *id)?;
                        }
                        Ok::<_, crate::db::DbError>(())
                    })?;
                }
                DbMode::SqlOnly => {
                    gone += store.delete_expired(&self.name, now)?;
                }
                _ => {}
            }
        }
        Ok(gone)
    }

    /// Write-back: writes new and changed contacts and deletes removed ones, in one transaction;
    /// contacts changed meanwhile stay dirty for the next flush. Returns the rows written.
    pub fn flush(&self) -> Result<usize, UlError> {
        let Some(store) = &self.ctx.store else {
            return Ok(0);
        };
        // (shard, aor, contact snapshot)
        let mut dirty: Vec<(usize, Box<str>, Ucontact)> = Vec::new();
        let mut deleted = Vec::new();
        for (i, s) in self.shards.iter().enumerate() {
            let mut sh = s.write();
            deleted.append(&mut sh.deleted);
            for r in sh.records.values() {
                for c in &r.contacts {
                    if c.state != CState::Sync && c.flags & FL_MEM == 0 {
                        dirty.push((i, r.aor.clone(), c.clone()));
                    }
                }
            }
        }
        if dirty.is_empty() && deleted.is_empty() {
            return Ok(0);
        }
        let use_domain = self.ctx.cfg.use_domain;
        let name = &self.name;
        let res = store.db().transaction(|tx| {
            let mut ex = Exec::Tx(tx);
            for id in &deleted {
                store.delete(&mut ex, name, *id)?;
            }
            for (_, aor, c) in &dirty {
                // An update first even for new contacts: `ul_sync` may have written them.
                if !store.update(&mut ex, name, c)? {
                    store.insert(&mut ex, name, aor, use_domain, c)?;
                }
            }
            Ok::<_, crate::db::DbError>(())
        });
        if let Err(e) = res {
            // Try the deletions again next time.
            let mut sh = self.shards[0].write();
            sh.deleted.extend(deleted);
            return Err(e.into());
        }
        for (i, aor, snap) in &dirty {
            let mut sh = self.shards[*i].write();
            if let Some(r) = sh.records.get_mut(aor)
                && let Some(c) = r
                    .contacts
                    .iter_mut()
                    .find(|c| c.contact_id == snap.contact_id && c.version == snap.version)
            {
                c.state = CState::Sync;
            }
        }
        Ok(dirty.len() + deleted.len())
    }

    /// `ul_sync`: rewrites the table (or one AOR) from memory.
    pub fn sync(&self, aor: Option<&str>) -> Result<(), UlError> {
        let store = self.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
        let use_domain = self.ctx.cfg.use_domain;
        let mut rows: Vec<(Box<str>, Ucontact)> = Vec::new();
        match aor {
            Some(a) => {
                let found = self.with_record(a, |r| {
                    r.map(|r| {
                        rows.extend(r.contacts.iter().map(|c| (r.aor.clone(), c.clone())));
                    })
                })?;
                if found.is_none() {
                    return Err(UlError::AorNotFound);
                }
            }
            None => self.for_each(|r| {
                rows.extend(r.contacts.iter().map(|c| (r.aor.clone(), c.clone())));
            }),
        }
        let name = &self.name;
        store.db().transaction(|tx| {
            let mut ex = Exec::Tx(tx);
            match aor {
                None => store.delete_all(&mut ex, name)?,
                Some(_) => {
                    for (_, c) in &rows {
                        store.delete(&mut ex, name, c.contact_id)?;
                    }
                }
            }
            for (a, c) in rows.iter().filter(|(_, c)| c.flags & FL_MEM == 0) {
                store.insert(&mut ex, name, a, use_domain, c)?;
            }
            Ok::<_, crate::db::DbError>(())
        })?;
        if self.sql_only() {
            return Ok(());
        }
        if aor.is_none() {
            for s in self.shards.iter() {
                s.write().deleted.clear();
            }
        }
        for (a, snap) in &rows {
            let mut sh = self.shards[self.shard_of(a)].write();
            if let Some(r) = sh.records.get_mut(a)
                && let Some(c) = r
                    .contacts
                    .iter_mut()
                    .find(|c| c.contact_id == snap.contact_id && c.version == snap.version)
            {
                c.state = CState::Sync;
            }
        }
        Ok(())
    }
}

/// A record locked for changes; dropping it stores the record back (or removes it when empty)
/// and raises the AOR events.
pub struct RecordGuard<'a> {
    dom: &'a Domain,
    shard: RwLockWriteGuard<'a, Shard>,
    rec: Urecord,
    existed: bool,
    persist: bool,
}

impl RecordGuard<'_> {
    pub fn aor(&self) -> &str {
        &self.rec.aor
    }

    pub fn contacts(&self) -> &[Ucontact] {
        &self.rec.contacts
    }

    /// A key of the AoR's key-value store.
    pub fn key(&self, key: &str) -> Option<&str> {
        self.rec.kv.as_ref()?.get(key).map(String::as_str)
    }

    /// Sets a key (kept while the AoR has contacts).
    pub fn set_key(&mut self, key: &str, value: &str) {
        self.rec
            .kv
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value.to_string());
    }

    /// Removes a key; false when it was not there.
    pub fn del_key(&mut self, key: &str) -> bool {
        let Some(kv) = self.rec.kv.as_mut() else {
            return false;
        };
        let had = kv.remove(key).is_some();
        if kv.is_empty() {
            self.rec.kv = None;
        }
        had
    }

    fn mode(&self) -> DbMode {
        self.dom.ctx.cfg.db_mode
    }

    /// Written at once: write-through (unless memory-only) and SQL-only.
    fn write_now(&self) -> bool {
        match self.mode() {
            DbMode::WriteThrough => self.persist,
            DbMode::SqlOnly => true,
            _ => false,
        }
    }

    /// Inserts a contact; the database row first when written through (nothing changes in
    /// memory when the database refuses).
    pub fn insert(&mut self, ci: &ContactInfo<'_>) -> Result<u64, UlError> {
        let id = self.dom.new_id(&self.rec.aor);
        let mut ci = ci.clone();
        if !self.persist && self.mode() != DbMode::SqlOnly {
            ci.flags |= FL_MEM;
        }
        let state = if self.write_now() {
            CState::Sync
        } else {
            CState::New
        };
        let c = Ucontact::new(id, &ci, state)?;
        if self.write_now() {
            let store = self.dom.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
            store.insert(
                &mut Exec::Db(store.db()),
                &self.dom.name,
                &self.rec.aor,
                self.dom.ctx.cfg.use_domain,
                &c,
            )?;
        }
        self.dom
            .ctx
            .notify
            .contact(ContactEvent::Insert, &self.dom.name, &self.rec.aor, &c);
        self.rec.contacts.reserve_exact(1);
        self.rec.contacts.push(c);
        self.rec.sort(self.dom.ctx.cfg.desc_time_order);
        if !self.dom.sql_only() {
            self.dom.contacts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(id)
    }

    fn index(&self, id: u64) -> Result<usize, UlError> {
        self.rec
            .contacts
            .iter()
            .position(|c| c.contact_id == id)
            .ok_or(UlError::ContactNotFound)
    }

    /// Replaces the values of contact `id`.
    pub fn update(&mut self, id: u64, ci: &ContactInfo<'_>) -> Result<(), UlError> {
        let i = self.index(id)?;
        let mut c = self.rec.contacts[i].clone();
        let mut ci = ci.clone();
        if c.flags & FL_MEM != 0 {
            ci.flags |= FL_MEM;
        }
        c.update(&ci)?;
        if self.write_now() && c.flags & FL_MEM == 0 {
            let store = self.dom.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
            let mut ex = Exec::Db(store.db());
            if !store.update(&mut ex, &self.dom.name, &c)? {
                store.insert(
                    &mut ex,
                    &self.dom.name,
                    &self.rec.aor,
                    self.dom.ctx.cfg.use_domain,
                    &c,
                )?;
            }
            c.state = CState::Sync;
        }
        self.dom
            .ctx
            .notify
            .contact(ContactEvent::Update, &self.dom.name, &self.rec.aor, &c);
        self.rec.contacts[i] = c;
        self.rec.sort(self.dom.ctx.cfg.desc_time_order);
        Ok(())
    }

    /// Removes contact `id`.
    pub fn delete(&mut self, id: u64) -> Result<(), UlError> {
        let i = self.index(id)?;
        let c = &self.rec.contacts[i];
        let stored = c.flags & FL_MEM == 0 && c.state != CState::New;
        if stored {
            match self.mode() {
                DbMode::WriteThrough | DbMode::SqlOnly => {
                    let store = self.dom.ctx.store.as_ref().ok_or(UlError::NoDatabase)?;
                    store.delete(&mut Exec::Db(store.db()), &self.dom.name, c.contact_id)?;
                }
                DbMode::WriteBack => self.shard.deleted.push(c.contact_id),
                DbMode::None => {}
            }
        }
        let c = self.rec.contacts.remove(i);
        self.dom
            .ctx
            .notify
            .contact(ContactEvent::Delete, &self.dom.name, &self.rec.aor, &c);
        if !self.dom.sql_only() {
            self.dom.contacts.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Removes every contact.
    pub fn delete_all(&mut self) -> Result<(), UlError> {
        while let Some(id) = self.rec.contacts.first().map(|c| c.contact_id) {
            self.delete(id)?;
        }
        Ok(())
    }
}

impl Drop for RecordGuard<'_> {
    fn drop(&mut self) {
        let now_has = !self.rec.contacts.is_empty();
        let d = self.dom;
        if now_has && !self.existed {
            d.ctx.notify.aor(AorEvent::Insert, &d.name, &self.rec.aor);
            if !d.sql_only() {
                d.users.fetch_add(1, Ordering::Relaxed);
            }
        } else if !now_has && self.existed {
            d.ctx.notify.aor(AorEvent::Delete, &d.name, &self.rec.aor);
            if !d.sql_only() {
                d.users.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if now_has && !d.sql_only() {
            let rec = std::mem::take(&mut self.rec);
            self.shard.records.insert(rec.aor.clone(), rec);
        }
    }
}
