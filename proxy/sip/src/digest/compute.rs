//! The digest computation (RFC 7616 §3.4.1–3.4.3, RFC 2617 §3.2.2, RFC 2069):
//!
//! ```text
//! HA1      = H(username ":" realm ":" password)
//! HA1-sess = H(HA1 ":" nonce ":" cnonce)
//! HA2      = H(method ":" digest-uri)
//! response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   with qop
//! response = H(HA1 ":" nonce ":" HA2)                             without
//! ```
//!
//! All hashes are lowercase hex, and the hex text (not the raw bytes) is what
//! the next step hashes.

use std::fmt;

use super::algorithm::{Algorithm, NonceCount, Qop};
use super::error::DigestError;

/// `H(username:realm:password)` in lowercase hex, for one hash function.
///
/// Registrars store this instead of the password; it is password-equivalent
/// for its realm, so `Debug` redacts it and equality is constant-time.
#[derive(Clone)]
pub struct Ha1 {
    algorithm: Algorithm,
    hex: String,
}

impl Ha1 {
    /// Computes HA1 from a password. A `-sess` algorithm gives the same value
    /// as its base algorithm: the session step happens per response.
    pub fn from_password(
        algorithm: Algorithm,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Self {
        let algorithm = algorithm.base();
        let hex = algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()]);
        Self { algorithm, hex }
    }

    /// Wraps a stored HA1. Fails with [`DigestError::Ha1Mismatch`] unless
    /// `hex` is hex of the algorithm's digest length; it is kept lowercase.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Self, DigestError> {
        let algorithm = algorithm.base();
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::Ha1Mismatch);
        }
        Ok(Self {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The hash function (always a non-`-sess` [`Algorithm`]).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex value, for storage.
    pub fn as_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1")
            .field("algorithm", &self.algorithm)
            .field("hex", &"<redacted>")
            .finish()
    }
}

impl PartialEq for Ha1 {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && ct_eq(self.hex.as_bytes(), other.hex.as_bytes())
    }
}

impl Eq for Ha1 {}

/// What proves the user's identity: the password, or a stored HA1.
/// `Debug` redacts both.
#[derive(Clone, Copy)]
pub enum Secret<'a> {
    /// The plain password.
    Password(&'a str),
    /// A precomputed `H(username:realm:password)`.
    Ha1(&'a Ha1),
}

impl Secret<'_> {
    /// The HA1 to use for `algorithm`: computed from a password, or the stored
    /// one if it belongs to the same hash function.
    pub fn ha1(
        &self,
        algorithm: Algorithm,
        username: &str,
        realm: &str,
    ) -> Result<Ha1, DigestError> {
        match self {
            Self::Password(p) => Ok(Ha1::from_password(algorithm, username, realm, p)),
            Self::Ha1(h) if h.algorithm == algorithm.base() => Ok((*h).clone()),
            Self::Ha1(_) => Err(DigestError::Ha1Mismatch),
        }
    }
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(<redacted>)"),
            Self::Ha1(h) => f.debug_tuple("Ha1").field(h).finish(),
        }
    }
}

/// The per-request values that, with HA1, determine the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestInput<'a> {
    /// The digest algorithm.
    pub algorithm: Algorithm,
    /// The request method, e.g. `REGISTER`.
    pub method: &'a str,
    /// The `uri` parameter (digest-uri), exactly as sent.
    pub uri: &'a str,
    /// The server nonce.
    pub nonce: &'a str,
    /// The client nonce; required with a qop or a `-sess` algorithm.
    pub cnonce: Option<&'a str>,
    /// The qop; `None` is RFC 2069 mode.
    pub qop: Option<Qop>,
    /// The nonce count; required with a qop.
    pub nc: Option<NonceCount>,
}

/// Computes the request-digest (the `response` parameter) in lowercase hex.
///
/// Fails if `ha1` belongs to another hash function, if a qop or `-sess`
/// algorithm lacks its cnonce or nc, or for `qop=auth-int`.
pub fn compute_response(ha1: &Ha1, input: &DigestInput<'_>) -> Result<String, DigestError> {
    let alg = input.algorithm;
    if ha1.algorithm != alg.base() {
        return Err(DigestError::Ha1Mismatch);
    }
    let session_ha1;
    let ha1_hex = if alg.is_session() {
        let cnonce = input.cnonce.ok_or(DigestError::MissingParam("cnonce"))?;
        session_ha1 = alg.hash_hex(&[
            ha1.hex.as_bytes(),
            input.nonce.as_bytes(),
            cnonce.as_bytes(),
        ]);
        &session_ha1
    } else {
        &ha1.hex
    };
    if let Some(q @ Qop::AuthInt) = input.qop {
        return Err(DigestError::UnsupportedQop(q.as_str().to_owned()));
    }
    let ha2 = alg.hash_hex(&[input.method.as_bytes(), input.uri.as_bytes()]);
    let response = match input.qop {
        None => alg.hash_hex(&[ha1_hex.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
        Some(qop) => {
            let cnonce = input.cnonce.ok_or(DigestError::MissingParam("cnonce"))?;
            let nc = input.nc.ok_or(DigestError::MissingParam("nc"))?.to_string();
            alg.hash_hex(&[
                ha1_hex.as_bytes(),
                input.nonce.as_bytes(),
                nc.as_bytes(),
                cnonce.as_bytes(),
                qop.as_str().as_bytes(),
                ha2.as_bytes(),
            ])
        }
    };
    Ok(response)
}

/// Compares two byte strings in time independent of their contents (the
/// lengths are not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
