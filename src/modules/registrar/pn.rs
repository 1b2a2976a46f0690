//! SIP Push Notifications (RFC 8599; OpenSIPS `lib/reg/pn.c`): the `pn_*` modparams, the
//! contacts that carry `pn-provider` / `pn-prid` / `pn-param` (matched by those parameters,
//! not by URI), the `Feature-Caps: +sip.pns` exchange and when `lookup()` must have the
//! device woken up (E_UL_CONTACT_REFRESH) instead of sending to it.

use crate::script::module::ModParams;
use crate::sip::Uri;

use super::{int, string};

/// usrloc `flags` bit of a contact this registrar sends push notifications for (OpenSIPS
/// `FL_PN_ON`); a contact matched by its PN parameters because an upstream proxy handles the
/// notifications does not get it.
pub const FL_PN_ON: u32 = 1 << 8;

/// Longest provider name OpenSIPS accepts.
const MAX_PROVIDER_LEN: usize = 40;

pub const PN_PROVIDER: &str = "pn-provider";
pub const PN_PRID: &str = "pn-prid";
pub const PN_PARAM: &str = "pn-param";

/// The `pn_*` modparams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PnConfig {
    pub enable: bool,
    /// `pn_providers`, e.g. `apns, fcm, webpush`.
    pub providers: Vec<String>,
    /// `pn_ct_match_params`: the Contact URI parameters a PN binding is matched by.
    pub match_params: Vec<String>,
    /// Seconds before expiry a `+sip.pnsreg` device refreshes by itself (advertised).
    pub pnsreg_interval: u32,
    /// Seconds before expiry usrloc's refresh timer would raise E_UL_CONTACT_REFRESH.
    pub trigger_interval: u32,
    /// Seconds after a (re-)registration during which the device is taken as reachable.
    pub skip_pn_interval: u32,
    /// Seconds a request waits for the woken device to re-register.
    pub refresh_timeout: u32,
    pub enable_purr: bool,
}

impl Default for PnConfig {
    fn default() -> Self {
        PnConfig {
            enable: false,
            providers: Vec::new(),
            match_params: csv("pn-provider, pn-prid, pn-param"),
            pnsreg_interval: 130,
            trigger_interval: 120,
            skip_pn_interval: 0,
            refresh_timeout: 6,
            enable_purr: false,
        }
    }
}

fn csv(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// An RFC 3261 token (provider names and URI parameter names).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn seconds(p: &ModParams, name: &str, default: u32) -> Result<u32, String> {
    match int(p, name)? {
        None => Ok(default),
        Some(v) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        Some(v) => Err(format!("modparam \"{name}\": {v} is out of range")),
    }
}

impl PnConfig {
    pub fn from_params(p: &ModParams) -> Result<PnConfig, String> {
        let d = PnConfig::default();
        let c = PnConfig {
            enable: int(p, "pn_enable")?.unwrap_or(0) != 0,
            providers: string(p, "pn_providers")
                .map(|s| csv(&s))
                .unwrap_or_default(),
            match_params: string(p, "pn_ct_match_params")
                .map(|s| csv(&s))
                .unwrap_or(d.match_params),
            pnsreg_interval: seconds(p, "pn_pnsreg_interval", d.pnsreg_interval)?,
            trigger_interval: seconds(p, "pn_trigger_interval", d.trigger_interval)?,
            skip_pn_interval: seconds(p, "pn_skip_pn_interval", d.skip_pn_interval)?,
            refresh_timeout: seconds(p, "pn_refresh_timeout", d.refresh_timeout)?,
            enable_purr: int(p, "pn_enable_purr")?.unwrap_or(0) != 0,
        };
        for prov in &c.providers {
            if !is_token(prov) || prov.len() > MAX_PROVIDER_LEN {
                return Err(format!(
                    "modparam \"pn_providers\": `{prov}` is not a provider name (a token of at \
                     most {MAX_PROVIDER_LEN} characters, e.g. \"apns, fcm, webpush\")"
                ));
            }
        }
        for param in &c.match_params {
            if !is_token(param) {
                return Err(format!(
                    "modparam \"pn_ct_match_params\": `{param}` is not a URI parameter name"
                ));
            }
        }
        if !c.enable {
            return Ok(c);
        }
        if c.providers.is_empty() {
            return Err(
                "modparam \"pn_enable\" needs \"pn_providers\" (e.g. \"apns, fcm\")".into(),
            );
        }
        if c.match_params.is_empty() {
            return Err("modparam \"pn_ct_match_params\" must name at least 1 parameter".into());
        }
        if c.enable_purr {
            return Err(
                "modparam \"pn_enable_purr\": PURR (+sip.pnspurr, pn_process_purr) is not \
                 supported by osips yet"
                    .into(),
            );
        }
        Ok(c)
    }

