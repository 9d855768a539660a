//! RFC 3263 target resolution: which transport, address and port a SIP
//! URI's request goes to, in the order to try them.
//!
//! - [`Target::from_uri`] reads a `sip:`/`sips:` URI (or `host[:port]`);
//! - [`Resolver::resolve`] returns the ordered [`Destination`]s; callers try
//!   the next one on a transport error or a 503 (RFC 3263 §4.3).
//!
//! The procedure (IP literals, explicit ports and transports, NAPTR, SRV
//! with RFC 2782 weights, A/AAAA) is described in `resolver/procedure.rs`.
//! DNS goes through `hickory-resolver` with its cache on and a 2 s query
//! timeout by default.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

pub use sip::Transport;

mod error;
mod naptr;
mod resolver;
mod rng;
mod srv;
mod target;

pub use error::ResolveError;
pub use resolver::Resolver;
pub use target::Target;

/// One place to send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The transport.
    pub transport: Transport,
    /// The address and port.
    pub addr: SocketAddr,
}
