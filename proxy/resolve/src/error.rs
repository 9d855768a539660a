//! The one error type of the crate.

/// Why a target did not resolve.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// The text is not a SIP URI or `host[:port]`, or asks for something that
    /// cannot be honoured (an unknown `;transport=`, `sips:` over UDP).
    #[error("not a usable SIP URI or host[:port]: {0:?}")]
    BadTarget(String),
    /// The name has no usable records (NXDOMAIN, or no NAPTR/SRV/A/AAAA
    /// records that lead to an address).
    #[error("{0}: no address found")]
    NotFound(String),
    /// The DNS lookup failed (timeout, server failure, refused).
    #[error("{name}: DNS lookup failed: {message}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The system resolver configuration could not be read.
    #[error("DNS resolver configuration: {0}")]
    Config(String),
}
