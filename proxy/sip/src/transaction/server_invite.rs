//! The INVITE server transaction: RFC 3261 §17.2.1 as corrected by RFC 6026
//! §7.1 and §8.5–§8.7 (the Accepted state, Timer L, transport errors that
//! inform the TU without ending the transaction).
//!
//! | state      | input                  | action                           | next      |
//! |------------|------------------------|----------------------------------|-----------|
//! | (new)      | INVITE (passed to TU)  | arm the 100 Trying timer if asked| Proceeding|
//! | Proceeding | 100 Trying timer       | send 100 (Trying)                | Proceeding|
//! | Proceeding | INVITE retransmission  | resend last provisional, if any  | Proceeding|
//! | Proceeding | 1xx from TU            | send                             | Proceeding|
//! | Proceeding | 2xx from TU            | send, arm L                      | Accepted  |
//! | Proceeding | 300–699 from TU        | send, arm G\*, H                 | Completed |
//! | Completed  | INVITE retransmission  | resend final                     | Completed |
//! | Completed  | Timer G                | resend final, G doubles up to T2 | Completed |
//! | Completed  | Timer H                | `Timeout(H)`                     | Terminated|
//! | Completed  | ACK                    | absorb, arm I                    | Confirmed |
//! | Confirmed  | ACK, INVITE            | absorb                           | Confirmed |
//! | Confirmed  | Timer I                |                                  | Terminated|
//! | Accepted   | INVITE retransmission  | absorb                           | Accepted  |
//! | Accepted   | 2xx from TU            | send                             | Accepted  |
//! | Accepted   | ACK                    | deliver                          | Accepted  |
//! | Accepted   | Timer L                |                                  | Terminated|
//! | any        | transport error        | `TransportError`                 | unchanged |
//!
//! \* unreliable transports only. Other responses from the TU are refused
//! with [`SendResponseError`].

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::common::{Class, Disposition, Event, Output, SendResponseError};
use super::timers::{doubled, Reliability, Timer, TimerConfig, Timers, MAX_FIRINGS_PER_CALL};

/// The states of an INVITE server transaction (RFC 3261 Figure 7, RFC 6026
/// Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerInviteState {
    /// The INVITE went to the TU; no final response yet.
    Proceeding,
    /// A 300–699 response was sent; Timer G retransmits it (unreliable
    /// transports) until the ACK arrives or Timer H gives up.
    Completed,
    /// The ACK arrived; Timer I absorbs its retransmissions.
    Confirmed,
    /// A 2xx was sent (RFC 6026); until Timer L, INVITE retransmissions are
    /// absorbed and the TU's 2xx retransmissions pass through.
    Accepted,
    /// Done; drop the transaction.
    Terminated,
}

impl ServerInviteState {
    /// The state's name as in the RFC figures.
    pub fn name(self) -> &'static str {
        match self {
            Self::Proceeding => "Proceeding",
            Self::Completed => "Completed",
            Self::Confirmed => "Confirmed",
            Self::Accepted => "Accepted",
            Self::Terminated => "Terminated",
        }
    }
}

/// An INVITE server transaction (RFC 3261 §17.2.1, RFC 6026).
///
/// Created when the matching layer (§17.2.3) finds no transaction for an
/// INVITE, which then goes to the TU. Retransmissions of that INVITE go to
/// [`handle_request_retransmission`](Self::handle_request_retransmission),
/// ACKs matched to it to [`handle_ack`](Self::handle_ack), and the TU's
/// responses to [`send_response`](Self::send_response).
#[derive(Debug, Clone)]
pub struct ServerInvite {
    state: ServerInviteState,
    config: TimerConfig,
    reliability: Reliability,
    /// The 100 (Trying) to send if the TU is silent for 200 ms.
    auto_trying: Option<Bytes>,
    /// The most recent provisional response (Proceeding), or the final
    /// non-2xx response (Completed): what a retransmitted INVITE gets.
    last_response: Option<Bytes>,
    g_interval: Duration,
    timers: Timers,
    out: Output,
}

