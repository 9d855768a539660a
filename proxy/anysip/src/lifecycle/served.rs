//! What this build does not serve yet, and what a role cannot do with its
//! configuration, refused in one place: by `anysip check` and by
//! `anysip run` alike, with the key that asks for it.

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
        edge_reachable(config)?;
    }
    Ok(())
}

/// An edge's stream backends reach it over their transport (the
/// Record-Route and Path it adds name its listener of that transport).
fn edge_reachable(config: &Config) -> Result<(), Error> {
    for g in &config.gateway.groups {
        for d in &g.destinations {
            let t = d.transport();
            let listening = match t {
                sip::Transport::Tcp => !config.listen.tcp.is_empty(),
                sip::Transport::Tls => !config.listen.tls.is_empty(),
                _ => true,
            };
            if !listening {
                return Err(Error::Startup(format!(
                    "gateway.groups[name={}]: destination {} is reached over {t}, so it reaches the edge over {t} too: add a listen.{t} listener",
                    g.name, d.uri
                )));
            }
        }
    }
    Ok(())
}
