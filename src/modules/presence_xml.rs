//! presence_xml: the `presence` event package (RFC 3856) for the presence module: PIDF bodies
//! (RFC 3863, `application/pidf+xml`) checked as well-formed XML with a `presence` root, merged
//! when a presentity has several publications, and watcher authorization from the presentity's
//! pres-rules document (RFC 5025) in the xcap table. `force_active = 1` makes every
//! subscription active at once; otherwise a watcher without an allowing rule stays pending.
//! `presence.winfo` (RFC 3857) lets a presentity see its watchers. With `pidf_manipulation`
//! the presentity's pidf-manipulation document is part of its state. `integrated_xcap_server`
//! and `xcap_server` are accepted: documents are read from the xcap table only (no XCAP client).

use crate::modules::auth_db::db;
use crate::modules::presence::xml::{self, Element};
use crate::modules::presence::{self, AuthDecision, EventPackage, Status};
use crate::modules::xcap;
use crate::script::module::InitCtx;
use crate::script::{ModuleDescriptor, ParamSpec};

const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";

/// A PUBLISH body: well-formed XML whose root is `presence`.
pub fn check_pidf(body: &[u8]) -> Result<(), String> {
    let root = xml::parse(body)?;
    if root.local() != "presence" {
        return Err(format!("root element is `{}`, not `presence`", root.name));
    }
    Ok(())
}

