//! The TLS server configuration of `listen.tls` (rustls, ring provider):
//! the certificate (SIPhon's `certificate`/`private_key`), SIPhon's extra
//! certificates chosen by SNI (`tls.certificates`), client certificates
//! (`client_ca`, `verify_client`), the lowest version (`method`).

use std::path::Path;
use std::sync::Arc;

use anysip_config::{TlsConfig, TlsMethod};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::error::Error;

fn bad(key: &str, what: String) -> Error {
    Error::Startup(format!("tls.{key}: {what}"))
}

/// A certificate chain and its key, read from PEM files (`key` names the
/// keys in errors).
fn certified(
    provider: &CryptoProvider,
    cert: &Path,
    key: &Path,
    at: &str,
) -> Result<Arc<CertifiedKey>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(at, format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(at, format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(bad(
            at,
            format!("{}: no certificate in the file", cert.display()),
        ));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad(at, format!("{}: {e}", key.display())))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| bad(at, format!("{}: {e}", key.display())))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .map_err(|e| bad(at, format!("the key does not fit the certificate: {e}")))?;
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

/// Builds the acceptor of the `listen.tls` listeners.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let cert = tls
        .cert
        .as_ref()
        .ok_or_else(|| bad("cert", "required with listen.tls".into()))?;
    let key = tls
        .key
        .as_ref()
        .ok_or_else(|| bad("key", "required with listen.tls".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = certified(&provider, cert, key, "cert")?;
    let mut names = Vec::new();
    for (i, extra) in tls.certificates.iter().enumerate() {
        let at = format!("certificates[{i}]");
        let ck = certified(&provider, &extra.certificate, &extra.private_key, &at)?;
        for n in &extra.server_names {
            names.push((n.trim_end_matches('.').to_ascii_lowercase(), ck.clone()));
        }
    }
    // `tls.method` is the lowest version offered.
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.method {
        TlsMethod::Tls12 => rustls::DEFAULT_VERSIONS,
        TlsMethod::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| Error::Startup(format!("TLS: {e}")))?;
    let builder = match (&tls.client_ca, tls.requires_client_cert()) {
        (Some(ca), true) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| bad("client_ca", format!("{}: {e}", ca.display())))?
            {
                let c = c.map_err(|e| bad("client_ca", format!("{}: {e}", ca.display())))?;
                roots
                    .add(c)
                    .map_err(|e| bad("client_ca", format!("{}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad("client_ca", e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_names_and_wildcards() {
        let provider = rustls::crypto::ring::default_provider();
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