    fn provider(&self, name: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// The values of the match parameters in a contact URI, in `match_params` order; None
    /// when one is missing (the contact is then matched as usual, by URI).
    pub fn match_key(&self, uri: &Uri<'_>) -> Option<Vec<String>> {
        self.match_params
            .iter()
            .map(|n| {
                uri.params
                    .get(n.as_bytes())
                    .map(|v| String::from_utf8_lossy(v.unwrap_or_default()).into_owned())
            })
            .collect()
    }

    /// The match key of a stored contact URI text.
    pub fn match_key_of(&self, uri: &str) -> Option<Vec<String>> {
        Uri::parse(uri.as_bytes())
            .ok()
            .and_then(|u| self.match_key(&u))
    }
}

/// What `save()` does with one Contact (OpenSIPS `enum pn_action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PnAction {
    /// No `pn-provider`: usual contact matching.
    None,
    /// A `pn-provider` this registrar does not serve, or a PN parameter is missing: 555.
    Unsupported,
    /// `;pn-provider` without a value: the UA asks which providers we serve.
    QueryAll,
    /// A served provider but no `pn-prid` / `pn-param`: capability query for that provider.
    QueryOne(String),
    /// An upstream proxy sends the notifications (`Feature-Caps: +sip.pns`): match the binding
    /// by its PN parameters, send none.
    MatchOnly(Vec<String>),
    /// Match by the PN parameters and send notifications when the device is needed.
    On { provider: String, key: Vec<String> },
}

/// The `+sip.pns` values of the request's Feature-Caps header values (RFC 6809 / 8599 §5.2).
pub fn upstream_pns<'a>(fcaps: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut out = Vec::new();
    for v in fcaps {
        let v = String::from_utf8_lossy(v);
        for p in v.split(';') {
            if let Some((n, val)) = p.split_once('=')
                && n.trim().eq_ignore_ascii_case("+sip.pns")
            {
                out.push(val.trim().trim_matches('"').to_string());
            }
        }
    }
    out
}

/// OpenSIPS `pn_inspect_ct_params`: the action for Contact URI `uri` given the providers
/// handled upstream.
pub fn inspect(cfg: &PnConfig, uri: &Uri<'_>, upstream: &[String]) -> PnAction {
    let Some(prov) = uri.params.get(PN_PROVIDER.as_bytes()) else {
        return PnAction::None;
    };
    let Some(prov) = prov.filter(|p| !p.is_empty()) else {
        return PnAction::QueryAll;
    };
    let prov = String::from_utf8_lossy(prov).into_owned();
    let handled_upstream = upstream.iter().any(|u| u.eq_ignore_ascii_case(&prov));
    let served = cfg.provider(&prov).map(str::to_string);
    if served.is_none() && !handled_upstream {
        return PnAction::Unsupported;
    }
    // Only a pn-prid or pn-param makes it a registration rather than a capability query.
    let query = !(uri.params.has(PN_PRID.as_bytes()) || uri.params.has(PN_PARAM.as_bytes()));
    match cfg.match_key(uri) {
        Some(key) if handled_upstream => PnAction::MatchOnly(key),
        None if handled_upstream => PnAction::None,
        _ if query => PnAction::QueryOne(served.unwrap_or(prov)),
        Some(key) => PnAction::On {
            provider: served.unwrap_or(prov),
            key,
        },
        None => PnAction::Unsupported,
    }
}