/// One document from several PIDF documents (oldest first): every tuple, person and device of
/// each, the newest first, under one `presence` root for `pres_uri`.
pub fn aggregate(pres_uri: &str, bodies: &[&[u8]]) -> Option<Vec<u8>> {
    let mut ns: Vec<(String, String)> = Vec::new();
    let mut parts = String::new();
    for body in bodies.iter().rev() {
        let Ok(text) = std::str::from_utf8(body) else {
            continue;
        };
        let Ok(root) = xml::parse(body) else { continue };
        for (n, v) in &root.attrs {
            if n.starts_with("xmlns:") && !ns.iter().any(|(x, _)| x == n) {
                ns.push((n.clone(), v.clone()));
            }
        }
        for c in &root.children {
            parts.push_str("  ");
            parts.push_str(&text[c.span.clone()]);
            parts.push('\n');
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"{PIDF_NS}\"");
    for (n, v) in ns {
        out.push_str(&format!(" {n}=\"{}\"", escape(&v)));
    }
    out.push_str(&format!(
        " entity=\"{}\">\n{parts}</presence>\n",
        escape(pres_uri)
    ));
    Some(out.into_bytes())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// What notify_offline_body sends for a presentity with nothing published.
pub fn offline_body(pres_uri: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"{PIDF_NS}\" entity=\"{}\">\n  <tuple id=\"offline\"><status><basic>closed</basic></status></tuple>\n</presence>\n",
        escape(pres_uri)
    )
    .into_bytes()
}

/// The `sub-handling` a rule grants, in RFC 5025's order (higher is more permissive).
fn sub_handling(value: &str) -> Option<u8> {
    Some(match value.trim() {
        "block" => 0,
        "confirm" => 1,
        "polite-block" => 2,
        "allow" => 3,
        _ => return None,
    })
}

fn identity_matches(identity: &Element, watcher: &str) -> bool {
    let bare = watcher.strip_prefix("sip:").unwrap_or(watcher);
    let domain = bare.rsplit_once('@').map_or(bare, |(_, d)| d);
    let one = identity.children_named("one").any(|o| {
        o.attr("id").is_some_and(|id| {
            id.strip_prefix("sip:")
                .unwrap_or(id)
                .eq_ignore_ascii_case(bare)
        })
    });
    let many = identity.children_named("many").any(|m| {
        let in_domain = m
            .attr("domain")
            .is_none_or(|d| d.eq_ignore_ascii_case(domain));
        let excepted = m.children_named("except").any(|e| {
            e.attr("id").is_some_and(|id| {
                id.strip_prefix("sip:")
                    .unwrap_or(id)
                    .eq_ignore_ascii_case(bare)
            }) || e
                .attr("domain")
                .is_some_and(|d| d.eq_ignore_ascii_case(domain))
        });
        in_domain && !excepted
    });
    one || many
}

/// The decision of a pres-rules document for `watcher` (`sip:user@domain`): the most
/// permissive `sub-handling` of the rules whose conditions hold (RFC 4745 §10); pending when
/// no rule says anything.
pub fn decide(rules: &[u8], watcher: &str) -> AuthDecision {
    let pending = AuthDecision {
        status: Status::Pending,
        reason: String::new(),
    };
    let Ok(root) = xml::parse(rules) else {
        tracing::error!("presence_xml: pres-rules document is not well-formed XML");
        return pending;
    };
    let mut best: Option<u8> = None;
    for rule in root.children_named("rule") {
        let holds = match rule.child("conditions") {
            None => true,
            Some(c) => match c.child("identity") {
                None => true,
                Some(id) => identity_matches(id, watcher),
            },
        };
        if !holds {
            continue;
        }
        let mut found = Vec::new();
        rule.descendants("sub-handling", &mut found);
        for sh in found {
            if let Some(v) = sub_handling(&sh.text) {
                best = Some(best.map_or(v, |b| b.max(v)));
            }
        }
    }
    match best {
        Some(0) => AuthDecision {
            status: Status::Terminated,
            reason: "rejected".into(),
        },
        Some(1) | None => pending,
        Some(_) => AuthDecision {
            status: Status::Active,
            reason: String::new(),
        },
    }
}

fn user_domain(pres_uri: &str) -> (&str, &str) {
    let bare = pres_uri.strip_prefix("sip:").unwrap_or(pres_uri);
    bare.rsplit_once('@').unwrap_or(("", bare))
}

/// `pidf_manipulation`: the presentity's own document in the xcap table, part of its state
/// beside what it publishes (a well-formed PIDF only).
fn pidf_manipulation_doc(pres_uri: &str) -> Option<Vec<u8>> {
    let (user, domain) = user_domain(pres_uri);
    match xcap::get_doc(user, domain, xcap::doc_type::PIDF_MANIPULATION) {
        Ok(Some(doc)) => match check_pidf(&doc) {
            Ok(()) => Some(doc),
            Err(e) => {
                tracing::error!("presence_xml: pidf-manipulation document of {pres_uri}: {e}");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::error!("presence_xml: {e}");
            None
        }
    }
}

/// The watcher's authorization from `pres_uri`'s pres-rules in the xcap table.
fn auth_status(pres_uri: &str, watcher: &str) -> AuthDecision {
    let (user, domain) = user_domain(pres_uri);
    match xcap::get_doc(user, domain, xcap::doc_type::PRES_RULES) {
        Ok(Some(doc)) => decide(&doc, watcher),
        Ok(None) => AuthDecision {
            status: Status::Pending,
            reason: String::new(),
        },
        Err(e) => {
            tracing::error!("presence_xml: {e}");
            AuthDecision {
                status: Status::Pending,
                reason: String::new(),
            }
        }
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let force_active = db::int_param(ctx, "force_active", 0)? != 0;
    let pidf_manipulation = db::int_param(ctx, "pidf_manipulation", 0)? != 0;
    if db::int_param(ctx, "disable_presence", 0)? != 0 {
        return Ok(());
    }
    // the package of PUBLISH and SUBSCRIBE, and (RFC 3857) the watcher information about it
    presence::add_event(EventPackage {
        name: "presence",
        content_type: "application/pidf+xml",
        default_expires: 3600,
        req_auth: !force_active,
        publishable: true,
        winfo_of: None,
        check_body: check_pidf,
        aggregate: Some(aggregate),
        auth_status: Some(auth_status),
        offline_body: Some(offline_body),
        stored_state: pidf_manipulation
            .then_some(pidf_manipulation_doc as presence::event::StoredStateFn),
    });
    if db::int_param(ctx, "disable_winfo", 0)? == 0 {
        presence::add_event(EventPackage {
            name: "presence.winfo",
            content_type: "application/watcherinfo+xml",
            default_expires: 3600,
            req_auth: true,
            publishable: false,
            winfo_of: Some("presence"),
            check_body: |_| Err("watcher information is not published".into()),
            aggregate: None,
            auth_status: Some(winfo_auth),
            offline_body: None,
            stored_state: None,
        });
    }
    Ok(())
}

/// Only the presentity itself may learn who watches it.
fn winfo_auth(pres_uri: &str, watcher: &str) -> AuthDecision {
    let bare = |u: &str| u.strip_prefix("sip:").unwrap_or(u).to_ascii_lowercase();
    if bare(pres_uri) == bare(watcher) {
        AuthDecision {
            status: Status::Active,
            reason: String::new(),
        }
    } else {
        AuthDecision {
            status: Status::Terminated,
            reason: "rejected".into(),
        }
    }
}

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "presence_xml",
    deps: &["presence"],
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("xcap_table"),
        ParamSpec::int("force_active"),
        ParamSpec::int("pidf_manipulation"),
        ParamSpec::int("integrated_xcap_server"),
        ParamSpec::str("xcap_server").multi(),
        ParamSpec::int("disable_presence"),
        ParamSpec::int("disable_winfo"),
        ParamSpec::int("disable_bla"),
        ParamSpec::int("generate_offline_body"),
    ],
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    const PIDF_A: &[u8] = br#"<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:alice@example.com">
<tuple id="a"><status><basic>open</basic></status></tuple>
<dm:person id="p"/>
</presence>"#;
    const PIDF_B: &[u8] =
        br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.com"><tuple id="b"><status><basic>closed</basic></status></tuple></presence>"#;

    #[test]
    fn pidf_bodies() {
        assert!(check_pidf(PIDF_A).is_ok());
        assert!(
            check_pidf(b"<notpresence/>")
                .unwrap_err()
                .contains("notpresence")
        );
        assert!(check_pidf(b"<presence><tuple></presence>").is_err());
        assert!(check_pidf(b"").is_err());
        assert!(check_pidf(&offline_body("sip:a@b")).is_ok());
    }

    #[test]
    fn several_publications_make_one_document() {
        let doc = aggregate("sip:alice@example.com", &[PIDF_A, PIDF_B]).unwrap();
        assert!(check_pidf(&doc).is_ok());
        let root = xml::parse(&doc).unwrap();
        let ids: Vec<&str> = root.children.iter().filter_map(|c| c.attr("id")).collect();
        assert_eq!(ids, ["b", "a", "p"]);
        assert_eq!(
            root.attr("xmlns:dm"),
            Some("urn:ietf:params:xml:ns:pidf:data-model")
        );
        assert!(aggregate("sip:x@y", &[b"junk"]).is_none());
    }

    const RULES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
  <cr:rule id="friends">
    <cr:conditions><cr:identity><cr:one id="sip:bob@example.com"/></cr:identity></cr:conditions>
    <cr:actions><sub-handling>allow</sub-handling></cr:actions>
  </cr:rule>
  <cr:rule id="spammers">
    <cr:conditions><cr:identity><cr:many domain="spam.example"><cr:except id="sip:ok@spam.example"/></cr:many></cr:identity></cr:conditions>
    <cr:actions><sub-handling>block</sub-handling></cr:actions>
  </cr:rule>
</cr:ruleset>"#;

    #[test]
    fn pres_rules_decide_the_subscription_state() {
        assert_eq!(decide(RULES, "sip:bob@example.com").status, Status::Active);
        let d = decide(RULES, "sip:eve@spam.example");
        assert_eq!(d.status, Status::Terminated);
        assert_eq!(d.reason, "rejected");
        assert_eq!(decide(RULES, "sip:ok@spam.example").status, Status::Pending);
        assert_eq!(
            decide(RULES, "sip:carol@example.com").status,
            Status::Pending
        );
        assert_eq!(
            decide(b"<broken", "sip:bob@example.com").status,
            Status::Pending
        );
    }
}
