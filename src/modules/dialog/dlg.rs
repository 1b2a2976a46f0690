//! The dialog table: one entry per call made with `create_dialog`, its state (RFC 3261 §12 as
//! OpenSIPS numbers them), its two legs, timeout, profiles and `$dlg_val` values.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};

use crate::modules::acc::mark::AccMark;
use crate::timer::TimerId;

/// OpenSIPS's dialog states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unconfirmed = 1,
    Early = 2,
    ConfirmedNoAck = 3,
    Confirmed = 4,
    Deleted = 5,
}

/// Why a dialog ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Bye,
    Timeout,
    Mi,
    Failed,
}

/// What acc left on the dialog for the call's record (`do_accounting(.., "cdr")`).
#[derive(Debug, Clone)]
pub struct CdrAcc {
    pub mark: AccMark,
    pub record: crate::modules::acc::report::Record,
}

pub struct Dialog {
    pub id: u64,
    pub state: State,
    pub callid: String,
    pub from_uri: String,
    pub from_tag: String,
    pub to_uri: String,
    pub to_tag: String,
    pub caller_contact: String,
    pub callee_contact: String,
    /// Route sets towards each side (`Route` values, nearest hop first).
    pub caller_route_set: Vec<String>,
    pub callee_route_set: Vec<String>,
    /// Highest CSeq seen from each side.
    pub caller_cseq: u32,
    pub callee_cseq: u32,
    /// The initial INVITE arrived.
    pub created: SystemTime,
    /// The call was answered (2xx).
    pub start: Option<SystemTime>,
    pub timeout: Duration,
    pub timer: Option<TimerId>,
    pub flags: String,
    pub vals: Vec<(String, String)>,
    pub profiles: Vec<(String, Option<String>)>,
    pub cdr: Option<CdrAcc>,
    /// Changed since last written (`db_mode` 2).
    pub dirty: bool,
}

impl Dialog {
    pub fn h_entry(&self) -> u64 {
        self.id >> 32
    }
    pub fn h_id(&self) -> u64 {
        self.id & 0xffff_ffff
    }
    pub fn val(&self, name: &str) -> Option<&str> {
        self.vals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn set_val(&mut self, name: &str, v: String) {
        match self.vals.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = v,
            None => self.vals.push((name.to_string(), v)),
        }
    }
    pub fn in_profile(&self, name: &str, value: Option<&str>) -> bool {
        self.profiles
            .iter()
            .any(|(p, v)| p == name && (value.is_none() || v.as_deref() == value))
    }
}

pub type DlgRef = Arc<Mutex<Dialog>>;

/// How sequential requests find their dialog (`dlg_match_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// Only by the `did` cookie of our Route entry.
    DidOnly,
    /// By the cookie, else by Call-ID and tags.
    DidFallback,
    /// By Call-ID and tags only.
    DidNone,
}

impl MatchMode {
    pub fn from_param(v: i64) -> Result<MatchMode, String> {
        match v {
            0 => Ok(MatchMode::DidOnly),
            1 => Ok(MatchMode::DidFallback),
            2 => Ok(MatchMode::DidNone),
            m => Err(format!(
                "modparam dlg_match_mode: {m}: 0 (DID_ONLY), 1 (DID_FALLBACK) or 2 (DID_NONE)"
            )),
        }
    }
}

/// OpenSIPS's `int2reverse_hex`: hex digits, least significant first.
fn reverse_hex(mut n: u32) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from_digit(n & 0xf, 16).unwrap_or('0'));
        n >>= 4;
        if n == 0 {
            return s;
        }
    }
}

fn parse_reverse_hex(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.chars()
        .rev()
        .try_fold(0u32, |acc, c| Some((acc << 4) | c.to_digit(16)?))
}

/// The `did` cookie of dialog `id`: h_entry and h_id in reverse hex, joined by a dot.
pub fn did(id: u64) -> String {
    format!(
        "{}.{}",
        reverse_hex((id >> 32) as u32),
        reverse_hex((id & 0xffff_ffff) as u32)
    )
}

/// The dialog id in a `did` cookie.
pub fn parse_did(s: &str) -> Option<u64> {
    let (e, i) = s.split_once('.')?;
    Some((u64::from(parse_reverse_hex(e)?) << 32) | u64::from(parse_reverse_hex(i)?))
}

