//! An `Authorization` / `Proxy-Authorization` digest credentials value.

use std::fmt;
use std::str::FromStr;

use super::algorithm::{Algorithm, NonceCount, Qop};
use super::compute::DigestInput;
use super::error::DigestError;
use super::params::{parse_digest, AuthParam, ParamWriter};

/// Parsed digest credentials (RFC 7616 §3.4, RFC 3261 §25.1
/// `digest-response`).
///
/// `Display` writes the header value (`Digest username="...", ...`); parsing
/// that text gives back an equal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (or, with `userhash`, its hash).
    pub username: String,
    /// The realm the credentials are for.
    pub realm: String,
    /// The server nonce being answered.
    pub nonce: String,
    /// The digest-uri: the Request-URI as the client saw it.
    pub uri: String,
    /// The request-digest, hex.
    pub response: String,
    /// The algorithm; `None` means the parameter was absent (MD5).
    pub algorithm: Option<Algorithm>,
    /// The client nonce.
    pub cnonce: Option<String>,
    /// The challenge's opaque value, echoed.
    pub opaque: Option<String>,
    /// The chosen qop; `None` is RFC 2069 mode.
    pub qop: Option<Qop>,
    /// The nonce count.
    pub nc: Option<NonceCount>,
    /// True if `username` is hashed (`userhash=true`).
    pub userhash: bool,
    /// Parameters not listed above, in order. Must not reuse a name above.
    pub extra: Vec<AuthParam>,
}

impl Credentials {
    /// Parses a header value such as `Digest username="alice", realm=...`.
    ///
    /// Requires `username`, `realm`, `nonce`, `uri` and `response`, plus
    /// `cnonce` and `nc` when `qop` is present. Any other scheme gives
    /// [`DigestError::UnsupportedScheme`].
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        let mut userhash = false;
        let mut extra = Vec::new();
        for p in parse_digest(value)? {
            let v = p.value();
            match p.name().to_ascii_lowercase().as_str() {
                "username" => username = Some(v.to_owned()),
                "realm" => realm = Some(v.to_owned()),
                "nonce" => nonce = Some(v.to_owned()),
                "uri" => uri = Some(v.to_owned()),
                "response" => response = Some(v.to_owned()),
                "algorithm" => algorithm = Some(Algorithm::parse(v)?),
                "cnonce" => cnonce = Some(v.to_owned()),
                "opaque" => opaque = Some(v.to_owned()),
                "qop" => qop = Some(Qop::parse(v)?),
                "nc" => nc = Some(NonceCount::parse(v)?),
                "userhash" => userhash = v.eq_ignore_ascii_case("true"),
                _ => extra.push(p),
            }
        }
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(DigestError::MissingParam("cnonce"));
            }
            if nc.is_none() {
                return Err(DigestError::MissingParam("nc"));
            }
        }
        Ok(Self {
            username: username.ok_or(DigestError::MissingParam("username"))?,
            realm: realm.ok_or(DigestError::MissingParam("realm"))?,
            nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
            uri: uri.ok_or(DigestError::MissingParam("uri"))?,
            response: response.ok_or(DigestError::MissingParam("response"))?,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
            userhash,
            extra,
        })
    }

    /// The algorithm in effect: the `algorithm` parameter, or MD5.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }

    /// The inputs to [`compute_response`](super::compute_response) for a
    /// request with `method`.
    pub fn digest_input<'a>(&'a self, method: &'a str) -> DigestInput<'a> {
        DigestInput {
            algorithm: self.effective_algorithm(),
            method,
            uri: &self.uri,
            nonce: &self.nonce,
            cnonce: self.cnonce.as_deref(),
            qop: self.qop,
            nc: self.nc,
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ParamWriter::new(f)?;
        w.quoted("username", &self.username)?;
        w.quoted("realm", &self.realm)?;
        w.quoted("nonce", &self.nonce)?;
        w.quoted("uri", &self.uri)?;
        w.quoted("response", &self.response)?;
        if let Some(alg) = self.algorithm {
            w.token("algorithm", alg)?;
        }
        if let Some(cnonce) = &self.cnonce {
            w.quoted("cnonce", cnonce)?;
        }
        if let Some(opaque) = &self.opaque {
            w.quoted("opaque", opaque)?;
        }
        if let Some(qop) = self.qop {
            w.token("qop", qop)?;
        }
        if let Some(nc) = self.nc {
            w.token("nc", nc)?;
        }
        if self.userhash {
            w.token("userhash", "true")?;
        }
        w.extra(&self.extra)
    }
}

impl FromStr for Credentials {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
