//! Header field names: the ones this crate understands, with compact forms.

use std::fmt;

macro_rules! names {
    ($( $variant:ident = $full:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Names compare case-insensitively and compact
        /// forms (RFC 3261 §7.3.3) map to their full names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( #[doc = $full] $variant, )*
            /// Any other header; the raw name is on the header itself.
            Other,
        }

        impl HeaderName {
            /// The canonical (full) name, or `None` for [`HeaderName::Other`].
            pub fn canonical(self) -> Option<&'static str> {
                match self {
                    $( HeaderName::$variant => Some($full), )*
                    HeaderName::Other => None,
                }
            }

            fn lookup(name: &[u8]) -> HeaderName {
                if name.len() == 1 {
                    let c = name[0].to_ascii_lowercase();
                    $( $( if c == $compact { return HeaderName::$variant; } )? )*
                    return HeaderName::Other;
                }
                $( if name.eq_ignore_ascii_case($full.as_bytes()) { return HeaderName::$variant; } )*
                HeaderName::Other
            }
        }
    };
}

names! {
    Via = "Via", b'v';
    Route = "Route";
    RecordRoute = "Record-Route";
    Path = "Path";
    Contact = "Contact", b'm';
    From = "From", b'f';
    To = "To", b't';
    CallId = "Call-ID", b'i';
    CSeq = "CSeq";
    MaxForwards = "Max-Forwards";
    ContentLength = "Content-Length", b'l';
    ContentType = "Content-Type", b'c';
    ContentEncoding = "Content-Encoding", b'e';
    Expires = "Expires";
    MinExpires = "Min-Expires";
    Require = "Require";
    ProxyRequire = "Proxy-Require";
    Supported = "Supported", b'k';
    Unsupported = "Unsupported";
    Allow = "Allow";
    Accept = "Accept";
    Authorization = "Authorization";
    ProxyAuthorization = "Proxy-Authorization";
    WwwAuthenticate = "WWW-Authenticate";
    ProxyAuthenticate = "Proxy-Authenticate";
    RetryAfter = "Retry-After";
    Subject = "Subject", b's';
    Event = "Event", b'o';
    ReferTo = "Refer-To", b'r';
    UserAgent = "User-Agent";
    Server = "Server";
    Timestamp = "Timestamp";
    Date = "Date";
    FlowTimer = "Flow-Timer";
}

impl HeaderName {
    /// Classifies a raw header name (already known to be a token).
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        // Fast reject by first letter before the linear scan.
        match name.first().map(u8::to_ascii_lowercase) {
            Some(
                b'v' | b'r' | b'p' | b'c' | b'm' | b'f' | b't' | b'i' | b'l' | b'e' | b'k' | b'u'
                | b'a' | b'w' | b's' | b'o' | b'd',
            ) => Self::lookup(name),
            _ => HeaderName::Other,
        }
    }

    /// Headers whose value is a comma-separated list (RFC 3261 §7.3.1).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Path
                | HeaderName::Contact
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Allow
                | HeaderName::Accept
                | HeaderName::ContentEncoding
        )
    }

    /// Headers that may appear at most once in a message.
    pub fn is_single(self) -> bool {
        matches!(
            self,
            HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::Expires
                | HeaderName::MinExpires
        )
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical().unwrap_or("(other)"))
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName;

    #[test]
    fn lookup() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"VIA"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"x"), HeaderName::Other);
        assert_eq!(
            HeaderName::from_bytes(b"NewFangledHeader"),
            HeaderName::Other
        );
        assert_eq!(
            HeaderName::from_bytes(b"Record-Route"),
            HeaderName::RecordRoute
        );
    }
}
