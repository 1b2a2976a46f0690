//! One registered contact (OpenSIPS `ucontact_t`). Its text fields live in one buffer with end
//! offsets, so a contact costs one heap allocation besides its record.

use super::UlError;

/// Where a contact stands against the database (OpenSIPS `cstate_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CState {
    /// Not written yet (write-back: inserted at the next flush).
    New,
    /// Same as the database row.
    Sync,
    /// Changed since the last flush.
    Dirty,
}

impl CState {
    pub fn name(self) -> &'static str {
        match self {
            CState::New => "CS_NEW",
            CState::Sync => "CS_SYNC",
            CState::Dirty => "CS_DIRTY",
        }
    }
}

/// q value "not given" (OpenSIPS `Q_UNSPECIFIED`): sorts after every given q.
pub const Q_UNSPECIFIED: i16 = -1;

/// Every method (the `methods` column when the UA said nothing).
pub const ALL_METHODS: u32 = u32::MAX;

/// The values of a contact to insert or update (borrowed; the contact copies them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactInfo<'a> {
    pub contact: &'a str,
    pub received: Option<&'a str>,
    pub path: Option<&'a str>,
    pub callid: &'a str,
    pub user_agent: &'a str,
    /// Socket the contact registered through, `proto:ip:port`.
    pub socket: Option<&'a str>,
    pub instance: Option<&'a str>,
    pub attr: Option<&'a str>,
    pub kv_store: Option<&'a str>,
    /// Unix time it expires; 0 = permanent.
    pub expires: i64,
    /// Thousandths; [`Q_UNSPECIFIED`] when not given.
    pub q: i16,
    pub cseq: u32,
    pub flags: u32,
    /// Branch flags restored on lookup.
    pub cflags: u32,
    pub methods: u32,
    /// RFC 5626 reg-id (0 = none); kept in memory only, as OpenSIPS does.
    pub reg_id: u32,
    /// Unix time of the change.
    pub last_modified: i64,
}

const NF: usize = 9;
const CONTACT: usize = 0;
const RECEIVED: usize = 1;
const PATH: usize = 2;
const CALLID: usize = 3;
const USER_AGENT: usize = 4;
const SOCKET: usize = 5;
const INSTANCE: usize = 6;
const ATTR: usize = 7;
const KV_STORE: usize = 8;

/// A stored contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Ucontact {
    text: Box<str>,
    ends: [u16; NF],
    pub contact_id: u64,
    pub expires: i64,
    pub last_modified: i64,
    pub cseq: u32,
    pub flags: u32,
    pub cflags: u32,
    pub methods: u32,
    pub reg_id: u32,
    /// Changes since creation: the write-back flush marks a contact synced only if it did not
    /// change meanwhile.
    pub(crate) version: u32,
    pub q: i16,
    pub state: CState,
}

impl Ucontact {
    pub fn new(contact_id: u64, ci: &ContactInfo<'_>, state: CState) -> Result<Ucontact, UlError> {
        let (text, ends) = pack(ci)?;
        Ok(Ucontact {
            text,
            ends,
            contact_id,
            expires: ci.expires,
            last_modified: ci.last_modified,
            cseq: ci.cseq,
            flags: ci.flags,
            cflags: ci.cflags,
            methods: ci.methods,
            reg_id: ci.reg_id,
            version: 0,
            q: ci.q,
            state,
        })
    }

    /// Replaces every value (the contact id stays).
    pub fn update(&mut self, ci: &ContactInfo<'_>) -> Result<(), UlError> {
        let (text, ends) = pack(ci)?;
        self.text = text;
        self.ends = ends;
        self.expires = ci.expires;
        self.last_modified = ci.last_modified;
        self.cseq = ci.cseq;
        self.flags = ci.flags;
        self.cflags = ci.cflags;
        self.methods = ci.methods;
        self.reg_id = ci.reg_id;
        self.q = ci.q;
        self.version = self.version.wrapping_add(1);
        if self.state == CState::Sync {
            self.state = CState::Dirty;
        }
        Ok(())
    }

    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn opt(&self, i: usize) -> Option<&str> {
        Some(self.field(i)).filter(|s| !s.is_empty())
    }

    pub fn contact(&self) -> &str {
        self.field(CONTACT)
    }
    pub fn received(&self) -> Option<&str> {
        self.opt(RECEIVED)
    }
    pub fn path(&self) -> Option<&str> {
        self.opt(PATH)
    }
    pub fn callid(&self) -> &str {
        self.field(CALLID)
    }
    pub fn user_agent(&self) -> &str {
        self.field(USER_AGENT)
    }
    pub fn socket(&self) -> Option<&str> {
        self.opt(SOCKET)
    }
    pub fn instance(&self) -> Option<&str> {
        self.opt(INSTANCE)
    }
    pub fn attr(&self) -> Option<&str> {
        self.opt(ATTR)
    }
    pub fn kv_store(&self) -> Option<&str> {
        self.opt(KV_STORE)
    }

    /// Still registered at `now` (permanent contacts always are).
    pub fn is_valid(&self, now: i64) -> bool {
        self.expires == 0 || self.expires > now
    }

    /// Seconds left (0 for a permanent or expired contact).
    pub fn expires_in(&self, now: i64) -> i64 {
        if self.expires == 0 {
            0
        } else {
            (self.expires - now).max(0)
        }
    }

    /// The values, borrowed (for database rows and events).
    pub fn info(&self) -> ContactInfo<'_> {
        ContactInfo {
            contact: self.contact(),
            received: self.received(),
            path: self.path(),
            callid: self.callid(),
            user_agent: self.user_agent(),
            socket: self.socket(),
            instance: self.instance(),
            attr: self.attr(),
            kv_store: self.kv_store(),
            expires: self.expires,
            q: self.q,
            cseq: self.cseq,
            flags: self.flags,
            cflags: self.cflags,
            methods: self.methods,
            reg_id: self.reg_id,
            last_modified: self.last_modified,
        }
    }

    /// Heap bytes this contact owns (for memory accounting in tests and benches).
    pub fn heap_size(&self) -> usize {
        self.text.len()
    }
}

