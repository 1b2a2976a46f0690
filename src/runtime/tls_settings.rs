//! `tls_mgm`'s parameters turned into the transport's [`TlsOptions`].
//!
//! OpenSIPS names TLS domains (`server_domain` / `client_domain`) and prefixes a value with
//! `[domain]` to scope it; an unprefixed value applies to every domain. osips presents one
//! certificate on all `tls` / `wss` sockets and on the connections it opens, so the server
//! domains may differ only in what osips does not use; two different certificates are refused at
//! start-up rather than silently served as one. `verify_cert` / `require_cert` default to 1, as in
//! OpenSIPS: verifying needs a `ca_list`.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::script::Script;
use crate::script::module::ParamValue;
use crate::transport::TlsOptions;

/// One parameter's values: unprefixed, and per domain.
#[derive(Default)]
struct Scoped {
    any: Option<String>,
    by_domain: HashMap<String, String>,
}

impl Scoped {
    fn for_domain(&self, domain: Option<&str>) -> Option<&str> {
        domain
            .and_then(|d| self.by_domain.get(d))
            .or(self.any.as_ref())
            .map(String::as_str)
    }
}

fn text(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Str(s) => s.trim().to_string(),
    }
}

/// `[dom]value` → (Some("dom"), "value").
fn split_domain(v: &str) -> (Option<&str>, &str) {
    if let Some(rest) = v.strip_prefix('[')
        && let Some((d, value)) = rest.split_once(']')
    {
        return (Some(d.trim()), value.trim());
    }
    (None, v)
}

/// A domain definition: `name` (3.x) or `name=IP:port` (2.x).
fn domain_name(v: &str) -> &str {
    v.split_once('=').map_or(v, |(n, _)| n).trim()
}

fn flag(param: &str, domain: Option<&str>, v: &str) -> Result<bool, String> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!(
            "tls_mgm: modparam {param}{} must be 0 or 1, not `{v}`",
            domain
                .map(|d| format!(" of domain [{d}]"))
                .unwrap_or_default()
        )),
    }
}

