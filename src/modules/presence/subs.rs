//! Subscription dialogs (RFC 6665 §4.1): what one SUBSCRIBE set up, kept in memory and in the
//! `active_watchers` table, keyed by the dialog (Call-ID, To tag, From tag).

use std::collections::HashMap;

/// Subscription state, numbered as OpenSIPS stores it (`active_watchers.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active = 1,
    Pending = 2,
    Terminated = 3,
    Waiting = 4,
}

impl Status {
    pub fn from_db(v: i64) -> Option<Status> {
        Some(match v {
            1 => Status::Active,
            2 => Status::Pending,
            3 => Status::Terminated,
            4 => Status::Waiting,
            _ => return None,
        })
    }

    /// The `Subscription-State` value (waiting is notified as pending).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending | Status::Waiting => "pending",
            Status::Terminated => "terminated",
        }
    }
}

/// The dialog a subscription lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    pub callid: String,
    /// Ours (the presence server's).
    pub to_tag: String,
    /// The watcher's.
    pub from_tag: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub key: DialogKey,
    pub pres_uri: String,
    pub event: String,
    /// The Event header's `id` parameter (empty when none).
    pub event_id: String,
    pub watcher_user: String,
    pub watcher_domain: String,
    pub to_user: String,
    pub to_domain: String,
    /// CSeq of the last NOTIFY sent.
    pub local_cseq: u32,
    pub remote_cseq: u32,
    /// Where NOTIFYs go (the watcher's Contact URI).
    pub contact: String,
    /// The SUBSCRIBE's Record-Route values, in order, comma-separated: the route set.
    pub record_route: String,
    /// Unix time the subscription ends.
    pub expires: u64,
    pub status: Status,
    pub reason: String,
    pub version: u32,
    /// The socket the SUBSCRIBE came in on (`udp:127.0.0.1:5060`).
    pub socket_info: String,
    /// Our Contact in the dialog.
    pub local_contact: String,
    /// Changed since the last write to the database.
    pub dirty: bool,
}

impl Subscription {
    pub fn watcher_uri(&self) -> String {
        format!("sip:{}@{}", self.watcher_user, self.watcher_domain)
    }

    /// The route set as Route header values.
    pub fn routes(&self) -> Vec<String> {
        split_routes(&self.record_route)
    }
}

/// Splits a comma-separated list of name-addrs, commas inside `<>` or quotes kept.
pub fn split_routes(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut angle, mut quoted, mut start) = (false, false, 0);
    for (i, c) in list.char_indices() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !angle && !quoted => {
                out.push(list[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list[start..].trim().to_string());
    out.retain(|r| !r.is_empty());
    out
}

/// The subscriptions in memory.
#[derive(Default)]
pub struct SubsTable {
    pub map: HashMap<DialogKey, Subscription>,
}

impl SubsTable {
    /// Subscriptions to `pres_uri` for `event`.
    pub fn watchers_of(&self, pres_uri: &str, event: &str) -> Vec<Subscription> {
        self.map
            .values()
            .filter(|s| s.pres_uri == pres_uri && s.event.eq_ignore_ascii_case(event))
            .cloned()
            .collect()
    }

    /// Takes out the subscriptions that ended before `now`.
    pub fn take_expired(&mut self, now: u64) -> Vec<Subscription> {
        let keys: Vec<DialogKey> = self
            .map
            .values()
            .filter(|s| s.expires < now)
            .map(|s| s.key.clone())
            .collect();
        keys.iter().filter_map(|k| self.map.remove(k)).collect()
    }

    /// Counts one more NOTIFY in the dialog: its CSeq and the body version.
    pub fn next_notify(&mut self, key: &DialogKey) -> Option<Subscription> {
        let s = self.map.get_mut(key)?;
        s.local_cseq += 1;
        s.version += 1;
        s.dirty = true;
        Some(s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_lists() {
        assert_eq!(
            split_routes("<sip:a;lr>, \"x,y\" <sip:b;lr> ,<sip:c,d;lr>"),
            vec!["<sip:a;lr>", "\"x,y\" <sip:b;lr>", "<sip:c,d;lr>"]
        );
        assert!(split_routes("").is_empty());
    }

    #[test]
    fn status_numbers_are_opensips_ones() {
        for s in [
            Status::Active,
            Status::Pending,
            Status::Terminated,
            Status::Waiting,
        ] {
            assert_eq!(Status::from_db(s as i64), Some(s));
        }
        assert_eq!(Status::from_db(9), None);
        assert_eq!(Status::Waiting.as_str(), "pending");
    }
}
