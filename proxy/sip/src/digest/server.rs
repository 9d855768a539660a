//! The server side: verifying credentials against a password or stored HA1.

use super::algorithm::{Algorithm, Qop};
use super::compute::{compute_response, ct_eq, Secret};
use super::credentials::Credentials;
use super::error::DigestError;

/// What the server's challenge allowed; the credentials must agree with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The realm challenged for; compared exactly.
    pub realm: &'a str,
    /// The algorithms challenged with (RFC 8760 servers may send one challenge
    /// per algorithm). An absent `algorithm` parameter counts as MD5.
    pub algorithms: &'a [Algorithm],
    /// Reject RFC 2069 credentials (no qop). Set when the challenge offered
    /// `qop="auth"`, so that a client cannot downgrade.
    pub require_qop: bool,
    /// The opaque value sent in the challenge, if any; it must be echoed.
    pub opaque: Option<&'a str>,
}

impl<'a> Expected<'a> {
    /// Expects `realm` and one of `algorithms`, with `qop=auth` required and
    /// no opaque.
    pub fn new(realm: &'a str, algorithms: &'a [Algorithm]) -> Self {
        Self {
            realm,
            algorithms,
            require_qop: true,
            opaque: None,
        }
    }
}

impl Credentials {
    /// Verifies these credentials for a request with `method`.
    ///
    /// Checks, in order: realm, algorithm, `userhash` (unsupported), a
    /// non-empty `uri`, opaque, qop (`auth` or, unless required, none), then
    /// compares the response in constant time. With [`Secret::Ha1`], the HA1
    /// must be for the credentials' hash function: look it up by
    /// [`effective_algorithm`](Self::effective_algorithm).
    ///
    /// This does not check the nonce (see [`nonce_valid`](super::nonce_valid)),
    /// that `uri` matches the Request-URI, nor that `nc` increases: replay
    /// protection within the nonce lifetime is the caller's job.
    pub fn verify(
        &self,
        method: &str,
        expected: &Expected<'_>,
        secret: Secret<'_>,
    ) -> Result<(), DigestError> {
        if self.realm != expected.realm {
            return Err(DigestError::RealmMismatch);
        }
        let algorithm = self.effective_algorithm();
        if !expected.algorithms.contains(&algorithm) {
            return Err(DigestError::AlgorithmMismatch);
        }
        if self.userhash {
            return Err(DigestError::UserhashUnsupported);
        }
        if self.uri.is_empty() {
            return Err(DigestError::MissingParam("uri"));
        }
        if let Some(opaque) = expected.opaque {
            if self.opaque.as_deref() != Some(opaque) {
                return Err(DigestError::OpaqueMismatch);
            }
        }
        match self.qop {
            None if expected.require_qop => return Err(DigestError::QopRequired),
            Some(q @ Qop::AuthInt) => {
                return Err(DigestError::UnsupportedQop(q.as_str().to_owned()))
            }
            None | Some(Qop::Auth) => {}
        }
        let ha1 = secret.ha1(algorithm, &self.username, &self.realm)?;
        let computed = compute_response(&ha1, &self.digest_input(method))?;
        let received = self.response.to_ascii_lowercase();
        if ct_eq(computed.as_bytes(), received.as_bytes()) {
            Ok(())
        } else {
            Err(DigestError::ResponseMismatch)
        }
    }
}
