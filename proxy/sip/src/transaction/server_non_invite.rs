//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! | state              | input                 | action               | next       |
//! |--------------------|-----------------------|----------------------|------------|
//! | (new)              | request (passed to TU)|                      | Trying     |
//! | Trying             | retransmission        | absorb               | Trying     |
//! | Trying, Proceeding | 1xx from TU           | send                 | Proceeding |
//! | Trying, Proceeding | 200–699 from TU       | send, arm J          | Completed  |
//! | Proceeding         | retransmission        | resend last 1xx      | Proceeding |
//! | Completed          | retransmission        | resend final         | Completed  |
//! | Completed          | Timer J               |                      | Terminated |
//! | Proceeding, Completed | transport error    | `TransportError`     | Terminated |
//!
//! Other responses from the TU are refused with [`SendResponseError`].

use std::time::Instant;

use bytes::Bytes;

use super::common::{Class, Event, Output, SendResponseError};
use super::timers::{Reliability, Timer, TimerConfig, Timers, MAX_FIRINGS_PER_CALL};

/// The states of a non-INVITE server transaction (RFC 3261 Figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerNonInviteState {
    /// The request went to the TU; nothing sent yet. Retransmissions are
    /// absorbed silently.
    Trying,
    /// A provisional response was sent; retransmissions get it again.
    Proceeding,
    /// A final response was sent; retransmissions get it again until Timer J.
    Completed,
    /// Done; drop the transaction.
    Terminated,
}

impl ServerNonInviteState {
    /// The state's name as in the RFC figure.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trying => "Trying",
            Self::Proceeding => "Proceeding",
            Self::Completed => "Completed",
            Self::Terminated => "Terminated",
        }
    }
}

/// A non-INVITE server transaction (RFC 3261 §17.2.2).
///
/// Created when the matching layer (§17.2.3) finds no transaction for a
/// request other than INVITE and ACK, which then goes to the TU.
/// Retransmissions of that request go to
/// [`handle_request_retransmission`](Self::handle_request_retransmission),
/// the TU's responses to [`send_response`](Self::send_response).
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    state: ServerNonInviteState,
    config: TimerConfig,
    reliability: Reliability,
    /// The most recent response sent: what a retransmission gets.
    last_response: Option<Bytes>,
    timers: Timers,
    out: Output,
}

impl ServerNonInvite {
    /// Starts the transaction in Trying. No timer runs until the TU answers.
    pub fn new(config: TimerConfig, reliability: Reliability) -> Self {
        Self {
            state: ServerNonInviteState::Trying,
            config,
            reliability,
            last_response: None,
            timers: Timers::default(),
            out: Output::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// The transport reliability the transaction was created with.
    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    /// Whether the transaction reached Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// Sends a response from the TU with status code `status`: any 100–699
    /// in Trying or Proceeding. Anything else, and any response once a final
    /// one was sent, is refused with nothing changed.
    pub fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        response: Bytes,
    ) -> Result<(), SendResponseError> {
        use ServerNonInviteState::*;
        let class = Class::of(status).ok_or(SendResponseError::InvalidStatus(status))?;
        match (self.state, class) {
            (Trying | Proceeding, Class::Provisional) => {
                self.out.transmit(response.clone());
                self.last_response = Some(response);
                self.state = Proceeding;
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.out.transmit(response.clone());
                self.last_response = Some(response);
                self.state = Completed;
                if let Some(after) = self.config.initial(Timer::J, self.reliability) {
                    self.timers.arm(Timer::J, now, after);
                }
            }
            (state, _) => {
                return Err(SendResponseError::NotAllowed {
                    status,
                    state: state.name(),
                });
            }
        }
        Ok(())
    }

    /// Hands in a retransmission of the request. It never reaches the TU: in
    /// Proceeding and Completed the last response is re-sent (§17.2.2); in
    /// Trying it is absorbed silently.
    pub fn handle_request_retransmission(&mut self) {
        match self.state {
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed => {
                if let Some(response) = &self.last_response {
                    self.out.transmit(response.clone());
                }
            }
            ServerNonInviteState::Trying | ServerNonInviteState::Terminated => {}
        }
    }

    /// Reports that the transport failed to send a response (§17.2.4). The
    /// TU learns it in every state; in Proceeding and Completed the
    /// transaction also ends. In Trying it has sent nothing and stays.
    pub fn handle_transport_error(&mut self) {
        use ServerNonInviteState::*;
        match self.state {
            Terminated => {}
            Proceeding | Completed => {
                self.out.event(Event::TransportError);
                self.terminate();
            }
            Trying => self.out.event(Event::TransportError),
        }
    }

    /// Fires every timer due at `now` (deadline ≤ `now`), earliest first.
    /// Calling it before [`poll_timeout`](Self::poll_timeout) does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for _ in 0..MAX_FIRINGS_PER_CALL {
            let Some((timer, _deadline)) = self.timers.expire(now) else {
                return;
            };
            if timer == Timer::J && self.state == ServerNonInviteState::Completed {
                self.terminate();
            }
        }
    }

    /// The earliest armed timer's deadline; `None` once Terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next message for the transport: a response or a retransmission
    /// of one. Each is returned exactly once.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll_transmit()
    }

    /// The next thing the TU must learn.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.poll_event()
    }

    fn terminate(&mut self) {
        if self.state != ServerNonInviteState::Terminated {
            self.state = ServerNonInviteState::Terminated;
            self.timers.clear();
            self.out.event(Event::Terminated);
        }
    }
}
