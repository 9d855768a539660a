//! Typed, lazily parsed access to the routing headers.

use super::Message;
use crate::error::HeaderError;
use crate::header::{self, CSeq, Contact, NameAddr, Via};
use crate::header_name::HeaderName;
use crate::uri::Uri;

impl Message {
    /// The Request-URI, parsed.
    pub fn request_uri(&self) -> Result<Uri<'_>, HeaderError> {
        let s = self
            .request_uri_str()
            .ok_or(HeaderError::new("Request-URI", "not a request"))?;
        Uri::parse(s).map_err(|e| HeaderError::new("Request-URI", e.0))
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, HeaderError>> + '_ {
        self.values(HeaderName::Via).map(Via::parse)
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via<'_>, HeaderError> {
        let v = self
            .values(HeaderName::Via)
            .next()
            .ok_or(HeaderError::new("Via", "missing"))?;
        Via::parse(v)
    }

    /// The From field.
    pub fn from(&self) -> Result<NameAddr<'_>, HeaderError> {
        self.single(HeaderName::From)
            .and_then(|v| NameAddr::parse("From", v))
    }

    /// The To field.
    pub fn to(&self) -> Result<NameAddr<'_>, HeaderError> {
        self.single(HeaderName::To)
            .and_then(|v| NameAddr::parse("To", v))
    }

    /// The From tag, if the From field parses and has one.
    pub fn from_tag(&self) -> Option<&str> {
        self.from().ok().and_then(|f| f.tag())
    }

    /// The To tag, if the To field parses and has one.
    pub fn to_tag(&self) -> Option<&str> {
        self.to().ok().and_then(|t| t.tag())
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.single(HeaderName::CallId).and_then(header::call_id)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq<'_>, HeaderError> {
        self.single(HeaderName::CSeq).and_then(CSeq::parse)
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<u8>, HeaderError> {
        self.optional(HeaderName::MaxForwards)?
            .map(header::max_forwards)
            .transpose()
    }

    /// Expires, if present.
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        self.optional(HeaderName::Expires)?
            .map(header::delta_seconds)
            .transpose()
    }

    /// Content-Length, if present (the parser has already checked it).
    pub fn content_length(&self) -> Option<usize> {
        self.header(HeaderName::ContentLength)
            .and_then(|v| v.parse().ok())
    }

    /// Route values, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.values(HeaderName::Route)
            .map(|v| NameAddr::parse_route("Route", v))
    }

    /// Record-Route values, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.values(HeaderName::RecordRoute)
            .map(|v| NameAddr::parse_route("Record-Route", v))
    }

    /// Path values, top first.
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.values(HeaderName::Path)
            .map(|v| NameAddr::parse_route("Path", v))
    }

    /// Contact values.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, HeaderError>> + '_ {
        self.values(HeaderName::Contact).map(Contact::parse)
    }

    /// Require option tags.
    pub fn require(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.values(HeaderName::Require).map(header::option_tag)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.values(HeaderName::ProxyRequire)
            .map(header::option_tag)
    }

    /// Supported option tags (the field may be empty, RFC 3261 §20.37).
    pub fn supported(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.values(HeaderName::Supported)
            .filter(|v| !v.is_empty())
            .map(header::option_tag)
    }

    /// The value of a header that must appear exactly once.
    fn single(&self, name: HeaderName) -> Result<&str, HeaderError> {
        self.optional(name)?
            .ok_or(HeaderError::new(canonical(name), "missing"))
    }

    /// The value of a header that may appear at most once.
    fn optional(&self, name: HeaderName) -> Result<Option<&str>, HeaderError> {
        if self.count(name) > 1 {
            return Err(HeaderError::new(canonical(name), "appears more than once"));
        }
        Ok(self.header(name))
    }
}

fn canonical(name: HeaderName) -> &'static str {
    name.canonical().unwrap_or("header")
}
