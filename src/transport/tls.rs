//! TLS settings (rustls with the ring provider): certificate, key, CA list, client and server verification.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// TLS options shared by the `tls` and `wss` sockets, named as OpenSIPS's tls_mgm parameters.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM certificate chain presented to peers.
    pub certificate: PathBuf,
    /// PEM private key of the certificate.
    pub private_key: PathBuf,
    /// PEM CA certificates that verify peers' certificates.
    pub ca_list: Option<PathBuf>,
    /// Ask clients for a certificate and verify it against `ca_list`.
    pub verify_client: bool,
    /// Refuse clients without a certificate (with `verify_client`).
    pub require_client_cert: bool,
    /// Verify servers we connect to against `ca_list`.
    pub verify_server: bool,
}

/// A TLS file or setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS {what} `{path}`: {reason}")]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS: {0}")]
    Config(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_err = |reason: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        what: "private key",
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn load_roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("CA list", path)? {
        roots.add(cert).map_err(|e| TlsError::File {
            what: "CA list",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(roots))
}

impl TlsOptions {
    /// The configuration of accepted (server side) TLS connections.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = load_certs("certificate", &self.certificate)?;
        let key = load_key(&self.private_key)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = if self.verify_client {
            let ca = self.ca_list.as_deref().ok_or_else(|| {
                TlsError::Config(
                    "verify_client needs a CA list to verify client certificates".into(),
                )
            })?;
            let mut v = WebPkiClientVerifier::builder_with_provider(load_roots(ca)?, provider());
            if !self.require_client_cert {
                v = v.allow_unauthenticated();
            }
            builder
                .with_client_cert_verifier(v.build().map_err(|e| TlsError::Config(e.to_string()))?)
        } else {
            builder.with_no_client_auth()
        };
        let cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(format!("certificate and key do not match: {e}")))?;
        Ok(Arc::new(cfg))
    }

    /// The configuration of connections we open; presents our certificate when one is configured.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = if self.verify_server {
            let ca = self.ca_list.as_deref().ok_or_else(|| {
                TlsError::Config("verify_server needs a CA list to verify servers".into())
            })?;
            builder.with_root_certificates(load_roots(ca)?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider())))
        };
        let cfg = if self.certificate.as_os_str().is_empty() {
            builder.with_no_client_auth()
        } else {
            let certs = load_certs("certificate", &self.certificate)?;
            builder
                .with_client_auth_cert(certs, load_key(&self.private_key)?)
                .map_err(|e| TlsError::Config(format!("certificate and key do not match: {e}")))?
        };
        Ok(Arc::new(cfg))
    }
}

/// Server verification switched off (`verify_server = false`), as OpenSIPS's `verify_cert = 0`.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/transport")
            .join(name)
    }

    fn opts() -> TlsOptions {
        TlsOptions {
            certificate: fixture("server.pem"),
            private_key: fixture("server.key"),
            ca_list: Some(fixture("ca.pem")),
            ..Default::default()
        }
    }

    #[test]
    fn loads_certificate_key_and_ca() {
        let mut o = opts();
        o.server_config().unwrap();
        o.verify_client = true;
        o.require_client_cert = true;
        o.server_config().unwrap();
        o.verify_server = true;
        o.client_config().unwrap();
    }

    #[test]
    fn missing_files_name_the_file() {
        let mut o = opts();
        o.certificate = fixture("nope.pem");
        let e = o.server_config().unwrap_err().to_string();
        assert!(e.contains("nope.pem") && e.contains("certificate"), "{e}");
        let mut o = opts();
        o.private_key = fixture("ca.pem");
        let e = o.server_config().unwrap_err().to_string();
        assert!(e.contains("private key"), "{e}");
    }

    #[test]
    fn verification_needs_a_ca() {
        let mut o = opts();
        o.ca_list = None;
        o.verify_client = true;
        assert!(
            o.server_config()
                .unwrap_err()
                .to_string()
                .contains("CA list")
        );
        o.verify_server = true;
        assert!(
            o.client_config()
                .unwrap_err()
                .to_string()
                .contains("CA list")
        );
    }
}
