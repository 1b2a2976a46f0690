//! Byte-level helpers shared by the header parsers: whitespace, case-insensitive compare, numbers,
//! and splitting lists on separators that are outside quoted strings and `<...>`.

/// Linear whitespace as it can appear inside a (possibly folded) header value.
#[inline]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

const fn token_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        b += 1;
    }
    t
}

static TOKEN: [bool; 256] = token_table();

const fn non_token_table() -> [u8; 256] {
    let t = token_table();
    let mut n = [0; 256];
    let mut b = 0;
    while b < 256 {
        n[b] = !t[b] as u8;
        b += 1;
    }
    n
}

/// Non-zero for bytes that are not token characters.
static NON_TOKEN: [u8; 256] = non_token_table();

/// Index of the first byte at or after `i` whose entry in `stop` is non-zero (or `s.len()`),
/// four bytes per step.
#[inline]
pub fn skip_until(s: &[u8], mut i: usize, stop: &[u8; 256]) -> usize {
    while let Some(c) = s.get(i..i + 4) {
        if stop[c[0] as usize] | stop[c[1] as usize] | stop[c[2] as usize] | stop[c[3] as usize]
            != 0
        {
            break;
        }
        i += 4;
    }
    while i < s.len() && stop[s[i] as usize] == 0 {
        i += 1;
    }
    i
}

