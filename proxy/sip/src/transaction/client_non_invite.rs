//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! | state             | input           | action                      | next       |
//! |-------------------|-----------------|-----------------------------|------------|
//! | (new)             |                 | send request, arm E\*, F    | Trying     |
//! | Trying            | Timer E         | resend, E doubles up to T2  | Trying     |
//! | Proceeding        | Timer E         | resend, E = T2              | Proceeding |
//! | Trying            | 1xx             | deliver                     | Proceeding |
//! | Proceeding        | 1xx             | deliver                     | Proceeding |
//! | Trying, Proceeding| 200–699         | deliver, arm K              | Completed  |
//! | Trying, Proceeding| Timer F         | `Timeout(F)`                | Terminated |
//! | Trying, Proceeding| transport error | `TransportError`            | Terminated |
//! | Completed         | any response    | absorb                      | Completed  |
//! | Completed         | Timer K         |                             | Terminated |
//!
//! \* unreliable transports only.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::common::{Class, Disposition, Event, Output};
use super::timers::{doubled, Reliability, Timer, TimerConfig, Timers, MAX_FIRINGS_PER_CALL};

/// The states of a non-INVITE client transaction (RFC 3261 Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientNonInviteState {
    /// The request was sent; no response yet. Timer E retransmits with a
    /// doubling interval capped at T2 (unreliable transports).
    Trying,
    /// A provisional response arrived; Timer E keeps retransmitting, every T2.
    Proceeding,
    /// A final response arrived; Timer K absorbs its retransmissions.
    Completed,
    /// Done; drop the transaction.
    Terminated,
}

impl ClientNonInviteState {
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

/// A non-INVITE client transaction (RFC 3261 §17.1.2): any request but
/// INVITE and ACK (an ACK has no transaction; CANCEL has its own one of
/// these).
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    state: ClientNonInviteState,
    config: TimerConfig,
    reliability: Reliability,
    request: Bytes,
    e_interval: Duration,
    timers: Timers,
    out: Output,
}

impl ClientNonInvite {
    /// Starts the transaction in Trying: `request` is queued for
    /// transmission, Timer E is armed on unreliable transports and Timer F
    /// always (§17.1.2.2).
    pub fn new(
        now: Instant,
        config: TimerConfig,
        reliability: Reliability,
        request: Bytes,
    ) -> Self {
        let mut tx = Self {
            state: ClientNonInviteState::Trying,
            config,
            reliability,
            request,
            e_interval: config.t1,
            timers: Timers::default(),
            out: Output::default(),
        };
        tx.out.transmit(tx.request.clone());
        tx.arm(Timer::E, now);
        tx.arm(Timer::F, now);
        tx
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// The transport reliability the transaction was created with.
    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    /// Whether the transaction reached Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// Hands in a response matched to this transaction, by its status code.
    ///
    /// Delivered in Trying and Proceeding; absorbed in Completed (the
    /// retransmissions Timer K waits for), once Terminated, and for codes
    /// outside 100–699.
    pub fn handle_response(&mut self, now: Instant, status: u16) -> Disposition {
        use ClientNonInviteState::*;
        let Some(class) = Class::of(status) else {
            return Disposition::Absorb;
        };
        match (self.state, class) {
            (Trying | Proceeding, Class::Provisional) => {
                // Timer E keeps its deadline; it is re-armed with T2 when it
                // next fires (§17.1.2.2).
                self.state = Proceeding;
                Disposition::Deliver
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.timers.disarm(Timer::E);
                self.timers.disarm(Timer::F);
                self.state = Completed;
                self.arm(Timer::K, now);
                Disposition::Deliver
            }
            (Completed | Terminated, _) => Disposition::Absorb,
        }
    }

    /// Reports that the transport failed to send the request (§17.1.4). The
    /// TU learns it in every state; in Trying and Proceeding the transaction
    /// also ends. In Completed it sends nothing and stays.
    pub fn handle_transport_error(&mut self) {
        use ClientNonInviteState::*;
        match self.state {
            Terminated => {}
            Trying | Proceeding => {
                self.out.event(Event::TransportError);
                self.terminate();
            }
            Completed => self.out.event(Event::TransportError),
        }
    }

    /// Fires every timer due at `now` (deadline ≤ `now`), earliest first.
    /// Calling it before [`poll_timeout`](Self::poll_timeout) does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for _ in 0..MAX_FIRINGS_PER_CALL {
            let Some((timer, deadline)) = self.timers.expire(now) else {
                return;
            };
            self.fire(timer, deadline, now);
        }
    }

    /// The earliest armed timer's deadline; `None` once Terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next message for the transport: the request or a retransmission
    /// of it. Each is returned exactly once.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll_transmit()
    }

    /// The next thing the TU must learn.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.poll_event()
    }

    fn fire(&mut self, timer: Timer, deadline: Instant, now: Instant) {
        use ClientNonInviteState::*;
        match (timer, self.state) {
            (Timer::E, Trying | Proceeding) => {
                self.out.transmit(self.request.clone());
                self.e_interval = match self.state {
                    Proceeding => self.config.retransmit_cap(),
                    _ => doubled(self.e_interval, Some(self.config.retransmit_cap())),
                };
                self.timers.rearm(Timer::E, deadline, now, self.e_interval);
            }
            (Timer::F, Trying | Proceeding) => {
                self.out.event(Event::Timeout(Timer::F));
                self.terminate();
            }
            (Timer::K, Completed) => self.terminate(),
            _ => {}
        }
    }

    fn arm(&mut self, timer: Timer, now: Instant) {
        if let Some(after) = self.config.initial(timer, self.reliability) {
            self.timers.arm(timer, now, after);
        }
    }

    fn terminate(&mut self) {
        if self.state != ClientNonInviteState::Terminated {
            self.state = ClientNonInviteState::Terminated;
            self.timers.clear();
            self.out.event(Event::Terminated);
        }
    }
}
