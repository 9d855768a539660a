//! What the four machines share: the events and verdicts they hand the
//! caller, the error of a refused response, and the bounded output queues.

use std::collections::VecDeque;

use bytes::Bytes;
use thiserror::Error;

use super::timers::Timer;

/// Something the transaction user (TU) must learn, drained with `poll_event`.
///
/// Messages for the TU are not events: whether a received response or ACK
/// goes up is the [`Disposition`] returned by the call that handed it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The transaction failed for want of an answer: Timer B (client INVITE,
    /// §17.1.1.2), F (client non-INVITE, §17.1.2.2) or H (server INVITE, no
    /// ACK, §17.2.1). Followed by [`Event::Terminated`].
    Timeout(Timer),
    /// The caller reported a transport failure (§17.1.4, §17.2.4). Whether
    /// the machine ends too is per machine and state; if it does,
    /// [`Event::Terminated`] follows.
    TransportError,
    /// The machine reached its Terminated state. Always the last event: the
    /// caller drains `poll_transmit`, then drops the transaction and its
    /// matching key.
    Terminated,
}

/// Whether a message the caller handed to a transaction goes on to the TU.
#[must_use = "a response or ACK the transaction did not absorb must reach the TU"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Pass the message to the TU (for a proxy: the core that forwards it).
    Deliver,
    /// The transaction absorbed it (a retransmission, or out of place); the
    /// TU must not see it.
    Absorb,
}

impl Disposition {
    /// Whether this is [`Disposition::Deliver`].
    pub fn is_deliver(self) -> bool {
        self == Disposition::Deliver
    }
}

/// Why a server transaction refused a response from the TU. The transaction
/// is unchanged and nothing was queued for transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendResponseError {
    /// Not a SIP status code (100–699).
    #[error("{0} is not a SIP status code")]
    InvalidStatus(u16),
    /// The code is valid but makes no sense in the current state: a response
    /// after a non-2xx final one, anything but 2xx after a 2xx, or any
    /// response once the transaction ended.
    #[error("cannot send a {status} response in the {state} state")]
    NotAllowed {
        /// The refused status code.
        status: u16,
        /// The name of the state the transaction is in.
        state: &'static str,
    },
}

/// The classes of status code the machines tell apart (RFC 3261 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 100–199.
    Provisional,
    /// 200–299.
    Success,
    /// 300–699.
    Failure,
}

impl Class {
    /// The class of `status`, or `None` outside 100–699.
    pub(crate) fn of(status: u16) -> Option<Class> {
        match status {
            100..=199 => Some(Class::Provisional),
            200..=299 => Some(Class::Success),
            300..=699 => Some(Class::Failure),
            _ => None,
        }
    }
}

/// Most messages queued for the transport and not yet polled. Past this the
/// oldest is dropped: every queued message is a (re)transmission the network
/// could have lost anyway, and a caller that drains after each call never
/// holds more than two.
const MAX_TRANSMITS: usize = 16;

/// Most events queued and not yet polled; a machine raises at most three in
/// its life apart from repeated transport errors, which are coalesced.
const MAX_EVENTS: usize = 8;

/// The bounded queues behind `poll_transmit` and `poll_event`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    transmits: VecDeque<Bytes>,
    events: VecDeque<Event>,
}

impl Output {
    pub(crate) fn transmit(&mut self, message: Bytes) {
        if self.transmits.len() >= MAX_TRANSMITS {
            self.transmits.pop_front();
        }
        self.transmits.push_back(message);
    }

    pub(crate) fn event(&mut self, event: Event) {
        if event == Event::TransportError && self.events.back() == Some(&event) {
            return;
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
