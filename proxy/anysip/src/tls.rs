//! TLS (rustls, ring provider): the server configuration of `listen.tls`
//! and `listen.wss` (with client certificates when `tls.client_ca` asks for
//! them), and the client configuration of the connections this instance
//! opens.

use std::path::Path;
use std::sync::Arc;

use anysip_config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::error::Error;

fn bad(key: &str, what: String) -> Error {
    Error::Startup(format!("tls.{key}: {what}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file, at least one.
fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(key, format!("{}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(key, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(bad(
            key,
            format!("{}: no certificate in the file", path.display()),
        ));
    }
    Ok(certs)
}

/// The trust anchors of a PEM CA bundle.
fn roots(key: &str, path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for c in certificates(key, path)? {
        roots
            .add(c)
            .map_err(|e| bad(key, format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// This instance's certificate chain and key (`tls.cert`, `tls.key`).
fn identity(
    tls: &TlsConfig,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, Error> {
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Ok(None);
    };
    let certs = certificates("cert", cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad("key", format!("{}: {e}", key.display())))?;
    Ok(Some((certs, key)))
}

/// Builds the acceptor from `tls.cert` and `tls.key` (PEM); with
/// `tls.client_ca`, clients must present a certificate it signed.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, Error> {
    if tls.cert.is_none() {
        return Err(bad("cert", "required with listen.tls or listen.wss".into()));
    }
    let Some((certs, key)) = identity(tls)? else {
        return Err(bad("key", "required with listen.tls or listen.wss".into()));
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?;
    let builder = match &tls.client_ca {
        Some(path) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots("client_ca", path)?),
                provider(),
            )
            .build()
            .map_err(|e| bad("client_ca", format!("{}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", format!("does not fit the certificate: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The client configuration of the TLS connections this instance opens:
/// servers verified against `tls.ca` (else the system's trust store) and
/// the destination's name; `tls.cert`/`tls.key`, when set, presented to
/// servers that ask for a client certificate.
pub(crate) fn connector(tls: Option<&TlsConfig>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = match tls.and_then(|t| t.ca.as_deref()) {
        Some(path) => roots("ca", path)?,
        None => {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "tls.ca: not set and the system's trust store has no certificate: TLS servers cannot be verified"
                );
            }
            roots
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    let config = match tls.map(identity).transpose()?.flatten() {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| bad("key", format!("does not fit the certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
