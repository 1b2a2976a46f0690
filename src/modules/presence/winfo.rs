//! Watcher information (RFC 3857, RFC 3858): the `application/watcherinfo+xml` document a
//! presentity's own `presence.winfo` subscription receives, listing who watches it.

use super::Presence;
use super::subs::{Status, Subscription};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The full watcher list of `s.pres_uri` for package `watched`, as `s` receives it now.
pub fn body(p: &Presence, s: &Subscription, watched: &str) -> Vec<u8> {
    let watchers = p.subs.lock().watchers_of(&s.pres_uri, watched);
    document(&s.pres_uri, watched, s.version.saturating_sub(1), &watchers)
}

/// A `state="full"` watcherinfo document.
pub fn document(pres_uri: &str, package: &str, version: u32, watchers: &[Subscription]) -> Vec<u8> {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<watcherinfo xmlns=\"urn:ietf:params:xml:ns:watcherinfo\" version=\"{version}\" state=\"full\">\n  <watcher-list resource=\"{}\" package=\"{}\">\n",
        escape(pres_uri),
        escape(package)
    );
    for w in watchers {
        let status = match w.status {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Waiting => "waiting",
            Status::Terminated => "terminated",
        };
        out.push_str(&format!(
            "    <watcher id=\"{}\" event=\"subscribe\" status=\"{status}\">{}</watcher>\n",
            escape(&w.key.to_tag),
            escape(&w.watcher_uri())
        ));
    }
    out.push_str("  </watcher-list>\n</watcherinfo>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::presence::subs::DialogKey;
    use crate::modules::presence::xml;

    #[test]
    fn watcherinfo_document() {
        let w = Subscription {
            key: DialogKey {
                callid: "c".into(),
                to_tag: "t<1>".into(),
                from_tag: "f".into(),
            },
            pres_uri: "sip:alice@example.com".into(),
            event: "presence".into(),
            event_id: String::new(),
            watcher_user: "bob".into(),
            watcher_domain: "example.com".into(),
            to_user: "alice".into(),
            to_domain: "example.com".into(),
            local_cseq: 1,
            remote_cseq: 1,
            contact: "sip:bob@127.0.0.1".into(),
            record_route: String::new(),
            expires: 0,
            status: Status::Pending,
            reason: String::new(),
            version: 0,
            socket_info: String::new(),
            local_contact: String::new(),
            dirty: false,
        };
        let doc = document("sip:alice@example.com", "presence", 3, &[w]);
        let root = xml::parse(&doc).unwrap();
        assert_eq!(root.local(), "watcherinfo");
        assert_eq!(root.attr("version"), Some("3"));
        let list = root.child("watcher-list").unwrap();
        assert_eq!(list.attr("resource"), Some("sip:alice@example.com"));
        let watcher = list.child("watcher").unwrap();
        assert_eq!(watcher.attr("status"), Some("pending"));
        assert_eq!(watcher.attr("id"), Some("t<1>"));
        assert_eq!(watcher.text, "sip:bob@example.com");
        let empty = document("sip:a@b", "presence", 0, &[]);
        assert!(xml::parse(&empty).unwrap().child("watcher-list").is_some());
    }
}
