//! Stateless server nonces sealed with HMAC-SHA256.

use sha2::{Digest as _, Sha256};

use super::compute::ct_eq;
use super::error::DigestError;

/// Domain separation for the MAC input.
const LABEL: &[u8] = b"anysip digest nonce v1\0";
/// Bytes of HMAC output kept in the nonce.
const TAG_LEN: usize = 16;
/// Bytes of the timestamp.
const TS_LEN: usize = 8;
/// Longer nonces are rejected without hashing.
const MAX_NONCE_LEN: usize = 512;

/// Issues stateless server nonces: the issue time and caller randomness,
/// sealed with HMAC-SHA256 under a server secret, so that any node sharing
/// the secret can check a nonce with [`nonce_valid`] without having stored it
/// (what an anycast proxy needs).
///
/// On a request with credentials: if [`nonce_valid`] fails, re-challenge
/// with a new nonce; otherwise verify the response; if it is right but the
/// nonce is [`NonceStatus::Stale`], re-challenge with `stale=true` so the
/// client retries without asking its user.
///
/// Layout, all lowercase hex: `issued_at (8 bytes, big-endian) || random ||
/// tag`, where `tag` is the first 16 bytes of
/// `HMAC-SHA256(secret, "anysip digest nonce v1" || 0 || issued_at || random)`.
///
/// # Replay
///
/// A valid nonce can be reused until it expires. This module does not keep
/// state, so it cannot detect replays within `max_age`; a caller that needs
/// more must remember `(nonce, nc)` pairs, or at least the highest `nc` per
/// nonce, and reject repeats. Keep `max_age` short (RFC 7616 leaves it to the
/// server; 30–300 s is common), use at least 16 random bytes, and a secret of
/// at least 32 random bytes shared by all nodes. To rotate it, issue with the
/// new secret and accept either for `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce;

/// The verdict on an authentic nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceStatus {
    /// Issued by us and not older than `max_age`.
    Fresh,
    /// Issued by us but expired (or dated implausibly far in the future):
    /// if the response is right, re-challenge with a new nonce and
    /// `stale=true`.
    Stale,
}

impl Nonce {
    /// Issues a nonce at `now_unix` (seconds since the Unix epoch), embedding
    /// `extra_random` (fresh random bytes from the caller, 16 recommended).
    /// The result is lowercase hex, so it is a token and needs no escaping.
    pub fn issue(secret: &[u8], now_unix: u64, extra_random: &[u8]) -> String {
        let ts = now_unix.to_be_bytes();
        let tag = tag(secret, &ts, extra_random);
        let mut out = String::with_capacity(2 * (TS_LEN + extra_random.len() + TAG_LEN));
        out.push_str(&hex::encode(ts));
        out.push_str(&hex::encode(extra_random));
        out.push_str(&hex::encode(tag));
        out
    }
}

/// Checks a nonce issued by [`Nonce::issue`] with the same `secret`.
///
/// Returns [`NonceStatus::Fresh`] if it is at most `max_age_secs` old at
/// `now_unix`, [`NonceStatus::Stale`] if it is older or more than
/// `max_age_secs` in the future (clock skew between nodes smaller than that is
/// tolerated), and [`DigestError::InvalidNonce`] if it is malformed or its tag
/// does not verify.
pub fn nonce_valid(
    secret: &[u8],
    nonce: &str,
    now_unix: u64,
    max_age_secs: u64,
) -> Result<NonceStatus, DigestError> {
    if nonce.len() > MAX_NONCE_LEN {
        return Err(DigestError::InvalidNonce);
    }
    let bytes = hex::decode(nonce).map_err(|_| DigestError::InvalidNonce)?;
    let (ts, rest) = bytes
        .split_first_chunk::<TS_LEN>()
        .ok_or(DigestError::InvalidNonce)?;
    let (random, received) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(DigestError::InvalidNonce)?;
    if !ct_eq(&tag(secret, ts, random), received) {
        return Err(DigestError::InvalidNonce);
    }
    let issued = u64::from_be_bytes(*ts);
    let fresh = if issued <= now_unix {
        now_unix - issued <= max_age_secs
    } else {
        issued - now_unix <= max_age_secs
    };
    Ok(if fresh {
        NonceStatus::Fresh
    } else {
        NonceStatus::Stale
    })
}

/// The truncated MAC over a timestamp and random bytes.
fn tag(secret: &[u8], ts: &[u8], random: &[u8]) -> [u8; TAG_LEN] {
    let mac = hmac_sha256(secret, &[LABEL, ts, random]);
    let mut out = [0u8; TAG_LEN];
    for (o, m) in out.iter_mut().zip(mac) {
        *o = m;
    }
    out
}

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        for (d, s) in k.iter_mut().zip(Sha256::digest(key)) {
            *d = s;
        }
    } else {
        for (d, s) in k.iter_mut().zip(key) {
            *d = *s;
        }
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 §4.2, §4.3 and §4.7 (key longer than a block).
    #[test]
    fn hmac_rfc4231() {
        let cases: [(Vec<u8>, &[u8], &str); 3] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex::encode(hmac_sha256(&key, &[data])), want);
        }
        // Split input hashes like the concatenation.
        assert_eq!(
            hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]),
            hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])
        );
    }
}
