//! `lookup()` and push contacts due a notification (OpenSIPS `pn_awake_pn_contacts` /
//! `pn_trigger_pn`): the request gets its transaction (t_newtran) which waits for new
//! branches; per contact an event_routing subscription to E_UL_CONTACT_UPDATE matching its PN
//! parameters injects a branch into that transaction when the device re-registers (within
//! `pn_refresh_timeout`), then E_UL_CONTACT_REFRESH (reason `ini-<METHOD>`) asks the script /
//! push gateway to send the notification. No script route is involved.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::events::{EvValue, EventParams};
use crate::modules::event_routing::{self, NotifyFn, filter::Filter};
use crate::modules::tm::{funcs, inject, uas};
use crate::modules::usrloc;
use crate::runtime::SipCtx;
use crate::script::Value;

use super::lookup::Target;
use super::pn::{self, PnConfig};

/// The event a woken device's re-registration raises (its binding is matched by the PN
/// parameters, so it is updated, not inserted).
pub const EV_CT_UPDATE: &str = "E_UL_CONTACT_UPDATE";

/// OpenSIPS `PN_REASON_BUFSZ`.
const REASON_MAX: usize = 32;

/// What waking the push contacts came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awake {
    /// At least one device is being woken; the transaction waits for it.
    Sent,
    /// No notification could be started.
    NoneSent,
    /// The request is a retransmission: the last reply was sent again, the script stops.
    Retransmission,
    /// No transaction could be made.
    Error,
}

/// The EBR filters matching the re-registration of `contact_uri`: each match parameter with
/// the contact's value (OpenSIPS `pn_ebr_filters`); None when one is missing.
pub fn filters(cfg: &PnConfig, contact_uri: &str) -> Option<Vec<Filter>> {
    let key = cfg.match_key_of(contact_uri)?;
    Some(
        cfg.match_params
            .iter()
            .zip(key)
            .map(|(param, value)| Filter::uri_param("uri", param, &value))
            .collect(),
    )
}

/// OpenSIPS `pn_trim_pn_params`: the event's attributes as AVPs, the contact URI without its
/// PN parameters: the injected branch's Request-URI must not carry them.
pub fn trim_pn_params(params: &EventParams) -> Vec<(String, Value)> {
    trim_with(&super::state().cfg.pn, params)
}

fn trim_with(cfg: &PnConfig, params: &EventParams) -> Vec<(String, Value)> {
    event_routing::notify::avps_of(params)
        .into_iter()
        .map(|(name, v)| {
            let trimmed = match (&name[..], params.get(&name)) {
                ("uri", Some(EvValue::Str(u))) if cfg.match_key_of(u).is_some() => {
                    Some(Value::str(pn::strip_params(cfg, u)))
                }
                _ => None,
            };
            (name, trimmed.unwrap_or(v))
        })
        .collect()
}

/// OpenSIPS `pn_inject_branch`: the woken device's branch joins the waiting transaction.
static INJECT: LazyLock<NotifyFn> = LazyLock::new(|| {
    Arc::new(|tx, avps| {
        let injected = tx.is_some_and(|tx| inject::inject_event_branch(tx, avps) == 1);
        if !injected {
            tracing::error!("registrar: failed to inject a branch for the {EV_CT_UPDATE} event");
        }
    })
});

/// The `reason` of the refresh event: `ini-` and the method, at most 32 characters.
pub fn reason(method: &str) -> String {
    format!("ini-{method}").chars().take(REASON_MAX).collect()
}

