//! Key ids and secrets.

mod derive;

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::Error;

pub(crate) use derive::DerivedKeys;

/// The id of a key in the ring, carried in clear in every token (byte 1) and
/// branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u8);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u8> for KeyId {
    fn from(id: u8) -> Self {
        KeyId(id)
    }
}

/// A 256-bit key-ring secret.
///
/// It never appears in `Debug` output (there is no `Display`), and its bytes
/// are overwritten when it is dropped (best effort). The only way out is the
/// explicit [`Secret::to_base64`], used to write key files.
#[derive(Clone)]
pub struct Secret([u8; Secret::LEN]);

impl Secret {
    /// Length of a secret in bytes.
    pub const LEN: usize = 32;

    /// A secret from raw bytes.
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Secret(bytes)
    }

    /// A fresh secret from the operating system's random number generator.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; Self::LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::Rng)?;
        Ok(Secret(bytes))
    }

    /// Parses a secret written in base64, standard or URL-safe alphabet,
    /// with or without padding; surrounding whitespace is ignored. It must
    /// decode to exactly 32 bytes. The error never contains the input.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let text = text.trim().as_bytes();
        let mut decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| Error::KeyFile("secret is not valid base64".into()))?;
        let secret = <[u8; Self::LEN]>::try_from(decoded.as_slice()).map(Secret);
        let found = decoded.len();
        decoded.fill(0);
        secret.map_err(|_| {
            Error::KeyFile(format!("secret must be {} bytes, found {found}", Self::LEN))
        })
    }

    /// The secret in standard base64 with padding. This exposes the secret:
    /// use it only to write a key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let secret = Secret::from_bytes([0xab; 32]);
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("ab"), "{shown}");
        assert!(!shown.contains(&secret.to_base64()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn base64_forms() {
        let secret = Secret::from_bytes([0xfb; 32]);
        let standard = secret.to_base64();
        assert!(standard.ends_with('='));
        let url = URL_SAFE_NO_PAD.encode([0xfb; 32]);
        for text in [standard.clone(), url, format!("  {standard}\n")] {
            let parsed = Secret::from_base64(&text).expect("parses");
            assert_eq!(parsed.bytes(), secret.bytes());
        }
        assert!(Secret::from_base64("AAAA").is_err());
        assert!(Secret::from_base64("not base64!").is_err());
        let long = STANDARD.encode([1u8; 64]);
        let err = Secret::from_base64(&long)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("32 bytes, found 64") && !err.contains(&long),
            "{err}"
        );
    }

    #[test]
    fn generated_secrets_differ() {
        let a = Secret::generate().expect("rng");
        let b = Secret::generate().expect("rng");
        assert_ne!(a.bytes(), b.bytes());
    }
}