impl ServerInvite {
    /// Starts the transaction in Proceeding.
    ///
    /// RFC 3261 §17.2.1 has the transaction send 100 (Trying) itself unless
    /// the TU answers within 200 ms. With `auto_trying` set to that 100
    /// response (built by the message layer from the INVITE, §8.2.6), it is
    /// sent [`AUTO_TRYING_DELAY`](super::AUTO_TRYING_DELAY) after `now`
    /// unless the TU has sent a response by then. With `None` the TU answers
    /// on its own, e.g. a proxy sending 100 at once (§16.2).
    pub fn new(
        now: Instant,
        config: TimerConfig,
        reliability: Reliability,
        auto_trying: Option<Bytes>,
    ) -> Self {
        let mut tx = Self {
            state: ServerInviteState::Proceeding,
            config,
            reliability,
            auto_trying,
            last_response: None,
            g_interval: config.t1,
            timers: Timers::default(),
            out: Output::default(),
        };
        if tx.auto_trying.is_some() {
            tx.arm(Timer::AutoTrying, now);
        }
        tx
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The transport reliability the transaction was created with.
    pub fn reliability(&self) -> Reliability {
        self.reliability
    }

    /// Whether the transaction reached Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// Sends a response from the TU with status code `status`.
    ///
    /// Allowed: any 100–699 in Proceeding, and 2xx in Accepted (the TU's own
    /// 2xx retransmissions, §13.3.1.4, or a proxy forwarding further 2xx
    /// responses of a fork, §16.7). Anything else is refused with nothing
    /// changed.
    pub fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        response: Bytes,
    ) -> Result<(), SendResponseError> {
        use ServerInviteState::*;
        let class = Class::of(status).ok_or(SendResponseError::InvalidStatus(status))?;
        match (self.state, class) {
            (Proceeding, Class::Provisional) => {
                self.stop_auto_trying();
                self.out.transmit(response.clone());
                self.last_response = Some(response);
            }
            (Proceeding, Class::Success) => {
                self.stop_auto_trying();
                self.out.transmit(response);
                self.last_response = None;
                self.state = Accepted;
                self.arm(Timer::L, now);
            }
            (Proceeding, Class::Failure) => {
                self.stop_auto_trying();
                self.out.transmit(response.clone());
                self.last_response = Some(response);
                self.state = Completed;
                self.arm(Timer::G, now);
                self.arm(Timer::H, now);
            }
            (Accepted, Class::Success) => self.out.transmit(response),
            (state, _) => {
                return Err(SendResponseError::NotAllowed {
                    status,
                    state: state.name(),
                });
            }
        }
        Ok(())
    }

    /// Hands in a retransmission of the INVITE. It never reaches the TU: in
    /// Proceeding the most recent provisional response is re-sent, in
    /// Completed the final response (§17.2.1); elsewhere it is absorbed.
    pub fn handle_request_retransmission(&mut self) {
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed => {
                if let Some(response) = &self.last_response {
                    self.out.transmit(response.clone());
                }
            }
            _ => {}
        }
    }

    /// Hands in an ACK matched to this transaction.
    ///
    /// In Completed it moves the transaction to Confirmed and is absorbed
    /// (§17.2.1). In Accepted it is delivered (RFC 6026 §8.7): it ACKs a 2xx
    /// and belongs to the TU. Elsewhere it is absorbed.
    pub fn handle_ack(&mut self, now: Instant) -> Disposition {
        use ServerInviteState::*;
        match self.state {
            Completed => {
                self.timers.disarm(Timer::G);
                self.timers.disarm(Timer::H);
                self.state = Confirmed;
                self.arm(Timer::I, now);
                Disposition::Absorb
            }
            Accepted => Disposition::Deliver,
            Proceeding | Confirmed | Terminated => Disposition::Absorb,
        }
    }

    /// Reports that the transport failed to send a response (§17.2.4). The
    /// TU learns it; the transaction stays in its state (RFC 6026 Figure 5)
    /// so that it still absorbs retransmissions of the INVITE.
    pub fn handle_transport_error(&mut self) {
        if self.state != ServerInviteState::Terminated {
            self.out.event(Event::TransportError);
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

    /// The next message for the transport: a response or a retransmission
    /// of one. Each is returned exactly once.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll_transmit()
    }

    /// The next thing the TU must learn.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.poll_event()
    }

    fn fire(&mut self, timer: Timer, deadline: Instant, now: Instant) {
        use ServerInviteState::*;
        match (timer, self.state) {
            (Timer::AutoTrying, Proceeding) => {
                if let Some(trying) = self.auto_trying.take() {
                    self.out.transmit(trying.clone());
                    self.last_response = Some(trying);
                }
            }
            // §17.2.1: retransmit, doubling the interval up to T2.
            (Timer::G, Completed) => {
                if let Some(response) = &self.last_response {
                    self.out.transmit(response.clone());
                }
                self.g_interval = doubled(self.g_interval, Some(self.config.retransmit_cap()));
                self.timers.rearm(Timer::G, deadline, now, self.g_interval);
            }
            (Timer::H, Completed) => {
                self.out.event(Event::Timeout(Timer::H));
                self.terminate();
            }
            (Timer::I, Confirmed) | (Timer::L, Accepted) => self.terminate(),
            _ => {}
        }
    }

    fn arm(&mut self, timer: Timer, now: Instant) {
        if let Some(after) = self.config.initial(timer, self.reliability) {
            self.timers.arm(timer, now, after);
        }
    }

    fn stop_auto_trying(&mut self) {
        self.auto_trying = None;
        self.timers.disarm(Timer::AutoTrying);
    }

    fn terminate(&mut self) {
        if self.state != ServerInviteState::Terminated {
            self.state = ServerInviteState::Terminated;
            self.timers.clear();
            self.out.event(Event::Terminated);
        }
    }
}
