//! The sans-IO SIP protocol core of anysip.
//!
//! Everything here is pure: no sockets, no tasks, no clock reads. Time is an
//! argument (`std::time::Instant` values passed in), and output is bytes for
//! the caller to send. The pieces:
//!
//! - [`message`]: a zero-copy message model over [`bytes::Bytes`] and its
//!   parser (RFC 3261 §7, §25), with typed, lazily parsed routing headers
//!   ([`header`]) and URIs ([`uri`]);
//! - [`framer`]: framing of TCP/TLS byte streams, with RFC 5626 keepalives;
//! - [`edit`]: edits (Via, Route, Record-Route, Path, Max-Forwards) spliced
//!   into the original bytes;
//! - [`response`]: responses built from requests (§8.2.6);
//! - [`validate`]: the checks of §8.2 and §16.3 that decide 400, 416, 420, 483, 505;
//! - [`transaction`]: the four §17 state machines and transaction matching;
//! - [`digest`]: digest authentication (RFC 7616 / RFC 2617 / RFC 8760).
#![forbid(unsafe_code)]

mod chars;
mod scan;

pub mod digest;
pub mod edit;
pub mod error;
pub mod framer;
pub mod header;
pub mod header_name;
pub mod host;
pub mod limits;
pub mod matching;
pub mod message;
pub mod method;
pub mod params;
pub mod response;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod validate;

pub use error::{HeaderError, ParseError, Rejection};
pub use header_name::HeaderName;
pub use limits::Limits;
pub use message::{Framing, Message, ParseFailure};
pub use method::Method;
pub use transport::{Flow, Transport};
pub use uri::Uri;
