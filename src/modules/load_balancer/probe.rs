//! Probing of the destinations (`probing_interval`, `probing_method`, `probing_from`,
//! `probing_reply_codes`): `probe_mode` 1 probes a disabled destination and enables it again
//! when it answers; 2 probes always and also disables a destination that stops answering.
//! A destination disabled through the MI stays disabled until the MI enables it. The shared
//! [`Prober`] sends the probes.

use crate::modules::probe::{Answer, Prober, Target};

pub static PROBER: Prober<String> = Prober::new("load_balancer", "z9hG4bKlbping", targets, outcome)
    .signed("lb", Some("osips load_balancer"));

/// probe_mode 2: every destination not disabled through the MI; 1: the disabled ones.
fn targets() -> Vec<Target<String>> {
    let Some(data) = super::data() else {
        return Vec::new();
    };
    data.dests
        .iter()
        .filter(|d| match d.probe_mode {
            2 => !d.admin_disabled(),
            1 => !d.enabled() && !d.admin_disabled(),
            _ => false,
        })
        .filter_map(|d| {
            Some(Target {
                key: format!("{}|{}", d.id, d.uri),
                uri: d.uri.clone(),
                proto: d.dest.proto,
                addr: *d.dest.addrs.first()?,
                socket: None,
                raw: None,
            })
        })
        .collect()
}

/// The same destination (id and URI) in the data in use now.
fn outcome(key: String, answer: Answer) {
    let Some((id, uri)) = key.split_once('|') else {
        return;
    };
    let Some(data) = super::data() else { return };
    let Some(d) = id
        .parse()
        .ok()
        .and_then(|id| data.by_id(id))
        .filter(|d| d.uri == uri)
    else {
        return;
    };
    if answer == Answer::Alive {
        if !d.enabled() && !d.admin_disabled() && d.probe_mode != 0 && super::set_enabled(d, true) {
            super::verbose(d, "re-enable", " after a positive reply on probe");
        }
    } else if d.enabled() && d.probe_mode == 2 && super::set_enabled(d, false) {
        // A probe without a final reply ends, as in OpenSIPS's tm, with a local 408.
        let code = match answer {
            Answer::Refused(code) => code,
            _ => 408,
        };
        super::verbose(d, "disable", &format!(" after {code} reply on probe"));
    }
}
