//! Byte searches 16 bytes per step (SSE2 on x86_64, word-at-a-time elsewhere). Line ends of a
//! message are found 64 bytes at a time: one vector compare per 16 bytes gives a bit mask, and
//! each header line then costs a bit scan instead of a search of its own (a search per line pays
//! its setup on every 20–100 byte line).

/// Walks the LF bytes of a buffer in increasing order, one 64-byte block of bits at a time.
pub(crate) struct LfIndex<'a> {
    b: &'a [u8],
    /// Start of the block `mask` describes.
    base: usize,
    /// Bit `i` set when `b[base + i]` is an LF.
    mask: u64,
}

impl<'a> LfIndex<'a> {
    pub fn new(b: &'a [u8], from: usize) -> Self {
        Self {
            b,
            base: from,
            mask: lf_mask(b, from),
        }
    }

    /// Index of the first LF at or after `from`. Calls must not go backwards: `from` is at least
    /// the previous call's `from`.
    #[inline]
    pub fn find(&mut self, from: usize) -> Option<usize> {
        // Usual case: the LF is in the current block.
        let off = from.wrapping_sub(self.base);
        if off < 64 {
            let m = self.mask >> off;
            if m != 0 {
                return Some(from + m.trailing_zeros() as usize);
            }
        }
        self.find_in_next_blocks(from)
    }

    fn find_in_next_blocks(&mut self, from: usize) -> Option<usize> {
        loop {
            let next = self.base + 64;
            if next >= self.b.len() || from >= self.b.len() {
                return None;
            }
            self.base = next.max(from);
            self.mask = lf_mask(self.b, self.base);
            // `base` may now be past `from`: nothing lies between them.
            let off = from.saturating_sub(self.base);
            if off < 64 {
                let m = self.mask & (!0u64 << off);
                if m != 0 {
                    return Some(self.base + m.trailing_zeros() as usize);
                }
            }
        }
    }
}

/// LF bits of `b[at..at + 64]` (fewer at the end of the buffer).
#[inline]
fn lf_mask(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 64) {
        Some(block) => block_mask(block.try_into().expect("64 bytes")),
        None => {
            let mut block = [0; 64];
            let tail = b.get(at..).unwrap_or_default();
            block[..tail.len()].copy_from_slice(tail);
            block_mask(&block)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_mask(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut mask = 0;
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is 16 readable bytes and `loadu` has no alignment requirement; SSE2 is
        // part of the x86_64 baseline, so the intrinsics are available on every x86_64 CPU.
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)))
        };
        mask |= (bits as u32 as u64) << (16 * i);
    }
    mask
}

/// Bit `i` set when `w[i]` is one of `targets`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn mask16<const N: usize>(w: &[u8], targets: [u8; N]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let w: &[u8; 16] = w.try_into().expect("16 bytes");
    // SAFETY: as in `block_mask`: 16 readable bytes, unaligned load, SSE2 baseline.
    unsafe {
        let v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
        let mut hit = _mm_setzero_si128();
        for t in targets {
            hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(t as i8)));
        }
        _mm_movemask_epi8(hit) as u32
    }
}

/// Index of the first byte of `s` at or after `from` that is one of `targets`; `s` must hold at
/// least 16 bytes from `from`. The last step re-reads an overlapping 16-byte window.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn find_any16<const N: usize>(s: &[u8], from: usize, targets: [u8; N]) -> Option<usize> {
    debug_assert!(from + 16 <= s.len());
    let mut i = from;
    loop {
        if i + 16 > s.len() {
            let last = s.len() - 16;
            let m = mask16(&s[last..], targets) >> (i - last);
            return (m != 0).then(|| i + m.trailing_zeros() as usize);
        }
        let m = mask16(&s[i..i + 16], targets);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
}

/// Index of the first ':', SP or HT in `w` (where a header name ends), if any.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn name_end16(w: &[u8; 16]) -> Option<usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: as in `block_mask`: 16 readable bytes, unaligned load, SSE2 baseline.
    let bits = unsafe {
        let v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
        let colon = _mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8));
        let sp = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
        let ht = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8));
        _mm_movemask_epi8(_mm_or_si128(colon, _mm_or_si128(sp, ht)))
    };
    (bits != 0).then(|| bits.trailing_zeros() as usize)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn name_end16(w: &[u8; 16]) -> Option<usize> {
    w.iter().position(|&c| matches!(c, b':' | b' ' | b'\t'))
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_mask(block: &[u8; 64]) -> u64 {
    block_mask_portable(block)
}

/// Word-at-a-time version for other targets (and the reference the tests compare against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_mask_portable(block: &[u8; 64]) -> u64 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut mask = 0;
    for (i, chunk) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ LF;
        // High bit of each byte set when that byte of `x` is zero (exact, no borrow between bytes).
        let zero = !(((x & LO7) + LO7) | x | LO7);
        // Gather the eight high bits into one byte.
        let bits = ((zero >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * i);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_lf_in_order() {
        let mut text = Vec::new();
        for i in 0..300u32 {
            text.push(if i % 7 == 0 || i % 61 == 3 {
                b'\n'
            } else {
                (i % 251) as u8
            });
        }
        for start in [0, 1, 5, 63, 64, 65, 200, 299, 300] {
            let mut idx = LfIndex::new(&text, start);
            let mut from = start;
            loop {
                let want = text
                    .get(from..)
                    .and_then(|s| s.iter().position(|&c| c == b'\n'))
                    .map(|i| from + i);
                let got = idx.find(from);
                assert_eq!(got, want, "start {start} from {from}");
                match got {
                    // Jump ahead irregularly, as the header loop does (colon, then LF + 1).
                    Some(i) => from = i + 1 + (i % 3),
                    None => break,
                }
            }
        }
        assert_eq!(LfIndex::new(b"", 0).find(0), None);
        assert_eq!(LfIndex::new(b"ab", 0).find(5), None);
    }

    #[test]
    fn portable_mask_matches_a_byte_loop() {
        let mut block = [0u8; 64];
        for seed in 0..64u8 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(37).wrapping_add(seed)
                    ^ if i % 5 == 0 { 0x0a } else { 0 };
            }
            let want = block
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c == b'\n')
                .fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(block_mask_portable(&block), want);
            assert_eq!(block_mask(&block), want);
        }
    }

    #[test]
    fn name_end_is_the_first_colon_space_or_tab() {
        for w in [
            b"Via: SIP/2.0/UDP",
            b"Call-ID\t: x@y zz",
            b"To :<sip:a@b>;ta",
            b"X-Long-Name-Here",
            b":aaaaaaaaaaaaaaa",
            b"aaaaaaaaaaaaaaa ",
        ] {
            let want = w.iter().position(|&c| matches!(c, b':' | b' ' | b'\t'));
            assert_eq!(name_end16(w), want, "{}", String::from_utf8_lossy(w));
        }
    }
}
