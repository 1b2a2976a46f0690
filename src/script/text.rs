//! [`Str`]: the string held by script values. Cloning never allocates: short strings live inline,
//! longer ones in a shared reference-counted buffer, and text read from a received message is a
//! slice of the message's own buffer (`bytes::Bytes`), so pseudo-variable reads and substring
//! transformations (`{uri.user}`, `{param.value,x}`, `{s.substr}`) copy nothing.

use bytes::Bytes;
use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Strings up to this many bytes are stored inline.
pub const INLINE: usize = 23;

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        buf: [u8; INLINE],
    },
    /// Valid UTF-8, in a buffer whose clones are reference-count bumps.
    Shared(Bytes),
}

/// An immutable UTF-8 string with cheap `Clone` (see the module docs).
#[derive(Clone)]
pub struct Str(Repr);

impl Str {
    pub const fn new() -> Str {
        Str(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    fn inline(s: &str) -> Option<Str> {
        (s.len() <= INLINE).then(|| {
            let mut buf = [0; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Str(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        })
    }

    /// A shared buffer already promoted to its reference-counted form, so no clone allocates.
    fn shared(b: Bytes) -> Str {
        drop(b.clone());
        Str(Repr::Shared(b))
    }

    pub fn as_str(&self) -> &str {
        let b: &[u8] = match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Shared(b) => b,
        };
        // SAFETY: every constructor stores bytes taken from a `&str` or checked with
        // `str::from_utf8`, and slices are only taken at the bounds of a `&str` inside them.
        unsafe { std::str::from_utf8_unchecked(b) }
    }

    /// Text of `sub`, a slice of `buf` (a received message): shares `buf` when the bytes are
    /// UTF-8 and longer than the inline size; invalid UTF-8 is replaced as `from_utf8_lossy` does.
    pub fn from_buf(buf: &Bytes, sub: &[u8]) -> Str {
        // SIP text is ASCII: checked a word at a time, cheaper than full UTF-8 validation.
        let text = if sub.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            Ok(unsafe { std::str::from_utf8_unchecked(sub) })
        } else {
            std::str::from_utf8(sub)
        };
        match text {
            Ok(s) => match Str::inline(s) {
                Some(i) => i,
                None if within(buf, sub) => Str(Repr::Shared(buf.slice_ref(sub))),
                None => Str::from(s),
            },
            Err(_) => Str::from(String::from_utf8_lossy(sub).into_owned()),
        }
    }

    /// `sub` (a part of this string, e.g. what a parser returned from `self.as_bytes()`) as a
    /// `Str` sharing this one's buffer; text that is not a part of this string is copied.
    pub fn slice_of(&self, sub: &str) -> Str {
        if let Some(i) = Str::inline(sub) {
            return i;
        }
        match &self.0 {
            Repr::Shared(b) if within(b, sub.as_bytes()) => {
                Str(Repr::Shared(b.slice_ref(sub.as_bytes())))
            }
            _ => Str::from(sub),
        }
    }

    /// Like [`Str::slice_of`] for bytes a parser returned; None if they are not UTF-8.
    pub fn slice_bytes(&self, sub: &[u8]) -> Option<Str> {
        // A part of this (valid UTF-8) string cut at character boundaries needs no validation.
        let base = self.as_ptr() as usize;
        if let Some(at) = (sub.as_ptr() as usize).checked_sub(base)
            && let Some(end) = at.checked_add(sub.len())
            && let Some(t) = self.get(at..end)
        {
            return Some(self.slice_of(t));
        }
        std::str::from_utf8(sub).ok().map(|s| self.slice_of(s))
    }

    /// Decimal text of an integer (always inline).
    pub fn from_int(i: i64) -> Str {
        let mut w = InlineWriter::default();
        let _ = fmt::Write::write_fmt(&mut w, format_args!("{i}"));
        w.finish()
    }

    /// Text of an IP address (`127.0.0.1`, `::1`), inline; IPv4 without the formatting machinery
    /// (`$si`, `$Ri` are read on most messages).
    pub fn from_ip(ip: std::net::IpAddr) -> Str {
        let std::net::IpAddr::V4(v4) = ip else {
            return Str::from_fmt(format_args!("{ip}"));
        };
        let mut buf = [0; INLINE];
        let mut n = 0;
        for (i, o) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            if o >= 100 {
                buf[n] = b'0' + o / 100;
                n += 1;
            }
            if o >= 10 {
                buf[n] = b'0' + o / 10 % 10;
                n += 1;
            }
            buf[n] = b'0' + o % 10;
            n += 1;
        }
        Str(Repr::Inline { len: n as u8, buf })
    }

    /// `a` followed by `b`, inline when short.
    pub fn concat(a: &str, b: &str) -> Str {
        let n = a.len() + b.len();
        if n <= INLINE {
            let mut buf = [0; INLINE];
            buf[..a.len()].copy_from_slice(a.as_bytes());
            buf[a.len()..n].copy_from_slice(b.as_bytes());
            return Str(Repr::Inline { len: n as u8, buf });
        }
        let mut s = String::with_capacity(n);
        s.push_str(a);
        s.push_str(b);
        Str::from(s)
    }

    /// Text formatted with `format_args!`, inline when it fits.
    pub fn from_fmt(args: fmt::Arguments<'_>) -> Str {
        let mut w = InlineWriter::default();
        if fmt::Write::write_fmt(&mut w, args).is_ok() {
            return w.finish();
        }
        Str::from(fmt::format(args))
    }

    pub fn into_string(self) -> String {
        self.as_str().to_string()
    }

    /// Same as [`Str::into_string`] (the name `Cow` callers used).
    pub fn into_owned(self) -> String {
        self.into_string()
    }

    /// Whether the text is stored inline (for tests of the representation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

fn within(buf: &Bytes, sub: &[u8]) -> bool {
    let (b, s) = (buf.as_ptr() as usize, sub.as_ptr() as usize);
    s >= b && s + sub.len() <= b + buf.len()
}

/// Builds a [`Str`] piece by piece (`fmt::Write`): inline while it fits, then in a `String`.
#[derive(Default)]
pub struct StrBuilder {
    inline: InlineWriter,
    heap: Option<String>,
}

impl StrBuilder {
    pub fn new() -> StrBuilder {
        StrBuilder::default()
    }

    pub fn push_str(&mut self, s: &str) {
        if let Some(h) = &mut self.heap {
            h.push_str(s);
        } else if fmt::Write::write_str(&mut self.inline, s).is_err() {
            let mut h = String::with_capacity((self.inline.len + s.len()) * 2);
            h.push_str(self.inline.as_str());
            h.push_str(s);
            self.heap = Some(h);
        }
    }

    pub fn finish(self) -> Str {
        match self.heap {
            Some(h) => Str::from(h),
            None => self.inline.finish(),
        }
    }
}

impl fmt::Write for StrBuilder {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// Formats into an inline buffer; fails (so the caller allocates) when the text is too long.
#[derive(Default)]
struct InlineWriter {
    len: usize,
    buf: [u8; INLINE],
}

impl InlineWriter {
    fn as_str(&self) -> &str {
        // Only whole `&str` pieces are written (see `write_str`).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn finish(self) -> Str {
        Str(Repr::Inline {
            len: self.len as u8,
            buf: self.buf,
        })
    }
}

impl fmt::Write for InlineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > INLINE {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::new()
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Str::inline(s).unwrap_or_else(|| Str::shared(Bytes::copy_from_slice(s.as_bytes())))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::from(s.as_str())
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str::inline(&s).unwrap_or_else(|| Str::shared(Bytes::from(s)))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str::from(String::from(s))
    }
}

impl From<Cow<'_, str>> for Str {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(b) => Str::from(b),
            Cow::Owned(o) => Str::from(o),
        }
    }
}

