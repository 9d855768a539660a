//! The registrar's failures, and the SIP status each maps to.

use thiserror::Error;

/// Why a registrar operation failed (a REGISTER that is merely wrong is not
/// an error: it is an [`crate::Outcome`] with a 4xx status).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistrarError {
    /// The binding store cannot be reached or did not answer in time. The
    /// caller answers 503; later calls work again once the store is back.
    #[error("registrar storage unavailable: {0}")]
    Unavailable(String),
    /// An address-of-record that is not a SIP or SIPS URI.
    #[error("invalid address-of-record: {0}")]
    InvalidAor(String),
    /// The registrar configuration cannot be used.
    #[error("registrar configuration: {0}")]
    Config(String),
}

impl RegistrarError {
    /// The SIP status a request that hit this error gets.
    pub fn status(&self) -> u16 {
        match self {
            RegistrarError::Unavailable(_) => 503,
            RegistrarError::InvalidAor(_) => 400,
            RegistrarError::Config(_) => 500,
        }
    }
}
