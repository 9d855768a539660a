//! A `WWW-Authenticate` / `Proxy-Authenticate` digest challenge.

use std::fmt;
use std::str::FromStr;

use super::algorithm::{Algorithm, Qop};
use super::error::{clip, DigestError};
use super::params::{parse_digest, AuthParam, ParamWriter};

/// A parsed digest challenge (RFC 7616 §3.3, RFC 3261 §25.1 `digest-cln`).
///
/// `Display` writes the header value (`Digest realm="...", ...`); parsing that
/// text gives back an equal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space, e.g. `example.com`.
    pub realm: String,
    /// The `domain` URI list, space-separated, as sent.
    pub domain: Option<String>,
    /// The server nonce.
    pub nonce: String,
    /// Data the client must echo unchanged.
    pub opaque: Option<String>,
    /// True if the previous request failed only because its nonce was stale:
    /// retry with the new nonce without asking the user.
    pub stale: bool,
    /// The algorithm; `None` means the `algorithm` parameter was absent (MD5).
    pub algorithm: Option<Algorithm>,
    /// The offered qop values, empty if `qop` was absent (RFC 2069 mode).
    /// Unknown values are dropped while parsing (RFC 7616 §3.3).
    pub qop: Vec<Qop>,
    /// True if the server supports `userhash`.
    pub userhash: bool,
    /// Parameters not listed above (e.g. `charset`), in order.
    pub extra: Vec<AuthParam>,
}

impl Challenge {
    /// A challenge offering `qop="auth"` with `algorithm` written out.
    pub fn new(realm: impl Into<String>, nonce: impl Into<String>, algorithm: Algorithm) -> Self {
        Self {
            realm: realm.into(),
            domain: None,
            nonce: nonce.into(),
            opaque: None,
            stale: false,
            algorithm: Some(algorithm),
            qop: vec![Qop::Auth],
            userhash: false,
            extra: Vec::new(),
        }
    }

    /// Parses a header value such as `Digest realm="example.com", nonce="..."`.
    ///
    /// Any other scheme gives [`DigestError::UnsupportedScheme`].
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut realm = None;
        let mut domain = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut stale = false;
        let mut algorithm = None;
        let mut qop = Vec::new();
        let mut userhash = false;
        let mut extra = Vec::new();
        for p in parse_digest(value)? {
            let v = p.value();
            match p.name().to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v.to_owned()),
                "domain" => domain = Some(v.to_owned()),
                "nonce" => nonce = Some(v.to_owned()),
                "opaque" => opaque = Some(v.to_owned()),
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                "algorithm" => algorithm = Some(Algorithm::parse(v)?),
                "qop" => qop = parse_qop_options(v)?,
                "userhash" => userhash = v.eq_ignore_ascii_case("true"),
                _ => extra.push(p),
            }
        }
        Ok(Self {
            realm: realm.ok_or(DigestError::MissingParam("realm"))?,
            domain,
            nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
            opaque,
            stale,
            algorithm,
            qop,
            userhash,
            extra,
        })
    }

    /// The algorithm in effect: the `algorithm` parameter, or MD5.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }
}

/// Parses `qop="auth,auth-int"`, dropping unknown options. Fails if no known
/// option remains, since such a challenge cannot be answered.
fn parse_qop_options(v: &str) -> Result<Vec<Qop>, DigestError> {
    let qop: Vec<Qop> = v
        .split(',')
        .filter_map(|o| Qop::parse(o.trim_matches([' ', '\t'])).ok())
        .collect();
    if qop.is_empty() {
        return Err(DigestError::UnsupportedQop(clip(v)));
    }
    Ok(qop)
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ParamWriter::new(f)?;
        w.quoted("realm", &self.realm)?;
        if let Some(domain) = &self.domain {
            w.quoted("domain", domain)?;
        }
        w.quoted("nonce", &self.nonce)?;
        if let Some(opaque) = &self.opaque {
            w.quoted("opaque", opaque)?;
        }
        if self.stale {
            w.token("stale", "true")?;
        }
        if let Some(alg) = self.algorithm {
            w.token("algorithm", alg)?;
        }
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            w.quoted("qop", &list.join(","))?;
        }
        if self.userhash {
            w.token("userhash", "true")?;
        }
        w.extra(&self.extra)
    }
}

impl FromStr for Challenge {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
