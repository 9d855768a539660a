//! [`TokenCodec`]: sealing and opening flow and route tokens, and making and
//! verifying Via branches, under a key ring and a validity window.

mod layout;
mod seal;

use crate::b64;
use crate::branch::{self, Branch, BranchInputs};
use crate::error::Error;
use crate::flow::Flow;
use crate::key::KeyId;
use crate::keyring::KeyRing;
use crate::route::Route;
use crate::time::{self, Limits};
use crate::token::{Kind, Opened, Token, MAX_TOKEN_LEN};

/// Seals and opens tokens with a key ring, within a validity window.
///
/// Cheap to share (`Arc<TokenCodec>`); to reload keys, build a new codec and
/// swap it in. Every operation is a pure function of the codec, its
/// arguments and `now`: nothing reads the clock or a random number
/// generator, so every instance holding the same ring produces the same
/// tokens and branches from the same inputs.
#[derive(Debug, Clone)]
pub struct TokenCodec {
    ring: KeyRing,
    limits: Limits,
}

impl TokenCodec {
    /// A codec for `ring` that opens tokens within `limits`.
    pub fn new(ring: KeyRing, limits: Limits) -> Self {
        TokenCodec { ring, limits }
    }

    /// The key ring.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The validity window.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Seals a flow token issued at `now` (Unix seconds).
    pub fn seal_flow(&self, flow: &Flow, now: u64) -> Result<String, Error> {
        self.seal(&Token::Flow(*flow), now)
    }

    /// Seals a route token issued at `now` (Unix seconds).
    pub fn seal_route(&self, route: &Route, now: u64) -> Result<String, Error> {
        self.seal(&Token::Route(*route), now)
    }

    /// Seals a token of either kind issued at `now` (Unix seconds), with the
    /// ring's current key.
    ///
    /// Fails only when `now` cannot be carried ([`Error::TimeOutOfRange`]:
    /// before 2024 or after 2160).
    pub fn seal(&self, token: &Token, now: u64) -> Result<String, Error> {
        let mut out = String::with_capacity(MAX_TOKEN_LEN);
        self.seal_into(token, now, &mut out)?;
        Ok(out)
    }

    /// Like [`TokenCodec::seal`], appending the token to `out` (for building
    /// a header without an intermediate allocation). `out` is unchanged on
    /// error.
    pub fn seal_into(&self, token: &Token, now: u64, out: &mut String) -> Result<(), Error> {
        let issued = time::to_token_time(now)?;
        let mut buf = [0u8; seal::MAX_SEALED];
        let mut plaintext = [0u8; layout::MAX_PLAINTEXT];
        let len = layout::encode(token, issued, &mut plaintext);
        let body = buf
            .get_mut(seal::OVERHEAD..seal::OVERHEAD + len)
            .ok_or(Error::Malformed)?;
        body.copy_from_slice(plaintext.get(..len).ok_or(Error::Malformed)?);
        let (key_id, keys) = self.ring.sealing_keys();
        let total = seal::seal_in_place(key_id, keys, &mut buf, len)?;
        b64::encode_into(buf.get(..total).ok_or(Error::Malformed)?, out);
        Ok(())
    }

    /// Opens a flow token. A route token is refused with
    /// [`Error::WrongKind`].
    pub fn open_flow(&self, token: impl AsRef<[u8]>, now: u64) -> Result<Opened<Flow>, Error> {
        let opened = self.open_any(token, now)?;
        match opened.token {
            Token::Flow(flow) => Ok(opened.map(|_| flow)),
            Token::Route(_) => Err(Error::WrongKind {
                expected: Kind::Flow,
                found: Kind::Route,
            }),
        }
    }

    /// Opens a route token. A flow token is refused with
    /// [`Error::WrongKind`].
    pub fn open_route(&self, token: impl AsRef<[u8]>, now: u64) -> Result<Opened<Route>, Error> {
        let opened = self.open_any(token, now)?;
        match opened.token {
            Token::Route(route) => Ok(opened.map(|_| route)),
            Token::Flow(_) => Err(Error::WrongKind {
                expected: Kind::Route,
                found: Kind::Flow,
            }),
        }
    }

    /// Opens a token of either kind and says which it is.
    ///
    /// The token must be exactly as sealed (strict base64url, no
    /// whitespace), sealed under a key in the ring, and issued no more than
    /// `max_age_secs` before and `max_skew_secs` after `now` (Unix seconds).
    /// Authentication is checked before anything in the payload is used.
    pub fn open_any(&self, token: impl AsRef<[u8]>, now: u64) -> Result<Opened<Token>, Error> {
        let text = token.as_ref();
        if text.len() > MAX_TOKEN_LEN {
            return Err(Error::Malformed);
        }
        let mut buf = [0u8; seal::MAX_SEALED + 3];
        let n = b64::decode_into(text, &mut buf)?;
        let sealed = buf.get_mut(..n).ok_or(Error::Malformed)?;
        let (key_id, plaintext) = seal::open_in_place(&self.ring, sealed)?;
        let (token, issued) = layout::decode(plaintext)?;
        let issued_at = time::from_token_time(issued);
        self.limits.check(issued_at, now)?;
        Ok(Opened {
            token,
            issued_at,
            key_id,
        })
    }

    /// The branch for the edge's Via on a request with these inputs, made
    /// with the current key: the same at every instance holding the ring,
    /// for the request, its retransmissions, its CANCEL and the ACK of a
    /// non-2xx response.
    pub fn branch(&self, inputs: &BranchInputs<'_>) -> Branch {
        let (key_id, keys) = self.ring.sealing_keys();
        branch::make(key_id, keys, inputs)
    }

    /// Checks that a Via branch was made by an edge holding this ring (with
    /// any key still in it), and returns the key id it was made with.
    pub fn verify_branch(&self, branch: impl AsRef<[u8]>) -> Result<KeyId, Error> {
        branch::verify(&self.ring, branch.as_ref())
    }
}

/// Length in characters of a sealed token of `kind` with the given address
/// families (`true` = IPv6; `backend_v6` is ignored for flows). Used to
/// document and test the size table.
pub fn encoded_len(kind: Kind, ue_v6: bool, local_v6: bool, backend_v6: bool) -> usize {
    b64::encoded_len(sealed_len(kind, ue_v6, local_v6, backend_v6))
}

/// Length in bytes, before encoding, of a sealed token (see
/// [`encoded_len`]).
pub fn sealed_len(kind: Kind, ue_v6: bool, local_v6: bool, backend_v6: bool) -> usize {
    seal::OVERHEAD + layout::plaintext_len(kind, ue_v6, local_v6, backend_v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits() {
        assert!(encoded_len(Kind::Route, false, false, false) <= 80);
        assert_eq!(encoded_len(Kind::Route, true, true, true), MAX_TOKEN_LEN);
        const { assert!(MAX_TOKEN_LEN <= 110) };
        assert_eq!(b64::encoded_len(seal::MAX_SEALED), MAX_TOKEN_LEN);
    }
}
