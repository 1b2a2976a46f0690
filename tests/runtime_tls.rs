//! An OpenSIPS TLS script run by `osips -f`: `socket=tls:` with `proto_tls` and `tls_mgm`'s
//! certificate, private_key, ca_list and require_cert. A client with a certificate signed by the
//! CA gets the script's reply over TLS; one without a certificate gets none; a script whose
//! verification has no CA list stops at start-up naming the parameter.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::osips::Osips;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transport")
        .join(name)
}

fn script(require_cert: u8) -> String {
    format!(
        r#"log_level=3
socket=tls:127.0.0.1:@PORT@
loadmodule "proto_tls.so"
loadmodule "tls_mgm.so"
loadmodule "sl.so"
modparam("tls_mgm", "server_domain", "dom")
modparam("tls_mgm", "match_ip_address", "[dom]*")
modparam("tls_mgm", "certificate", "[dom]{cert}")
modparam("tls_mgm", "private_key", "[dom]{key}")
modparam("tls_mgm", "ca_list", "[dom]{ca}")
modparam("tls_mgm", "verify_cert", "[dom]1")
modparam("tls_mgm", "require_cert", "[dom]{require_cert}")
route {{
    if ($pr == "tls")
        sl_send_reply(200, "Over TLS");
    else
        sl_send_reply(500, "Not TLS");
    exit;
}}
"#,
        cert = fixture("server.pem").display(),
        key = fixture("server.key").display(),
        ca = fixture("ca.pem").display(),
    )
}

fn connector(with_cert: bool) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = if with_cert {
        let certs = CertificateDer::pem_file_iter(fixture("client.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(fixture("client.key")).unwrap();
        builder.with_client_auth_cert(certs, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Sends an OPTIONS over TLS to `port`; the reply's status line, or the error that ended the
/// connection first.
fn options_over_tls(port: u16, with_cert: bool) -> Result<String, String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let local = tcp.local_addr().unwrap();
        let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let mut s = connector(with_cert)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let req = format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=t1\r\nTo: <sip:127.0.0.1>\r\n\
             Call-ID: tls-{port}-{with_cert}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n") {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte)).await {
                Err(_) => return Err("no reply in 10 s".into()),
                Ok(Err(e)) => return Err(format!("read: {e}")),
                Ok(Ok(0)) => return Err("connection closed".into()),
                Ok(Ok(_)) => buf.push(byte[0]),
            }
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
    })
}

#[test]
fn a_client_with_a_certificate_gets_the_scripts_reply_over_tls() {
    let osips = Osips::script(&script(1)).start();
    let status = options_over_tls(osips.port, true)
        .unwrap_or_else(|e| panic!("{e}\nosips log:\n{}", osips.log()));
    assert_eq!(status, "SIP/2.0 200 Over TLS", "{}", osips.log());
}

#[test]
fn require_cert_turns_away_a_client_without_one_and_zero_lets_it_in() {
    let strict = Osips::script(&script(1)).start();
    let refused = options_over_tls(strict.port, false);
    assert!(refused.is_err(), "got {refused:?}\n{}", strict.log());

    let lenient = Osips::script(&script(0)).start();
    let status = options_over_tls(lenient.port, false)
        .unwrap_or_else(|e| panic!("{e}\nosips log:\n{}", lenient.log()));
    assert_eq!(status, "SIP/2.0 200 Over TLS");
}

#[test]
fn verification_without_a_ca_list_stops_the_start_naming_the_parameter() {
    let text = script(1).replace(
        &format!(
            "modparam(\"tls_mgm\", \"ca_list\", \"[dom]{}\")\n",
            fixture("ca.pem").display()
        ),
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.cfg");
    std::fs::write(
        &file,
        text.replace("@PORT@", &common::free_port().to_string()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_osips"))
        .args(["-f", file.to_str().unwrap(), "-F", "-E"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("ca_list"), "{err}");
}
