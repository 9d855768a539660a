//! Errors of the SIP core, each mapped to the status code an element answers.

use thiserror::Error;

/// Why a message could not be parsed or framed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("message larger than the limit of {limit} octets")]
    TooLarge { limit: usize },
    #[error("more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("header section is not terminated by an empty line")]
    Unterminated,
    #[error("header section is not valid UTF-8")]
    NotUtf8,
    #[error("line not terminated by CRLF")]
    BareLineEnd,
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    #[error("unsupported SIP version")]
    Version,
    #[error("malformed header field line {line}: {what}")]
    HeaderLine { line: usize, what: &'static str },
    #[error("Content-Length is not a valid number")]
    ContentLength,
    #[error("more than one Content-Length header")]
    DuplicateContentLength,
    #[error("Content-Length {declared} larger than the {available} octets received")]
    BodyTooShort { declared: usize, available: usize },
    #[error("Content-Length is mandatory on stream transports")]
    MissingContentLength,
}

impl ParseError {
    /// The status code a server answers to a request failing this way.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Version => 505,
            ParseError::TooLarge { .. } => 513,
            _ => 400,
        }
    }
}

/// Why a message that parsed is not acceptable (RFC 3261 §8.2, §16.3).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{status} {reason}")]
pub struct Rejection {
    /// The status code of the answer.
    pub status: u16,
    /// The reason phrase, naming what was wrong.
    pub reason: String,
    /// Option tags to list in `Unsupported` (for 420).
    pub unsupported: Vec<String>,
}

impl Rejection {
    pub(crate) fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            unsupported: Vec::new(),
        }
    }

    pub(crate) fn bad(what: impl Into<String>) -> Self {
        Self::new(400, what)
    }
}

/// Why a header value does not follow its grammar.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed {header}: {what}")]
pub struct HeaderError {
    /// The header (canonical name).
    pub header: &'static str,
    /// What is wrong.
    pub what: &'static str,
}

impl HeaderError {
    pub(crate) fn new(header: &'static str, what: &'static str) -> Self {
        Self { header, what }
    }
}

impl From<HeaderError> for Rejection {
    fn from(e: HeaderError) -> Self {
        Rejection::bad(e.to_string())
    }
}
