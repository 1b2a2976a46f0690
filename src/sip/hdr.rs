//! Well-known header names: ids, canonical names, compact forms, case-insensitive lookup.

/// Ids of the headers osips knows by name. `Other` is any other header (looked up by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HdrId {
    Via = 0,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    Route,
    RecordRoute,
    ContentLength,
    ContentType,
    ContentEncoding,
    ContentDisposition,
    Expires,
    MinExpires,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Supported,
    Require,
    ProxyRequire,
    Unsupported,
    Path,
    UserAgent,
    Server,
    Event,
    AllowEvents,
    Allow,
    Accept,
    Subject,
    ReferTo,
    ReferredBy,
    SessionExpires,
    MinSe,
    Timestamp,
    Date,
    Privacy,
    PAssertedIdentity,
    PPreferredIdentity,
    SubscriptionState,
    RetryAfter,
    Warning,
    AcceptContact,
    RejectContact,
    RequestDisposition,
    Identity,
    IdentityInfo,
    Other,
}

/// Every id but `Other`, in id order.
pub(crate) const ALL: [HdrId; HdrId::COUNT - 1] = {
    use HdrId::*;
    [
        Via,
        From,
        To,
        CallId,
        CSeq,
        Contact,
        MaxForwards,
        Route,
        RecordRoute,
        ContentLength,
        ContentType,
        ContentEncoding,
        ContentDisposition,
        Expires,
        MinExpires,
        Authorization,
        ProxyAuthorization,
        WwwAuthenticate,
        ProxyAuthenticate,
        Supported,
        Require,
        ProxyRequire,
        Unsupported,
        Path,
        UserAgent,
        Server,
        Event,
        AllowEvents,
        Allow,
        Accept,
        Subject,
        ReferTo,
        ReferredBy,
        SessionExpires,
        MinSe,
        Timestamp,
        Date,
        Privacy,
        PAssertedIdentity,
        PPreferredIdentity,
        SubscriptionState,
        RetryAfter,
        Warning,
        AcceptContact,
        RejectContact,
        RequestDisposition,
        Identity,
        IdentityInfo,
    ]
};

/// Canonical names, indexed by id.
const NAMES: [&str; HdrId::COUNT] = [
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Max-Forwards",
    "Route",
    "Record-Route",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Content-Disposition",
    "Expires",
    "Min-Expires",
    "Authorization",
    "Proxy-Authorization",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Path",
    "User-Agent",
    "Server",
    "Event",
    "Allow-Events",
    "Allow",
    "Accept",
    "Subject",
    "Refer-To",
    "Referred-By",
    "Session-Expires",
    "Min-SE",
    "Timestamp",
    "Date",
    "Privacy",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Subscription-State",
    "Retry-After",
    "Warning",
    "Accept-Contact",
    "Reject-Contact",
    "Request-Disposition",
    "Identity",
    "Identity-Info",
    "",
];

impl HdrId {
    /// Number of ids, `Other` included.
    pub const COUNT: usize = HdrId::Other as usize + 1;

    /// Canonical (long-form) name.
    #[inline]
    pub const fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// Compact form (RFC 3261 §7.3.3 and later RFCs), if the header has one.
    pub const fn compact(self) -> Option<u8> {
        use HdrId::*;
        Some(match self {
            CallId => b'i',
            Contact => b'm',
            ContentEncoding => b'e',
            ContentLength => b'l',
            ContentType => b'c',
            From => b'f',
            Subject => b's',
            Supported => b'k',
            To => b't',
            Via => b'v',
            Event => b'o',
            AllowEvents => b'u',
            ReferTo => b'r',
            ReferredBy => b'b',
            SessionExpires => b'x',
            AcceptContact => b'a',
            RejectContact => b'j',
            RequestDisposition => b'd',
            Identity => b'y',
            IdentityInfo => b'n',
            _ => return None,
        })
    }

