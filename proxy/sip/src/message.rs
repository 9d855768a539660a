//! The message model: the received bytes, with the positions of the start
//! line, the header fields and the body. Nothing is copied; typed views
//! borrow from the message and are parsed when asked for.

mod accessors;
pub(crate) mod parse;
pub(crate) mod values;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::ParseError;
use crate::header_name::{HeaderName, NAME_COUNT};
use crate::method::Method;

pub use values::Values;

/// A byte range inside a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        // Messages are bounded far below 4 GiB by `Limits`.
        Self {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The range as `usize`s.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// How the message arrived, which decides the Content-Length rules (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// UDP: a missing Content-Length means "to the end of the datagram";
    /// octets past Content-Length are discarded.
    Datagram,
    /// TCP, TLS: Content-Length is mandatory.
    Stream,
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// The method.
        method: Method,
        /// Where the Request-URI is.
        uri: Span,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// The status code (100–699).
        status: u16,
        /// Where the reason phrase is.
        reason: Span,
    },
}

/// One header field as it stands in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    /// The classified name.
    pub name: HeaderName,
    /// The name as written.
    pub name_span: Span,
    /// The value, from after the colon and white space to the end of the
    /// last folded line (CRLF of inner folds included, final CRLF excluded).
    pub value: Span,
    /// The whole field, from the name to after the final CRLF.
    pub line: Span,
}

/// A parsed SIP message over its original bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    buf: Bytes,
    /// The start line and header section (checked UTF-8 once, at parse).
    head: ByteString,
    start: StartLine,
    /// End of the start line, after its CRLF.
    start_end: u32,
    headers: Vec<HeaderField>,
    /// Per known name: index of the first field and how many there are.
    index: NameIndex,
    body_start: u32,
}

/// First position and count of each known header name, filled at parse so
/// that lookups do not scan the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameIndex {
    first: [u16; NAME_COUNT],
    count: [u16; NAME_COUNT],
}

impl NameIndex {
    pub(crate) fn build(fields: &[HeaderField]) -> Self {
        let mut ix = NameIndex {
            first: [u16::MAX; NAME_COUNT],
            count: [0; NAME_COUNT],
        };
        for (i, h) in fields.iter().enumerate() {
            let n = h.name as usize;
            if ix.count[n] == 0 {
                ix.first[n] = u16::try_from(i).unwrap_or(u16::MAX);
            }
            ix.count[n] = ix.count[n].saturating_add(1);
        }
        ix
    }

    /// Index of the first field with this (known) name.
    pub(crate) fn first(&self, name: HeaderName) -> Option<usize> {
        let f = self.first[name as usize];
        (f != u16::MAX && name != HeaderName::Other).then_some(usize::from(f))
    }

    pub(crate) fn count(&self, name: HeaderName) -> usize {
        usize::from(self.count[name as usize])
    }
}

/// A parse failure. When the header section could be read, `partial` holds
/// it (with an empty body) so that a response can still be built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    /// What was wrong.
    pub error: ParseError,
    /// The message as far as it could be read.
    pub partial: Option<Box<Message>>,
}

impl From<ParseError> for ParseFailure {
    fn from(error: ParseError) -> Self {
        Self {
            error,
            partial: None,
        }
    }
}

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ParseFailure {}

/// A header field as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// Position of the field among the message's fields.
    pub index: usize,
    /// The classified name.
    pub name: HeaderName,
    /// The name as written.
    pub raw_name: &'a str,
    /// The value, without surrounding white space (inner folds kept).
    pub value: &'a str,
}

impl Message {
    /// Parses one message. `buf` holds a whole datagram or one framed stream
    /// message (see [`crate::framer::StreamFramer`]).
    pub fn parse(
        buf: Bytes,
        framing: Framing,
        limits: &crate::Limits,
    ) -> Result<Message, ParseFailure> {
        parse::parse(buf, framing, limits)
    }

    /// The message's bytes, exactly as received (trailing datagram octets removed).
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.text(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI of a request, as text.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.text(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The header fields, in order.
    pub fn fields(&self) -> &[HeaderField] {
        &self.headers
    }

    /// The header fields as text, in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> + '_ {
        self.headers.iter().enumerate().map(|(index, h)| HeaderRef {
            index,
            name: h.name,
            raw_name: self.text(h.name_span),
            value: self.value_text(h),
        })
    }

    /// The first field with this name, as text.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        if name == HeaderName::Other {
            return None;
        }
        let i = self.index.first(name)?;
        self.headers.get(i).map(|h| self.value_text(h))
    }

    /// Index of the first field with this known name.
    pub(crate) fn first_field(&self, name: HeaderName) -> Option<usize> {
        self.index.first(name)
    }

    /// The first field with this raw name (case-insensitive; compact forms
    /// are not mapped: use [`Message::header`] for known names).
    pub fn header_by_name(&self, raw: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| self.text(h.name_span).eq_ignore_ascii_case(raw))
            .map(|h| self.value_text(h))
    }

    /// How many fields have this name.
    pub fn count(&self, name: HeaderName) -> usize {
        if name == HeaderName::Other {
            return self.headers.iter().filter(|h| h.name == name).count();
        }
        self.index.count(name)
    }

    /// Every value of a header across all its fields, split at commas that
    /// are outside quotes and angle brackets (RFC 3261 §7.3.1).
    pub fn values(&self, name: HeaderName) -> Values<'_> {
        Values::new(self, name)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.body_start as usize..).unwrap_or(&[])
    }

    /// The body as a shared slice of the message's buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body_start as usize..)
    }

    /// Where the header section ends and the body starts.
    pub fn body_start(&self) -> usize {
        self.body_start as usize
    }

    /// Where the start line ends (after its CRLF).
    pub fn start_line_end(&self) -> usize {
        self.start_end as usize
    }

    /// The text at a span. Spans come from this message and the header
    /// section was checked to be UTF-8, so this only falls back to `""` for
    /// spans from elsewhere.
    pub fn text(&self, span: Span) -> &str {
        self.head.get(span.range()).unwrap_or("")
    }

    pub(crate) fn value_text(&self, h: &HeaderField) -> &str {
        trim_lws(self.text(h.value))
    }

    /// The offset of `part` inside this message, when `part` borrows from it.
    pub fn offset_of(&self, part: &str) -> Option<Span> {
        let base = self.buf.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        let start = p.checked_sub(base)?;
        let end = start.checked_add(part.len())?;
        (end <= self.buf.len()).then(|| Span::new(start, end))
    }
}

/// Trims SP, HTAB, CR and LF on both sides.
pub(crate) fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let is_lws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_lws(c)).map_or(start, |e| e + 1);
    // Both ends are next to ASCII bytes, so they are char boundaries.
    s.get(start..end.max(start)).unwrap_or("")
}
