//! What this build does not serve yet, refused in one place: by
//! `anysip check` and by `anysip run` alike, with the key that asks for it.

use anysip_config::{Config, Role};

use crate::error::Error;

/// Refuses a configuration that asks for what this build does not serve.
pub(crate) fn refuse_unserved(config: &Config) -> Result<(), Error> {
    if let Some(o) = &config.telemetry.otlp {
        if !o.endpoint.starts_with("http://") {
            return Err(Error::Startup(format!(
                "telemetry.otlp.endpoint: {:?}: this build exports OTLP/HTTP over http:// only",
                o.endpoint
            )));
        }
    }
    if let Some(tls) = &config.tls {
        if tls.requires_client_cert() {
            return Err(Error::Startup(
                "tls.client_ca: client certificates are not supported by this build yet".into(),
            ));
        }
        if !tls.certificates.is_empty() {
            return Err(Error::Startup(
                "tls.certificates: certificates chosen by SNI are not supported by this build yet: give one tls.certificate".into(),
            ));
        }
        if tls.client_certificate.is_some() || tls.client_private_key.is_some() {
            return Err(Error::Startup(
                "tls.client_certificate: a client certificate for outbound TLS is not supported by this build yet".into(),
            ));
        }
    }
    if config.role == Role::Edge {
        for g in &config.gateway.groups {
            if let Some(d) = g
                .destinations
                .iter()
                .find(|d| d.transport != sip::Transport::Udp)
            {
                return Err(Error::Startup(format!(
                    "gateway.groups[name={}]: destination {} uses {}; this build's edge reaches backends over UDP only",
                    g.name, d.uri, d.transport
                )));
            }
        }
    }
    Ok(())
}
