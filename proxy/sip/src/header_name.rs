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
                full(name)
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

/// Full names: dispatch on length, then compare case-insensitively.
fn full(name: &[u8]) -> HeaderName {
    match name.len() {
        2 => {
            if name.eq_ignore_ascii_case(b"To") {
                HeaderName::To
            } else {
                HeaderName::Other
            }
        }
        3 => {
            if name.eq_ignore_ascii_case(b"Via") {
                HeaderName::Via
            } else {
                HeaderName::Other
            }
        }
        4 => {
            if name.eq_ignore_ascii_case(b"Path") {
                HeaderName::Path
            } else if name.eq_ignore_ascii_case(b"From") {
                HeaderName::From
            } else if name.eq_ignore_ascii_case(b"CSeq") {
                HeaderName::CSeq
            } else if name.eq_ignore_ascii_case(b"Date") {
                HeaderName::Date
            } else {
                HeaderName::Other
            }
        }
        5 => {
            if name.eq_ignore_ascii_case(b"Route") {
                HeaderName::Route
            } else if name.eq_ignore_ascii_case(b"Allow") {
                HeaderName::Allow
            } else if name.eq_ignore_ascii_case(b"Event") {
                HeaderName::Event
            } else {
                HeaderName::Other
            }
        }
        6 => {
            if name.eq_ignore_ascii_case(b"Accept") {
                HeaderName::Accept
            } else if name.eq_ignore_ascii_case(b"Server") {
                HeaderName::Server
            } else {
                HeaderName::Other
            }
        }
        7 => {
            if name.eq_ignore_ascii_case(b"Contact") {
                HeaderName::Contact
            } else if name.eq_ignore_ascii_case(b"Call-ID") {
                HeaderName::CallId
            } else if name.eq_ignore_ascii_case(b"Expires") {
                HeaderName::Expires
            } else if name.eq_ignore_ascii_case(b"Require") {
                HeaderName::Require
            } else if name.eq_ignore_ascii_case(b"Subject") {
                HeaderName::Subject
            } else {
                HeaderName::Other
            }
        }
        8 => {
            if name.eq_ignore_ascii_case(b"Refer-To") {
                HeaderName::ReferTo
            } else {
                HeaderName::Other
            }
        }
        9 => {
            if name.eq_ignore_ascii_case(b"Supported") {
                HeaderName::Supported
            } else if name.eq_ignore_ascii_case(b"Timestamp") {
                HeaderName::Timestamp
            } else {
                HeaderName::Other
            }
        }
        10 => {
            if name.eq_ignore_ascii_case(b"User-Agent") {
                HeaderName::UserAgent
            } else if name.eq_ignore_ascii_case(b"Flow-Timer") {
                HeaderName::FlowTimer
            } else {
                HeaderName::Other
            }
        }
        11 => {
            if name.eq_ignore_ascii_case(b"Min-Expires") {
                HeaderName::MinExpires
            } else if name.eq_ignore_ascii_case(b"Unsupported") {
                HeaderName::Unsupported
            } else if name.eq_ignore_ascii_case(b"Retry-After") {
                HeaderName::RetryAfter
            } else {
                HeaderName::Other
            }
        }
        12 => {
            if name.eq_ignore_ascii_case(b"Record-Route") {
                HeaderName::RecordRoute
            } else if name.eq_ignore_ascii_case(b"Max-Forwards") {
                HeaderName::MaxForwards
            } else if name.eq_ignore_ascii_case(b"Content-Type") {
                HeaderName::ContentType
            } else {
                HeaderName::Other
            }
        }
        13 => {
            if name.eq_ignore_ascii_case(b"Proxy-Require") {
                HeaderName::ProxyRequire
            } else if name.eq_ignore_ascii_case(b"Authorization") {
                HeaderName::Authorization
            } else {
                HeaderName::Other
            }
        }
        14 => {
            if name.eq_ignore_ascii_case(b"Content-Length") {
                HeaderName::ContentLength
            } else {
                HeaderName::Other
            }
        }
        16 => {
            if name.eq_ignore_ascii_case(b"Content-Encoding") {
                HeaderName::ContentEncoding
            } else if name.eq_ignore_ascii_case(b"WWW-Authenticate") {
                HeaderName::WwwAuthenticate
            } else {
                HeaderName::Other
            }
        }
        18 => {
            if name.eq_ignore_ascii_case(b"Proxy-Authenticate") {
                HeaderName::ProxyAuthenticate
            } else {
                HeaderName::Other
            }
        }
        19 => {
            if name.eq_ignore_ascii_case(b"Proxy-Authorization") {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Other
            }
        }
        _ => HeaderName::Other,
    }
}

/// How many [`HeaderName`] values there are (for per-name tables).
pub(crate) const NAME_COUNT: usize = HeaderName::Other as usize + 1;

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
