//! The error type of the digest module.

/// Everything that can go wrong while parsing, computing or verifying digest
/// authentication.
///
/// Parse errors ([`Empty`](Self::Empty) to
/// [`UnsupportedQop`](Self::UnsupportedQop)) mean the header is malformed or
/// uses something this module does not implement; verification errors
/// ([`RealmMismatch`](Self::RealmMismatch) onwards) mean the credentials are
/// well formed but must not be accepted. Strings copied from the input are
/// clipped to 64 bytes so that an error can be logged safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The header value is empty or only whitespace.
    #[error("empty authentication header value")]
    Empty,
    /// The auth-scheme is not `Digest` (for example RFC 4475's
    /// `NoOneKnowsThisScheme`). The caller may ignore such a header.
    #[error("unsupported authentication scheme `{0}`")]
    UnsupportedScheme(String),
    /// The auth-param list does not follow the grammar.
    #[error("malformed auth-params at byte {at}: {reason}")]
    Malformed {
        /// Byte offset into the header value where parsing stopped.
        at: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// The same parameter name occurs twice (names compare case-insensitively).
    #[error("duplicate parameter `{0}`")]
    DuplicateParam(String),
    /// A parameter the RFC requires is absent.
    #[error("missing required parameter `{0}`")]
    MissingParam(&'static str),
    /// A parameter has a value outside its grammar (for example `nc` that is
    /// not 8 lowercase hex digits).
    #[error("invalid value for parameter `{0}`")]
    InvalidParam(&'static str),
    /// The `algorithm` parameter names an algorithm this module does not know.
    #[error("unknown digest algorithm `{0}`")]
    UnknownAlgorithm(String),
    /// The `qop` is not supported (`auth-int`, or an unknown value in
    /// credentials, or a challenge offering no qop this module can answer).
    #[error("unsupported qop `{0}`")]
    UnsupportedQop(String),
    /// The credentials carry `userhash=true`, which this module does not verify.
    #[error("userhash=true is not supported")]
    UserhashUnsupported,
    /// An HA1 is not valid lowercase or uppercase hex of the right length, or
    /// was computed with a different hash function than the one in use.
    #[error("HA1 does not match the digest algorithm")]
    Ha1Mismatch,
    /// The credentials are for another realm.
    #[error("realm mismatch")]
    RealmMismatch,
    /// The credentials use an algorithm the server did not offer.
    #[error("algorithm not accepted")]
    AlgorithmMismatch,
    /// The credentials do not echo the opaque value of the challenge.
    #[error("opaque mismatch")]
    OpaqueMismatch,
    /// The server requires `qop=auth` and the credentials have no qop
    /// (RFC 2069 mode).
    #[error("qop required")]
    QopRequired,
    /// The request-digest does not match: wrong password, method, URI, nonce...
    #[error("response mismatch")]
    ResponseMismatch,
    /// The nonce was not issued by this secret or is malformed.
    #[error("invalid nonce")]
    InvalidNonce,
}

impl DigestError {
    /// True for [`UnsupportedScheme`](Self::UnsupportedScheme): the header is
    /// not digest authentication at all and can be skipped.
    pub fn is_unsupported_scheme(&self) -> bool {
        matches!(self, Self::UnsupportedScheme(_))
    }

    /// True if the header could not be parsed or uses an unsupported feature,
    /// as opposed to well-formed credentials that failed verification.
    pub fn is_parse_error(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::UnsupportedScheme(_)
                | Self::Malformed { .. }
                | Self::DuplicateParam(_)
                | Self::MissingParam(_)
                | Self::InvalidParam(_)
                | Self::UnknownAlgorithm(_)
                | Self::UnsupportedQop(_)
        )
    }
}

/// Copies at most 64 bytes of `s` (cut on a char boundary) for an error value.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() > MAX {
            break;
        }
        end = i + c.len_utf8();
    }
    s.get(..end).unwrap_or_default().to_owned()
}