/// The Feature-Caps header line(s) of the 200 OK (RFC 8599 §5.2 / §6): `+sip.pns` and
/// `+sip.pnsreg` for a binding we notify, `+sip.pns` alone for a capability query.
pub fn reply_fcaps(cfg: &PnConfig, actions: &[PnAction]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut push = |l: String| {
        if !lines.contains(&l) {
            lines.push(l);
        }
    };
    for a in actions {
        match a {
            PnAction::On { provider, .. } => push(format!(
                "Feature-Caps: +sip.pns=\"{provider}\";+sip.pnsreg=\"{}\"\r\n",
                cfg.pnsreg_interval
            )),
            PnAction::QueryOne(p) => push(format!("Feature-Caps: +sip.pns=\"{p}\"\r\n")),
            PnAction::QueryAll => {
                for p in &cfg.providers {
                    push(format!("Feature-Caps: +sip.pns=\"{p}\"\r\n"));
                }
            }
            _ => {}
        }
    }
    lines.concat()
}

/// OpenSIPS `pn_required`: a push is needed unless the contact (re-)registered less than
/// `pn_skip_pn_interval` seconds ago.
pub fn refresh_due(last_modified: i64, now: i64, skip_pn_interval: u32) -> bool {
    last_modified == 0 || now >= last_modified + i64::from(skip_pn_interval)
}