/// The TLS options the script's `tls_mgm` parameters ask for; `None` when tls_mgm is not loaded.
pub fn from_script(script: &Script) -> Result<Option<TlsOptions>, String> {
    let Some(params) = script.modparams.get("tls_mgm") else {
        return Ok(None);
    };
    let mut scoped: HashMap<&str, Scoped> = HashMap::new();
    for name in [
        "certificate",
        "private_key",
        "ca_list",
        "verify_cert",
        "require_cert",
    ] {
        let mut s = Scoped::default();
        for v in params.all(name) {
            let v = text(v);
            match split_domain(&v) {
                (Some(d), value) => {
                    s.by_domain.insert(d.to_string(), value.to_string());
                }
                (None, value) => s.any = Some(value.to_string()),
            }
        }
        scoped.insert(name, s);
    }
    let domains = |param: &str| -> Vec<String> {
        params
            .all(param)
            .iter()
            .map(|v| domain_name(&text(v)).to_string())
            .collect()
    };
    let servers = domains("server_domain");
    let clients = domains("client_domain");
    let get = |name: &str, d: Option<&str>| scoped.get(name).and_then(|s| s.for_domain(d));

    let server = servers.first().map(String::as_str);
    let cert = get("certificate", server);
    let key = get("private_key", server);
    for other in servers.iter().skip(1) {
        let o = Some(other.as_str());
        if get("certificate", o) != cert || get("private_key", o) != key {
            return Err(format!(
                "tls_mgm: server domains `{}` and `{other}` have different certificates; osips \
                 presents one certificate on every TLS socket (define one server domain)",
                servers[0]
            ));
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(
            "tls_mgm: set modparam certificate and private_key (PEM files) for the TLS sockets"
                .into(),
        );
    };
    let ca_list = get("ca_list", server).filter(|c| !c.is_empty());
    let verify = flag(
        "verify_cert",
        server,
        get("verify_cert", server).unwrap_or("1"),
    )?;
    let require = flag(
        "require_cert",
        server,
        get("require_cert", server).unwrap_or("1"),
    )?;
    if verify && ca_list.is_none() {
        return Err(
            "tls_mgm: verify_cert is on (OpenSIPS's default) but no ca_list is set: \
             set modparam(\"tls_mgm\", \"ca_list\", FILE) or verify_cert 0"
                .into(),
        );
    }
    let client = clients.first().map(String::as_str);
    let client_ca = get("ca_list", client).filter(|c| !c.is_empty());
    let verify_server = match get("verify_cert", client) {
        Some(v) if client.is_some() || scoped["verify_cert"].any.is_some() => {
            flag("verify_cert", client, v)?
        }
        _ => false,
    } && client_ca.is_some();
    Ok(Some(TlsOptions {
        certificate: PathBuf::from(cert),
        private_key: PathBuf::from(key),
        ca_list: ca_list.or(client_ca).map(PathBuf::from),
        verify_client: verify,
        require_client_cert: verify && require,
        verify_server,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(body: &str) -> Result<Option<TlsOptions>, String> {
        let text = format!(
            "loadmodule \"proto_tls.so\"\nloadmodule \"tls_mgm.so\"\n{body}\nroute {{ exit; }}"
        );
        let c = crate::script::check_str("t.cfg", &text, &crate::script::Registry::builtin());
        assert!(!c.has_errors(), "{}", c.render());
        from_script(c.script.as_ref().unwrap())
    }

    #[test]
    fn unprefixed_values_make_the_default_domain() {
        let o = tls(r#"modparam("tls_mgm", "certificate", "/c.pem")
modparam("tls_mgm", "private_key", "/k.pem")
modparam("tls_mgm", "verify_cert", "0")
modparam("tls_mgm", "require_cert", "0")"#)
        .unwrap()
        .unwrap();
        assert_eq!(o.certificate, PathBuf::from("/c.pem"));
        assert_eq!(o.private_key, PathBuf::from("/k.pem"));
        assert!(!o.verify_client && !o.require_client_cert && !o.verify_server);
    }

    #[test]
    fn domain_values_override_and_verification_needs_a_ca_list() {
        let o = tls(r#"modparam("tls_mgm", "server_domain", "srv")
modparam("tls_mgm", "match_ip_address", "[srv]*")
modparam("tls_mgm", "certificate", "/default.pem")
modparam("tls_mgm", "certificate", "[srv]/srv.pem")
modparam("tls_mgm", "private_key", "[srv]/srv.key")
modparam("tls_mgm", "ca_list", "[srv]/ca.pem")
modparam("tls_mgm", "require_cert", "[srv]0")"#)
        .unwrap()
        .unwrap();
        assert_eq!(o.certificate, PathBuf::from("/srv.pem"));
        assert_eq!(o.ca_list, Some(PathBuf::from("/ca.pem")));
        assert!(o.verify_client && !o.require_client_cert);

        let e = tls(r#"modparam("tls_mgm", "certificate", "/c.pem")
modparam("tls_mgm", "private_key", "/k.pem")"#)
        .unwrap_err();
        assert!(e.contains("ca_list"), "{e}");
    }

    #[test]
    fn two_server_certificates_and_bad_flags_are_refused() {
        let e = tls(r#"modparam("tls_mgm", "server_domain", "a")
modparam("tls_mgm", "server_domain", "b")
modparam("tls_mgm", "certificate", "[a]/a.pem")
modparam("tls_mgm", "certificate", "[b]/b.pem")
modparam("tls_mgm", "private_key", "/k.pem")
modparam("tls_mgm", "verify_cert", "0")"#)
        .unwrap_err();
        assert!(e.contains("`a` and `b`"), "{e}");
        let e = tls(r#"modparam("tls_mgm", "certificate", "/c.pem")
modparam("tls_mgm", "private_key", "/k.pem")
modparam("tls_mgm", "verify_cert", "yes")"#)
        .unwrap_err();
        assert!(e.contains("verify_cert must be 0 or 1"), "{e}");
        let e = tls(r#"modparam("tls_mgm", "private_key", "/k.pem")"#).unwrap_err();
        assert!(e.contains("certificate and private_key"), "{e}");
        assert!(tls("").unwrap().is_none());
    }

    #[test]
    fn client_domain_verifies_servers_with_its_ca() {
        let o = tls(r#"modparam("tls_mgm", "certificate", "/c.pem")
modparam("tls_mgm", "private_key", "/k.pem")
modparam("tls_mgm", "verify_cert", "0")
modparam("tls_mgm", "client_domain", "out")
modparam("tls_mgm", "verify_cert", "[out]1")
modparam("tls_mgm", "ca_list", "[out]/ca.pem")"#)
        .unwrap()
        .unwrap();
        assert!(!o.verify_client && o.verify_server);
        assert_eq!(o.ca_list, Some(PathBuf::from("/ca.pem")));
    }
}
