//! The edge's own Via branch: deterministic and verifiable.
//!
//! ```text
//! branch = "z9hG4bK" || base64url(version (1) || key id (1) || id (12) || tag (10))
//! id     = HMAC-SHA-256(K_branch_id, inputs)[..12]
//! tag    = HMAC-SHA-256(K_branch_tag, version || key id || id)[..10]
//! ```
//!
//! `id` makes the branch a function of the RFC 3261 section 16.11 inputs
//! ([`BranchInputs`]) and the current key only, so a retransmission, a
//! CANCEL or the ACK of a non-2xx response gets the same branch at any
//! instance. `tag` lets any instance check, from the branch alone (a response
//! carries nothing else), that the branch was made by an edge holding the
//! key ring. 24 bytes encode to exactly 32 characters, so the branch is 39
//! characters and has no trailing bits.
//!
//! The branch carries no flow: a response on a stream flow finds its
//! connection through a flow token the edge puts in another parameter of the
//! same Via ([`TokenCodec::seal_flow`](crate::TokenCodec::seal_flow)), because
//! a flow token holds its issue time and would make the branch differ
//! between retransmissions.

mod inputs;

use std::fmt;

use ring::hmac;

use crate::b64;
use crate::ct;
use crate::error::Error;
use crate::key::{DerivedKeys, KeyId};
use crate::keyring::KeyRing;

pub use inputs::BranchInputs;

/// The RFC 3261 magic cookie every compliant branch starts with.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Version of the branch layout.
const BRANCH_VERSION: u8 = 1;
const ID_LEN: usize = 12;
const TAG_LEN: usize = 10;
const RAW_LEN: usize = 2 + ID_LEN + TAG_LEN;
const ENCODED_LEN: usize = b64::encoded_len(RAW_LEN);

/// Length of an edge branch in characters (magic cookie included).
pub const BRANCH_LEN: usize = MAGIC_COOKIE.len() + ENCODED_LEN;

/// An edge Via branch: `z9hG4bK` followed by 32 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Branch {
    text: [u8; BRANCH_LEN],
    key_id: KeyId,
}

impl Branch {
    /// The branch as text, for the Via `branch` parameter.
    pub fn as_str(&self) -> &str {
        // Always ASCII: the cookie and base64url characters.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The key the branch was made with.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
}

impl AsRef<str> for Branch {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Branch {
    fn as_ref(&self) -> &[u8] {
        &self.text
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Branch").field(&self.as_str()).finish()
    }
}

/// Makes the branch for `inputs` with key `key_id`.
pub(crate) fn make(key_id: KeyId, keys: &DerivedKeys, inputs: &BranchInputs<'_>) -> Branch {
    let mut raw = [0u8; RAW_LEN];
    let (head, tag_out) = raw.split_at_mut(2 + ID_LEN);
    let (header, id_out) = head.split_at_mut(2);
    header.copy_from_slice(&[BRANCH_VERSION, key_id.0]);

    let mut ctx = hmac::Context::with_key(&keys.branch_id);
    inputs.feed(&mut ctx);
    copy_prefix(ctx.sign().as_ref(), id_out);
    copy_prefix(tag(keys, head).as_ref(), tag_out);

    let mut text = [0u8; BRANCH_LEN];
    let (cookie, rest) = text.split_at_mut(MAGIC_COOKIE.len());
    cookie.copy_from_slice(MAGIC_COOKIE.as_bytes());
    // `rest` is exactly ENCODED_LEN long, so this always writes it all.
    b64::encode_slice(&raw, rest);
    Branch { text, key_id }
}

/// Verifies that `text` is a branch made with a key in `ring`.
pub(crate) fn verify(ring: &KeyRing, text: &[u8]) -> Result<KeyId, Error> {
    if text.len() != BRANCH_LEN {
        return Err(Error::Malformed);
    }
    let encoded = text
        .strip_prefix(MAGIC_COOKIE.as_bytes())
        .ok_or(Error::Malformed)?;
    let mut raw = [0u8; RAW_LEN];
    if b64::decode_into(encoded, &mut raw)? != RAW_LEN {
        return Err(Error::Malformed);
    }
    let (head, tag_in) = raw.split_at(2 + ID_LEN);
    let (version, key_id) = match head {
        [version, key_id, ..] => (*version, KeyId(*key_id)),
        _ => return Err(Error::Malformed),
    };
    if version != BRANCH_VERSION {
        return Err(Error::BadVersion(version));
    }
    let keys = ring.opening_keys(key_id).ok_or(Error::UnknownKey(key_id))?;
    let expected = tag(keys, head);
    let expected = expected.as_ref().get(..TAG_LEN).ok_or(Error::Malformed)?;
    if ct::eq(expected, tag_in) {
        Ok(key_id)
    } else {
        Err(Error::Forged)
    }
}

/// The authenticator over version, key id and id.
fn tag(keys: &DerivedKeys, head: &[u8]) -> hmac::Tag {
    hmac::sign(&keys.branch_tag, head)
}

/// Fills `out` with the first `out.len()` bytes of `src` (which is longer).
fn copy_prefix(src: &[u8], out: &mut [u8]) {
    for (o, s) in out.iter_mut().zip(src) {
        *o = *s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Secret;

    fn ring(id: u8, fill: u8) -> KeyRing {
        KeyRing::new(KeyId(id), [(KeyId(id), Secret::from_bytes([fill; 32]))]).expect("ring")
    }

    fn inputs() -> BranchInputs<'static> {
        BranchInputs {
            via_sent_by: b"192.0.2.1:5060",
            via_branch: b"z9hG4bK776asdhds",
            call_id: b"a84b4c76e66710@pc33.atlanta.com",
            from_tag: b"1928301774",
            cseq_number: 314159,
            request_uri: b"sip:bob@biloxi.com",
            ..BranchInputs::default()
        }
    }

    #[test]
    fn shape() {
        assert_eq!(ENCODED_LEN, 32);
        assert_eq!(BRANCH_LEN, 39);
        let ring = ring(4, 1);
        let (id, keys) = ring.sealing_keys();
        let branch = make(id, keys, &inputs());
        assert!(branch.as_str().starts_with(MAGIC_COOKIE));
        assert_eq!(branch.as_str().len(), BRANCH_LEN);
        assert_eq!(branch.key_id(), KeyId(4));
        assert_eq!(verify(&ring, branch.as_ref()).ok(), Some(KeyId(4)));
        assert_eq!(format!("{branch}"), branch.as_str());
        assert!(format!("{branch:?}").contains(branch.as_str()));
    }

    #[test]
    fn verification_failures() {
        let ring_a = ring(4, 1);
        let (id, keys) = ring_a.sealing_keys();
        let branch = make(id, keys, &inputs());
        assert!(matches!(
            verify(&ring(4, 2), branch.as_ref()),
            Err(Error::Forged)
        ));
        assert!(matches!(
            verify(&ring(5, 1), branch.as_ref()),
            Err(Error::UnknownKey(KeyId(4)))
        ));
        assert!(matches!(
            verify(&ring_a, b"z9hG4bK776asdhds"),
            Err(Error::Malformed)
        ));
        // The cookie is compared exactly (here with a lower-case `k`).
        let other_cookie = branch.as_str().replacen("z9hG4bK", "z9hG4bk", 1);
        assert!(matches!(
            verify(&ring_a, other_cookie.as_bytes()),
            Err(Error::Malformed)
        ));
    }
}
