//! Header-name lookup for the parser's hot loop: the name's first 16 bytes as two words, one
//! multiplicative hash into a collision-free table of the known long and compact names, one exact
//! compare. Names that miss (unknown or longer) go through `token_len` + `HdrId::from_name`.

use super::hdr::{ALL, HdrId};

const CASE: u64 = 0x2020_2020_2020_2020;
/// Found by search so that every known name of up to 16 bytes gets its own slot.
const K: u64 = 0xe060_f152_15a7_faf5;

#[derive(Clone, Copy)]
struct Entry {
    /// Lower-case name bytes, zero padded.
    lo: u64,
    hi: u64,
    /// 0x20 in the bytes that are letters: only there may the input differ (by the case bit).
    lo_case: u64,
    hi_case: u64,
    /// 0 for an empty slot.
    len: u8,
    id: HdrId,
}

#[inline]
const fn slot(lo: u64, len: usize) -> usize {
    ((lo | CASE).wrapping_add(len as u64).wrapping_mul(K) >> 56) as usize
}

const fn word(name: &[u8], at: usize) -> u64 {
    let mut w = 0;
    let mut i = 0;
    while i < 8 && at + i < name.len() {
        w |= (name[at + i].to_ascii_lowercase() as u64) << (8 * i);
        i += 1;
    }
    w
}

/// 0x20 in each byte of `w` that is a lower-case letter (bit 0x40 set: known names hold only
/// letters, '-' and zero padding).
const fn letters(w: u64) -> u64 {
    (w >> 1) & CASE
}

const fn insert(t: &mut [Entry; 256], name: &[u8], id: HdrId) {
    let (lo, hi) = (word(name, 0), word(name, 8));
    let s = slot(lo, name.len());
    assert!(t[s].len == 0, "header name hash collision: pick another K");
    t[s] = Entry {
        lo,
        hi,
        lo_case: letters(lo),
        hi_case: letters(hi),
        len: name.len() as u8,
        id,
    };
}

const fn build() -> [Entry; 256] {
    let mut t = [Entry {
        lo: 0,
        hi: 0,
        lo_case: 0,
        hi_case: 0,
        len: 0,
        id: HdrId::Other,
    }; 256];
    let mut i = 0;
    while i < ALL.len() {
        let id = ALL[i];
        let name = id.name().as_bytes();
        if name.len() <= 16 {
            insert(&mut t, name, id);
        }
        if let Some(c) = id.compact() {
            insert(&mut t, &[c], id);
        }
        i += 1;
    }
    t
}

static TABLE: [Entry; 256] = build();

/// Bytes `0..len` of `w` (`len` in 1..=8).
#[inline]
fn keep(w: u64, len: usize) -> u64 {
    w & (!0u64 >> (64 - 8 * len))
}

/// The id of the header name `window[..len]` (`len` in 1..=16; bytes past it are ignored), or
/// `Other`. Exact: letters match in either case, every other byte only itself, so a match also
/// proves the name is a valid token.
#[inline]
pub(crate) fn lookup16(window: &[u8; 16], len: usize) -> HdrId {
    debug_assert!((1..=16).contains(&len));
    let (a, b) = window.split_at(8);
    let lo_raw = u64::from_le_bytes(a.try_into().expect("8 bytes"));
    let hi_raw = u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let (lo, hi) = if len <= 8 {
        (keep(lo_raw, len), 0)
    } else {
        (lo_raw, keep(hi_raw, len - 8))
    };
    let e = &TABLE[slot(lo, len)];
    if e.len as usize == len && lo | e.lo_case == e.lo && hi | e.hi_case == e.hi {
        e.id
    } else {
        HdrId::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &[u8]) -> [u8; 16] {
        let mut w = [b':'; 16];
        w[..name.len()].copy_from_slice(name);
        w
    }

    #[test]
    fn agrees_with_from_name() {
        for &id in ALL.iter() {
            let long = id.name().as_bytes();
            let compact = id.compact().map(|c| vec![c]);
            for name in [Some(long.to_vec()), compact].into_iter().flatten() {
                if name.len() > 16 {
                    continue;
                }
                for n in [name.clone(), name.to_ascii_uppercase()] {
                    assert_eq!(lookup16(&window(&n), n.len()), id, "{}", id.name());
                }
            }
        }
    }

    #[test]
    fn only_letters_fold_case() {
        // CR | 0x20 is '-', '\x16' | 0x20 is '6': neither may pass for a known name.
        for (name, want) in [
            (&b"Call\rID"[..], HdrId::Other),
            (b"Content\rLength", HdrId::Other),
            (b"CALL-iD ", HdrId::Other),
            (b"Via\0", HdrId::Other),
            (b"Vi\x01", HdrId::Other),
            (b"X-Via", HdrId::Other),
            (b"From2", HdrId::Other),
            (b"\x01", HdrId::Other),
            (b"\x16", HdrId::Other),
            (b"V", HdrId::Via),
            (b"cOnTaCt", HdrId::Contact),
        ] {
            assert_eq!(
                lookup16(&window(name), name.len()),
                want,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
        // Bytes past `len` do not count.
        let mut w = window(b"To");
        w[2..].copy_from_slice(b"xxxxxxxxxxxxxx");
        assert_eq!(lookup16(&w, 2), HdrId::To);
    }
}
