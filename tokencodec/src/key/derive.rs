//! Per-purpose subkeys derived from a key-ring secret.
//!
//! One secret yields independent keys for each purpose with HKDF-SHA-256
//! (RFC 5869): salt `anysip/tokencodec/v1`, input keying material the
//! secret, and the purpose as the `info` label. The derived keys are built
//! once, when the key enters the ring, so sealing and opening do no key
//! schedule work.

use ring::{aead, hkdf, hmac};

use super::Secret;
use crate::error::Error;

/// HKDF salt: fixed, public, and unique to this construction.
const SALT: &[u8] = b"anysip/tokencodec/v1";

/// The keys one ring entry is used with.
#[derive(Clone)]
pub(crate) struct DerivedKeys {
    /// AES-256 (used as CTR through ring's AES-256-GCM) for token payloads.
    pub(crate) token_enc: aead::LessSafeKey,
    /// HMAC-SHA-256 key computing the token's synthetic IV.
    pub(crate) token_mac: hmac::Key,
    /// HMAC-SHA-256 key computing the transaction part of a branch.
    pub(crate) branch_id: hmac::Key,
    /// HMAC-SHA-256 key computing the authenticator of a branch.
    pub(crate) branch_tag: hmac::Key,
}

impl DerivedKeys {
    /// Derives all subkeys. Fails only if `ring` refuses an HKDF length,
    /// which cannot happen for 32-byte outputs.
    pub(crate) fn new(secret: &Secret) -> Result<Self, Error> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret.bytes());
        let failed = |_| Error::KeyRing("key derivation failed".into());
        let mac = |label: &'static [u8]| -> Result<hmac::Key, Error> {
            let info = [label];
            let okm = prk.expand(&info, hmac::HMAC_SHA256).map_err(failed)?;
            Ok(hmac::Key::from(okm))
        };
        let info = [b"token-enc".as_slice()];
        let okm = prk.expand(&info, &aead::AES_256_GCM).map_err(failed)?;
        Ok(DerivedKeys {
            token_enc: aead::LessSafeKey::new(aead::UnboundKey::from(okm)),
            token_mac: mac(b"token-mac")?,
            branch_id: mac(b"branch-id")?,
            branch_tag: mac(b"branch-tag")?,
        })
    }
}