fn pack(ci: &ContactInfo<'_>) -> Result<(Box<str>, [u16; NF]), UlError> {
    let fields = [
        ci.contact,
        ci.received.unwrap_or(""),
        ci.path.unwrap_or(""),
        ci.callid,
        ci.user_agent,
        ci.socket.unwrap_or(""),
        ci.instance.unwrap_or(""),
        ci.attr.unwrap_or(""),
        ci.kv_store.unwrap_or(""),
    ];
    let total: usize = fields.iter().map(|f| f.len()).sum();
    if total > u16::MAX as usize {
        return Err(UlError::TooLong);
    }
    if ci.contact.is_empty() {
        return Err(UlError::Invalid("empty contact".into()));
    }
    let mut text = String::with_capacity(total);
    let mut ends = [0u16; NF];
    for (i, f) in fields.iter().enumerate() {
        text.push_str(f);
        ends[i] = text.len() as u16;
    }
    Ok((text.into_boxed_str(), ends))
}

/// `q` in thousandths as OpenSIPS prints it (`q2str`): "1", "0.5", "0.25"; empty when unspecified.
pub fn q_text(q: i16) -> String {
    if q < 0 {
        return String::new();
    }
    if q >= 1000 {
        return "1".into();
    }
    if q == 0 {
        return "0".into();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').to_string()
}

/// Parses "0.5", "1", "1.00" into thousandths.
pub fn parse_q(text: &str) -> Option<i16> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    if !(0.0..=1.0).contains(&f) {
        return None;
    }
    Some((f * 1000.0).round() as i16)
}

/// OpenSIPS method bits (`parser/msg_parser.h`), for the `methods` column and method filtering.
pub fn method_bit(method: &str) -> u32 {
    match method.to_ascii_uppercase().as_str() {
        "INVITE" => 1,
        "CANCEL" => 1 << 1,
        "ACK" => 1 << 2,
        "BYE" => 1 << 3,
        "INFO" => 1 << 4,
        "OPTIONS" => 1 << 5,
        "UPDATE" => 1 << 6,
        "REGISTER" => 1 << 7,
        "MESSAGE" => 1 << 8,
        "SUBSCRIBE" => 1 << 9,
        "NOTIFY" => 1 << 10,
        "PRACK" => 1 << 11,
        "REFER" => 1 << 12,
        "PUBLISH" => 1 << 13,
        _ => 1 << 14,
    }
}

/// The bits of a comma-separated method list (an Allow header or a `methods` parameter).
pub fn methods_mask(list: &str) -> u32 {
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .fold(0, |acc, m| acc | method_bit(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info<'a>() -> ContactInfo<'a> {
        ContactInfo {
            contact: "sip:alice@127.0.0.2:5060",
            received: Some("sip:127.0.0.9:4000"),
            callid: "cid-1",
            user_agent: "sipp",
            socket: Some("udp:127.0.0.1:5060"),
            expires: 100,
            q: 500,
            cseq: 3,
            methods: ALL_METHODS,
            ..ContactInfo::default()
        }
    }

    #[test]
    fn fields_round_trip_through_one_buffer() {
        let c = Ucontact::new(7, &info(), CState::New).unwrap();
        assert_eq!(c.contact(), "sip:alice@127.0.0.2:5060");
        assert_eq!(c.received(), Some("sip:127.0.0.9:4000"));
        assert_eq!(c.path(), None);
        assert_eq!(c.callid(), "cid-1");
        assert_eq!(c.socket(), Some("udp:127.0.0.1:5060"));
        assert_eq!(c.instance(), None);
        assert_eq!(c.info(), info());
        assert!(c.is_valid(99));
        assert!(!c.is_valid(100));
        assert_eq!(c.expires_in(40), 60);
    }

    #[test]
    fn update_marks_a_synced_contact_dirty() {
        let mut c = Ucontact::new(7, &info(), CState::Sync).unwrap();
        let mut i = info();
        i.cseq = 4;
        i.path = Some("<sip:edge;lr>");
        c.update(&i).unwrap();
        assert_eq!(c.state, CState::Dirty);
        assert_eq!(c.cseq, 4);
        assert_eq!(c.path(), Some("<sip:edge;lr>"));
        assert_eq!(c.version, 1);
    }

    #[test]
    fn refuses_empty_and_huge_values() {
        let mut i = info();
        i.contact = "";
        assert!(Ucontact::new(1, &i, CState::New).is_err());
        let big = "x".repeat(70_000);
        let mut i = info();
        i.attr = Some(&big);
        assert!(matches!(
            Ucontact::new(1, &i, CState::New),
            Err(UlError::TooLong)
        ));
    }

    #[test]
    fn q_values_print_as_opensips() {
        assert_eq!(q_text(1000), "1");
        assert_eq!(q_text(500), "0.5");
        assert_eq!(q_text(250), "0.25");
        assert_eq!(q_text(0), "0");
        assert_eq!(q_text(Q_UNSPECIFIED), "");
        assert_eq!(parse_q("0.7"), Some(700));
        assert_eq!(parse_q("1.00"), Some(1000));
        assert_eq!(parse_q("2"), None);
        assert_eq!(parse_q("x"), None);
    }

    #[test]
    fn method_masks() {
        assert_eq!(methods_mask("INVITE, ACK,BYE"), 1 | 4 | 8);
        assert_eq!(method_bit("message"), 256);
    }
}
