//! The TLS server configuration of `listen.tls` and `listen.wss` (rustls,
//! ring provider).

use std::sync::Arc;

use anysip_config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// Builds the acceptor from `tls.cert` and `tls.key` (PEM).
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let bad = |key: &str, what: String| Error::Startup(format!("tls.{key}: {what}"));
    let cert = tls
        .cert
        .as_ref()
        .ok_or_else(|| bad("cert", "required with listen.tls or listen.wss".into()))?;
    let key = tls
        .key
        .as_ref()
        .ok_or_else(|| bad("key", "required with listen.tls or listen.wss".into()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("cert", format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("cert", format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(bad(
            "cert",
            format!("{}: no certificate in the file", cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad("key", format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", format!("does not fit the certificate: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
