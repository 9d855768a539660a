//! The client side: answering a challenge.

use super::algorithm::{NonceCount, Qop};
use super::challenge::Challenge;
use super::compute::{compute_response, DigestInput, Secret};
use super::credentials::Credentials;
use super::error::DigestError;

/// The request being authorized and the client's per-request values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// The request method, e.g. `REGISTER`.
    pub method: &'a str,
    /// The Request-URI, e.g. `sip:example.com`; sent as `uri`.
    pub uri: &'a str,
    /// A fresh client nonce from the caller's random source (e.g. 16 random
    /// bytes, hex); unused in RFC 2069 mode unless the algorithm is `-sess`.
    pub cnonce: &'a str,
    /// How many requests this client has sent with this nonce, starting at
    /// [`NonceCount::FIRST`].
    pub nc: NonceCount,
}

impl Challenge {
    /// Builds the credentials answering this challenge.
    ///
    /// Uses `qop=auth` when offered, and RFC 2069 mode (no qop, cnonce or nc)
    /// when the challenge has no qop. Echoes `algorithm` and `opaque` as
    /// received. Fails with [`DigestError::UnsupportedQop`] if only
    /// `auth-int` is offered, and with [`DigestError::Ha1Mismatch`] if a
    /// stored HA1 is for another hash function.
    pub fn respond(
        &self,
        username: &str,
        secret: Secret<'_>,
        request: &ClientRequest<'_>,
    ) -> Result<Credentials, DigestError> {
        let algorithm = self.effective_algorithm();
        let qop = if self.qop.is_empty() {
            None
        } else if self.qop.contains(&Qop::Auth) {
            Some(Qop::Auth)
        } else {
            return Err(DigestError::UnsupportedQop(
                Qop::AuthInt.as_str().to_owned(),
            ));
        };
        let cnonce = (qop.is_some() || algorithm.is_session()).then(|| request.cnonce.to_owned());
        let nc = qop.map(|_| request.nc);
        let ha1 = secret.ha1(algorithm, username, &self.realm)?;
        let response = compute_response(
            &ha1,
            &DigestInput {
                algorithm,
                method: request.method,
                uri: request.uri,
                nonce: &self.nonce,
                cnonce: cnonce.as_deref(),
                qop,
                nc,
            },
        )?;
        Ok(Credentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: request.uri.to_owned(),
            response,
            algorithm: self.algorithm,
            cnonce,
            opaque: self.opaque.clone(),
            qop,
            nc,
            userhash: false,
            extra: Vec::new(),
        })
    }
}
