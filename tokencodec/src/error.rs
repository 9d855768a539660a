//! The crate's error type.

use crate::key::KeyId;
use crate::token::Kind;

/// Everything that can go wrong when sealing or opening a token, verifying a
/// branch, or building a key ring.
///
/// No variant ever carries secret material or the contents of a token, so
/// errors are safe to log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a well-formed token or branch: wrong length, a
    /// character outside the base64url alphabet, padding, non-canonical
    /// trailing bits, or an impossible layout.
    #[error("malformed token")]
    Malformed,
    /// The token's version byte names a format this build does not know.
    #[error("unsupported token version {0}")]
    BadVersion(u8),
    /// The token was sealed under a key id that is not in the key ring
    /// (never known, or already retired).
    #[error("token key id {0} is not in the key ring")]
    UnknownKey(KeyId),
    /// The token or branch failed authentication: it was forged, tampered
    /// with, truncated, or sealed under another key with the same id.
    #[error("token failed authentication")]
    Forged,
    /// The token opened but is of another kind than the caller asked for.
    #[error("expected a {expected} token, found a {found} token")]
    WrongKind {
        /// The kind the caller asked for.
        expected: Kind,
        /// The kind the token holds.
        found: Kind,
    },
    /// The token is older than the maximum age.
    #[error("token expired: issued at {issued_at}, now {now}")]
    Expired {
        /// Issue time of the token (Unix seconds).
        issued_at: u64,
        /// The `now` it was checked against (Unix seconds).
        now: u64,
    },
    /// The token was issued further in the future than the clock-skew
    /// allowance permits.
    #[error("token issued in the future: issued at {issued_at}, now {now}")]
    NotYetValid {
        /// Issue time of the token (Unix seconds).
        issued_at: u64,
        /// The `now` it was checked against (Unix seconds).
        now: u64,
    },
    /// A time given to `seal` cannot be represented in a token (before
    /// [`TOKEN_EPOCH`](crate::TOKEN_EPOCH) or after 2160).
    #[error("time {0} is outside the range a token can carry")]
    TimeOutOfRange(u64),
    /// The key ring is not valid (no key, duplicate id, no current key, ...).
    #[error("invalid key ring: {0}")]
    KeyRing(String),
    /// A key file or environment variable could not be parsed.
    #[error("invalid key file: {0}")]
    KeyFile(String),
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random number generator failed (key
    /// generation only).
    #[error("random number generator failed")]
    Rng,
}
