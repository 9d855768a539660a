//! A copy of every SIP message the transports receive and send, for
//! captures (HEP): handed to a [`Tap`] with its flow, never waiting.

use bytes::Bytes;
use sip::Flow;

/// Which way a captured message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from `flow.remote` on `flow.local`.
    In,
    /// Sent from `flow.local` to `flow.remote`.
    Out,
}

/// Receives a copy of each SIP message (not keepalives). Called on the
/// transports' tasks: it must not block (queue, or drop and count).
pub trait Tap: Send + Sync + std::fmt::Debug + 'static {
    /// One message, with where it came from or went.
    fn capture(&self, direction: Direction, flow: &Flow, bytes: &Bytes);
}

/// True for what is not a SIP message: RFC 5626 CRLF keepalives.
pub(crate) fn is_keepalive(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == b'\r' || b == b'\n')
}