/// The dialogs by id.
pub struct Table {
    pub by_id: RwLock<HashMap<u64, DlgRef>>,
    /// Ids by Call-ID, for in-dialog requests.
    by_callid: RwLock<HashMap<String, Vec<u64>>>,
    pub hash_size: u32,
    next: AtomicU32,
}

impl Table {
    pub fn new(hash_size: u32) -> Table {
        Table {
            by_id: RwLock::new(HashMap::new()),
            by_callid: RwLock::new(HashMap::new()),
            hash_size: hash_size.max(1),
            next: AtomicU32::new(1),
        }
    }

    /// An id `h_entry << 32 | h_id` (h_entry from the Call-ID, as OpenSIPS's hash table).
    pub fn new_id(&self, callid: &str) -> u64 {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        callid.hash(&mut h);
        let entry = (h.finish() % self.hash_size as u64) & 0xffff_ffff;
        let n = self.next.fetch_add(1, Ordering::Relaxed) as u64;
        (entry << 32) | n
    }

    /// Keeps new ids above a loaded one.
    pub fn bump_past(&self, id: u64) {
        let n = (id & 0xffff_ffff) as u32;
        self.next.fetch_max(n.saturating_add(1), Ordering::Relaxed);
    }

    pub fn insert(&self, d: Dialog) -> DlgRef {
        let id = d.id;
        self.by_callid
            .write()
            .entry(d.callid.clone())
            .or_default()
            .push(id);
        let r = Arc::new(Mutex::new(d));
        self.by_id.write().insert(id, r.clone());
        r
    }

    pub fn get(&self, id: u64) -> Option<DlgRef> {
        self.by_id.read().get(&id).cloned()
    }

