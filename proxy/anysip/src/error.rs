//! Why the binary stops with an error. A leaf: it depends on no other
//! module of the binary.

use anysip_config::ConfigError;
use thiserror::Error;

/// Why the binary stops with an error.
#[derive(Debug, Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("key ring: {0}")]
    Keys(String),
    #[error("token: {0}")]
    Token(String),
    #[error("fleet: {0}")]
    Fleet(String),
    #[error("{0}")]
    Startup(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}