/// Wakes the devices of `wake` (contacts of `aor` in `table`) for request `m`.
pub fn awake(m: &mut SipCtx, cfg: &PnConfig, table: &str, aor: &str, wake: &[Target]) -> Awake {
    if wake.is_empty() {
        return Awake::NoneSent;
    }
    match funcs::new_transaction(m) {
        Ok((_, true)) => {}
        Ok((tx, false)) => {
            tracing::info!("lookup: absorbing a retransmission");
            uas::retransmit_reply(&tx);
            return Awake::Retransmission;
        }
        Err(rc) => {
            tracing::error!("lookup: internal error {rc} while creating the transaction");
            return Awake::Error;
        }
    }
    if inject::wait_for_new_branches(m) != 1 {
        tracing::error!("lookup: failed to enable waiting for new branches");
    }
    let tx = inject::current_tx(m);
    let dom = usrloc::domain(table).ok();
    let method = String::from_utf8_lossy(m.msg.method_bytes()).into_owned();
    let reason = reason(&method);
    let callid = String::from_utf8_lossy(m.msg.call_id()).into_owned();
    let timeout = Duration::from_secs(u64::from(cfg.refresh_timeout));
    let mut sent = false;
    for t in wake {
        let Some(filters) = filters(cfg, &t.uri) else {
            tracing::error!(
                "lookup: push contact <{}> lacks a PN match parameter",
                t.uri
            );
            continue;
        };
        if let Err(e) = event_routing::api_notify_on_event(
            EV_CT_UPDATE,
            filters,
            Some(trim_pn_params),
            INJECT.clone(),
            timeout,
            tx.clone(),
        ) {
            tracing::error!("lookup: failed to EBR-subscribe to {EV_CT_UPDATE}: {e}");
            continue;
        }
        match dom
            .as_ref()
            .map(|d| d.raise_refresh(aor, t.contact_id, &reason, &callid))
        {
            Some(Ok(true)) => {}
            Some(Ok(false)) | None => tracing::warn!(
                "lookup: push contact <{}> needs a notification but nothing listens to \
                 E_UL_CONTACT_REFRESH",
                t.uri
            ),
            Some(Err(e)) => tracing::error!("lookup {aor}: {e}"),
        }
        sent = true;
    }
    if sent { Awake::Sent } else { Awake::NoneSent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PnConfig {
        PnConfig {
            enable: true,
            providers: vec!["apns".into()],
            ..PnConfig::default()
        }
    }

    #[test]
    fn filters_match_the_re_registration_of_the_same_device() {
        let c = cfg();
        let f = filters(
            &c,
            "sip:dev@127.0.0.5:5070;pn-provider=apns;pn-prid=T1;pn-param=P",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        let ev = |uri: &str| EventParams::new().with("aor", "dev").with("uri", uri);
        let again = ev("sip:dev@127.0.0.6:6000;pn-param=P;pn-prid=T1;pn-provider=apns");
        assert!(event_routing::filter::matches(&f, &again));
        let other = ev("sip:dev@127.0.0.6:6000;pn-param=P;pn-prid=T2;pn-provider=apns");
        assert!(!event_routing::filter::matches(&f, &other));
        assert!(!event_routing::filter::matches(
            &f,
            &ev("sip:dev@127.0.0.6:6000")
        ));
        assert!(filters(&c, "sip:dev@127.0.0.5;pn-provider=apns").is_none());
    }

    #[test]
    fn the_injected_uri_loses_the_pn_params() {
        let c = cfg();
        let p = EventParams::new()
            .with("aor", "dev")
            .with(
                "uri",
                "sip:dev@127.0.0.6:6000;transport=udp;pn-provider=apns;pn-prid=T;pn-param=P",
            )
            .with("received", "sip:127.0.0.6:6001")
            .with("expires", 300i64);
        let avps = trim_with(&c, &p);
        let get = |n: &str| avps.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("uri"),
            Some(Value::str("sip:dev@127.0.0.6:6000;transport=udp"))
        );
        assert_eq!(get("received"), Some(Value::str("sip:127.0.0.6:6001")));
        assert_eq!(get("expires"), Some(Value::Int(300)));
        // a URI without the PN parameters is left as it is
        let plain = EventParams::new().with("uri", "sip:dev@127.0.0.6;pn-prid=T");
        assert_eq!(
            trim_with(&c, &plain)[0].1,
            Value::str("sip:dev@127.0.0.6;pn-prid=T")
        );
    }

    #[test]
    fn refresh_reasons() {
        assert_eq!(reason("INVITE"), "ini-INVITE");
        assert_eq!(reason(&"X".repeat(40)).len(), 32);
    }
}