    pub fn remove(&self, id: u64) -> Option<DlgRef> {
        let d = self.by_id.write().remove(&id)?;
        let callid = d.lock().callid.clone();
        let mut idx = self.by_callid.write();
        if let Some(ids) = idx.get_mut(&callid) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                idx.remove(&callid);
            }
        }
        Some(d)
    }

    /// The dialog of an in-dialog request or of a Call-ID (tags in either direction), and
    /// whether the request goes from the callee to the caller (upstream).
    pub fn find(
        &self,
        callid: &str,
        from_tag: &str,
        to_tag: Option<&str>,
    ) -> Option<(DlgRef, bool)> {
        let ids = self
            .by_callid
            .read()
            .get(callid)
            .cloned()
            .unwrap_or_default();
        for d in ids.into_iter().filter_map(|id| self.get(id)) {
            let g = d.lock();
            if g.callid != callid || g.state == State::Deleted {
                continue;
            }
            let down = g.from_tag == from_tag
                && to_tag.is_none_or(|t| g.to_tag.is_empty() || g.to_tag == t);
            let up = to_tag == Some(g.from_tag.as_str()) && g.to_tag == from_tag;
            if down || up {
                drop(g);
                return Some((d, up && !down));
            }
        }
        None
    }

    /// The dialog of cookie `id` if the request belongs to it (Call-ID and tags, either way).
    pub fn find_by_id(
        &self,
        id: u64,
        callid: &str,
        from_tag: &str,
        to_tag: Option<&str>,
    ) -> Option<(DlgRef, bool)> {
        let d = self.get(id)?;
        let g = d.lock();
        if g.callid != callid || g.state == State::Deleted {
            return None;
        }
        let down =
            g.from_tag == from_tag && to_tag.is_none_or(|t| g.to_tag.is_empty() || g.to_tag == t);
        let up = to_tag == Some(g.from_tag.as_str()) && g.to_tag == from_tag;
        drop(g);
        (down || up).then_some((d, up && !down))
    }

    pub fn all(&self) -> Vec<DlgRef> {
        let mut v: Vec<DlgRef> = self.by_id.read().values().cloned().collect();
        v.sort_by_key(|d| d.lock().id);
        v
    }

    /// Dialogs (not deleted) in `profile` (with `value` when given).
    pub fn profile_size(&self, profile: &str, value: Option<&str>) -> usize {
        self.by_id
            .read()
            .values()
            .filter(|d| {
                let g = d.lock();
                g.state != State::Deleted && g.in_profile(profile, value)
            })
            .count()
    }
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dlg(t: &Table, callid: &str, ft: &str, tt: &str) -> DlgRef {
        t.insert(Dialog {
            id: t.new_id(callid),
            state: State::Confirmed,
            callid: callid.into(),
            from_uri: String::new(),
            from_tag: ft.into(),
            to_uri: String::new(),
            to_tag: tt.into(),
            caller_contact: String::new(),
            callee_contact: String::new(),
            caller_route_set: Vec::new(),
            callee_route_set: Vec::new(),
            caller_cseq: 1,
            callee_cseq: 0,
            created: SystemTime::now(),
            start: None,
            timeout: Duration::from_secs(10),
            timer: None,
            flags: String::new(),
            vals: Vec::new(),
            profiles: vec![("calls".into(), None), ("user".into(), Some("bob".into()))],
            cdr: None,
            dirty: false,
        })
    }

    #[test]
    fn find_in_both_directions() {
        let t = Table::new(16);
        dlg(&t, "c1", "a", "b");
        assert!(!t.find("c1", "a", Some("b")).unwrap().1);
        assert!(t.find("c1", "b", Some("a")).unwrap().1, "upstream");
        assert!(t.find("c1", "x", Some("b")).is_none());
        assert!(t.find("c2", "a", Some("b")).is_none());
    }

    #[test]
    fn did_cookie_is_reverse_hex_and_round_trips() {
        // OpenSIPS's int2reverse_hex: 0x28e94f74 → "47f49e82", 0xdb → "bd".
        assert_eq!(did((0xdb << 32) | 0x28e9_4f74), "bd.47f49e82");
        assert_eq!(did(0), "0.0");
        for id in [0u64, 1, (7 << 32) | 12, (0xffff_ffff << 32) | 0xffff_ffff] {
            assert_eq!(parse_did(&did(id)), Some(id));
        }
        for bad in ["", ".", "1", "1.", ".1", "g.1", "1.123456789", "1.2.3"] {
            assert_eq!(parse_did(bad), None, "{bad}");
        }
    }

    #[test]
    fn find_by_id_checks_the_call_and_the_tags() {
        let t = Table::new(16);
        let d = dlg(&t, "c1", "a", "b");
        let id = d.lock().id;
        assert!(!t.find_by_id(id, "c1", "a", Some("b")).unwrap().1);
        assert!(
            t.find_by_id(id, "c1", "b", Some("a")).unwrap().1,
            "upstream"
        );
        // a cookie replayed in another call, or with other tags, matches nothing
        assert!(t.find_by_id(id, "c2", "a", Some("b")).is_none());
        assert!(t.find_by_id(id, "c1", "x", Some("y")).is_none());
        assert!(t.find_by_id(id + 1, "c1", "a", Some("b")).is_none());
        d.lock().state = State::Deleted;
        assert!(t.find_by_id(id, "c1", "a", Some("b")).is_none());
    }

    #[test]
    fn match_modes() {
        assert_eq!(MatchMode::from_param(0), Ok(MatchMode::DidOnly));
        assert_eq!(MatchMode::from_param(1), Ok(MatchMode::DidFallback));
        assert_eq!(MatchMode::from_param(2), Ok(MatchMode::DidNone));
        assert!(
            MatchMode::from_param(3)
                .unwrap_err()
                .contains("dlg_match_mode")
        );
    }

    #[test]
    fn profiles_count_live_dialogs() {
        let t = Table::new(16);
        let d = dlg(&t, "c1", "a", "b");
        dlg(&t, "c2", "a", "b");
        assert_eq!(t.profile_size("calls", None), 2);
        assert_eq!(t.profile_size("user", Some("bob")), 2);
        assert_eq!(t.profile_size("user", Some("al")), 0);
        d.lock().state = State::Deleted;
        assert_eq!(t.profile_size("calls", None), 1);
        let id = d.lock().id;
        assert!(t.remove(id).is_some());
        assert!(t.find("c1", "a", Some("b")).is_none());
        assert!(t.find("c2", "a", Some("b")).is_some());
        assert_eq!(id & 0xffff_ffff, 1);
        assert!((id >> 32) < 16);
    }
}
