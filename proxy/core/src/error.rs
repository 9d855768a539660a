//! Errors of the core, and the one place where a failure becomes a status.

use thiserror::Error;

/// What went wrong while carrying out a decision or handling a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// A message could not be edited (overlapping edits, bad Max-Forwards).
    #[error("cannot edit the message: {0}")]
    Edit(#[from] sip::edit::EditError),
    /// A message built here did not parse again.
    #[error("built an unparseable message: {0}")]
    Rebuild(String),
    /// A header the proxy needs is malformed.
    #[error("{0}")]
    Header(#[from] sip::HeaderError),
    /// A target from the router is not usable.
    #[error("bad target {0:?}")]
    BadTarget(String),
    /// No listener can send to the destination.
    #[error("no listener for {0}")]
    NoListener(String),
    /// The router failed (a script exception).
    #[error("router failed: {0}")]
    Router(String),
}

impl CoreError {
    /// The status code a request gets when this error stops it (pingora's
    /// downstream / upstream / internal split: everything here is ours).
    pub fn status(&self) -> u16 {
        match self {
            CoreError::BadTarget(_) | CoreError::NoListener(_) => 500,
            CoreError::Header(_) => 400,
            _ => 500,
        }
    }
}