impl From<char> for Str {
    fn from(c: char) -> Self {
        Str::from(c.encode_utf8(&mut [0; 4]) as &str)
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        s.into_string()
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Str {
    fn eq(&self, o: &Str) -> bool {
        self.as_str() == o.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, o: &&str) -> bool {
        self.as_str() == *o
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, o: &String) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<Str> for str {
    fn eq(&self, o: &Str) -> bool {
        self == o.as_str()
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, o: &Str) -> bool {
        *self == o.as_str()
    }
}

impl PartialEq<Str> for String {
    fn eq(&self, o: &Str) -> bool {
        self == o.as_str()
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, o: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Str {
    fn cmp(&self, o: &Str) -> std::cmp::Ordering {
        self.as_str().cmp(o.as_str())
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_inline_and_long_text_shared() {
        let s = Str::from("sip:alice@example.com");
        assert!(s.is_inline());
        assert_eq!(s, "sip:alice@example.com");
        let l = Str::from("sip:alice@a-much-longer-domain.example.com".to_string());
        assert!(!l.is_inline());
        assert_eq!(l.clone(), l);
        assert_eq!(Str::from(String::new()), "");
        assert_eq!(Str::default().len(), 0);
    }

    #[test]
    fn slices_share_the_buffer() {
        let buf = Bytes::from_static(b"INVITE sip:a-long-user-name-here@example.com SIP/2.0");
        let uri = Str::from_buf(&buf, &buf[7..44]);
        assert_eq!(uri, "sip:a-long-user-name-here@example.com");
        assert!(!uri.is_inline());
        let user = uri.slice_of(&uri[4..25]);
        assert_eq!(user, "a-long-user-name-here");
        // Text that is not part of the string is copied.
        assert_eq!(uri.slice_of("elsewhere"), "elsewhere");
        assert_eq!(
            Str::from_buf(&buf, b"x\xffy"),
            String::from_utf8_lossy(b"x\xffy").as_ref()
        );
    }

    #[test]
    fn numbers_and_concatenation() {
        assert_eq!(Str::from_int(-2147483648), "-2147483648");
        assert!(Str::from_int(i64::MIN).is_inline());
        assert_eq!(Str::concat("ab", "cd"), "abcd");
        let long = Str::concat("0123456789abcdef", "0123456789");
        assert_eq!(long.len(), 26);
        assert_eq!(
            Str::from_fmt(format_args!("{}:{}", "udp", 5060)),
            "udp:5060"
        );
        let f = Str::from_fmt(format_args!("{}", "x".repeat(40)));
        assert_eq!(f.len(), 40);
    }

    #[test]
    fn ip_text() {
        for ip in [
            "0.0.0.0",
            "127.0.0.9",
            "10.20.100.255",
            "192.168.1.1",
            "::1",
            "fe80::1:2",
        ] {
            let a: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(Str::from_ip(a), ip);
        }
    }

    #[test]
    fn size() {
        assert!(
            std::mem::size_of::<Str>() <= 32,
            "{}",
            std::mem::size_of::<Str>()
        );
    }
}
