//! Local key/value cache with expiry (OpenSIPS `cachedb_local`), shared by the MI `cache_*`
//! commands and the script's `cache_store` / `cache_fetch` / `cache_remove` / `cache_add`.
//!
//! Keys live in a "system": `local` or a named collection `local:<name>`; other systems are
//! refused (OpenSIPS answers "Cache store command failed" when no backend serves the system).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const SHARDS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheError {
    #[error("no cache backend for system '{0}'")]
    UnknownSystem(String),
    #[error("value of '{0}' is not an integer")]
    NotInteger(String),
}

struct Entry {
    value: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// The cache. Sharded so that script workers rarely contend.
pub struct LocalCache {
    shards: Vec<Mutex<HashMap<(String, String), Entry>>>,
}

impl Default for LocalCache {
    fn default() -> Self {
        Self::new()
    }
}

fn collection(system: &str) -> Result<String, CacheError> {
    if system == "local" {
        return Ok(String::new());
    }
    match system.strip_prefix("local:") {
        Some(c) if !c.is_empty() => Ok(c.to_string()),
        _ => Err(CacheError::UnknownSystem(system.to_string())),
    }
}

impl LocalCache {
    pub fn new() -> Self {
        LocalCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<(String, String), Entry>> {
        let mut h: u32 = 2166136261;
        for b in key.bytes() {
            h = (h ^ b as u32).wrapping_mul(16777619);
        }
        &self.shards[h as usize % SHARDS]
    }

    /// Stores `value`; `expire` in seconds, 0 = never expires.
    pub fn store(
        &self,
        system: &str,
        key: &str,
        value: &str,
        expire: u32,
    ) -> Result<(), CacheError> {
        let coll = collection(system)?;
        let expires = (expire > 0).then(|| Instant::now() + Duration::from_secs(expire as u64));
        self.shard(key).lock().insert(
            (coll, key.to_string()),
            Entry {
                value: value.to_string(),
                expires,
            },
        );
        Ok(())
    }

    /// The value, if present and not expired.
    pub fn fetch(&self, system: &str, key: &str) -> Result<Option<String>, CacheError> {
        let coll = collection(system)?;
        let now = Instant::now();
        let mut shard = self.shard(key).lock();
        let k = (coll, key.to_string());
        match shard.get(&k) {
            Some(e) if e.live(now) => Ok(Some(e.value.clone())),
            Some(_) => {
                shard.remove(&k);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Removes the key (absent keys are not an error, as in OpenSIPS).
    pub fn remove(&self, system: &str, key: &str) -> Result<(), CacheError> {
        let coll = collection(system)?;
        self.shard(key).lock().remove(&(coll, key.to_string()));
        Ok(())
    }

    /// Adds `delta` to an integer value (absent = 0) and returns the new value (`cache_add`).
    pub fn add(&self, system: &str, key: &str, delta: i64, expire: u32) -> Result<i64, CacheError> {
        let coll = collection(system)?;
        let now = Instant::now();
        let mut shard = self.shard(key).lock();
        let k = (coll, key.to_string());
        let current = match shard.get(&k) {
            Some(e) if e.live(now) => e
                .value
                .trim()
                .parse::<i64>()
                .map_err(|_| CacheError::NotInteger(key.to_string()))?,
            _ => 0,
        };
        let new = current.saturating_add(delta);
        let expires = (expire > 0).then(|| now + Duration::from_secs(expire as u64));
        shard.insert(
            k,
            Entry {
                value: new.to_string(),
                expires,
            },
        );
        Ok(new)
    }

    /// Drops expired entries; the runtime's timer calls this now and then.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for s in &self.shards {
            let mut m = s.lock();
            let before = m.len();
            m.retain(|_, e| e.live(now));
            n += before - m.len();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_fetch_remove() {
        let c = LocalCache::new();
        c.store("local", "k", "v", 0).unwrap();
        assert_eq!(c.fetch("local", "k").unwrap().as_deref(), Some("v"));
        assert_eq!(c.fetch("local:other", "k").unwrap(), None);
        c.remove("local", "k").unwrap();
        assert_eq!(c.fetch("local", "k").unwrap(), None);
        assert_eq!(
            c.store("redis", "k", "v", 0),
            Err(CacheError::UnknownSystem("redis".into()))
        );
    }

    #[test]
    fn expiry_and_purge() {
        let c = LocalCache::new();
        c.store("local", "a", "1", 1).unwrap();
        c.store("local", "b", "2", 0).unwrap();
        // simulate the passage of time by writing an already-expired entry
        c.shard("a")
            .lock()
            .get_mut(&(String::new(), "a".into()))
            .unwrap()
            .expires = Some(Instant::now());
        assert_eq!(c.fetch("local", "a").unwrap(), None);
        c.store("local", "c", "3", 1).unwrap();
        c.shard("c")
            .lock()
            .get_mut(&(String::new(), "c".into()))
            .unwrap()
            .expires = Some(Instant::now());
        assert_eq!(c.purge_expired(), 1);
        assert_eq!(c.fetch("local", "b").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn add_counts() {
        let c = LocalCache::new();
        assert_eq!(c.add("local", "n", 2, 0).unwrap(), 2);
        assert_eq!(c.add("local", "n", -5, 0).unwrap(), -3);
        c.store("local", "s", "abc", 0).unwrap();
        assert!(c.add("local", "s", 1, 0).is_err());
    }
}