/// RFC 3261 `token` characters.
#[inline]
pub fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Position of `b` in a short slice: 16 bytes per step from 16 bytes on, else a plain loop (for
/// the 10–60 byte slices of header values either costs less than memchr's setup).
#[inline]
pub fn find_byte(b: u8, s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 16 {
        return super::simd::find_any16(s, 0, [b]);
    }
    s.iter().position(|&c| c == b)
}

/// Index of the first byte of `s` at or after `from` that is one of `targets`, eight bytes at a
/// time (SWAR): header values are 10–100 bytes, too short for memchr's vector setup to pay off.
#[inline]
pub fn find_any<const N: usize>(s: &[u8], from: usize, targets: [u8; N]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 16 && from <= s.len() - 16 {
        return super::simd::find_any16(s, from, targets);
    }
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut w = [0; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let mut hit = 0;
        for t in targets {
            let x = w ^ (LO * u64::from(t));
            // The lowest flagged byte is always a real match (carries only flag bytes above one).
            hit |= x.wrapping_sub(LO) & !x & HI;
        }
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < s.len() {
        if targets.contains(&s[i]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index of the first LF in `s` at or after `from`. memchr: a header line is 20–100 bytes, long
/// enough for its vector loop to beat the word-at-a-time `find_any`.
#[inline]
pub fn find_lf(s: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', s.get(from..)?).map(|i| from + i)
}

/// Length of the run of token characters at the start of `s`.
#[inline]
pub fn token_len(s: &[u8]) -> usize {
    skip_until(s, 0, &NON_TOKEN)
}

/// True when `s` is a non-empty RFC 3261 token.
pub fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

#[inline]
pub fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

#[inline]
pub fn trim_start(mut s: &[u8]) -> &[u8] {
    // Usual case first: every LWS byte is at most SP.
    if s.first().is_some_and(|&c| c > b' ') {
        return s;
    }
    while let [first, rest @ ..] = s {
        if !is_lws(*first) {
            break;
        }
        s = rest;
    }
    s
}

#[inline]
pub fn trim_end(mut s: &[u8]) -> &[u8] {
    if s.last().is_some_and(|&c| c > b' ') {
        return s;
    }
    while let [rest @ .., last] = s {
        if !is_lws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// ASCII case-insensitive equality.
#[inline]
pub fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `name` equals the lower-case letters `known`, in any case. OR-ing in 0x20 maps only the
/// upper- and lower-case form of a letter onto it, so the compare is exact; with the length
/// fixed at compile time it unrolls into a few word operations.
#[inline]
pub fn eq_letters<const N: usize>(name: &[u8], known: &[u8; N]) -> bool {
    debug_assert!(known.iter().all(u8::is_ascii_lowercase));
    match <&[u8; N]>::try_from(name) {
        Ok(n) => {
            n.iter()
                .zip(known)
                .fold(0, |d, (&a, &k)| d | ((a | 0x20) ^ k))
                == 0
        }
        Err(_) => false,
    }
}

/// Parses a run of decimal digits (no sign, no spaces) into a u64; `None` on empty, junk or overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    // Up to 19 digits cannot overflow: no checked arithmetic.
    if s.len() <= 19 {
        let mut n: u64 = 0;
        for &b in s {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + u64::from(d);
        }
        return Some(n);
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

pub fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

pub fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u64(s).and_then(|n| u16::try_from(n).ok())
}

/// A quoted string or `<...>` left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unbalanced;

/// Index of the first `sep` in `s` that is outside a quoted string and outside `<...>`.
/// Returns `Err(())` when a quoted string or an angle bracket is left open.
pub fn find_unquoted(s: &[u8], sep: u8) -> Result<Option<usize>, Unbalanced> {
    let mut i = 0;
    let mut angle = false;
    // Jump between the only bytes that matter; most values have no quotes or brackets.
    while let Some(j) = find_any(s, i, [sep, b'"', if angle { b'>' } else { b'<' }]) {
        match s[j] {
            b'"' if !angle => {
                i = skip_quoted(s, j)?;
                continue;
            }
            b'<' if !angle => angle = true,
            b'>' if angle => angle = false,
            b if b == sep && !angle => return Ok(Some(j)),
            _ => {}
        }
        i = j + 1;
    }
    if angle { Err(Unbalanced) } else { Ok(None) }
}

/// Given `s[start] == '"'`, returns the index just past the closing quote (backslash escapes honoured).
pub fn skip_quoted(s: &[u8], start: usize) -> Result<usize, Unbalanced> {
    let mut i = start + 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(Unbalanced)
}

/// Iterator over the comma-separated elements of a header value (commas in quotes or `<>` kept).
/// Elements are trimmed; empty elements are yielded as empty slices so callers can reject them.
/// An unbalanced quote or bracket yields one final `Err(Unbalanced)`.
pub struct CommaList<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> CommaList<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        Self { rest: Some(s) }
    }
}

impl<'a> Iterator for CommaList<'a> {
    type Item = Result<&'a [u8], Unbalanced>;
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        match find_unquoted(s, b',') {
            Ok(Some(i)) => {
                self.rest = Some(&s[i + 1..]);
                Some(Ok(trim(&s[..i])))
            }
            Ok(None) => {
                self.rest = None;
                Some(Ok(trim(s)))
            }
            Err(Unbalanced) => {
                self.rest = None;
                Some(Err(Unbalanced))
            }
        }
    }
}

/// Returns the contents of a quoted string without the quotes (escapes left as is), or the input
/// when it is not quoted.
pub fn unquote(s: &[u8]) -> &[u8] {
    if s.len() >= 2 && s[0] == b'"' && s[s.len() - 1] == b'"' {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Resolves `\x` quoted-pair escapes of a quoted-string body.
pub fn unescape_quoted(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !s.contains(&b'\\') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_list_respects_quotes_and_brackets() {
        let v: Vec<_> = CommaList::new(br#""a,b" <sip:x;y,z>;p=1 , sip:c"#)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(v, vec![&br#""a,b" <sip:x;y,z>;p=1"#[..], b"sip:c"]);
        assert!(CommaList::new(b"\"open, x").any(|r| r.is_err()));
    }

    #[test]
    fn find_lf_matches_a_plain_search() {
        let text = b"Via: SIP/2.0/UDP h\r\nX: \xff\x0b\x8a\n\n\x0a";
        for from in 0..text.len() {
            for end in from..=text.len() {
                let s = &text[..end];
                let want = s[from..].iter().position(|&c| c == b'\n').map(|i| from + i);
                assert_eq!(find_lf(s, from), want, "{from}..{end}");
            }
        }
        assert_eq!(find_lf(b"abc", 3), None);
        // Every window of a longer text, so both the vector path (16 bytes or more) and the
        // word path run, with hits before, inside and after the overlapping last step.
        let long: Vec<u8> = text
            .iter()
            .chain(b"0123456789abcdef:ghij\rk")
            .chain(text)
            .copied()
            .collect();
        for from in 0..long.len() {
            for end in from..=long.len() {
                let s = &long[..end];
                let want = s[from..]
                    .iter()
                    .position(|c| b"\r:\x8a".contains(c))
                    .map(|i| from + i);
                assert_eq!(
                    find_any(s, from, [b'\r', b':', 0x8a]),
                    want,
                    "{from}..{end}"
                );
            }
        }
        assert_eq!(find_lf(b"abc", 7), None);
    }

    #[test]
    fn token_len_stops_at_the_first_non_token_byte() {
        for s in [
            &b""[..],
            b"a",
            b"abc",
            b"Via:",
            b"Content-Length: 1",
            b"abcdefgh",
            b"abcdefg h",
        ] {
            let want = s.iter().position(|&b| !is_token(b)).unwrap_or(s.len());
            assert_eq!(token_len(s), want, "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn eq_letters_folds_only_letter_case() {
        assert!(eq_letters(b"BrAnch", b"branch"));
        assert!(eq_letters(b"tag", b"tag"));
        assert!(!eq_letters(b"tags", b"tag"));
        assert!(!eq_letters(b"ta", b"tag"));
        // 'G' ^ 0x20 is 'g', but no other byte maps onto a letter.
        for c in 0..=255u8 {
            let name = [b't', b'a', c];
            assert_eq!(eq_letters(&name, b"tag"), c == b'g' || c == b'G', "{c}");
        }
    }

    #[test]
    fn numbers_reject_overflow_and_junk() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u64(b"36893488147419103232"), None);
        assert_eq!(parse_u16(b"-1"), None);
        assert_eq!(parse_u16(b""), None);
    }

    #[test]
    fn trims_folded_whitespace() {
        assert_eq!(trim(b" \r\n\t a b \r\n "), b"a b");
        assert_eq!(unescape_quoted(br#"a\"b\\"#).as_ref(), br#"a"b\"#);
    }
}
