//! The TLS server configuration of `listen.tls` (rustls, ring provider).

use std::sync::Arc;

use anysip_config::{TlsConfig, TlsMethod};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// Builds the acceptor from `tls.cert` and `tls.key` (PEM, SIPhon's
/// `certificate` and `private_key`), offering the versions `tls.method`
/// allows.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let bad = |key: &str, what: String| Error::Startup(format!("tls.{key}: {what}"));
    let cert = tls
        .cert
        .as_ref()
        .ok_or_else(|| bad("cert", "required with listen.tls".into()))?;
    let key = tls
        .key
        .as_ref()
        .ok_or_else(|| bad("key", "required with listen.tls".into()))?;
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
    // `tls.method` is the lowest version offered.
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.method {
        TlsMethod::Tls12 => rustls::DEFAULT_VERSIONS,
        TlsMethod::Tls13 => &[&rustls::version::TLS13],
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", format!("does not fit the certificate: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
