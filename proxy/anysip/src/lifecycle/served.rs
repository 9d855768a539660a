//! What this build does not serve yet, refused in one place: by
//! `anysip check` and by `anysip run` alike, with the key that asks for it.

use anysip_config::Config;

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
    Ok(())
}
