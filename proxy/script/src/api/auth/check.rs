//! Digest verification against the host's users, with stateless nonces
//! (`sip::digest::Nonce`), and the challenges that answer a failure.

use std::time::{SystemTime, UNIX_EPOCH};

use sip::digest::{
    nonce_valid, Algorithm, Challenge, Credentials, Expected, Ha1, Nonce, NonceStatus, Secret,
};
use sip::{HeaderName, Message};

use crate::host::{Credential, Host, HostError};

/// The verdict on a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Valid credentials of this user with a fresh nonce.
    Ok(String),
    /// No usable credentials: challenge (with `stale=true` when the only
    /// problem is an expired nonce).
    Challenge {
        /// The nonce was ours and the response right, but it expired.
        stale: bool,
    },
    /// The credential store is unreachable.
    Unavailable(String),
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An algorithm name as written in headers (`SHA-256`) or in the
/// configuration (`sha256`).
pub(crate) fn parse_algorithm(name: &str) -> Option<Algorithm> {
    let name = name.trim();
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    Algorithm::parse(name).ok().or_else(|| {
        let want = squash(name);
        Algorithm::ALL
            .into_iter()
            .find(|a| squash(a.as_str()) == want)
    })
}

/// The algorithms the host wants, MD5 when it names none we know.
pub(crate) fn algorithms(host: &dyn Host) -> Vec<Algorithm> {
    let mut out: Vec<Algorithm> = Vec::new();
    for a in host
        .digest_algorithms()
        .iter()
        .filter_map(|a| parse_algorithm(a))
    {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        out.push(Algorithm::Md5);
    }
    out
}

/// Which credentials headers a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `Authorization`.
    Www,
    /// `Proxy-Authorization`.
    Proxy,
    /// Either (SIPhon's `require_digest`).
    Either,
}

impl Source {
    fn reads(self, name: HeaderName) -> bool {
        match self {
            Source::Www => name == HeaderName::Authorization,
            Source::Proxy => name == HeaderName::ProxyAuthorization,
            Source::Either => {
                name == HeaderName::Authorization || name == HeaderName::ProxyAuthorization
            }
        }
    }
}

/// Checks the credentials `source` names in `msg` for `realm`, against
/// `supplied` when the script gave the secret (`password=` / `ha1=`),
/// else the host's users.
pub(crate) fn verify(
    host: &dyn Host,
    msg: &Message,
    realm: &str,
    source: Source,
    supplied: Option<&Credential>,
    now: u64,
) -> Verdict {
    let method = msg.method().map(|m| m.as_str()).unwrap_or("");
    let Some(creds) = msg
        .headers()
        .filter(|h| source.reads(h.name))
        .filter_map(|h| Credentials::parse(h.value).ok())
        .find(|c| c.realm == realm)
    else {
        return Verdict::Challenge { stale: false };
    };
    // The credentials are for this request (RFC 2617 §3.2.2.5): their
    // `uri` is the Request-URI, not one replayed from another request.
    if !same_uri(&creds.uri, msg.request_uri_str().unwrap_or_default()) {
        return Verdict::Challenge { stale: false };
    }
    let status = match nonce_valid(
        &host.nonce_secret(),
        &creds.nonce,
        now,
        host.nonce_ttl_secs(),
    ) {
        Ok(s) => s,
        Err(_) => return Verdict::Challenge { stale: false },
    };
    let looked_up = match supplied {
        Some(s) => Ok(Some(s.clone())),
        None => host.credentials(&creds.username, realm),
    };
    let secret = match looked_up {
        Ok(Some(s)) => s,
        Ok(None) => return Verdict::Challenge { stale: false },
        Err(HostError::Unavailable(e)) => return Verdict::Unavailable(e),
        Err(HostError::Invalid(_)) => return Verdict::Challenge { stale: false },
    };
    let algs = algorithms(host);
    let expected = Expected::new(realm, &algs);
    let alg = creds.effective_algorithm();
    let checked = match &secret {
        Credential::Password(p) => creds.verify(method, &expected, Secret::Password(p)),
        Credential::Ha1(list) => {
            let Some(ha1) = list.iter().find_map(|(name, hex)| {
                let a = parse_algorithm(name)?;
                (a.base() == alg.base()).then(|| Ha1::from_hex(a, hex).ok())?
            }) else {
                return Verdict::Challenge { stale: false };
            };
            creds.verify(method, &expected, Secret::Ha1(&ha1))
        }
    };
    match (checked, status) {
        (Ok(()), NonceStatus::Fresh) => Verdict::Ok(creds.username),
        (Ok(()), NonceStatus::Stale) => Verdict::Challenge { stale: true },
        (Err(_), _) => Verdict::Challenge { stale: false },
    }
}

/// Whether the credentials' `uri` names the Request-URI: the same text, or
/// equivalent URIs (RFC 3261 §19.1.4).
fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    digest_uri == request_uri
        || matches!(
            (sip::Uri::parse(digest_uri), sip::Uri::parse(request_uri)),
            (Ok(a), Ok(b)) if a.equivalent(&b)
        )
}

/// A fresh stateless nonce.
pub(crate) fn fresh_nonce(host: &dyn Host, now: u64) -> String {
    let mut random = [0u8; 16];
    // A failing system RNG leaves zeros: the nonce stays unforgeable (HMAC)
    // and time-bound, only less unique.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    Nonce::issue(&host.nonce_secret(), now, &random)
}

/// The `WWW-Authenticate` (or `Proxy-Authenticate`) headers of a
/// challenge: one per algorithm, sharing a fresh nonce.
pub(crate) fn challenge(
    host: &dyn Host,
    realm: &str,
    stale: bool,
    proxy: bool,
    now: u64,
) -> Vec<(String, String)> {
    let nonce = fresh_nonce(host, now);
    let name = if proxy {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    algorithms(host)
        .into_iter()
        .map(|alg| {
            let mut c = Challenge::new(realm, nonce.clone(), alg);
            c.stale = stale;
            (name.to_owned(), c.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_uri_must_name_the_request_uri() {
        assert!(super::same_uri("sip:domain.local", "sip:domain.local"));
        assert!(super::same_uri("sip:DOMAIN.local", "sip:domain.local"));
        assert!(!super::same_uri("sip:other.example", "sip:domain.local"));
        assert!(!super::same_uri("", "sip:domain.local"));
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(parse_algorithm("SHA-256"), Some(Algorithm::Sha256));
        assert_eq!(parse_algorithm("sha256"), Some(Algorithm::Sha256));
        assert_eq!(parse_algorithm(" md5 "), Some(Algorithm::Md5));
        assert_eq!(parse_algorithm("sha512256"), Some(Algorithm::Sha512_256));
        assert_eq!(parse_algorithm("rot13"), None);
    }
}
