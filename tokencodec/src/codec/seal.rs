//! Deterministic authenticated encryption of token plaintexts (version 1).
//!
//! ```text
//! sealed = version (1) || key id (1) || siv (12) || ciphertext (n)
//! siv    = HMAC-SHA-256(K_mac, version || key id || plaintext)[..12]
//! ciphertext = plaintext XOR AES-256-CTR(K_enc, counter block = siv || 2, 3, ...)
//! ```
//!
//! This is the SIV construction (Rogaway and Shrimpton, 2006; RFC 5297 uses
//! it with CMAC, AES-GCM-SIV of RFC 8452 with POLYVAL): the MAC of the
//! header and plaintext is both the authenticator and the IV of a counter
//! mode. The counter-mode keystream comes from `ring`'s AES-256-GCM, whose
//! encryption is exactly AES-CTR with the 96-bit nonce as IV and the block
//! counter starting at 2; its GCM tag is discarded. Opening runs the same
//! keystream over the ciphertext, recomputes the MAC over the recovered
//! plaintext and compares it with the SIV in constant time.
//!
//! Why a synthetic IV instead of a random nonce: no random number is needed
//! to seal (sealing is a pure function), nonce reuse is impossible by
//! construction, and the 12-byte SIV is both nonce and tag, saving the 16 to
//! 28 bytes a random nonce plus a GCM tag would cost, which is what fits an
//! IPv6 route token in 110 characters. The analysis is in `docs/tokens.md`.

use ring::aead::{Aad, Nonce};
use ring::hmac;

use super::layout;
use crate::ct;
use crate::error::Error;
use crate::key::{DerivedKeys, KeyId};
use crate::keyring::KeyRing;
use crate::token::VERSION;

/// Version and key id.
const HEADER_LEN: usize = 2;
/// Length of the synthetic IV (= nonce = authenticator).
const SIV_LEN: usize = 12;
/// Bytes a sealed token adds to its plaintext.
pub(crate) const OVERHEAD: usize = HEADER_LEN + SIV_LEN;
/// The longest sealed token, in bytes.
pub(crate) const MAX_SEALED: usize = OVERHEAD + layout::MAX_PLAINTEXT;

/// Seals the plaintext held in `buf[OVERHEAD..OVERHEAD + len]` in place and
/// returns the sealed length.
pub(crate) fn seal_in_place(
    key_id: KeyId,
    keys: &DerivedKeys,
    buf: &mut [u8; MAX_SEALED],
    len: usize,
) -> Result<usize, Error> {
    let total = OVERHEAD + len;
    let sealed = buf.get_mut(..total).ok_or(Error::Malformed)?;
    let (head, body) = sealed.split_at_mut(OVERHEAD);
    let (header, siv_out) = head.split_at_mut(HEADER_LEN);
    header.copy_from_slice(&[VERSION, key_id.0]);
    let siv = siv(keys, key_id, body);
    siv_out.copy_from_slice(&siv);
    keystream(keys, siv, body)?;
    Ok(total)
}

/// Opens a sealed token in place: on success, returns the key id and the
/// plaintext (a sub-slice of `sealed`).
pub(crate) fn open_in_place<'a>(
    ring: &KeyRing,
    sealed: &'a mut [u8],
) -> Result<(KeyId, &'a [u8]), Error> {
    let (header, rest) = sealed
        .split_first_chunk_mut::<HEADER_LEN>()
        .ok_or(Error::Malformed)?;
    let [version, key_id] = *header;
    if version != VERSION {
        return Err(Error::BadVersion(version));
    }
    let (siv_in, body) = rest
        .split_first_chunk_mut::<SIV_LEN>()
        .ok_or(Error::Malformed)?;
    if !layout::is_possible_len(body.len()) {
        return Err(Error::Malformed);
    }
    let key_id = KeyId(key_id);
    let keys = ring.opening_keys(key_id).ok_or(Error::UnknownKey(key_id))?;
    let siv_in = *siv_in;
    keystream(keys, siv_in, body)?;
    if !ct::eq(&siv(keys, key_id, body), &siv_in) {
        return Err(Error::Forged);
    }
    Ok((key_id, body))
}

/// The synthetic IV of a plaintext.
fn siv(keys: &DerivedKeys, key_id: KeyId, plaintext: &[u8]) -> [u8; SIV_LEN] {
    let mut ctx = hmac::Context::with_key(&keys.token_mac);
    ctx.update(&[VERSION, key_id.0]);
    ctx.update(plaintext);
    let tag = ctx.sign();
    let mut out = [0u8; SIV_LEN];
    if let Some(head) = tag.as_ref().get(..SIV_LEN) {
        out.copy_from_slice(head);
    }
    out
}

/// XORs `data` with the AES-256-CTR keystream for `iv`, through AES-GCM
/// (whose tag is discarded). Applying it twice is the identity.
fn keystream(keys: &DerivedKeys, iv: [u8; SIV_LEN], data: &mut [u8]) -> Result<(), Error> {
    keys.token_enc
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), data)
        .map(|_tag| ())
        // ring only fails for inputs of gigabytes; tokens are < 100 bytes.
        .map_err(|_| Error::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Secret;

    fn ring() -> KeyRing {
        KeyRing::new(KeyId(3), [(KeyId(3), Secret::from_bytes([3; 32]))]).expect("ring")
    }

    #[test]
    fn seal_then_open() {
        let ring = ring();
        let (id, keys) = ring.sealing_keys();
        let mut buf = [0u8; MAX_SEALED];
        let plaintext: Vec<u8> = (0..24).collect();
        buf[OVERHEAD..OVERHEAD + 24].copy_from_slice(&plaintext);
        let n = seal_in_place(id, keys, &mut buf, 24).expect("seals");
        assert_eq!(n, 38);
        assert_eq!(&buf[..2], &[VERSION, 3]);
        assert_ne!(&buf[OVERHEAD..n], plaintext.as_slice(), "encrypted");
        let mut sealed = buf[..n].to_vec();
        let (kid, opened) = open_in_place(&ring, &mut sealed).expect("opens");
        assert_eq!(kid, KeyId(3));
        assert_eq!(opened, plaintext.as_slice());
    }

    #[test]
    fn deterministic() {
        let ring = ring();
        let (id, keys) = ring.sealing_keys();
        let mut a = [0u8; MAX_SEALED];
        let mut b = [0u8; MAX_SEALED];
        let na = seal_in_place(id, keys, &mut a, 30).expect("seals");
        let nb = seal_in_place(id, keys, &mut b, 30).expect("seals");
        assert_eq!(a[..na], b[..nb]);
    }

    #[test]
    fn rejects_header_problems() {
        let ring = ring();
        assert!(matches!(
            open_in_place(&ring, &mut []),
            Err(Error::Malformed)
        ));
        assert!(matches!(
            open_in_place(&ring, &mut [2, 3]),
            Err(Error::BadVersion(2))
        ));
        assert!(matches!(
            open_in_place(&ring, &mut [1, 3, 0]),
            Err(Error::Malformed)
        ));
        let mut unknown = [0u8; OVERHEAD + 24];
        unknown[0] = VERSION;
        unknown[1] = 9;
        assert!(matches!(
            open_in_place(&ring, &mut unknown),
            Err(Error::UnknownKey(KeyId(9)))
        ));
        unknown[1] = 3;
        assert!(matches!(
            open_in_place(&ring, &mut unknown),
            Err(Error::Forged)
        ));
    }
}
