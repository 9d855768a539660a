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
    if config.tls.as_ref().is_some_and(|t| t.client_ca.is_some()) {
        return Err(Error::Startup(
            "tls.client_ca: client certificates are not supported by this build yet".into(),
        ));
    }
    if config.role == Role::Core {
        for (key, addrs) in [
            ("listen.ws", &config.listen.ws),
            ("listen.wss", &config.listen.wss),
        ] {
            if !addrs.is_empty() {
                return Err(Error::Startup(format!(
                    "{key}: WebSocket is served by role: edge; a core is reached through an edge"
                )));
            }
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
