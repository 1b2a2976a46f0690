//! Self-contained signed nonces and their nonce-count tracking.
//!
//! A nonce is 48 hex digits: expiry (Unix seconds, u32) and index (u32), both big-endian, then
//! the first 16 bytes of HMAC-SHA256(secret, expiry ‖ index). Nothing is stored per challenge but
//! one slot per index in a ring: the index the slot belongs to and the highest nonce-count seen,
//! so a replayed (nonce, nc) is refused and a nonce whose slot was reused counts as stale.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Slots of the nonce-count ring (8 bytes each).
pub const RING_SLOTS: usize = 1 << 17;
const TAG_LEN: usize = 16;
pub const NONCE_LEN: usize = 2 * (8 + TAG_LEN);

/// What a received nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, not expired; `index` is its slot key.
    Valid { index: u32 },
    /// Ours but expired, or so old its slot was reused: the client should retry (stale=true).
    Stale,
    /// Not one of ours (bad format or signature).
    Invalid,
}

/// Issues and checks nonces for one running proxy.
pub struct Nonces {
    secret: Vec<u8>,
    expire: u32,
    next: AtomicU32,
    ring: Box<[AtomicU64]>,
}

fn pack(index: u32, nc: u32) -> u64 {
    ((index as u64) << 32) | nc as u64
}

impl Nonces {
    /// `secret`: HMAC key (random per start unless the `secret` modparam gives one);
    /// `expire`: nonce lifetime in seconds.
    pub fn new(secret: Vec<u8>, expire: u32) -> Nonces {
        let ring = (0..RING_SLOTS)
            .map(|_| AtomicU64::new(pack(u32::MAX, u32::MAX)))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Nonces {
            secret,
            expire,
            next: AtomicU32::new(rand::random::<u32>()),
            ring,
        }
    }

    pub fn expire(&self) -> u32 {
        self.expire
    }

    fn tag(&self, head: &[u8; 8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        mac.update(head);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    fn slot(&self, index: u32) -> &AtomicU64 {
        &self.ring[index as usize % RING_SLOTS]
    }

    /// A new nonce valid for `expire` seconds from `now` (Unix seconds).
    pub fn issue(&self, now: u64) -> String {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        self.slot(index).store(pack(index, 0), Ordering::Release);
        let expiry = now.saturating_add(self.expire as u64).min(u32::MAX as u64) as u32;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&expiry.to_be_bytes());
        head[4..].copy_from_slice(&index.to_be_bytes());
        let tag = self.tag(&head);
        let mut s = hex::encode(head);
        s.push_str(&hex::encode(tag));
        s
    }

    /// Checks signature, expiry and that the nonce's slot still belongs to it.
    pub fn check(&self, nonce: &[u8], now: u64) -> NonceCheck {
        if nonce.len() != NONCE_LEN {
            return NonceCheck::Invalid;
        }
        let mut raw = [0u8; 8 + TAG_LEN];
        if hex::decode_to_slice(nonce, &mut raw).is_err() {
            return NonceCheck::Invalid;
        }
        let mut head = [0u8; 8];
        head.copy_from_slice(&raw[..8]);
        let want = self.tag(&head);
        let diff = want
            .iter()
            .zip(&raw[8..])
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff != 0 {
            return NonceCheck::Invalid;
        }
        let expiry = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let index = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if now > expiry {
            return NonceCheck::Stale;
        }
        if (self.slot(index).load(Ordering::Acquire) >> 32) as u32 != index {
            return NonceCheck::Stale;
        }
        NonceCheck::Valid { index }
    }

    /// Records nonce-count `nc` for the nonce at `index`; false when `nc` is not higher than
    /// every count already accepted for it (a replay), or the slot went to another nonce.
    pub fn use_count(&self, index: u32, nc: u32) -> bool {
        let slot = self.slot(index);
        let mut cur = slot.load(Ordering::Acquire);
        loop {
            if (cur >> 32) as u32 != index || nc <= cur as u32 {
                return false;
            }
            match slot.compare_exchange_weak(
                cur,
                pack(index, nc),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }
}

/// Parses a nonce-count (8 hex digits, RFC 7616 §3.4).
pub fn parse_nc(nc: &[u8]) -> Option<u32> {
    if nc.is_empty() || nc.len() > 8 || !nc.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(nc).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces() -> Nonces {
        Nonces::new(b"test secret".to_vec(), 30)
    }

    #[test]
    fn issued_nonce_is_valid_until_it_expires() {
        let n = nonces();
        let nonce = n.issue(1_000);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(matches!(
            n.check(nonce.as_bytes(), 1_000),
            NonceCheck::Valid { .. }
        ));
        assert!(matches!(
            n.check(nonce.as_bytes(), 1_030),
            NonceCheck::Valid { .. }
        ));
        assert_eq!(n.check(nonce.as_bytes(), 1_031), NonceCheck::Stale);
    }

    #[test]
    fn forged_or_foreign_nonces_are_invalid() {
        let n = nonces();
        let nonce = n.issue(1_000);
        // Moving the expiry forward breaks the signature.
        let mut forged = nonce.clone().into_bytes();
        forged[7] = if forged[7] == b'f' { b'e' } else { b'f' };
        assert_eq!(n.check(&forged, 1_000), NonceCheck::Invalid);
        let other = Nonces::new(b"another secret".to_vec(), 30);
        assert_eq!(other.check(nonce.as_bytes(), 1_000), NonceCheck::Invalid);
        assert_eq!(n.check(b"short", 1_000), NonceCheck::Invalid);
        assert_eq!(n.check(&[b'z'; NONCE_LEN], 1_000), NonceCheck::Invalid);
    }

    #[test]
    fn nonce_count_replay_is_refused() {
        let n = nonces();
        let nonce = n.issue(1_000);
        let NonceCheck::Valid { index } = n.check(nonce.as_bytes(), 1_000) else {
            panic!("valid nonce")
        };
        assert!(n.use_count(index, 1));
        assert!(!n.use_count(index, 1), "same nc twice");
        assert!(n.use_count(index, 3));
        assert!(!n.use_count(index, 2), "lower nc after a higher one");
        assert!(n.use_count(index, 4));
    }

    #[test]
    fn a_reused_slot_makes_the_old_nonce_stale() {
        let n = nonces();
        let first = n.issue(1_000);
        for _ in 0..RING_SLOTS {
            n.issue(1_000);
        }
        assert_eq!(n.check(first.as_bytes(), 1_000), NonceCheck::Stale);
    }

    #[test]
    fn nonce_counts_parse_as_hex() {
        assert_eq!(parse_nc(b"00000001"), Some(1));
        assert_eq!(parse_nc(b"0000000a"), Some(10));
        assert_eq!(parse_nc(b"ffffffff"), Some(u32::MAX));
        assert_eq!(parse_nc(b""), None);
        assert_eq!(parse_nc(b"000000001"), None);
        assert_eq!(parse_nc(b"0x01"), None);
    }
}