/// The contact URI without the match parameters (what a request is sent to, OpenSIPS
/// `pn_remove_uri_params`).
pub fn strip_params(cfg: &PnConfig, uri: &str) -> String {
    let (body, headers) = match uri.find('?') {
        Some(i) => uri.split_at(i),
        None => (uri, ""),
    };
    let host_start = body.find('@').map_or(0, |i| i + 1);
    let Some(p) = body[host_start..].find(';').map(|i| i + host_start) else {
        return uri.to_string();
    };
    let mut out = body[..p].to_string();
    for param in body[p + 1..].split(';') {
        let name = param.split('=').next().unwrap_or("").trim();
        if param.is_empty()
            || cfg
                .match_params
                .iter()
                .any(|m| m.eq_ignore_ascii_case(name))
        {
            continue;
        }
        out.push(';');
        out.push_str(param);
    }
    out.push_str(headers);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::module::ParamValue;

    fn params(kv: &[(&str, ParamValue)]) -> ModParams {
        let mut p = ModParams::default();
        for (k, v) in kv {
            p.0.insert((*k).into(), vec![v.clone()]);
        }
        p
    }

    fn s(v: &str) -> ParamValue {
        ParamValue::Str(v.into())
    }

    fn on() -> PnConfig {
        PnConfig::from_params(&params(&[
            ("pn_enable", ParamValue::Int(1)),
            ("pn_providers", s("apns, fcm")),
        ]))
        .unwrap()
    }

    fn uri(u: &str) -> Uri<'_> {
        Uri::parse(u.as_bytes()).unwrap()
    }

    #[test]
    fn defaults_are_opensips_ones() {
        let c = PnConfig::from_params(&ModParams::default()).unwrap();
        assert!(!c.enable);
        assert_eq!(c.match_params, ["pn-provider", "pn-prid", "pn-param"]);
        assert_eq!(
            (
                c.pnsreg_interval,
                c.trigger_interval,
                c.skip_pn_interval,
                c.refresh_timeout
            ),
            (130, 120, 0, 6)
        );
        assert!(c.providers.is_empty() && !c.enable_purr);
        let c = on();
        assert_eq!(c.providers, ["apns", "fcm"]);
    }

    #[test]
    fn modparams_parse_and_refuse() {
        let c = PnConfig::from_params(&params(&[
            ("pn_enable", ParamValue::Int(1)),
            ("pn_providers", s("webpush")),
            ("pn_ct_match_params", s("pn-provider,pn-prid")),
            ("pn_refresh_timeout", ParamValue::Int(10)),
            ("pn_skip_pn_interval", s("5")),
        ]))
        .unwrap();
        assert_eq!(c.match_params, ["pn-provider", "pn-prid"]);
        assert_eq!((c.refresh_timeout, c.skip_pn_interval), (10, 5));

        let err = |kv: &[(&str, ParamValue)]| PnConfig::from_params(&params(kv)).unwrap_err();
        let e = err(&[("pn_enable", ParamValue::Int(1))]);
        assert!(e.contains("pn_providers"), "{e}");
        let e = err(&[
            ("pn_enable", ParamValue::Int(1)),
            ("pn_providers", s("apns, f cm")),
        ]);
        assert!(e.contains("pn_providers") && e.contains("f cm"), "{e}");
        let e = err(&[("pn_providers", s("apns;fcm"))]);
        assert!(e.contains("apns;fcm"), "{e}");
        let long = "x".repeat(41);
        assert!(err(&[("pn_providers", s(&long))]).contains(&long));
        let e = err(&[
            ("pn_enable", ParamValue::Int(1)),
            ("pn_providers", s("apns")),
            ("pn_ct_match_params", s(" , ")),
        ]);
        assert!(e.contains("pn_ct_match_params"), "{e}");
        let e = err(&[("pn_refresh_timeout", ParamValue::Int(-1))]);
        assert!(e.contains("pn_refresh_timeout"), "{e}");
        let e = err(&[("pn_refresh_timeout", s("soon"))]);
        assert!(e.contains("pn_refresh_timeout"), "{e}");
        let e = err(&[
            ("pn_enable", ParamValue::Int(1)),
            ("pn_providers", s("apns")),
            ("pn_enable_purr", ParamValue::Int(1)),
        ]);
        assert!(e.contains("pn_enable_purr"), "{e}");
    }

    #[test]
    fn pn_contacts_are_recognised() {
        let c = on();
        let full = "sip:dev@127.0.0.5:5070;pn-provider=apns;pn-prid=TOKEN1;pn-param=ABC.voip";
        assert_eq!(
            inspect(&c, &uri(full), &[]),
            PnAction::On {
                provider: "apns".into(),
                key: vec!["apns".into(), "TOKEN1".into(), "ABC.voip".into()]
            }
        );
        assert_eq!(inspect(&c, &uri("sip:dev@127.0.0.5"), &[]), PnAction::None);
        assert_eq!(
            inspect(&c, &uri("sip:dev@127.0.0.5;pn-provider"), &[]),
            PnAction::QueryAll
        );
        assert_eq!(
            inspect(&c, &uri("sip:dev@127.0.0.5;pn-provider=FCM"), &[]),
            PnAction::QueryOne("fcm".into())
        );
        // an unknown provider, or a PN parameter missing
        assert_eq!(
            inspect(
                &c,
                &uri("sip:d@127.0.0.5;pn-provider=webpush;pn-prid=x;pn-param=y"),
                &[]
            ),
            PnAction::Unsupported
        );
        assert_eq!(
            inspect(&c, &uri("sip:d@127.0.0.5;pn-provider=apns;pn-prid=x"), &[]),
            PnAction::Unsupported
        );
        // handled upstream: matched by the PN parameters, no notification from us
        let up = upstream_pns([&b"+sip.pns=\"apns\""[..], b"*;+sip.pns=\"webpush\""]);
        assert_eq!(up, ["apns", "webpush"]);
        assert_eq!(
            inspect(&c, &uri(full), &up),
            PnAction::MatchOnly(vec!["apns".into(), "TOKEN1".into(), "ABC.voip".into()])
        );
        assert!(matches!(
            inspect(
                &c,
                &uri("sip:d@127.0.0.5;pn-provider=webpush;pn-prid=x;pn-param=y"),
                &up
            ),
            PnAction::MatchOnly(_)
        ));
        assert_eq!(
            inspect(&c, &uri("sip:d@127.0.0.5;pn-provider=apns;pn-prid=x"), &up),
            PnAction::None
        );
    }

    #[test]
    fn matching_uses_only_the_match_params() {
        let c = on();
        let a = c.match_key_of("sip:dev@127.0.0.5:5070;pn-provider=apns;pn-prid=T;pn-param=P");
        let b = c.match_key_of(
            "sip:other@127.0.0.9:6000;transport=tcp;pn-param=P;pn-prid=T;pn-provider=apns",
        );
        assert!(a.is_some());
        assert_eq!(a, b);
        let d = c.match_key_of("sip:dev@127.0.0.5:5070;pn-provider=apns;pn-prid=T2;pn-param=P");
        assert_ne!(a, d);
        assert_eq!(
            c.match_key_of("sip:dev@127.0.0.5:5070;pn-provider=apns"),
            None
        );
        let mut only_prid = c.clone();
        only_prid.match_params = vec!["pn-provider".into(), "pn-prid".into()];
        assert_eq!(
            only_prid.match_key_of("sip:x@127.0.0.5;pn-provider=apns;pn-prid=T;pn-param=1"),
            only_prid.match_key_of("sip:y@127.0.0.6;pn-provider=apns;pn-prid=T;pn-param=2")
        );
        let mut custom = c.clone();
        custom.match_params = vec!["pn-provider".into(), "pn-prid".into(), "x-dev".into()];
        assert!(matches!(
            inspect(
                &custom,
                &uri("sip:y@127.0.0.6;pn-provider=apns;pn-prid=T;x-dev=7"),
                &[]
            ),
            PnAction::On { .. }
        ));
        assert_eq!(
            inspect(
                &custom,
                &uri("sip:y@127.0.0.6;pn-provider=apns;pn-prid=T"),
                &[]
            ),
            PnAction::Unsupported
        );
        // without pn-prid / pn-param it stays a capability query (as in OpenSIPS)
        assert_eq!(
            inspect(
                &custom,
                &uri("sip:y@127.0.0.6;pn-provider=apns;x-dev=7"),
                &[]
            ),
            PnAction::QueryOne("apns".into())
        );
    }

    #[test]
    fn refresh_due_after_the_skip_interval() {
        assert!(refresh_due(1000, 1000, 0));
        assert!(refresh_due(1000, 1500, 0));
        assert!(!refresh_due(1000, 1005, 10));
        assert!(refresh_due(1000, 1010, 10));
        assert!(refresh_due(0, 5, 10));
    }

    #[test]
    fn pn_params_are_stripped_for_sending() {
        let c = on();
        assert_eq!(
            strip_params(
                &c,
                "sip:dev@127.0.0.5:5070;transport=udp;pn-provider=apns;pn-prid=T;pn-param=P"
            ),
            "sip:dev@127.0.0.5:5070;transport=udp"
        );
        assert_eq!(
            strip_params(&c, "sip:dev@127.0.0.5;pn-prid=T?subject=x"),
            "sip:dev@127.0.0.5?subject=x"
        );
        assert_eq!(strip_params(&c, "sip:127.0.0.5"), "sip:127.0.0.5");
    }

    #[test]
    fn reply_feature_caps() {
        let c = on();
        let on_apns = PnAction::On {
            provider: "apns".into(),
            key: vec![],
        };
        assert_eq!(
            reply_fcaps(&c, &[on_apns.clone(), on_apns, PnAction::None]),
            "Feature-Caps: +sip.pns=\"apns\";+sip.pnsreg=\"130\"\r\n"
        );
        assert_eq!(
            reply_fcaps(&c, &[PnAction::QueryAll]),
            "Feature-Caps: +sip.pns=\"apns\"\r\nFeature-Caps: +sip.pns=\"fcm\"\r\n"
        );
        assert_eq!(reply_fcaps(&c, &[PnAction::MatchOnly(vec![])]), "");
    }
}
