//! The resolver cache: answers by (name, type), kept for their TTL; answers that a name has no
//! such record are kept for a short time only. Sharded so workers rarely meet on one lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, Record, RecordType};
use parking_lot::RwLock;

/// One record as the SIP resolver uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    Addr(IpAddr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Naptr {
        order: u16,
        preference: u16,
        flags: String,
        services: String,
        replacement: String,
    },
}

fn name_text(n: &hickory_proto::rr::Name) -> String {
    let s = n.to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_ascii_lowercase()
}

impl Rr {
    pub fn from_record(r: &Record) -> Option<Rr> {
        Some(match &r.data {
            RData::A(a) => Rr::Addr(IpAddr::V4(a.0)),
            RData::AAAA(a) => Rr::Addr(IpAddr::V6(a.0)),
            RData::SRV(s) => Rr::Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: name_text(&s.target),
            },
            RData::NAPTR(n) => Rr::Naptr {
                order: n.order,
                preference: n.preference,
                flags: String::from_utf8_lossy(&n.flags).to_ascii_lowercase(),
                services: String::from_utf8_lossy(&n.services).to_ascii_uppercase(),
                replacement: name_text(&n.replacement),
            },
            _ => return None,
        })
    }
}

/// Longest time a "no such record" answer is kept.
pub const NEGATIVE_TTL_MAX: Duration = Duration::from_secs(30);
/// How long a "no such record" answer without an SOA is kept.
pub const NEGATIVE_TTL_DEFAULT: Duration = Duration::from_secs(5);
/// Longest time any answer is kept, whatever its TTL says.
pub const TTL_MAX: Duration = Duration::from_secs(24 * 3600);

const SHARDS: usize = 16;
const SHARD_CAPACITY: usize = 4096;

type Key = (String, RecordType);

struct Entry {
    records: Arc<[Rr]>,
    expires: Instant,
}

/// The cache itself.
pub struct DnsCache {
    shards: Vec<RwLock<HashMap<Key, Entry>>>,
}

impl Default for DnsCache {
    fn default() -> Self {
        DnsCache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }
}

fn shard_of(name: &str) -> usize {
    // FNV-1a: cheap and good enough to spread names over a few shards.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

impl DnsCache {
    /// The cached records of `name` / `rtype`, if still fresh (an empty list: known to have none).
    pub fn get(&self, name: &str, rtype: RecordType, now: Instant) -> Option<Arc<[Rr]>> {
        let shard = self.shards[shard_of(name)].read();
        let e = shard.get(&(name.to_string(), rtype))?;
        (e.expires > now).then(|| e.records.clone())
    }

    /// Keeps `records` for `ttl` seconds (negative answers: at most [`NEGATIVE_TTL_MAX`]).
    /// A positive answer with TTL 0 is not kept, as RFC 1035 says.
    pub fn put(&self, name: &str, rtype: RecordType, records: Arc<[Rr]>, ttl: u32, now: Instant) {
        let ttl = Duration::from_secs(ttl as u64);
        let keep = if records.is_empty() {
            if ttl.is_zero() {
                NEGATIVE_TTL_DEFAULT
            } else {
                ttl.min(NEGATIVE_TTL_MAX)
            }
        } else {
            ttl.min(TTL_MAX)
        };
        if keep.is_zero() {
            return;
        }
        let mut shard = self.shards[shard_of(name)].write();
        if shard.len() >= SHARD_CAPACITY {
            shard.retain(|_, e| e.expires > now);
            if shard.len() >= SHARD_CAPACITY {
                shard.clear();
            }
        }
        shard.insert(
            (name.to_string(), rtype),
            Entry {
                records,
                expires: now + keep,
            },
        );
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for s in &self.shards {
            s.write().clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Arc<[Rr]> {
        vec![Rr::Addr(s.parse().unwrap())].into()
    }

    #[test]
    fn entries_expire_with_their_ttl() {
        let c = DnsCache::default();
        let t0 = Instant::now();
        c.put("a.test", RecordType::A, addr("127.0.0.1"), 10, t0);
        assert_eq!(c.get("a.test", RecordType::A, t0), Some(addr("127.0.0.1")));
        assert_eq!(c.get("a.test", RecordType::AAAA, t0), None);
        assert_eq!(
            c.get("a.test", RecordType::A, t0 + Duration::from_secs(11)),
            None
        );
    }

    #[test]
    fn ttl_zero_is_not_kept_and_negative_is_short() {
        let c = DnsCache::default();
        let t0 = Instant::now();
        c.put("z.test", RecordType::A, addr("127.0.0.1"), 0, t0);
        assert_eq!(c.get("z.test", RecordType::A, t0), None);
        c.put("n.test", RecordType::SRV, Vec::new().into(), 3600, t0);
        assert!(c.get("n.test", RecordType::SRV, t0).unwrap().is_empty());
        assert!(
            c.get(
                "n.test",
                RecordType::SRV,
                t0 + NEGATIVE_TTL_MAX + Duration::from_secs(1)
            )
            .is_none()
        );
        c.put("m.test", RecordType::SRV, Vec::new().into(), 0, t0);
        assert!(c.get("m.test", RecordType::SRV, t0).is_some());
    }
}
