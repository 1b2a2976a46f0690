//! Transaction matching (RFC 3261 §17.2.3, with the RFC 2543 fallback of §17.2.3 last paragraphs)
//! and the sharded transaction table: no global lock, each shard a short-held mutex.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::core::branch::MAGIC_COOKIE;
use crate::sip::{Method, Msg};

use super::tx::Transaction;

const SHARDS: usize = 64;

/// Server transaction key. CANCEL gets its own transaction, so it is keyed apart; an ACK is keyed
/// as its INVITE, so it finds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxKey {
    /// Top Via branch with the magic cookie, and the sent-by (lower-cased host and port).
    Rfc3261 {
        branch: Vec<u8>,
        sent_by: Vec<u8>,
        cancel: bool,
    },
    /// Request-URI, From tag, Call-ID, CSeq number and top Via of an RFC 2543 request.
    Rfc2543 { parts: Vec<u8>, cancel: bool },
}

impl TxKey {
    /// The key of `req` (as `as_method` when given: a CANCEL looks up its INVITE with
    /// `Some(Method::Invite)`). None when the request has no usable top Via.
    pub fn of(req: &Msg, as_method: Option<Method>) -> Option<TxKey> {
        let method = as_method.unwrap_or(req.method());
        let cancel = method == Method::Cancel;
        let via = req.via1().ok()?;
        match via.branch() {
            Some(b) if b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE) => {
                let mut sent_by = via.host.to_ascii_lowercase();
                sent_by.push(b':');
                sent_by.extend_from_slice(via.port.unwrap_or(0).to_string().as_bytes());
                Some(TxKey::Rfc3261 {
                    branch: b.to_vec(),
                    sent_by,
                    cancel,
                })
            }
            _ => {
                let mut parts = Vec::with_capacity(256);
                for p in [
                    req.ruri(),
                    req.from_tag().unwrap_or_default(),
                    req.call_id(),
                    req.cseq().num.to_string().as_bytes(),
                    via.raw,
                ] {
                    parts.extend_from_slice(p);
                    parts.push(0);
                }
                Some(TxKey::Rfc2543 { parts, cancel })
            }
        }
    }
}

/// A sharded map: the shard is picked by hash, each shard has its own lock.
pub struct Sharded<K, V> {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<K, V>>>,
    /// Entries ever inserted, per shard (MI `t_hash` "Total").
    inserted: Vec<AtomicU64>,
}

