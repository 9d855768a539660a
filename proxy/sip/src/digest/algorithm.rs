//! The enumerated parameter values: `algorithm`, `qop` and `nc`.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Sha256, Sha512_256};

use super::error::{clip, DigestError};

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2.2). The `-sess` variants
/// hash the nonce and cnonce into HA1.
///
/// When a challenge or credentials carry no `algorithm`, MD5 is implied
/// ([`Algorithm::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5`, the RFC 2617 default.
    #[default]
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (SHA-512/256, RFC 7616, RFC 8760).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 6] = [
        Self::Md5,
        Self::Md5Sess,
        Self::Sha256,
        Self::Sha256Sess,
        Self::Sha512_256,
        Self::Sha512_256Sess,
    ];

    /// Parses an algorithm name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DigestError::UnknownAlgorithm(clip(s)))
    }

    /// The canonical name, as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// True for the `-sess` variants.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess
        )
    }

    /// The same hash function without `-sess`: the algorithm a stored HA1
    /// (`H(username:realm:password)`) belongs to.
    pub fn base(self) -> Self {
        match self {
            Self::Md5 | Self::Md5Sess => Self::Md5,
            Self::Sha256 | Self::Sha256Sess => Self::Sha256,
            Self::Sha512_256 | Self::Sha512_256Sess => Self::Sha512_256,
        }
    }

    /// Length of a digest in lowercase hex: 32 for MD5, 64 for the others.
    pub fn hex_len(self) -> usize {
        match self.base() {
            Self::Md5 => 32,
            _ => 64,
        }
    }

    /// Hashes `parts` joined by `:` and returns lowercase hex.
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self.base() {
            Self::Md5 => hash_joined::<Md5>(parts),
            Self::Sha256 => hash_joined::<Sha256>(parts),
            _ => hash_joined::<Sha512_256>(parts),
        }
    }
}

/// `H(parts[0] ":" parts[1] ":" ...)` in lowercase hex.
fn hash_joined<D: sha2::Digest>(parts: &[&[u8]]) -> String {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    hex::encode(h.finalize())
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A quality of protection (RFC 7616 §3.3).
///
/// Only [`Qop::Auth`] can be computed; [`Qop::AuthInt`] is recognized so that
/// it can be reported as unsupported rather than unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication of method and URI.
    Auth,
    /// `auth-int`: also covers the message body (not supported for computing).
    AuthInt,
}

impl Qop {
    /// Parses `auth` or `auth-int`, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        if s.eq_ignore_ascii_case("auth") {
            Ok(Self::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Ok(Self::AuthInt)
        } else {
            Err(DigestError::UnsupportedQop(clip(s)))
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Qop {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The nonce count `nc`: how many requests the client has sent with this
/// nonce, written as exactly 8 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceCount(pub u32);

impl NonceCount {
    /// The first request with a nonce.
    pub const FIRST: Self = Self(1);

    /// Parses exactly 8 lowercase hex digits (RFC 7616 `8LHEX`). Uppercase is
    /// rejected because the digest covers the text as sent.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let ok = s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(DigestError::InvalidParam("nc"));
        }
        u32::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| DigestError::InvalidParam("nc"))
    }

    /// The following count, or `None` after `ffffffff`.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for NonceCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl FromStr for NonceCount {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
