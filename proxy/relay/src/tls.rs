//! The fleet's certificates: a CA, one certificate per instance naming
//! `instance-<id>.anysip.invalid`, and the rustls configurations that
//! make every relay connection mutually authenticated under that CA.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;

use crate::error::RelayError;

/// The ALPN protocol of the relay.
pub const ALPN: &[u8] = b"anysip-relay/1";

/// The DNS name an instance's certificate carries (and is dialled as).
pub fn instance_name(instance: u16) -> String {
    format!("instance-{instance}.anysip.invalid")
}

/// The subject of a fleet CA made by [`new_ca`]; [`issue`] signs with an
/// issuer of this subject.
const CA_NAME: &str = "anysip fleet CA";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn ca_params() -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, CA_NAME);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
    p
}

/// A new fleet CA: (certificate PEM, key PEM).
pub fn new_ca() -> Result<(String, String), RelayError> {
    let key = rcgen::KeyPair::generate().map_err(cert_err)?;
    let cert = ca_params().self_signed(&key).map_err(cert_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A certificate for `instance` signed by the fleet CA (its certificate
/// and key, PEM): (certificate PEM, key PEM). The CA certificate is
/// checked against its key by verifying the new certificate with it.
pub fn issue(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    instance: u16,
) -> Result<(String, String), RelayError> {
    let ca_key = rcgen::KeyPair::from_pem(ca_key_pem).map_err(cert_err)?;
    let issuer = ca_params().self_signed(&ca_key).map_err(cert_err)?;
    let name = instance_name(instance);
    let mut p = rcgen::CertificateParams::new(vec![name.clone()]).map_err(cert_err)?;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
    let key = rcgen::KeyPair::generate().map_err(cert_err)?;
    let cert = p.signed_by(&key, &issuer, &ca_key).map_err(cert_err)?;
    let roots = roots(ca_cert_pem)?;
    check_names(&roots, cert.der(), instance).map_err(|e| {
        RelayError::Certificate(format!(
            "the CA certificate does not go with its key (or was not made by `anysip fleet ca`): {e}"
        ))
    })?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn cert_err(e: rcgen::Error) -> RelayError {
    RelayError::Certificate(e.to_string())
}

/// The certificates of a PEM text.
pub fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, RelayError> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| RelayError::Certificate(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(RelayError::Certificate("no certificate in the PEM".into()));
    }
    Ok(certs)
}

/// The private key of a PEM text.
pub fn key(pem: &str) -> Result<PrivateKeyDer<'static>, RelayError> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| RelayError::Certificate(format!("no private key in the PEM: {e}")))
}

/// The fleet CA as a root store.
pub fn roots(ca_pem: &str) -> Result<RootCertStore, RelayError> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca_pem)? {
        roots
            .add(c)
            .map_err(|e| RelayError::Certificate(format!("CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// Checks that `cert` chains to `roots` and names `instance`.
pub fn check_names(
    roots: &RootCertStore,
    cert: &CertificateDer<'_>,
    instance: u16,
) -> Result<(), String> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| e.to_string())?;
    let now = rustls::pki_types::UnixTime::now();
    ee.verify_for_usage(
        provider().signature_verification_algorithms.all,
        &roots.roots,
        &[],
        now,
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map_err(|e| e.to_string())?;
    names_instance(cert, instance)
}

/// Checks that a (verified) certificate names `instance`.
pub fn names_instance(cert: &CertificateDer<'_>, instance: u16) -> Result<(), String> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| e.to_string())?;
    let name = ServerName::try_from(instance_name(instance)).map_err(|e| e.to_string())?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("does not name instance {instance}: {e}"))
}

/// The instance a certificate names, if it names exactly one checked by
/// webpki (the DER is searched for `instance-<N>.anysip.invalid`; the
/// search only proposes, [`names_instance`] decides).
pub fn instance_of(cert: &CertificateDer<'_>) -> Option<u16> {
    let der: &[u8] = cert.as_ref();
    let prefix = b"instance-";
    let mut found = None;
    let mut at = 0;
    while let Some(i) = der.get(at..).and_then(|rest| find(rest, prefix)) {
        let start = at + i + prefix.len();
        let digits = der[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        at = start;
        let Some(n) = std::str::from_utf8(&der[start..start + digits])
            .ok()
            .and_then(|d| d.parse::<u16>().ok())
        else {
            continue;
        };
        if found != Some(n) && names_instance(cert, n).is_ok() {
            if found.is_some() {
                return None;
            }
            found = Some(n);
        }
    }
    found
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Verifies a discovered peer: its certificate chains to the fleet CA and
/// names one instance (whatever the name dialled).
#[derive(Debug)]
struct AnyInstance {
    roots: Arc<RootCertStore>,
}

impl rustls::client::danger::ServerCertVerifier for AnyInstance {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let ee = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        ee.verify_for_usage(
            provider().signature_verification_algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| rustls::Error::General(format!("not a fleet certificate: {e}")))?;
        if instance_of(end_entity).is_none() {
            return Err(rustls::Error::General(
                "the certificate names no instance".into(),
            ));
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// This instance's identity and the fleet CA, as rustls configurations.
#[derive(Debug, Clone)]
pub struct FleetTls {
    /// Accepts peers whose client certificate chains to the fleet CA.
    pub server: Arc<rustls::ServerConfig>,
    /// Dials peers, verifying their certificate against the fleet CA and
    /// the name of the instance dialled.
    pub client: Arc<rustls::ClientConfig>,
    /// Dials an address found by discovery: the certificate must chain to
    /// the fleet CA and name an instance, which one is learnt from it.
    pub discovery: Arc<rustls::ClientConfig>,
}

impl FleetTls {
    /// From PEM texts: the CA, this instance's certificate chain, its key.
    pub fn new(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<FleetTls, RelayError> {
        let roots = Arc::new(roots(ca_pem)?);
        let chain = certs(cert_pem)?;
        let tls_err = |e: rustls::Error| RelayError::Certificate(e.to_string());
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| RelayError::Certificate(e.to_string()))?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key(key_pem)?)
            .map_err(tls_err)?;
        server.alpn_protocols = vec![ALPN.to_vec()];
        // No 0-RTT: a replayed relayed message would be delivered twice.
        server.max_early_data_size = 0;
        let mut client = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .with_root_certificates(roots.clone())
            .with_client_auth_cert(chain, key(key_pem)?)
            .map_err(tls_err)?;
        client.alpn_protocols = vec![ALPN.to_vec()];
        client.enable_early_data = false;
        let mut discovery = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyInstance { roots }))
            .with_client_auth_cert(certs(cert_pem)?, key(key_pem)?)
            .map_err(tls_err)?;
        discovery.alpn_protocols = vec![ALPN.to_vec()];
        discovery.enable_early_data = false;
        Ok(FleetTls {
            server: Arc::new(server),
            client: Arc::new(client),
            discovery: Arc::new(discovery),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn issued_certificates_name_their_instance_and_chain_to_the_ca() {
        let (ca, ca_key) = new_ca().unwrap();
        let (cert, key_pem) = issue(&ca, &ca_key, 7).unwrap();
        let roots = roots(&ca).unwrap();
        let der = &certs(&cert).unwrap()[0];
        assert_eq!(check_names(&roots, der, 7), Ok(()));
        assert_eq!(instance_of(der), Some(7));
        assert!(check_names(&roots, der, 8).is_err());
        FleetTls::new(&ca, &cert, &key_pem).unwrap();
        // Another CA's certificate does not chain.
        let (other, other_key) = new_ca().unwrap();
        let (foreign, _) = issue(&other, &other_key, 7).unwrap();
        assert!(check_names(&roots, &certs(&foreign).unwrap()[0], 7).is_err());
        // A CA certificate with another CA's key is refused.
        assert!(issue(&ca, &other_key, 7).is_err());
    }
}
