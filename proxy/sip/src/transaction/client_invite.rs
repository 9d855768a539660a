//! The INVITE client transaction: RFC 3261 §17.1.1 as corrected by RFC 6026
//! §7.2 and §8.4 (the Accepted state and Timer M).
//!
//! | state      | input               | action                         | next       |
//! |------------|---------------------|--------------------------------|------------|
//! | (new)      |                     | send INVITE, arm A\*, B        | Calling    |
//! | Calling    | Timer A             | resend INVITE, A doubles       | Calling    |
//! | Calling    | Timer B             | `Timeout(B)`                   | Terminated |
//! | Calling    | 1xx                 | deliver                        | Proceeding |
//! | Proceeding | 1xx                 | deliver                        | Proceeding |
//! | Calling, Proceeding | 2xx        | deliver, arm M                 | Accepted   |
//! | Calling, Proceeding | 300–699    | send ACK, deliver, arm D       | Completed  |
//! | Completed  | 300–699             | resend ACK, absorb             | Completed  |
//! | Completed  | Timer D             |                                | Terminated |
//! | Accepted   | 2xx                 | deliver                        | Accepted   |
//! | Accepted   | Timer M             |                                | Terminated |
//! | Calling, Completed | transport error | `TransportError`           | Terminated |
//!
//! \* unreliable transports only. Any other response is absorbed.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::common::{Class, Disposition, Event, Output};
use super::timers::{doubled, Reliability, Timer, TimerConfig, Timers, MAX_FIRINGS_PER_CALL};

/// The states of an INVITE client transaction (RFC 3261 Figure 5, RFC 6026
/// Figure 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientInviteState {
    /// The INVITE was sent; no response yet. Timer A retransmits (unreliable
    /// transports), Timer B gives up.
    Calling,
    /// A provisional response arrived; the INVITE is no longer retransmitted
    /// and the TU (a proxy's Timer C) decides how long to wait.
    Proceeding,
    /// A 300–699 response arrived and was ACKed; Timer D absorbs its
    /// retransmissions.
    Completed,
    /// A 2xx arrived (RFC 6026); until Timer M, further 2xx responses are
    /// delivered to the TU, which ACKs or forwards each.
    Accepted,
    /// Done; drop the transaction.
    Terminated,
}

impl ClientInviteState {
    /// The state's name as in the RFC figures.
    pub fn name(self) -> &'static str {
        match self {
            Self::Calling => "Calling",
            Self::Proceeding => "Proceeding",
            Self::Completed => "Completed",
            Self::Accepted => "Accepted",
            Self::Terminated => "Terminated",
        }
    }
}

/// An INVITE client transaction (RFC 3261 §17.1.1, RFC 6026).
///
/// Created with the INVITE to send; fed the status code of every response the
/// matching layer (§17.1.3) routes to it; drained with
/// [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event)
/// and [`poll_timeout`](Self::poll_timeout).
#[derive(Debug, Clone)]
pub struct ClientInvite {
    state: ClientInviteState,
    config: TimerConfig,
    reliability: Reliability,
    request: Bytes,
    ack: Option<Bytes>,
    a_interval: Duration,
    timers: Timers,
    out: Output,
}

