//! TLS (rustls, ring provider): the server configuration of `listen.tls`
//! — the certificate (SIPhon's `certificate`/`private_key`), SIPhon's extra
//! certificates chosen by SNI (`tls.certificates`), client certificates
//! when `tls.client_ca` (and SIPhon's `verify_client`) ask for them, the
//! lowest version (`method`) — and the client configuration of the
//! connections this instance opens.

use std::path::Path;
use std::sync::Arc;

use anysip_config::{TlsConfig, TlsMethod};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

use crate::error::Error;

fn bad(key: &str, what: String) -> Error {
    Error::Startup(format!("tls.{key}: {what}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 alone (`tls.method: TLSv1_3`).
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The versions `tls.method` allows: it is the lowest offered.
fn versions(tls: Option<&TlsConfig>) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match tls.map(|t| t.method) {
        Some(TlsMethod::Tls13) => TLS13_ONLY,
        Some(TlsMethod::Tls12) | None => rustls::DEFAULT_VERSIONS,
    }
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

/// A certificate chain and its key from PEM files (`key` names them in
/// errors).
fn pair(
    key: &str,
    cert: &Path,
    private: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let certs = certificates(key, cert)?;
    let der = PrivateKeyDer::from_pem_file(private)
        .map_err(|e| bad(key, format!("{}: {e}", private.display())))?;
    Ok((certs, der))
}

/// A chain and key ready to serve, checked to fit each other.
fn certified(key: &str, cert: &Path, private: &Path) -> Result<Arc<CertifiedKey>, Error> {
    let (certs, der) = pair(key, cert, private)?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| bad(key, format!("{}: {e}", private.display())))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .map_err(|e| bad(key, format!("the key does not fit the certificate: {e}")))?;
    Ok(Arc::new(ck))
}

/// Picks the certificate by the server name the client sent (RFC 6066):
/// an exact name, or `*.domain` for one more leading label; else, and for
/// a client that sends none, the default.
#[derive(Debug)]
struct BySni {
    default: Arc<CertifiedKey>,
    names: Vec<(String, Arc<CertifiedKey>)>,
}

impl BySni {
    fn find(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let parent = name.split_once('.').map(|(_, rest)| rest);
        self.names
            .iter()
            .find(|(n, _)| *n == name)
            .or_else(|| {
                let parent = parent?;
                self.names
                    .iter()
                    .find(|(n, _)| n.strip_prefix("*.") == Some(parent))
            })
            .map(|(_, ck)| ck)
    }
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            hello
                .server_name()
                .and_then(|n| self.find(n))
                .unwrap_or(&self.default)
                .clone(),
        )
    }
}

/// Builds the acceptor of the `listen.tls` and `listen.wss` listeners.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let cert = tls
        .cert
        .as_ref()
        .ok_or_else(|| bad("cert", "required with listen.tls or listen.wss".into()))?;
    let key = tls
        .key
        .as_ref()
        .ok_or_else(|| bad("key", "required with listen.tls or listen.wss".into()))?;
    let default = certified("cert", cert, key)?;
    let mut names = Vec::new();
    for (i, extra) in tls.certificates.iter().enumerate() {
        let ck = certified(
            &format!("certificates[{i}]"),
            &extra.certificate,
            &extra.private_key,
        )?;
        for n in &extra.server_names {
            names.push((n.trim_end_matches('.').to_ascii_lowercase(), ck.clone()));
        }
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(Some(tls)))
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?;
    let builder = match (&tls.client_ca, tls.requires_client_cert()) {
        (Some(path), true) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots("client_ca", path)?),
                provider(),
            )
            .build()
            .map_err(|e| bad("client_ca", format!("{}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        (None, true) => {
            return Err(bad(
                "verify_client",
                "needs tls.client_ca (the CAs client certificates must chain to)".into(),
            ))
        }
        (_, false) => builder.with_no_client_auth(),
    };
    let config = builder.with_cert_resolver(Arc::new(BySni { default, names }));
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The client configuration of the TLS connections this instance opens:
/// servers verified against `tls.ca` (else the system's trust store) and
/// the destination's name, with the versions `tls.method` allows; SIPhon's
/// `client_certificate`/`client_private_key` when set, else
/// `tls.cert`/`tls.key`, presented to servers that ask for a client
/// certificate.
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
        .with_protocol_versions(versions(tls))
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    let identity = match tls {
        Some(t) => match (
            &t.client_certificate,
            &t.client_private_key,
            &t.cert,
            &t.key,
        ) {
            (Some(c), Some(k), _, _) => {
                Some(("client_certificate", pair("client_certificate", c, k)?))
            }
            (_, _, Some(c), Some(k)) => Some(("key", pair("cert", c, k)?)),
            _ => None,
        },
        None => None,
    };
    let config = match identity {
        Some((key, (certs, der))) => builder
            .with_client_auth_cert(certs, der)
            .map_err(|e| bad(key, format!("does not fit the certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_names_and_wildcards() {
        let provider = provider();
        let key = |name: &str| {
            let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()])
                .unwrap_or_else(|e| panic!("{e}"));
            let der = PrivateKeyDer::try_from(ck.key_pair.serialize_der())
                .unwrap_or_else(|e| panic!("{e}"));
            let signing = provider
                .key_provider
                .load_private_key(der)
                .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(CertifiedKey::new(vec![ck.cert.der().clone()], signing))
        };
        let (d, a, w) = (key("d.example"), key("a.example"), key("x.t.example"));
        let sni = BySni {
            default: d,
            names: vec![
                ("a.example".into(), a.clone()),
                ("*.t.example".into(), w.clone()),
            ],
        };
        assert!(sni.find("A.Example.").is_some_and(|c| Arc::ptr_eq(c, &a)));
        assert!(sni.find("x.t.example").is_some_and(|c| Arc::ptr_eq(c, &w)));
        assert!(sni.find("t.example").is_none());
        assert!(sni.find("y.x.t.example").is_none());
    }
}