impl<K: Hash + Eq, V: Clone> Sharded<K, V> {
    pub fn new() -> Self {
        Sharded {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            inserted: (0..SHARDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(&self, k: &K) -> usize {
        (self.hasher.hash_one(k) as usize) % SHARDS
    }

    fn shard(&self, k: &K) -> &Mutex<HashMap<K, V>> {
        &self.shards[self.index(k)]
    }

    pub fn get(&self, k: &K) -> Option<V> {
        self.shard(k).lock().get(k).cloned()
    }

    /// Inserts unless the key is there; returns the value now in the map and whether it is new.
    pub fn insert_new(&self, k: K, v: V) -> (V, bool) {
        let mut s = self.shard(&k).lock();
        if let Some(old) = s.get(&k) {
            return (old.clone(), false);
        }
        self.inserted[self.index(&k)].fetch_add(1, Ordering::Relaxed);
        s.insert(k, v.clone());
        (v, true)
    }

    pub fn remove(&self, k: &K) -> Option<V> {
        self.shard(k).lock().remove(k)
    }

    /// A snapshot of the values (each shard locked in turn).
    pub fn values(&self) -> Vec<V> {
        self.shards
            .iter()
            .flat_map(|s| s.lock().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Per shard: the entries now and the entries ever inserted.
    pub fn shard_sizes(&self) -> Vec<(usize, u64)> {
        self.shards
            .iter()
            .zip(&self.inserted)
            .map(|(s, n)| (s.lock().len(), n.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq, V: Clone> Default for Sharded<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// The transactions: by server key (requests, retransmissions, ACK, CANCEL) and by id (replies,
/// whose top Via branch carries the id).
#[derive(Default)]
pub struct Table {
    pub by_key: Sharded<TxKey, Arc<Transaction>>,
    pub by_id: Sharded<u64, Arc<Transaction>>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// The server transaction `req` belongs to (an ACK finds its INVITE).
    pub fn lookup(&self, req: &Msg) -> Option<Arc<Transaction>> {
        let as_method = (req.method() == Method::Ack).then_some(Method::Invite);
        self.by_key.get(&TxKey::of(req, as_method)?)
    }

    /// The INVITE transaction a CANCEL cancels.
    pub fn lookup_cancelled(&self, cancel: &Msg) -> Option<Arc<Transaction>> {
        self.by_key
            .get(&TxKey::of(cancel, Some(Method::Invite))?)
            .filter(|t| t.is_invite)
    }

    /// The transactions whose request has this Call-ID and CSeq number.
    pub fn by_call_id(&self, call_id: &[u8], cseq: u32) -> Vec<Arc<Transaction>> {
        self.by_id
            .values()
            .into_iter()
            .filter(|t| {
                let st = t.state.lock();
                st.request.call_id() == call_id && st.request.cseq().num == cseq
            })
            .collect()
    }

    pub fn remove(&self, tx: &Transaction) {
        if let Some(k) = &tx.key {
            self.by_key.remove(k);
        }
        self.by_id.remove(&tx.id);
    }
}

/// Our client branches: `z9hG4bKtm` + 16 hex digits of the transaction id + `.` + branch index.
pub const TM_MARK: &[u8] = b"z9hG4bKtm";

pub fn branch_value(id: u64, idx: usize) -> String {
    format!("z9hG4bKtm{id:016x}.{idx}")
}

/// The transaction id and branch index of one of our branch values.
pub fn parse_branch(b: &[u8]) -> Option<(u64, usize)> {
    let rest = b.strip_prefix(TM_MARK)?;
    let (id, idx) = rest.split_at_checked(16)?;
    let idx = idx.strip_prefix(b".")?;
    let id = u64::from_str_radix(std::str::from_utf8(id).ok()?, 16).ok()?;
    let idx: usize = std::str::from_utf8(idx).ok()?.parse().ok()?;
    Some((id, idx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(method: &str, via: &str, extra: &str) -> Msg {
        let raw = format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@h>;tag=f1\r\n\
             To: <sip:bob@h>{extra}\r\nCall-ID: c1\r\nCSeq: 7 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        Msg::parse(bytes::Bytes::from(raw)).unwrap()
    }

    const V: &str = "SIP/2.0/UDP Client.Test:5070;branch=z9hG4bKabc";

    #[test]
    fn rfc3261_matching_by_branch_and_sent_by() {
        let inv = TxKey::of(&msg("INVITE", V, ""), None).unwrap();
        let ack = TxKey::of(&msg("ACK", V, ";tag=t"), Some(Method::Invite)).unwrap();
        assert_eq!(inv, ack, "the ACK finds its INVITE");
        let cancel = TxKey::of(&msg("CANCEL", V, ""), None).unwrap();
        assert_ne!(inv, cancel, "the CANCEL is a transaction of its own");
        let as_inv = TxKey::of(&msg("CANCEL", V, ""), Some(Method::Invite)).unwrap();
        assert_eq!(inv, as_inv, "but finds the INVITE it cancels");
        let other_host = TxKey::of(
            &msg("INVITE", &V.replace("Client.Test", "other.test"), ""),
            None,
        )
        .unwrap();
        assert_ne!(inv, other_host);
        let other_branch = TxKey::of(&msg("INVITE", &V.replace("abc", "abd"), ""), None).unwrap();
        assert_ne!(inv, other_branch);
        let case = TxKey::of(
            &msg("INVITE", &V.replace("Client.Test", "client.test"), ""),
            None,
        )
        .unwrap();
        assert_eq!(inv, case, "host compares case-insensitively");
    }

    #[test]
    fn rfc2543_fallback_uses_dialog_fields() {
        let v = "SIP/2.0/UDP 127.0.0.5:5070";
        let inv = TxKey::of(&msg("INVITE", v, ""), None).unwrap();
        assert!(matches!(inv, TxKey::Rfc2543 { .. }));
        let ack = TxKey::of(&msg("ACK", v, ";tag=x"), Some(Method::Invite)).unwrap();
        assert_eq!(inv, ack);
        let other = TxKey::of(&msg("INVITE", "SIP/2.0/UDP 127.0.0.6:5070", ""), None).unwrap();
        assert_ne!(inv, other);
    }

    #[test]
    fn branch_values_round_trip() {
        let b = branch_value(0xdead_beef_0000_0001, 3);
        assert_eq!(parse_branch(b.as_bytes()), Some((0xdead_beef_0000_0001, 3)));
        assert_eq!(parse_branch(b"z9hG4bKsl0123"), None);
        assert_eq!(parse_branch(b"z9hG4bKtm0123456789abcdef"), None);
        assert_eq!(parse_branch(b"z9hG4bKtmXX23456789abcdef.1"), None);
    }

    #[test]
    fn sharded_insert_keeps_the_first() {
        let s: Sharded<u32, &str> = Sharded::new();
        assert_eq!(s.insert_new(1, "a"), ("a", true));
        assert_eq!(s.insert_new(1, "b"), ("a", false));
        assert_eq!(s.get(&1), Some("a"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.remove(&1), Some("a"));
        assert!(s.is_empty());
    }
}
