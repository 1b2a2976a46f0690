//! The groups and `version` numbers the reference (§4.2, §5.1) gives for each release.

use super::{Group, current, legacy};

/// opensipsdbctl's STANDARD_TABLES plus the 3.x standard additions (rtpengine).
const STANDARD_TABLES: &[&str] = &[
    "acc",
    "address",
    "clusterer",
    "dbaliases",
    "dialog",
    "dialplan",
    "dispatcher",
    "domain",
    "dr_carriers",
    "dr_gateways",
    "dr_groups",
    "dr_partitions",
    "dr_rules",
    "grp",
    "load_balancer",
    "location",
    "missed_calls",
    "re_grp",
    "rtpengine",
    "rtpproxy_sockets",
    "silo",
    "speed_dial",
    "subscriber",
    "tls_mgm",
    "uri",
    "usr_preferences",
    "version",
];

const PRESENCE_TABLES: &[&str] = &[
    "active_watchers",
    "presentity",
    "pua",
    "rls_presentity",
    "rls_watchers",
    "watchers",
    "xcap",
];

fn group_tables(g: Group) -> Vec<&'static str> {
    let mut v: Vec<&str> = current()
        .group(g)
        .flat_map(|m| m.tables.iter().map(|t| t.name.as_str()))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn standard_and_presence_groups_hold_opensips_tables() {
    assert_eq!(group_tables(Group::Standard), STANDARD_TABLES);
    assert_eq!(group_tables(Group::Presence), PRESENCE_TABLES);
    let extra = group_tables(Group::Extra);
    for t in [
        "b2b_entities",
        "b2b_logic",
        "b2b_sca",
        "cachedb",
        "carrierfailureroute",
        "carrierroute",
        "cc_agents",
        "cc_calls",
        "cc_cdrs",
        "cc_flows",
        "closeddial",
        "cpl",
        "domainpolicy",
        "emergency_report",
        "emergency_routing",
        "emergency_service_provider",
        "fraud_detection",
        "freeswitch",
        "globalblacklist",
        "imc_members",
        "imc_rooms",
        "registrant",
        "route_tree",
        "sip_trace",
        "smpp",
        "userblacklist",
    ] {
        assert!(extra.contains(&t), "extra lacks {t}");
    }
}

#[test]
fn version_numbers_per_release() {
    let want_36 = [
        ("subscriber", 8),
        ("uri", 2),
        ("domain", 4),
        ("location", 1013),
        ("dispatcher", 9),
        ("address", 5),
        ("dbaliases", 2),
        ("grp", 3),
        ("re_grp", 2),
        ("acc", 7),
        ("missed_calls", 5),
        ("dialog", 12),
        ("usr_preferences", 3),
        ("dialplan", 5),
        ("silo", 6),
    ];
    for (t, v) in want_36 {
        assert_eq!(current().table(t).map(|t| t.version), Some(v), "3.6 {t}");
    }
    let old = legacy("2.4").unwrap();
    for (t, v) in [
        ("subscriber", 7),
        ("domain", 3),
        ("dispatcher", 8),
        ("dialog", 10),
        ("location", 1013),
        ("usr_preferences", 3),
    ] {
        assert_eq!(old.table(t).map(|t| t.version), Some(v), "2.4 {t}");
    }
    let old = legacy("3.4").unwrap();
    for (t, v) in [
        ("subscriber", 8),
        ("domain", 3),
        ("dispatcher", 9),
        ("dialog", 12),
    ] {
        assert_eq!(old.table(t).map(|t| t.version), Some(v), "3.4 {t}");
    }
}
