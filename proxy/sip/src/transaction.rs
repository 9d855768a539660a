//! The transaction layer of RFC 3261 §17, with the corrections of RFC 6026:
//! four sans-IO state machines.
//!
//! | machine             | RFC                    | created for                          |
//! |---------------------|------------------------|--------------------------------------|
//! | [`ClientInvite`]    | §17.1.1, RFC 6026 §8.4 | an INVITE the TU sends               |
//! | [`ClientNonInvite`] | §17.1.2                | any other request the TU sends       |
//! | [`ServerInvite`]    | §17.2.1, RFC 6026 §8.7 | an INVITE matching no transaction    |
//! | [`ServerNonInvite`] | §17.2.2                | another request matching none        |
//!
//! Like `quinn-proto`, a machine does no I/O and reads no clock. Every input
//! carries the current time as an `Instant`; output is drained by polling:
//!
//! - `poll_transmit()` yields each message to hand the transport, once;
//! - `poll_event()` yields what the TU must learn ([`Event`]: a timeout, a
//!   transport error, the end of the transaction);
//! - `poll_timeout()` is the earliest armed timer, and `handle_timeout(now)`
//!   fires every timer due by `now` in deadline order; afterwards
//!   `poll_timeout()` is `None` or later than `now`.
//!
//! Messages are opaque [`bytes::Bytes`]: this module never parses. The caller
//! passes in the facts it needs (a response's status code, whether a request
//! is an ACK or a retransmission) and builds what it cannot (the ACK for a
//! non-2xx response, the 100 Trying). Whether a received response or ACK
//! goes up to the TU is the [`Disposition`] returned by the call that handed
//! it in, so the caller keeps its parsed message and never re-parses.
//!
//! Timers follow [`TimerConfig`] (T1, T2, T4) and the transport's
//! [`Reliability`]: reliable transports get no retransmissions and
//! zero-length Timers D, I, J and K. A zero-length timer is armed at `now`:
//! `poll_timeout()` returns `now` and the next `handle_timeout(now)` fires
//! it. No call panics, whatever its arguments or their order.
//!
//! # Driving a machine
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use sip::transaction::{ClientNonInvite, Event, Reliability, Timer, TimerConfig};
//!
//! let start = Instant::now(); // the caller's clock, read outside the core
//! let request = Bytes::from_static(b"OPTIONS sip:b.example SIP/2.0\r\n...");
//! let config = TimerConfig::default();
//! let mut tx = ClientNonInvite::new(start, config, Reliability::Unreliable, request);
//! let mut sent = 0;
//! loop {
//!     while let Some(_datagram) = tx.poll_transmit() {
//!         sent += 1; // socket.send_to(&_datagram, peer)
//!     }
//!     // An event loop sleeps until this deadline or the next datagram
//!     // (which would go to `tx.handle_response`); here nobody answers.
//!     let Some(deadline) = tx.poll_timeout() else { break };
//!     tx.handle_timeout(deadline);
//! }
//! assert_eq!(sent, 11); // the request, then 10 retransmissions by Timer E
//! assert_eq!(tx.poll_event(), Some(Event::Timeout(Timer::F)));
//! assert_eq!(tx.poll_event(), Some(Event::Terminated));
//! ```
//!
//! # What the matching layer feeds in
//!
//! Matching (§17.1.3, §17.2.3; `sip::matching`) decides which machine an
//! incoming message belongs to, and feeds it:
//!
//! - a response matched to a client transaction: `handle_response` with its
//!   status code (and, for INVITE, a closure building the ACK for 300–699);
//! - a request matched to a server transaction: `handle_ack` if it is an ACK
//!   (INVITE transactions only), otherwise `handle_request_retransmission`;
//! - a request matching none: a new server machine, and the request to the TU;
//! - a send failure: `handle_transport_error`.
//!
//! On [`Event::Terminated`] the caller drains `poll_transmit` and removes the
//! machine and its key.

mod any;
mod client_invite;
mod client_non_invite;
mod common;
mod server_invite;
mod server_non_invite;
mod timers;

pub use any::Transaction;
pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use common::{Disposition, Event, SendResponseError};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::{
    Reliability, Timer, TimerConfig, AUTO_TRYING_DELAY, MIN_RETRANSMIT_INTERVAL, MIN_TIMER_D,
};

// ---------------------------------------------------------------------------
// Transaction matching (§17.1.3 / §17.2.3 keys) is owned by the matching
// layer (today `crate::matching`). If it moves in here, its `pub mod key;`
// and re-exports go below this line.
// ---------------------------------------------------------------------------
