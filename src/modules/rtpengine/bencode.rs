//! Bencode (BitTorrent BEP 3 encoding) as rtpengine's ng protocol uses it: integers, byte
//! strings, lists and dictionaries. Dictionaries are written with sorted keys (canonical form) and
//! read in any key order, since rtpengine does not sort the keys of its replies.

use std::collections::BTreeMap;
use std::fmt;

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

/// An empty dictionary (what an ng request starts as).
impl Default for Bencode {
    fn default() -> Self {
        Bencode::dict()
    }
}

/// Why a bencoded text could not be read, with the byte offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad bencode at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Deeper nesting than this is refused (rtpengine replies are a few levels deep).
const MAX_DEPTH: usize = 64;

impl Bencode {
    pub fn str(s: impl AsRef<[u8]>) -> Bencode {
        Bencode::Bytes(s.as_ref().to_vec())
    }

    pub fn list_of<I, S>(items: I) -> Bencode
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Bencode::List(items.into_iter().map(Bencode::str).collect())
    }

    pub fn dict() -> Bencode {
        Bencode::Dict(BTreeMap::new())
    }

    /// Sets `key` in a dictionary (no effect on other kinds).
    pub fn insert(&mut self, key: &str, value: Bencode) {
        if let Bencode::Dict(d) = self {
            d.insert(key.as_bytes().to_vec(), value);
        }
    }

    /// The value of `key` in a dictionary.
    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The text of a byte string (lossy UTF-8).
    pub fn as_str(&self) -> Option<String> {
        match self {
            Bencode::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Bencode::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Bencode::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// `key` of a dictionary as text.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(Bencode::as_str)
    }

    /// The value as JSON (byte strings as lossy UTF-8 text), as OpenSIPS prints `$rtpquery`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Bencode::Int(i) => serde_json::Value::from(*i),
            Bencode::Bytes(b) => serde_json::Value::from(String::from_utf8_lossy(b).into_owned()),
            Bencode::List(l) => serde_json::Value::Array(l.iter().map(Bencode::to_json).collect()),
            Bencode::Dict(d) => serde_json::Value::Object(
                d.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Bencode::Bytes(b) => put_bytes(out, b),
            Bencode::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    put_bytes(out, k);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Reads exactly one value filling `input`.
    pub fn decode(input: &[u8]) -> Result<Bencode, DecodeError> {
        let mut r = Reader { b: input, at: 0 };
        let v = r.value(0)?;
        if r.at != input.len() {
            return Err(r.err("data after the value"));
        }
        Ok(v)
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.at,
            reason,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.b
            .get(self.at)
            .copied()
            .ok_or_else(|| self.err("unexpected end"))
    }

    fn value(&mut self, depth: usize) -> Result<Bencode, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek()? {
            b'i' => {
                self.at += 1;
                let n = self.number(b'e')?;
                Ok(Bencode::Int(n))
            }
            b'l' => {
                self.at += 1;
                let mut l = Vec::new();
                while self.peek()? != b'e' {
                    l.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Ok(Bencode::List(l))
            }
            b'd' => {
                self.at += 1;
                let mut d = BTreeMap::new();
                while self.peek()? != b'e' {
                    if !self.peek()?.is_ascii_digit() {
                        return Err(self.err("dictionary key is not a string"));
                    }
                    let k = self.bytes()?;
                    let v = self.value(depth + 1)?;
                    d.insert(k, v);
                }
                self.at += 1;
                Ok(Bencode::Dict(d))
            }
            b'0'..=b'9' => Ok(Bencode::Bytes(self.bytes()?)),
            _ => Err(self.err("unknown value type")),
        }
    }

    /// Digits (with an optional `-`) up to `end`, which is consumed.
    fn number(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.at;
        while self.peek()? != end {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.at]).unwrap_or("");
        let valid = !text.is_empty()
            && text != "-"
            && text
                .trim_start_matches('-')
                .bytes()
                .all(|c| c.is_ascii_digit());
        let n = text.parse::<i64>().ok().filter(|_| valid);
        match n {
            Some(n) => {
                self.at += 1;
                Ok(n)
            }
            None => {
                self.at = start;
                Err(self.err("bad number"))
            }
        }
    }

    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.number(b':')?;
        let len = usize::try_from(len).map_err(|_| self.err("negative length"))?;
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("string longer than the data"))?;
        let v = self.b[self.at..end].to_vec();
        self.at = end;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_dictionaries_with_sorted_keys() {
        let mut d = Bencode::dict();
        d.insert("command", Bencode::str("offer"));
        d.insert("call-id", Bencode::str("abc"));
        d.insert("flags", Bencode::list_of(["trust-address"]));
        d.insert("delete-delay", Bencode::Int(-3));
        assert_eq!(
            d.encode(),
            b"d7:call-id3:abc7:command5:offer12:delete-delayi-3e5:flagsl13:trust-addressee"
        );
    }

    #[test]
    fn decodes_unsorted_replies() {
        let v = Bencode::decode(b"d6:result2:ok3:sdp5:v=0\r\n8:warnings0:e").unwrap();
        assert_eq!(v.get_str("result").as_deref(), Some("ok"));
        assert_eq!(
            v.get("sdp").and_then(Bencode::as_bytes),
            Some(&b"v=0\r\n"[..])
        );
        let v = Bencode::decode(b"d1:bi2e1:ali-1ei0eee").unwrap();
        assert_eq!(v.get("b").and_then(Bencode::as_int), Some(2));
        assert_eq!(
            v.get("a"),
            Some(&Bencode::List(vec![Bencode::Int(-1), Bencode::Int(0)]))
        );
    }

    #[test]
    fn json_of_a_reply() {
        let v = Bencode::decode(b"d6:result2:ok7:createdi5e4:tagsd1:ald3:ssci1eeeee").unwrap();
        assert_eq!(
            v.to_json().to_string(),
            r#"{"created":5,"result":"ok","tags":{"a":[{"ssc":1}]}}"#
        );
    }

    #[test]
    fn round_trips() {
        let mut d = Bencode::dict();
        d.insert("x", Bencode::List(vec![Bencode::dict(), Bencode::str("")]));
        d.insert("y", Bencode::Int(i64::MAX));
        assert_eq!(Bencode::decode(&d.encode()).unwrap(), d);
    }

    #[test]
    fn refuses_bad_input_without_panicking() {
        for bad in [
            &b""[..],
            b"i",
            b"ie",
            b"i-e",
            b"i1x2e",
            b"5:abc",
            b"l",
            b"d1:a",
            b"di1ei2ee",
            b"x",
            b"3:abcextra",
            b"99999999999999999999:a",
            b"-1:a",
        ] {
            assert!(
                Bencode::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "l".repeat(200) + &"e".repeat(200);
        assert!(Bencode::decode(deep.as_bytes()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678u32;
        for _ in 0..5000 {
            let n = (seed % 24) as usize;
            let mut buf = Vec::with_capacity(n);
            for _ in 0..n {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                buf.push(b"dli0123456789e:-x"[(seed >> 16) as usize % 17]);
            }
            let _ = Bencode::decode(&buf);
            seed = seed.wrapping_add(1);
        }
    }
}
