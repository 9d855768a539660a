//! The key ring of an edge: from a file, an environment variable, or (in
//! development) generated at start.

use anysip_config::{Config, KeySource};
use tokencodec::{KeyId, KeyRing};

use crate::error::Error;

/// Loads the configured key ring. In development mode a random ring is
/// generated and a loud warning logged: tokens then open only on this
/// instance until it restarts.
pub(crate) fn key_ring(config: &Config) -> Result<KeyRing, Error> {
    let source = config
        .edge
        .as_ref()
        .map_or(KeySource::Dev, |e| e.key_source());
    match source {
        KeySource::File(path) => KeyRing::load_file(path).map_err(|e| Error::Keys(e.to_string())),
        KeySource::Env(var) => KeyRing::load_env(var).map_err(|e| Error::Keys(e.to_string())),
        KeySource::Dev => {
            tracing::warn!(
                "DEVELOPMENT KEY RING: no edge.keys configured, a random key ring was generated. \
                 Tokens will not open on any other instance nor after a restart. \
                 Never run a fleet like this: create a key file with `anysip token keygen`."
            );
            KeyRing::generate(KeyId(1)).map_err(|e| Error::Keys(e.to_string()))
        }
    }
}
