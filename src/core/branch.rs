//! Stateless Via branches (RFC 3261 §16.11, §16.6 step 8): a transaction part computed from the
//! received request, so a retransmission (and its CANCEL) gets the same branch, and a loop part
//! computed from the fields that change when a request spirals, for loop detection (§16.3 step 4).

use std::hash::{BuildHasher, Hasher, RandomState};

/// RFC 3261 magic cookie that starts every branch this proxy writes.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";
/// Marks branches written by the stateless forwarder: `z9hG4bK` `sl` 16 hex `.` 8 hex.
const TAG: &[u8] = b"sl";
const LEN: usize = MAGIC_COOKIE.len() + TAG.len() + 16 + 1 + 8;

/// Computes branches with a per-process secret key, so peers cannot predict them.
#[derive(Clone, Default)]
pub struct BranchHasher {
    key: RandomState,
}

/// A stateless branch value, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Branch([u8; LEN]);

impl Branch {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The loop-detection part of a branch this proxy wrote, or `None` for any other branch.
    pub fn loop_part_of(branch: &[u8]) -> Option<&[u8]> {
        let rest = branch.strip_prefix(MAGIC_COOKIE)?.strip_prefix(TAG)?;
        (rest.len() == 25 && rest[16] == b'.').then(|| &rest[17..])
    }

    /// The loop-detection part of this branch.
    pub fn loop_part(&self) -> &[u8] {
        &self.0[LEN - 8..]
    }
}

impl std::fmt::Debug for Branch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

fn hash_parts(h: &mut impl Hasher, parts: &[&[u8]]) {
    for p in parts {
        h.write(p);
        h.write_u8(0xff); // separator, so ("ab","c") and ("a","bc") differ
    }
}

fn write_hex(out: &mut [u8], v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((v >> (4 * (n - 1 - i))) & 0xf) as usize];
    }
}

impl BranchHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// `tx`: what identifies the transaction (see `core::stateless::stateless_branch`);
    /// `looping`: the loop-detection inputs of the request as received.
    pub fn branch(&self, tx: &[&[u8]], looping: &[&[u8]]) -> Branch {
        self.branch_of(self.hash(tx), self.loop_hash(looping))
    }

    /// Hashes byte strings with the secret key (distinct splits give distinct inputs).
    pub fn hash(&self, parts: &[&[u8]]) -> u64 {
        let mut h = self.key.build_hasher();
        hash_parts(&mut h, parts);
        h.finish()
    }

    /// A hasher with the secret key, for callers that feed parts one by one (see [`Self::hash`]).
    pub fn hasher(&self) -> PartHasher {
        PartHasher(self.key.build_hasher())
    }

    /// The branch made of a transaction hash and a loop hash.
    pub fn branch_of(&self, tx_hash: u64, loop_hash: u32) -> Branch {
        let mut b = [0u8; LEN];
        let (head, rest) = b.split_at_mut(MAGIC_COOKIE.len() + TAG.len());
        head[..MAGIC_COOKIE.len()].copy_from_slice(MAGIC_COOKIE);
        head[MAGIC_COOKIE.len()..].copy_from_slice(TAG);
        write_hex(&mut rest[..16], tx_hash);
        rest[16] = b'.';
        write_hex(&mut rest[17..], loop_hash as u64);
        Branch(b)
    }

    /// The loop part for `looping` (see [`Self::branch`]), as it appears in the branch.
    pub fn loop_part(&self, looping: &[&[u8]]) -> [u8; 8] {
        Self::loop_text(self.loop_hash(looping))
    }

    /// The loop part of [`Self::branch_of`] as text.
    pub fn loop_text(loop_hash: u32) -> [u8; 8] {
        let mut out = [0u8; 8];
        write_hex(&mut out, loop_hash as u64);
        out
    }

    fn loop_hash(&self, looping: &[&[u8]]) -> u32 {
        fold(self.hash(looping))
    }
}

fn fold(v: u64) -> u32 {
    (v ^ (v >> 32)) as u32
}

/// Feeds parts one at a time; `finish` gives the same value as [`BranchHasher::hash`] of them.
pub struct PartHasher(std::hash::DefaultHasher);

impl PartHasher {
    pub fn part(&mut self, p: &[u8]) -> &mut Self {
        hash_parts(&mut self.0, &[p]);
        self
    }

    pub fn finish(&self) -> u64 {
        self.0.finish()
    }

    /// The 32-bit loop hash of what was fed.
    pub fn finish_loop(&self) -> u32 {
        fold(self.0.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_request_same_branch() {
        let h = BranchHasher::new();
        let a = h.branch(
            &[b"z9hG4bK776asdhds", b"pc33.atlanta.com"],
            &[b"sip:bob@biloxi.com"],
        );
        let b = h.branch(
            &[b"z9hG4bK776asdhds", b"pc33.atlanta.com"],
            &[b"sip:bob@biloxi.com"],
        );
        assert_eq!(a, b);
        assert!(a.as_bytes().starts_with(MAGIC_COOKIE));
        assert_eq!(a.as_bytes().len(), LEN);
    }

    #[test]
    fn different_transactions_differ() {
        let h = BranchHasher::new();
        let a = h.branch(&[b"z9hG4bK1", b"h"], &[b"r"]);
        let b = h.branch(&[b"z9hG4bK2", b"h"], &[b"r"]);
        assert_ne!(a, b);
        let c = h.branch(&[b"z9hG4bK", b"1h"], &[b"r"]);
        assert_ne!(a, c);
    }

    #[test]
    fn loop_part_found_again() {
        let h = BranchHasher::new();
        let a = h.branch(&[b"t"], &[b"sip:x@y", b"callid"]);
        assert_eq!(Branch::loop_part_of(a.as_bytes()), Some(a.loop_part()));
        assert_eq!(&h.loop_part(&[b"sip:x@y", b"callid"])[..], a.loop_part());
        assert_ne!(&h.loop_part(&[b"sip:z@y", b"callid"])[..], a.loop_part());
        assert_eq!(Branch::loop_part_of(b"z9hG4bK776asdhds"), None);
        assert_eq!(Branch::loop_part_of(b"z9hG4bKsl"), None);
    }

    #[test]
    fn part_hasher_matches_hash() {
        let h = BranchHasher::new();
        let mut p = h.hasher();
        p.part(b"ab").part(b"c");
        assert_eq!(p.finish(), h.hash(&[b"ab", b"c"]));
        assert_ne!(p.finish(), h.hash(&[b"a", b"bc"]));
        let b = h.branch(&[b"t"], &[b"ab", b"c"]);
        assert_eq!(&BranchHasher::loop_text(p.finish_loop())[..], b.loop_part());
    }

    #[test]
    fn keys_differ_per_hasher() {
        let a = BranchHasher::new().branch(&[b"t"], &[b"l"]);
        let b = BranchHasher::new().branch(&[b"t"], &[b"l"]);
        assert_ne!(a, b);
    }
}