    /// True for headers whose value is a comma-separated list that may be split over several lines.
    pub fn is_list(self) -> bool {
        use HdrId::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Supported
                | Require
                | ProxyRequire
                | Unsupported
                | Path
                | Allow
                | AllowEvents
                | Accept
                | Privacy
                | PAssertedIdentity
                | PPreferredIdentity
                | Warning
                | AcceptContact
                | RejectContact
                | ContentEncoding
        )
    }

    /// Looks a header name up, case-insensitively, long or compact form. `name` is expected to be
    /// an RFC 3261 token, as the parser guarantees.
    pub fn from_name(name: &[u8]) -> HdrId {
        use HdrId::*;
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'i' => CallId,
                b'm' => Contact,
                b'e' => ContentEncoding,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'f' => From,
                b's' => Subject,
                b'k' => Supported,
                b't' => To,
                b'v' => Via,
                b'o' => Event,
                b'u' => AllowEvents,
                b'r' => ReferTo,
                b'b' => ReferredBy,
                b'x' => SessionExpires,
                b'a' => AcceptContact,
                b'j' => RejectContact,
                b'd' => RequestDisposition,
                b'y' => Identity,
                b'n' => IdentityInfo,
                _ => Other,
            };
        }
        let candidates: &[HdrId] = match (name.len(), name.first().map(u8::to_ascii_lowercase)) {
            (2, Some(b't')) => &[To],
            (3, Some(b'v')) => &[Via],
            (4, Some(b'f')) => &[From],
            (4, Some(b'c')) => &[CSeq],
            (4, Some(b'p')) => &[Path],
            (4, Some(b'd')) => &[Date],
            (5, Some(b'r')) => &[Route],
            (5, Some(b'e')) => &[Event],
            (5, Some(b'a')) => &[Allow],
            (6, Some(b'a')) => &[Accept],
            (6, Some(b's')) => &[Server],
            (6, Some(b'm')) => &[MinSe],
            (7, Some(b'c')) => &[CallId, Contact],
            (7, Some(b'e')) => &[Expires],
            (7, Some(b'r')) => &[Require],
            (7, Some(b's')) => &[Subject],
            (7, Some(b'p')) => &[Privacy],
            (7, Some(b'w')) => &[Warning],
            (8, Some(b'r')) => &[ReferTo],
            (8, Some(b'i')) => &[Identity],
            (9, Some(b's')) => &[Supported],
            (9, Some(b't')) => &[Timestamp],
            (10, Some(b'u')) => &[UserAgent],
            (11, Some(b'm')) => &[MinExpires],
            (11, Some(b'r')) => &[ReferredBy, RetryAfter],
            (11, Some(b'u')) => &[Unsupported],
            (12, Some(b'm')) => &[MaxForwards],
            (12, Some(b'r')) => &[RecordRoute],
            (12, Some(b'c')) => &[ContentType],
            (12, Some(b'a')) => &[AllowEvents],
            (13, Some(b'p')) => &[ProxyRequire],
            (13, Some(b'a')) => &[Authorization],
            (13, Some(b'i')) => &[IdentityInfo],
            (14, Some(b'c')) => &[ContentLength],
            (14, Some(b'a')) => &[AcceptContact],
            (14, Some(b'r')) => &[RejectContact],
            (15, Some(b's')) => &[SessionExpires],
            (16, Some(b'c')) => &[ContentEncoding],
            (16, Some(b'w')) => &[WwwAuthenticate],
            (18, Some(b'p')) => &[ProxyAuthenticate],
            (18, Some(b's')) => &[SubscriptionState],
            (19, Some(b'c')) => &[ContentDisposition],
            (19, Some(b'p')) => &[ProxyAuthorization, PAssertedIdentity],
            (19, Some(b'r')) => &[RequestDisposition],
            (20, Some(b'p')) => &[PPreferredIdentity],
            _ => &[],
        };
        for &id in candidates {
            if eq_lower(name, id.name().as_bytes()) {
                return id;
            }
        }
        Other
    }
}

/// Case-insensitive compare of a header name against a known name, in at most two (possibly
/// overlapping) words for names up to 16 bytes. `b | 0x20` lowercases ASCII letters and leaves '-' and digits alone; the only other byte it
/// can map onto a letter or '-' is a control character, which the caller's token check has
/// already excluded (CR would compare equal to '-').
#[inline]
fn eq_lower(name: &[u8], known: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    if n != known.len() {
        return false;
    }
    // Two possibly overlapping words cover names of 4 to 16 bytes without a byte loop.
    let word = |s: &[u8], at: usize, len: usize| {
        let mut w = [0; 8];
        w[..len].copy_from_slice(&s[at..at + len]);
        u64::from_le_bytes(w)
    };
    let same =
        |at: usize, len: usize| (word(name, at, len) | CASE) == (word(known, at, len) | CASE);
    match n {
        0..4 => name
            .iter()
            .zip(known)
            .all(|(x, y)| (x | 0x20) == (y | 0x20)),
        4..8 => same(0, 4) && same(n - 4, 4),
        8..=16 => same(0, 8) && same(n - 8, 8),
        _ => (0..n).step_by(8).all(|at| same(at.min(n - 8), 8)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_by_long_and_compact_name() {
        // Ids are dense from 0.
        for (i, &id) in ALL.iter().enumerate().take(HdrId::COUNT - 1) {
            assert_eq!(id as usize, i);
            assert_eq!(HdrId::from_name(id.name().as_bytes()), id, "{}", id.name());
            assert_eq!(
                HdrId::from_name(id.name().to_ascii_uppercase().as_bytes()),
                id
            );
            if let Some(c) = id.compact() {
                assert_eq!(HdrId::from_name(&[c]), id);
                assert_eq!(HdrId::from_name(&[c.to_ascii_uppercase()]), id);
            }
        }
        assert_eq!(HdrId::from_name(b"X-Custom"), HdrId::Other);
        // Same length and first letter as a known name, differing elsewhere.
        for near in [
            &b"Vxa"[..],
            b"Frox",
            b"Call-IX",
            b"Contacx",
            b"Content-Lengtx",
            b"Xontent-Length",
            b"Max-Forwardx",
            b"Proxy-Authorizatiox",
            b"P-Preferred-Identitx",
        ] {
            assert_eq!(
                HdrId::from_name(near),
                HdrId::Other,
                "{}",
                String::from_utf8_lossy(near)
            );
        }
        assert_eq!(HdrId::from_name(b"q"), HdrId::Other);
    }
}