impl ClientInvite {
    /// Starts the transaction in Calling: `request` (the INVITE, its top Via
    /// carrying the branch) is queued for transmission, Timer A is armed on
    /// unreliable transports and Timer B always (§17.1.1.2).
    pub fn new(
        now: Instant,
        config: TimerConfig,
        reliability: Reliability,
        request: Bytes,
    ) -> Self {
        let mut tx = Self {
            state: ClientInviteState::Calling,
            config,
            reliability,
            request,
            ack: None,
            a_interval: config.t1,
            timers: Timers::default(),
            out: Output::default(),
        };
        tx.out.transmit(tx.request.clone());
        tx.arm(Timer::A, now);
        tx.arm(Timer::B, now);
        tx
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// The transport reliability the transaction was created with.
    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    /// Whether the transaction reached Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// Hands in a response matched to this transaction, by its status code.
    ///
    /// `ack` builds the ACK for a 300–699 response (§17.1.1.3: Request-URI,
    /// Call-ID, From, CSeq number and the single top Via of the INVITE, To of
    /// the response, CSeq method ACK, the INVITE's Route headers). It is
    /// called at most once, for the first such response; the ACK is then
    /// re-sent for every retransmission of it (§17.1.1.2), and never for 2xx,
    /// which the TU ACKs end to end (§13.2.2.4).
    ///
    /// Delivered: 1xx in Calling and Proceeding, the first final response,
    /// and every 2xx in Accepted (RFC 6026 §8.4). Absorbed: everything else,
    /// including codes outside 100–699.
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        ack: impl FnOnce() -> Bytes,
    ) -> Disposition {
        use ClientInviteState::*;
        let Some(class) = Class::of(status) else {
            return Disposition::Absorb;
        };
        match (self.state, class) {
            (Calling, Class::Provisional) => {
                self.stop_calling();
                self.state = Proceeding;
                Disposition::Deliver
            }
            (Proceeding, Class::Provisional) => Disposition::Deliver,
            (Calling | Proceeding, Class::Success) => {
                self.stop_calling();
                self.state = Accepted;
                self.arm(Timer::M, now);
                Disposition::Deliver
            }
            (Calling | Proceeding, Class::Failure) => {
                self.stop_calling();
                let ack = ack();
                self.out.transmit(ack.clone());
                self.ack = Some(ack);
                self.state = Completed;
                self.arm(Timer::D, now);
                Disposition::Deliver
            }
            (Completed, Class::Failure) => {
                if let Some(ack) = &self.ack {
                    self.out.transmit(ack.clone());
                }
                Disposition::Absorb
            }
            (Accepted, Class::Success) => Disposition::Deliver,
            _ => Disposition::Absorb,
        }
    }

    /// Reports that the transport failed to send what this transaction gave
    /// it (§17.1.4). The TU learns it in every state; in Calling (the INVITE)
    /// and Completed (the ACK) the transaction also ends. In Proceeding and
    /// Accepted it sends nothing, so it stays and keeps matching responses.
    pub fn handle_transport_error(&mut self) {
        use ClientInviteState::*;
        match self.state {
            Terminated => {}
            Calling | Completed => {
                self.out.event(Event::TransportError);
                self.terminate();
            }
            Proceeding | Accepted => self.out.event(Event::TransportError),
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

    /// The next message for the transport: the INVITE, its retransmissions,
    /// or the ACK. Each is returned exactly once.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll_transmit()
    }

    /// The next thing the TU must learn.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.poll_event()
    }

    fn fire(&mut self, timer: Timer, deadline: Instant, now: Instant) {
        use ClientInviteState::*;
        match (timer, self.state) {
            // §17.1.1.2: retransmit, and double the interval with no cap.
            (Timer::A, Calling) => {
                self.out.transmit(self.request.clone());
                self.a_interval = doubled(self.a_interval, None);
                self.timers.rearm(Timer::A, deadline, now, self.a_interval);
            }
            (Timer::B, Calling) => {
                self.out.event(Event::Timeout(Timer::B));
                self.terminate();
            }
            (Timer::D, Completed) | (Timer::M, Accepted) => self.terminate(),
            _ => {}
        }
    }

    fn arm(&mut self, timer: Timer, now: Instant) {
        if let Some(after) = self.config.initial(timer, self.reliability) {
            self.timers.arm(timer, now, after);
        }
    }

    fn stop_calling(&mut self) {
        self.timers.disarm(Timer::A);
        self.timers.disarm(Timer::B);
    }

    fn terminate(&mut self) {
        if self.state != ClientInviteState::Terminated {
            self.state = ClientInviteState::Terminated;
            self.timers.clear();
            self.out.event(Event::Terminated);
        }
    }
}
