//! Gateway probing with the shared [`Prober`]: `probe_mode` 1 probes a gateway in the
//! probing state and makes it active when it answers; 2 probes active gateways too and puts a
//! silent one in the probing state. Gateways disabled (state 1, or the MI) are not probed.

use crate::modules::probe::{Answer, Prober, Target};

use super::data::GwState;

// The probes say "lb" and "osips load_balancer" as they did when drouting borrowed
// load_balancer's prober.
pub static PROBER: Prober<String> = Prober::new("drouting", "z9hG4bKdrping", targets, outcome)
    .signed("lb", Some("osips load_balancer"));

fn targets() -> Vec<Target<String>> {
    let Some(d) = super::data() else {
        return Vec::new();
    };
    d.gateways
        .iter()
        .filter(|g| match (g.probe_mode, g.state()) {
            (_, GwState::Inactive) => false,
            (2, _) => true,
            (1, s) => s == GwState::Probing,
            _ => false,
        })
        .filter_map(|g| {
            Some(Target {
                key: g.id.clone(),
                uri: g.dest.uri.clone(),
                proto: g.dest.proto,
                addr: *g.dest.addrs.first()?,
                socket: g
                    .socket
                    .as_deref()
                    .and_then(crate::modules::dispatcher::socket_id),
                raw: None,
            })
        })
        .collect()
}

fn outcome(id: String, answer: Answer) {
    let Some(d) = super::data() else { return };
    let Some(g) = d.gateway(&id) else { return };
    match (answer == Answer::Alive, g.state()) {
        (true, GwState::Probing) => super::change_state(g, GwState::Active),
        (false, GwState::Active) if g.probe_mode == 2 => super::change_state(g, GwState::Probing),
        _ => {}
    }
}
