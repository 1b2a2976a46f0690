//! Published event state (RFC 3903): each PUBLISH makes or changes one publication of a
//! presentity, named by its entity tag; the `presentity` table holds them too.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub user: String,
    pub domain: String,
    pub event: String,
    pub etag: String,
    /// Unix time it ends.
    pub expires: u64,
    pub received: u64,
    pub body: Vec<u8>,
    pub sender: Option<String>,
}

impl Publication {
    pub fn pres_uri(&self) -> String {
        pres_uri(&self.user, &self.domain)
    }
}

pub fn pres_uri(user: &str, domain: &str) -> String {
    if user.is_empty() {
        format!("sip:{domain}")
    } else {
        format!("sip:{user}@{domain}")
    }
}

/// The publications in memory, by presentity URI and event.
#[derive(Default)]
pub struct PresTable {
    map: HashMap<(String, String), Vec<Publication>>,
}

fn key(pres_uri: &str, event: &str) -> (String, String) {
    (pres_uri.to_string(), event.to_ascii_lowercase())
}

impl PresTable {
    pub fn find(&self, pres_uri: &str, event: &str, etag: &str) -> Option<&Publication> {
        self.map
            .get(&key(pres_uri, event))?
            .iter()
            .find(|p| p.etag == etag)
    }

    /// Adds `p`, or replaces the publication with the same entity tag.
    pub fn put(&mut self, p: Publication) {
        let list = self.map.entry(key(&p.pres_uri(), &p.event)).or_default();
        list.retain(|x| x.etag != p.etag);
        list.push(p);
    }

    pub fn remove(&mut self, pres_uri: &str, event: &str, etag: &str) -> Option<Publication> {
        let k = key(pres_uri, event);
        let list = self.map.get_mut(&k)?;
        let i = list.iter().position(|p| p.etag == etag)?;
        let p = list.remove(i);
        if list.is_empty() {
            self.map.remove(&k);
        }
        Some(p)
    }

    /// The live publications of a presentity, oldest first.
    pub fn current(&self, pres_uri: &str, event: &str, now: u64) -> Vec<Publication> {
        let mut v: Vec<Publication> = self
            .map
            .get(&key(pres_uri, event))
            .map(|l| l.iter().filter(|p| p.expires >= now).cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|p| p.received);
        v
    }

    /// Takes out the publications that ended before `now`.
    pub fn take_expired(&mut self, now: u64) -> Vec<Publication> {
        let mut out = Vec::new();
        self.map.retain(|_, list| {
            let (gone, kept): (Vec<_>, Vec<_>) = list.drain(..).partition(|p| p.expires < now);
            out.extend(gone);
            *list = kept;
            !list.is_empty()
        });
        out
    }

    pub fn all(&self) -> impl Iterator<Item = &Publication> {
        self.map.values().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publ(etag: &str, expires: u64, received: u64) -> Publication {
        Publication {
            user: "alice".into(),
            domain: "example.com".into(),
            event: "presence".into(),
            etag: etag.into(),
            expires,
            received,
            body: etag.as_bytes().to_vec(),
            sender: None,
        }
    }

    #[test]
    fn publications_by_etag() {
        let mut t = PresTable::default();
        t.put(publ("a", 100, 2));
        t.put(publ("b", 200, 1));
        let uri = "sip:alice@example.com";
        assert!(t.find(uri, "PRESENCE", "a").is_some());
        assert_eq!(t.current(uri, "presence", 50).len(), 2);
        assert_eq!(t.current(uri, "presence", 50)[0].etag, "b");
        assert_eq!(t.current(uri, "presence", 150).len(), 1);
        let gone = t.take_expired(150);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].etag, "a");
        assert!(t.remove(uri, "presence", "b").is_some());
        assert_eq!(t.all().count(), 0);
        assert_eq!(pres_uri("", "h"), "sip:h");
    }
}
