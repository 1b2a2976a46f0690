//! `is_ip_registered(domain, [aor], ip_var[, port_var])` and
//! `remove_ip_port(ip, port, domain[, aor])`: contacts matched by the address they are reached
//! on (the NAT `received` when there is one, else the Contact URI).

use std::net::IpAddr;

use crate::modules::usrloc::{self, Ucontact, UlError};
use crate::sip::Uri;

/// Host and port of a contact's next hop (port 5060 when the URI has none).
pub fn contact_address(c: &Ucontact) -> Option<(String, u16)> {
    let text = c.received().unwrap_or(c.contact());
    let u = Uri::parse(text.as_bytes()).ok()?;
    let host = String::from_utf8_lossy(u.host_unbracketed()).into_owned();
    Some((host, u.port.unwrap_or(5060)))
}

/// Two hosts are the same address (IPv6 compared as addresses, names case-insensitively).
pub fn same_host(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    };
    let (a, b) = (strip(a), strip(b));
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(&b),
    }
}

/// Whether a contact is reached on one of `ips` (and `port`, when given).
pub fn matches(c: &Ucontact, ips: &[String], port: Option<u16>) -> bool {
    let Some((host, p)) = contact_address(c) else {
        return false;
    };
    ips.iter().any(|ip| same_host(ip, &host)) && port.is_none_or(|want| want == p)
}

/// Removes the contacts reached on `ip:port` from `aor` (every AOR when None); how many.
pub fn remove_ip_port(
    table: &str,
    ip: &str,
    port: u16,
    aor: Option<&str>,
) -> Result<usize, UlError> {
    let dom = usrloc::domain(table)?;
    let aors = match aor {
        Some(a) => vec![a.to_string()],
        None => dom.aors()?,
    };
    let ips = [ip.to_string()];
    let mut removed = 0;
    for a in aors {
        let mut g = dom.lock(&a, true)?;
        let ids: Vec<u64> = g
            .contacts()
            .iter()
            .filter(|c| matches(c, &ips, Some(port)))
            .map(|c| c.contact_id)
            .collect();
        for id in ids {
            g.delete(id)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::usrloc::{CState, ContactInfo};

    fn c(contact: &str, received: Option<&str>) -> Ucontact {
        let ci = ContactInfo {
            contact,
            received,
            callid: "cid",
            expires: 0,
            ..ContactInfo::default()
        };
        Ucontact::new(1, &ci, CState::New).unwrap()
    }

    #[test]
    fn received_wins_over_the_contact() {
        let nat = c("sip:a@127.0.0.9:5999", Some("sip:127.0.0.5:4000"));
        assert_eq!(contact_address(&nat), Some(("127.0.0.5".into(), 4000)));
        assert!(matches(&nat, &["127.0.0.5".into()], Some(4000)));
        assert!(!matches(&nat, &["127.0.0.9".into()], None));
        let plain = c("sip:a@127.0.0.2", None);
        assert!(matches(&plain, &["127.0.0.2".into()], Some(5060)));
        assert!(!matches(&plain, &["127.0.0.2".into()], Some(5070)));
        let v6 = c("sip:a@[::1]:5070", None);
        assert!(matches(&v6, &["0:0::1".into()], None));
        assert!(same_host("Host.Example", "host.example"));
    }
}
