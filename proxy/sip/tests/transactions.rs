//! The RFC 3261 §17 / RFC 6026 transaction machines on a virtual clock: each
//! timer of each machine, retransmission absorption in every state, a UAC —
//! proxy — UAS simulation with loss, and a property test over arbitrary call
//! sequences. Nothing sleeps: time is one `Instant` plus `Duration`s.

#[path = "support/sim.rs"]
mod sim;

use std::cell::Cell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use sim::{Node, Sim};
use sip::transaction::{
    ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState, Disposition, Event,
    Reliability, SendResponseError, ServerInvite, ServerInviteState, ServerNonInvite,
    ServerNonInviteState, Timer, TimerConfig, Transaction,
};

const UDP: Reliability = Reliability::Unreliable;
const TCP: Reliability = Reliability::Reliable;
const DEFAULT: TimerConfig = TimerConfig::DEFAULT;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn text(bytes: &Bytes) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ------------------------------------------------------------------- probe

/// One machine on a virtual clock, with every transmission and event it
/// produced stamped in milliseconds since the start.
struct Probe {
    base: Instant,
    now: Instant,
    tx: Transaction,
    sent: Vec<(u64, String)>,
    events: Vec<(u64, Event)>,
    acks_built: Cell<usize>,
}

impl Probe {
    fn new(make: impl FnOnce(Instant) -> Transaction) -> Self {
        let base = Instant::now();
        let mut probe = Self {
            base,
            now: base,
            tx: make(base),
            sent: Vec::new(),
            events: Vec::new(),
            acks_built: Cell::new(0),
        };
        probe.drain();
        probe
    }

    fn client_invite(config: TimerConfig, reliability: Reliability) -> Self {
        Self::new(|now| ClientInvite::new(now, config, reliability, "INVITE".into()).into())
    }

    fn client_non_invite(config: TimerConfig, reliability: Reliability) -> Self {
        Self::new(|now| ClientNonInvite::new(now, config, reliability, "OPTIONS".into()).into())
    }

    fn server_invite(config: TimerConfig, reliability: Reliability, auto: bool) -> Self {
        let trying = auto.then(|| Bytes::from("100 auto"));
        Self::new(|now| ServerInvite::new(now, config, reliability, trying).into())
    }

    fn server_non_invite(config: TimerConfig, reliability: Reliability) -> Self {
        Self::new(|_| ServerNonInvite::new(config, reliability).into())
    }

    fn elapsed(&self) -> u64 {
        (self.now - self.base).as_millis() as u64
    }

    fn drain(&mut self) {
        let t = self.elapsed();
        while let Some(bytes) = self.tx.poll_transmit() {
            self.sent.push((t, text(&bytes)));
        }
        while let Some(event) = self.tx.poll_event() {
            self.events.push((t, event));
        }
    }

    /// Fires every timer up to `t` ms, each at its own deadline, then sets
    /// the clock to `t`.
    fn advance_to(&mut self, t: u64) {
        let end = self.base + ms(t);
        while let Some(deadline) = self.tx.poll_timeout() {
            if deadline > end {
                break;
            }
            assert!(deadline >= self.now, "a timer was armed in the past");
            self.now = deadline;
            self.tx.handle_timeout(deadline);
            assert!(self.tx.poll_timeout().is_none_or(|next| next > deadline));
            self.drain();
        }
        self.now = end;
    }

    fn sent_times(&self, prefix: &str) -> Vec<u64> {
        self.sent
            .iter()
            .filter(|(_, m)| m.starts_with(prefix))
            .map(|&(t, _)| t)
            .collect()
    }

    fn next_timeout_ms(&self) -> Option<u64> {
        self.tx
            .poll_timeout()
            .map(|t| (t - self.base).as_millis() as u64)
    }

    /// Hands in a response with `status`; an INVITE transaction's ACK is
    /// the text "ACK".
    fn response(&mut self, status: u16) -> Disposition {
        let now = self.now;
        let built = &self.acks_built;
        let disposition = match &mut self.tx {
            Transaction::ClientInvite(tx) => tx.handle_response(now, status, || {
                built.set(built.get() + 1);
                Bytes::from("ACK")
            }),
            Transaction::ClientNonInvite(tx) => tx.handle_response(now, status),
            _ => panic!("not a client transaction"),
        };
        self.drain();
        disposition
    }

    /// The TU sends a response whose text is its status code.
    fn send(&mut self, status: u16) -> Result<(), SendResponseError> {
        let now = self.now;
        let bytes = Bytes::from(status.to_string());
        let result = match &mut self.tx {
            Transaction::ServerInvite(tx) => tx.send_response(now, status, bytes),
            Transaction::ServerNonInvite(tx) => tx.send_response(now, status, bytes),
            _ => panic!("not a server transaction"),
        };
        self.drain();
        result
    }

    fn retransmission(&mut self) {
        match &mut self.tx {
            Transaction::ServerInvite(tx) => tx.handle_request_retransmission(),
            Transaction::ServerNonInvite(tx) => tx.handle_request_retransmission(),
            _ => panic!("not a server transaction"),
        }
        self.drain();
    }

    fn ack(&mut self) -> Disposition {
        let now = self.now;
        let Transaction::ServerInvite(tx) = &mut self.tx else {
            panic!("not a server INVITE")
        };
        let disposition = tx.handle_ack(now);
        self.drain();
        disposition
    }

    fn transport_error(&mut self) {
        self.tx.handle_transport_error();
        self.drain();
    }

    fn state(&self) -> &'static str {
        self.tx.state_name()
    }

    /// What the sends since `from_index` were, as (ms, text).
    fn sent_since(&self, from_index: usize) -> Vec<(u64, String)> {
        self.sent[from_index..].to_vec()
    }
}

// ------------------------------------------------------ client INVITE (A B D M)

#[test]
fn timer_a_doubles_without_cap_until_timer_b() {
    let mut p = Probe::client_invite(DEFAULT, UDP);
    p.advance_to(100_000);
    // Intervals 0.5, 1, 2, 4, 8, 16 s: seven transmissions in all.
    assert_eq!(
        p.sent_times("INVITE"),
        [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
    );
    assert_eq!(
        p.events,
        [
            (32_000, Event::Timeout(Timer::B)),
            (32_000, Event::Terminated)
        ]
    );
    assert_eq!(p.state(), "Terminated");
    assert_eq!(p.tx.poll_timeout(), None);
}

#[test]
fn timers_a_and_b_scale_with_t1() {
    let config = TimerConfig {
        t1: ms(100),
        ..DEFAULT
    };
    let mut p = Probe::client_invite(config, UDP);
    p.advance_to(100_000);
    assert_eq!(
        p.sent_times("INVITE"),
        [0, 100, 300, 700, 1_500, 3_100, 6_300]
    );
    assert_eq!(
        p.events,
        [
            (6_400, Event::Timeout(Timer::B)),
            (6_400, Event::Terminated)
        ]
    );
}

#[test]
fn reliable_client_invite_never_retransmits_and_still_times_out() {
    let mut p = Probe::client_invite(DEFAULT, TCP);
    p.advance_to(100_000);
    assert_eq!(p.sent_times("INVITE"), [0]);
    assert_eq!(
        p.events,
        [
            (32_000, Event::Timeout(Timer::B)),
            (32_000, Event::Terminated)
        ]
    );
}

#[test]
fn handle_timeout_before_a_deadline_does_nothing() {
    let mut p = Probe::client_invite(DEFAULT, UDP);
    for early in [0, 250, 499] {
        p.tx.handle_timeout(p.base + ms(early));
        assert_eq!(p.tx.poll_transmit(), None);
        assert_eq!(p.next_timeout_ms(), Some(500));
    }
    assert_eq!(p.state(), "Calling");
}

#[test]
fn a_late_handle_timeout_sends_one_retransmission_not_a_burst() {
    let mut p = Probe::client_invite(DEFAULT, UDP);
    p.now = p.base + ms(10_000); // the event loop stalled for 10 s
    p.tx.handle_timeout(p.now);
    p.drain();
    assert_eq!(p.sent_times("INVITE"), [0, 10_000]);
    assert!(p.next_timeout_ms().is_some_and(|t| t > 10_000));
}

#[test]
fn client_invite_provisional_stops_retransmission_and_is_delivered() {
    let mut p = Probe::client_invite(DEFAULT, UDP);
    p.advance_to(700);
    assert_eq!(p.response(100), Disposition::Deliver);
    assert_eq!(p.state(), "Proceeding");
    assert_eq!(p.response(180), Disposition::Deliver);
    assert_eq!(p.response(183), Disposition::Deliver);
    // No timer in Proceeding: the TU (a proxy's Timer C) decides.
    assert_eq!(p.tx.poll_timeout(), None);
    p.advance_to(100_000);
    assert_eq!(p.sent_times("INVITE"), [0, 500]);
    assert!(p.events.is_empty());
}

#[test]
fn client_invite_acks_non_2xx_and_absorbs_its_retransmissions_until_timer_d() {
    let mut p = Probe::client_invite(DEFAULT, UDP);
    p.advance_to(100);
    assert_eq!(p.response(180), Disposition::Deliver);
    p.advance_to(1_000);
    assert_eq!(p.response(486), Disposition::Deliver);
    assert_eq!(p.state(), "Completed");
    assert_eq!(p.sent_times("ACK"), [1_000]);
    p.advance_to(3_000);
    assert_eq!(
        p.response(486),
        Disposition::Absorb,
        "a retransmission is not delivered"
    );
    assert_eq!(
        p.sent_times("ACK"),
        [1_000, 3_000],
        "but the ACK is re-sent"
    );
    assert_eq!(p.response(180), Disposition::Absorb);
    assert_eq!(p.response(200), Disposition::Absorb);
    assert_eq!(
        p.sent_times("ACK"),
        [1_000, 3_000],
        "no ACK for anything else"
    );
    assert_eq!(p.acks_built.get(), 1, "the ACK is built once");
    p.advance_to(32_999);
    assert_eq!(p.state(), "Completed");
    p.advance_to(100_000);
    // Timer D: 32 s after the final response, silently.
    assert_eq!(p.events, [(33_000, Event::Terminated)]);
    assert_eq!(p.sent_times("INVITE"), [0]);
}

#[test]
fn timer_d_is_at_least_32s_and_zero_on_reliable_transports() {
    // A small T1 leaves D at 32 s.
    let mut p = Probe::client_invite(
        TimerConfig {
            t1: ms(100),
            ..DEFAULT
        },
        UDP,
    );
    p.advance_to(50);
    assert_eq!(p.response(404), Disposition::Deliver);
    p.advance_to(100_000);
    assert_eq!(p.events, [(32_050, Event::Terminated)]);

    // A large T1 stretches it to 64*T1.
    let mut p = Probe::client_invite(
        TimerConfig {
            t1: ms(1_000),
            ..DEFAULT
        },
        UDP,
    );
    assert_eq!(p.response(404), Disposition::Deliver);
    p.advance_to(1_000_000);
    assert_eq!(p.events, [(64_000, Event::Terminated)]);

    // Reliable: zero. The timer is due at once and fires on the next handle_timeout.
    let mut p = Probe::client_invite(DEFAULT, TCP);
    p.advance_to(1_000);
    assert_eq!(p.response(603), Disposition::Deliver);
    assert_eq!(p.state(), "Completed");
    assert_eq!(p.next_timeout_ms(), Some(1_000));
    p.advance_to(1_000);
    assert_eq!(p.events, [(1_000, Event::Terminated)]);
    assert_eq!(
        p.sent,
        [(0, "INVITE".to_owned()), (1_000, "ACK".to_owned())]
    );
}

#[test]
fn client_invite_2xx_goes_to_accepted_and_every_2xx_is_delivered_until_timer_m() {
    for reliability in [UDP, TCP] {
        let mut p = Probe::client_invite(DEFAULT, reliability);
        p.advance_to(1_000);
        assert_eq!(p.response(200), Disposition::Deliver);
        assert_eq!(p.state(), "Accepted");
        p.advance_to(1_500);
        assert_eq!(
            p.response(200),
            Disposition::Deliver,
            "a 2xx retransmission goes up"
        );
        assert_eq!(
            p.response(202),
            Disposition::Deliver,
            "as does a 2xx from another fork"
        );
        assert_eq!(p.response(180), Disposition::Absorb);
        assert_eq!(p.response(486), Disposition::Absorb);
        assert_eq!(
            p.sent_times("ACK"),
            Vec::<u64>::new(),
            "the TU ACKs a 2xx, not the transaction"
        );
        assert_eq!(p.acks_built.get(), 0);
        p.advance_to(100_000);
        // Timer M: 64*T1 on every transport.
        assert_eq!(p.events, [(33_000, Event::Terminated)]);
        let expected: &[u64] = if reliability.is_reliable() {
            &[0]
        } else {
            &[0, 500]
        };
        assert_eq!(p.sent_times("INVITE"), expected);
    }
}

#[test]
fn client_invite_transport_errors() {
    // In Calling the INVITE could not be sent: the transaction ends.
    let mut p = Probe::client_invite(DEFAULT, UDP);
    p.transport_error();
    assert_eq!(
        p.events,
        [(0, Event::TransportError), (0, Event::Terminated)]
    );
    assert_eq!(p.tx.poll_timeout(), None);
    p.transport_error();
    assert_eq!(p.events.len(), 2, "nothing more once terminated");

    // In Proceeding it sends nothing: the TU is told, the transaction stays.
    let mut p = Probe::client_invite(DEFAULT, UDP);
    assert_eq!(p.response(180), Disposition::Deliver);
    p.transport_error();
    assert_eq!(p.events, [(0, Event::TransportError)]);
    assert_eq!(p.state(), "Proceeding");
    assert_eq!(p.response(486), Disposition::Deliver);

    // In Completed the ACK could not be sent: the transaction ends.
    p.transport_error();
    assert_eq!(p.state(), "Terminated");
}

// ----------------------------------------------------- client non-INVITE (E F K)

#[test]
fn timer_e_doubles_capped_at_t2_until_timer_f() {
    let mut p = Probe::client_non_invite(DEFAULT, UDP);
    p.advance_to(100_000);
    assert_eq!(
        p.sent_times("OPTIONS"),
        [0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        p.events,
        [
            (32_000, Event::Timeout(Timer::F)),
            (32_000, Event::Terminated)
        ]
    );
}

#[test]
fn timer_e_fires_every_t2_in_proceeding() {
    let mut p = Probe::client_non_invite(DEFAULT, UDP);
    p.advance_to(600); // E fired at 0.5 s and is due again at 1.5 s
    assert_eq!(p.response(100), Disposition::Deliver);
    assert_eq!(p.state(), "Proceeding");
    p.advance_to(100_000);
    // In Trying the next would be 3.5 s; in Proceeding it is T2 after 1.5 s.
    assert_eq!(
        p.sent_times("OPTIONS"),
        [0, 500, 1_500, 5_500, 9_500, 13_500, 17_500, 21_500, 25_500, 29_500]
    );
    // Timer F runs in Proceeding too.
    assert_eq!(
        p.events,
        [
            (32_000, Event::Timeout(Timer::F)),
            (32_000, Event::Terminated)
        ]
    );
}

#[test]
fn reliable_client_non_invite_never_retransmits_and_still_times_out() {
    let mut p = Probe::client_non_invite(DEFAULT, TCP);
    p.advance_to(100_000);
    assert_eq!(p.sent_times("OPTIONS"), [0]);
    assert_eq!(
        p.events,
        [
            (32_000, Event::Timeout(Timer::F)),
            (32_000, Event::Terminated)
        ]
    );
}

#[test]
fn timer_k_absorbs_response_retransmissions_for_t4() {
    let mut p = Probe::client_non_invite(DEFAULT, UDP);
    p.advance_to(200);
    assert_eq!(p.response(180), Disposition::Deliver);
    assert_eq!(p.response(181), Disposition::Deliver);
    p.advance_to(1_000);
    assert_eq!(p.response(200), Disposition::Deliver);
    assert_eq!(p.state(), "Completed");
    p.advance_to(2_000);
    assert_eq!(p.response(200), Disposition::Absorb);
    assert_eq!(p.response(180), Disposition::Absorb);
    assert_eq!(p.response(99), Disposition::Absorb);
    p.advance_to(100_000);
    assert_eq!(p.events, [(6_000, Event::Terminated)]);
    assert_eq!(p.sent_times("OPTIONS"), [0, 500]);

    let mut p = Probe::client_non_invite(
        TimerConfig {
            t4: ms(2_500),
            ..DEFAULT
        },
        UDP,
    );
    assert_eq!(p.response(500), Disposition::Deliver);
    p.advance_to(100_000);
    assert_eq!(p.events, [(2_500, Event::Terminated)]);

    let mut p = Probe::client_non_invite(DEFAULT, TCP);
    p.advance_to(1_000);
    assert_eq!(p.response(200), Disposition::Deliver);
    assert_eq!(p.next_timeout_ms(), Some(1_000));
    p.advance_to(1_000);
    assert_eq!(p.events, [(1_000, Event::Terminated)]);
}

#[test]
fn client_non_invite_transport_errors() {
    let mut p = Probe::client_non_invite(DEFAULT, UDP);
    assert_eq!(p.response(100), Disposition::Deliver);
    p.transport_error();
    assert_eq!(
        p.events,
        [(0, Event::TransportError), (0, Event::Terminated)]
    );

    let mut p = Probe::client_non_invite(DEFAULT, UDP);
    assert_eq!(p.response(200), Disposition::Deliver);
    p.transport_error();
    assert_eq!(p.events, [(0, Event::TransportError)]);
    assert_eq!(p.state(), "Completed");
}

// ------------------------------------------------------- server INVITE (G H I L)

#[test]
fn timer_g_doubles_capped_at_t2_until_timer_h() {
    let mut p = Probe::server_invite(DEFAULT, UDP, false);
    p.advance_to(1_000);
    p.send(486).expect("486 in Proceeding");
    assert_eq!(p.state(), "Completed");
    p.advance_to(100_000);
    assert_eq!(
        p.sent_times("486"),
        [1_000, 1_500, 2_500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500, 32_500]
    );
    // Timer H: no ACK within 64*T1 is a transaction failure for the TU.
    assert_eq!(
        p.events,
        [
            (33_000, Event::Timeout(Timer::H)),
            (33_000, Event::Terminated)
        ]
    );
}

#[test]
fn reliable_server_invite_sends_the_final_response_once_then_timer_h() {
    let mut p = Probe::server_invite(DEFAULT, TCP, false);
    p.advance_to(1_000);
    p.send(486).expect("486 in Proceeding");
    p.advance_to(100_000);
    assert_eq!(p.sent_times("486"), [1_000]);
    assert_eq!(
        p.events,
        [
            (33_000, Event::Timeout(Timer::H)),
            (33_000, Event::Terminated)
        ]
    );
}

#[test]
fn ack_confirms_and_timer_i_absorbs_ack_retransmissions() {
    let mut p = Probe::server_invite(DEFAULT, UDP, false);
    p.send(486).expect("486 in Proceeding");
    p.advance_to(700);
    assert_eq!(
        p.ack(),
        Disposition::Absorb,
        "the ACK of a non-2xx stays in the transaction"
    );
    assert_eq!(p.state(), "Confirmed");
    p.advance_to(1_000);
    assert_eq!(p.ack(), Disposition::Absorb);
    p.retransmission();
    assert_eq!(p.state(), "Confirmed");
    p.advance_to(100_000);
    assert_eq!(p.sent_times("486"), [0, 500], "G stops at the ACK");
    assert_eq!(
        p.events,
        [(5_700, Event::Terminated)],
        "Timer I = T4, and no timeout"
    );

    let mut p = Probe::server_invite(DEFAULT, TCP, false);
    p.send(486).expect("486 in Proceeding");
    p.advance_to(700);
    assert_eq!(p.ack(), Disposition::Absorb);
    assert_eq!(p.state(), "Confirmed");
    assert_eq!(
        p.next_timeout_ms(),
        Some(700),
        "Timer I = 0 on reliable transports"
    );
    p.advance_to(700);
    assert_eq!(p.events, [(700, Event::Terminated)]);
}

#[test]
fn server_invite_accepted_state_until_timer_l() {
    for reliability in [UDP, TCP] {
        let mut p = Probe::server_invite(DEFAULT, reliability, false);
        p.send(180).expect("180 in Proceeding");
        p.advance_to(1_000);
        p.send(200).expect("200 in Proceeding");
        assert_eq!(p.state(), "Accepted");
        let before = p.sent.len();
        p.retransmission();
        assert_eq!(
            p.sent.len(),
            before,
            "an INVITE retransmission is absorbed in Accepted"
        );
        p.advance_to(1_500);
        p.send(200).expect("the TU's 2xx retransmission");
        assert_eq!(p.sent_since(before), [(1_500, "200".to_owned())]);
        assert_eq!(
            p.ack(),
            Disposition::Deliver,
            "an ACK in Accepted goes to the TU"
        );
        assert_eq!(p.ack(), Disposition::Deliver);
        assert_eq!(p.state(), "Accepted");
        assert_eq!(
            p.send(180),
            Err(SendResponseError::NotAllowed {
                status: 180,
                state: "Accepted"
            })
        );
        assert_eq!(
            p.send(486),
            Err(SendResponseError::NotAllowed {
                status: 486,
                state: "Accepted"
            })
        );
        p.advance_to(100_000);
        // Timer L: 64*T1 on every transport, silently.
        assert_eq!(p.events, [(33_000, Event::Terminated)]);
        assert_eq!(p.sent_times("200"), [1_000, 1_500]);
    }
}

#[test]
fn server_invite_absorbs_request_retransmissions_in_every_state() {
    let mut p = Probe::server_invite(DEFAULT, UDP, false);
    // Proceeding, nothing sent yet: nothing to re-send.
    p.retransmission();
    assert!(p.sent.is_empty());
    // Proceeding: the most recent provisional response.
    p.send(100).expect("100");
    p.retransmission();
    p.send(180).expect("180");
    p.retransmission();
    p.send(183).expect("183");
    p.retransmission();
    p.retransmission();
    let texts: Vec<_> = p.sent.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts, ["100", "100", "180", "180", "183", "183", "183"]);
    // Completed: the final response.
    p.advance_to(100);
    p.send(486).expect("486");
    p.advance_to(200);
    p.retransmission();
    assert_eq!(p.sent_times("486"), [100, 200]);
    // Confirmed: absorbed silently.
    assert_eq!(p.ack(), Disposition::Absorb);
    let before = p.sent.len();
    p.retransmission();
    // Terminated: absorbed silently.
    p.advance_to(100_000);
    assert_eq!(p.state(), "Terminated");
    p.retransmission();
    assert_eq!(p.sent.len(), before);
    assert_eq!(p.ack(), Disposition::Absorb);
}

#[test]
fn auto_trying_after_200ms_unless_the_tu_answers_first() {
    let mut p = Probe::server_invite(DEFAULT, UDP, true);
    assert_eq!(p.next_timeout_ms(), Some(200));
    p.advance_to(199);
    assert!(p.sent.is_empty());
    p.advance_to(1_000);
    assert_eq!(p.sent, [(200, "100 auto".to_owned())]);
    p.retransmission();
    assert_eq!(
        p.sent_times("100 auto"),
        [200, 1_000],
        "a retransmission gets the 100 again"
    );
    assert_eq!(p.tx.poll_timeout(), None);

    let mut p = Probe::server_invite(DEFAULT, UDP, true);
    p.advance_to(150);
    p.send(180).expect("180");
    assert_eq!(
        p.tx.poll_timeout(),
        None,
        "the TU answered: no 100 Trying timer"
    );
    p.advance_to(10_000);
    assert_eq!(p.sent, [(150, "180".to_owned())]);

    let mut p = Probe::server_invite(DEFAULT, UDP, true);
    p.advance_to(100);
    p.send(200).expect("200");
    p.advance_to(250);
    assert_eq!(p.sent_times("100"), Vec::<u64>::new());

    let p = Probe::server_invite(DEFAULT, UDP, false);
    assert_eq!(
        p.tx.poll_timeout(),
        None,
        "without auto 100 nothing runs before the TU answers"
    );
}

#[test]
fn server_invite_refuses_responses_that_make_no_sense() {
    let mut p = Probe::server_invite(DEFAULT, UDP, false);
    for bad in [0, 99, 700, 1_000, u16::MAX] {
        assert_eq!(p.send(bad), Err(SendResponseError::InvalidStatus(bad)));
    }
    assert_eq!(p.state(), "Proceeding");
    p.send(404).expect("404");
    let queued = p.sent.len();
    for status in [100, 180, 200, 486] {
        assert_eq!(
            p.send(status),
            Err(SendResponseError::NotAllowed {
                status,
                state: "Completed"
            })
        );
    }
    assert_eq!(p.sent.len(), queued, "a refused response is not sent");
    assert_eq!(p.state(), "Completed");
    assert_eq!(p.ack(), Disposition::Absorb);
    assert!(p.send(200).is_err());
    p.advance_to(100_000);
    assert!(p.send(200).is_err());
    let error = SendResponseError::NotAllowed {
        status: 200,
        state: "Terminated",
    };
    assert_eq!(
        error.to_string(),
        "cannot send a 200 response in the Terminated state"
    );
}

#[test]
fn server_invite_transport_error_informs_the_tu_and_keeps_the_state() {
    let mut p = Probe::server_invite(DEFAULT, UDP, false);
    p.send(180).expect("180");
    p.transport_error();
    assert_eq!(p.events, [(0, Event::TransportError)]);
    assert_eq!(p.state(), "Proceeding");
    p.send(486).expect("486");
    p.transport_error();
    assert_eq!(p.state(), "Completed");
    p.retransmission();
    assert_eq!(
        p.sent_times("486"),
        [0, 0],
        "it still answers retransmissions"
    );
    p.advance_to(1_000);
    assert_eq!(p.ack(), Disposition::Absorb);
    p.transport_error();
    assert_eq!(p.state(), "Confirmed");
    let error = (0, Event::TransportError);
    assert_eq!(p.events, [error, error, (1_000, Event::TransportError)]);

    // Errors reported before the TU polls are coalesced: the queue stays bounded.
    let mut tx = ServerInvite::new(Instant::now(), DEFAULT, UDP, None);
    for _ in 0..1_000 {
        tx.handle_transport_error();
    }
    assert_eq!(tx.poll_event(), Some(Event::TransportError));
    assert_eq!(tx.poll_event(), None);
}

// --------------------------------------------------------- server non-INVITE (J)

#[test]
fn server_non_invite_absorbs_request_retransmissions_in_every_state() {
    let mut p = Probe::server_non_invite(DEFAULT, UDP);
    assert_eq!(p.state(), "Trying");
    p.retransmission();
    p.retransmission();
    assert!(p.sent.is_empty(), "Trying absorbs retransmissions silently");
    p.advance_to(100);
    p.send(100).expect("100");
    assert_eq!(p.state(), "Proceeding");
    p.advance_to(200);
    p.retransmission();
    p.send(180).expect("180");
    p.retransmission();
    p.advance_to(300);
    p.send(200).expect("200");
    assert_eq!(p.state(), "Completed");
    p.advance_to(400);
    p.retransmission();
    p.retransmission();
    assert_eq!(
        p.sent,
        [
            (100, "100".to_owned()),
            (200, "100".to_owned()),
            (200, "180".to_owned()),
            (200, "180".to_owned()),
            (300, "200".to_owned()),
            (400, "200".to_owned()),
            (400, "200".to_owned()),
        ]
    );
    assert_eq!(
        p.send(200),
        Err(SendResponseError::NotAllowed {
            status: 200,
            state: "Completed"
        })
    );
    assert_eq!(p.send(42), Err(SendResponseError::InvalidStatus(42)));
    p.advance_to(100_000);
    assert_eq!(p.events, [(32_300, Event::Terminated)], "Timer J = 64*T1");
    let before = p.sent.len();
    p.retransmission();
    assert_eq!(p.sent.len(), before);
}

#[test]
fn timer_j_is_64_t1_unreliable_and_zero_reliable() {
    let mut p = Probe::server_non_invite(
        TimerConfig {
            t1: ms(250),
            ..DEFAULT
        },
        UDP,
    );
    assert_eq!(p.tx.poll_timeout(), None, "no timer before the TU answers");
    p.advance_to(1_000);
    p.send(404).expect("404");
    p.advance_to(100_000);
    assert_eq!(p.events, [(17_000, Event::Terminated)]);

    let mut p = Probe::server_non_invite(DEFAULT, TCP);
    p.advance_to(1_000);
    p.send(200).expect("200");
    assert_eq!(p.state(), "Completed");
    assert_eq!(p.next_timeout_ms(), Some(1_000));
    p.advance_to(1_000);
    assert_eq!(p.events, [(1_000, Event::Terminated)]);
}

#[test]
fn server_non_invite_transport_errors() {
    let mut p = Probe::server_non_invite(DEFAULT, UDP);
    p.transport_error();
    assert_eq!(p.state(), "Trying");
    p.send(200).expect("200");
    p.transport_error();
    assert_eq!(p.state(), "Terminated");
    assert_eq!(
        p.events,
        [
            (0, Event::TransportError),
            (0, Event::TransportError),
            (0, Event::Terminated)
        ]
    );
}

// ------------------------------------------------------------------ common

#[test]
fn timer_config_table() {
    let c = DEFAULT;
    assert_eq!(TimerConfig::default(), c);
    let s = Duration::from_secs;
    for (timer, udp, tcp) in [
        (Timer::A, Some(ms(500)), None),
        (Timer::B, Some(s(32)), Some(s(32))),
        (Timer::D, Some(s(32)), Some(s(0))),
        (Timer::E, Some(ms(500)), None),
        (Timer::F, Some(s(32)), Some(s(32))),
        (Timer::G, Some(ms(500)), None),
        (Timer::H, Some(s(32)), Some(s(32))),
        (Timer::I, Some(s(5)), Some(s(0))),
        (Timer::J, Some(s(32)), Some(s(0))),
        (Timer::K, Some(s(5)), Some(s(0))),
        (Timer::L, Some(s(32)), Some(s(32))),
        (Timer::M, Some(s(32)), Some(s(32))),
        (Timer::AutoTrying, Some(ms(200)), Some(ms(200))),
    ] {
        assert_eq!(c.initial(timer, UDP), udp, "{timer} unreliable");
        assert_eq!(c.initial(timer, TCP), tcp, "{timer} reliable");
    }
    assert_eq!(Timer::B.to_string(), "Timer B");
    assert_eq!(Reliability::from_reliable(true), TCP);
    assert_eq!(Reliability::from_reliable(false), UDP);
}

#[test]
fn transaction_enum_reports_kind_and_state() {
    let now = Instant::now();
    let mut tx: Transaction = ClientInvite::new(now, DEFAULT, UDP, "INVITE".into()).into();
    assert!(tx.is_client() && tx.is_invite());
    assert_eq!(tx.state_name(), "Calling");
    assert_eq!(tx.reliability(), UDP);
    assert_eq!(tx.poll_transmit().as_deref(), Some(&b"INVITE"[..]));
    let tx: Transaction = ServerNonInvite::new(DEFAULT, TCP).into();
    assert!(!tx.is_client() && !tx.is_invite());
    assert_eq!(tx.state_name(), "Trying");
    // The typed states are there for exhaustive matching.
    let _ = (
        ClientInviteState::Accepted,
        ClientNonInviteState::Proceeding,
        ServerInviteState::Confirmed,
        ServerNonInviteState::Completed,
    );
}

// --------------------------------------------------------------- simulation

fn methods(requests: &[(u128, String)], method: &str) -> usize {
    requests.iter().filter(|(_, m)| m == method).count()
}

fn statuses(uac: &sim::Uac) -> Vec<(u128, u16)> {
    uac.responses.iter().map(|(t, s, _)| (*t, *s)).collect()
}

#[test]
fn sim_invite_486_with_losses() {
    let mut sim = Sim::new(DEFAULT, UDP);
    sim.script("INVITE", &[(1_000, 180), (2_000, 486)]);
    sim.drop_nth(Node::Uac, Node::Proxy, "INVITE", 1); // the first INVITE
    sim.drop_nth(Node::Proxy, Node::Uac, "SIP/2.0 100", 1); // the proxy's 100
    sim.drop_nth(Node::Uas, Node::Proxy, "SIP/2.0 100", 1); // the UAS's automatic 100
    sim.drop_nth(Node::Uas, Node::Proxy, "SIP/2.0 486", 1); // the first 486
    sim.drop_nth(Node::Proxy, Node::Uas, "ACK", 1); // the proxy's first ACK
    sim.uac_sends("INVITE");
    sim.run(Duration::from_secs(300));
    let wire = sim.net.dump();

    // Every TU sees each message once; retransmissions stop at the transactions.
    assert_eq!(methods(&sim.uas.requests, "INVITE"), 1, "{wire}");
    assert_eq!(
        methods(&sim.uas.requests, "ACK"),
        0,
        "a non-2xx ACK is hop by hop\n{wire}"
    );
    assert_eq!(
        statuses(&sim.uac),
        [(1_520, 100), (1_560, 180), (3_060, 486)],
        "{wire}"
    );
    assert_eq!(sim.proxy.requests, ["INVITE"]);
    assert_eq!(sim.proxy.responses, [100, 180, 486], "{wire}");

    // UAC: INVITE lost at 0, retransmitted by Timer A until the first 1xx.
    assert_eq!(
        sim.net.sends(Node::Uac, Node::Proxy, "INVITE"),
        [(0, true), (500, false), (1_500, false)]
    );
    // The proxy answers the retransmitted INVITE with its stored 100.
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uac, "SIP/2.0 100"),
        [(510, true), (1_510, false)]
    );
    // The UAS sends 100 itself at 200 ms, and again for the retransmitted INVITE.
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uas, "INVITE"),
        [(510, false), (1_010, false)]
    );
    assert_eq!(
        sim.net.sends(Node::Uas, Node::Proxy, "SIP/2.0 100"),
        [(730, true), (1_030, false)]
    );
    // The 486 is lost once; Timer G resends it; its retransmission re-draws the ACK.
    assert_eq!(
        sim.net.sends(Node::Uas, Node::Proxy, "SIP/2.0 486"),
        [(2_530, true), (3_030, false), (4_030, false)],
        "{wire}"
    );
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uas, "ACK"),
        [(3_050, true), (4_050, false)]
    );
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uac, "SIP/2.0 486"),
        [(3_050, false)]
    );
    assert_eq!(
        sim.net.sends(Node::Uac, Node::Proxy, "ACK"),
        [(3_060, false)]
    );

    // Nobody timed out and everything ended: D at the clients, I at the servers.
    let ended = |events: &[Event]| events.iter().all(|e| *e == Event::Terminated);
    assert!(ended(&sim.uac.events) && ended(&sim.uas.events));
    assert!(ended(&sim.proxy.server_events) && ended(&sim.proxy.client_events));
    assert_eq!(sim.live(), 0);
    assert_eq!(
        sim.ms(),
        35_060,
        "the UAC's Timer D ends the run 32 s after its 486"
    );
    assert!(sim.proxy.errors.is_empty() && sim.uas.errors.is_empty());
    assert_eq!(sim.proxy.stray_responses, 0);
}

#[test]
fn sim_invite_200_retransmitted_through_accepted_states() {
    let mut sim = Sim::new(DEFAULT, UDP);
    sim.script("INVITE", &[(500, 180), (1_000, 200)]);
    sim.drop_nth(Node::Proxy, Node::Uac, "SIP/2.0 200", 1); // the first 200 upstream
    sim.drop_nth(Node::Uac, Node::Proxy, "ACK", 1); // the UAC's first ACK
    sim.uac_sends("INVITE");
    sim.run(Duration::from_secs(300));
    let wire = sim.net.dump();

    // The UAS core retransmits its 2xx through its Accepted server transaction;
    // the proxy's Accepted client transaction delivers each to the core, which
    // forwards it through its Accepted server transaction.
    assert_eq!(
        sim.net.sends(Node::Uas, Node::Proxy, "SIP/2.0 200"),
        [(1_030, false), (1_530, false), (2_530, false)],
        "{wire}"
    );
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uac, "SIP/2.0 200"),
        [(1_050, true), (1_550, false), (2_550, false)],
        "{wire}"
    );
    assert_eq!(sim.proxy.responses, [100, 180, 200, 200, 200], "{wire}");
    // The UAC sees the 200 and its retransmission (Accepted), ACKs each end to end.
    assert_eq!(
        statuses(&sim.uac),
        [(20, 100), (560, 180), (1_560, 200), (2_560, 200)],
        "{wire}"
    );
    assert_eq!(sim.uac.acks_for_2xx, 2);
    assert_eq!(
        sim.net.sends(Node::Uac, Node::Proxy, "ACK"),
        [(1_560, true), (2_560, false)]
    );
    assert_eq!(sim.proxy.acks_to_core, 1);
    // The UAS TU sees one INVITE and one ACK, which stops its 2xx retransmissions.
    assert_eq!(
        sim.uas.requests,
        [(30, "INVITE".to_owned()), (2_590, "ACK".to_owned())]
    );
    // Timer M at the clients, L at the servers; no timeouts.
    assert!(sim
        .uac
        .events
        .iter()
        .chain(&sim.uas.events)
        .all(|e| *e == Event::Terminated));
    assert_eq!(sim.live(), 0);
    assert_eq!(
        sim.ms(),
        33_560,
        "the UAC's Timer M: 64*T1 after its first 200"
    );
    assert!(sim.proxy.errors.is_empty() && sim.uas.errors.is_empty());
}

#[test]
fn sim_non_invite_with_losses_is_delivered_once_each_way() {
    let mut sim = Sim::new(DEFAULT, UDP);
    sim.script("BYE", &[(0, 200)]);
    sim.drop_nth(Node::Uac, Node::Proxy, "BYE", 1);
    sim.drop_nth(Node::Proxy, Node::Uas, "BYE", 1);
    sim.drop_nth(Node::Uas, Node::Proxy, "SIP/2.0 200", 1);
    sim.drop_nth(Node::Proxy, Node::Uac, "SIP/2.0 200", 1);
    sim.uac_sends("BYE");
    sim.run(Duration::from_secs(300));
    let wire = sim.net.dump();

    assert_eq!(sim.uas.requests, [(1_030, "BYE".to_owned())], "{wire}");
    assert_eq!(statuses(&sim.uac), [(3_520, 200)], "{wire}");
    assert_eq!(
        sim.net.sends(Node::Uac, Node::Proxy, "BYE"),
        [(0, true), (500, false), (1_500, false), (3_500, false)]
    );
    // The proxy's server transaction absorbed the retransmission at 1.51 s in
    // Trying silently, and answered the one at 3.51 s in Completed.
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uac, "SIP/2.0 200"),
        [(2_050, true), (3_510, false)]
    );
    assert_eq!(
        sim.net.sends(Node::Proxy, Node::Uas, "BYE"),
        [(510, true), (1_010, false), (2_010, false)]
    );
    assert_eq!(
        sim.net.sends(Node::Uas, Node::Proxy, "SIP/2.0 200"),
        [(1_030, true), (2_030, false)]
    );
    assert!(sim
        .uac
        .events
        .iter()
        .chain(&sim.uas.events)
        .all(|e| *e == Event::Terminated));
    assert_eq!(sim.live(), 0);
    // Timer J at the proxy's server transaction (first 200 sent at 2.05 s) ends it last.
    assert_eq!(sim.ms(), 34_050);
}

#[test]
fn sim_on_reliable_transports_sends_nothing_twice() {
    for (method, script) in [
        ("INVITE", vec![(100, 180), (300, 486)]),
        ("OPTIONS", vec![(100, 200)]),
    ] {
        let mut sim = Sim::new(DEFAULT, TCP);
        sim.script(method, &script);
        sim.uac_sends(method);
        sim.run(Duration::from_secs(300));
        let wire = sim.net.dump();
        let mut lines: Vec<_> = sim
            .net
            .log
            .iter()
            .map(|w| (w.from, w.to, w.line.clone()))
            .collect();
        let all = lines.len();
        lines.sort();
        lines.dedup();
        assert_eq!(
            lines.len(),
            all,
            "a retransmission on a reliable transport\n{wire}"
        );
        assert_eq!(sim.live(), 0);
        assert_eq!(
            statuses(&sim.uac).len(),
            if method == "INVITE" { 3 } else { 1 },
            "{wire}"
        );
        // D, I, J, K are zero: everything ends with the last message.
        assert!(sim.ms() < 1_000, "{wire}");
    }
}

#[test]
fn sim_random_loss_never_delivers_a_request_twice() {
    for seed in 0..60 {
        for (method, script) in [
            ("INVITE", vec![(300, 180), (800, 486)]),
            ("INVITE", vec![(300, 180), (800, 200)]),
            ("MESSAGE", vec![(50, 202)]),
        ] {
            let mut sim = Sim::new(DEFAULT, UDP);
            sim.random_loss(seed, 30);
            sim.script(method, &script);
            sim.uac_sends(method);
            sim.run(Duration::from_secs(600));
            let wire = sim.net.dump();
            assert!(
                methods(&sim.uas.requests, method) <= 1,
                "seed {seed}\n{wire}"
            );
            assert!(sim.proxy.requests.len() <= 1, "seed {seed}\n{wire}");
            let finals: Vec<u16> = sim
                .uac
                .responses
                .iter()
                .map(|r| r.1)
                .filter(|s| *s >= 200)
                .collect();
            let failed = sim.uac.events.contains(&Event::Timeout(Timer::B))
                || sim.uac.events.contains(&Event::Timeout(Timer::F));
            if finals.iter().any(|s| *s >= 300) || method == "MESSAGE" {
                // A non-2xx final response reaches the UAC TU at most once, and
                // a non-INVITE ends in exactly one of answer and timeout.
                assert!(finals.len() <= 1, "seed {seed}\n{wire}");
            }
            if method == "MESSAGE" {
                assert!(
                    finals.len() + usize::from(failed) == 1,
                    "seed {seed}\n{wire}"
                );
            }
            if !finals.is_empty() {
                assert!(!failed, "seed {seed}\n{wire}");
                assert_eq!(methods(&sim.uas.requests, method), 1, "seed {seed}\n{wire}");
            }
            assert!(
                sim.proxy.errors.is_empty() && sim.uas.errors.is_empty(),
                "seed {seed}"
            );
        }
    }
}

// ----------------------------------------------------------------- property

#[derive(Debug, Clone)]
enum Op {
    /// `handle_timeout` at an arbitrary time (which may go backwards).
    Timeout(u64),
    /// `handle_timeout` at the deadline `poll_timeout` reports.
    AtDeadline,
    Response(u64, u16),
    Send(u64, u16),
    Ack(u64),
    Retransmission,
    TransportError,
    Drain,
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![100u16..200, 200u16..300, 300u16..700, any::<u16>()]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0u64..200_000;
    prop_oneof![
        t.clone().prop_map(Op::Timeout),
        Just(Op::AtDeadline),
        (t.clone(), status()).prop_map(|(t, s)| Op::Response(t, s)),
        (t.clone(), status()).prop_map(|(t, s)| Op::Send(t, s)),
        t.prop_map(Op::Ack),
        Just(Op::Retransmission),
        Just(Op::TransportError),
        Just(Op::Drain),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (0u64..10_000).prop_map(Duration::from_millis),
        Just(Duration::from_secs(u64::MAX / 4)),
        Just(Duration::MAX),
    ]
}

fn config() -> impl Strategy<Value = TimerConfig> {
    (duration(), duration(), duration()).prop_map(|(t1, t2, t4)| TimerConfig { t1, t2, t4 })
}

/// Drains a machine, checking that events end with one `Terminated` exactly
/// when the machine is terminated and that the queues stay bounded.
fn drain_checked(tx: &mut Transaction, terminated_seen: &mut bool) {
    let mut transmits = 0;
    while tx.poll_transmit().is_some() {
        transmits += 1;
    }
    assert!(transmits <= 16, "unbounded transmit queue");
    while let Some(event) = tx.poll_event() {
        assert!(!*terminated_seen, "an event after Terminated");
        *terminated_seen |= event == Event::Terminated;
    }
    assert_eq!(*terminated_seen, tx.is_terminated());
}

fn apply(tx: &mut Transaction, base: Instant, op: &Op, terminated_seen: &mut bool) {
    let was_terminated = tx.is_terminated();
    match *op {
        Op::Timeout(t) => {
            let now = base + Duration::from_millis(t);
            tx.handle_timeout(now);
            assert!(tx.poll_timeout().is_none_or(|next| next > now), "{:?}", tx);
        }
        Op::AtDeadline => {
            if let Some(now) = tx.poll_timeout() {
                tx.handle_timeout(now);
                assert!(tx.poll_timeout().is_none_or(|next| next > now), "{:?}", tx);
            }
        }
        Op::Response(t, status) => {
            let now = base + Duration::from_millis(t);
            let _ = match tx {
                Transaction::ClientInvite(tx) => tx.handle_response(now, status, || "ACK".into()),
                Transaction::ClientNonInvite(tx) => tx.handle_response(now, status),
                _ => Disposition::Absorb,
            };
        }
        Op::Send(t, status) => {
            let now = base + Duration::from_millis(t);
            let state = tx.state_name();
            let result = match tx {
                Transaction::ServerInvite(tx) => tx.send_response(now, status, "R".into()),
                Transaction::ServerNonInvite(tx) => tx.send_response(now, status, "R".into()),
                _ => Ok(()),
            };
            if result.is_err() {
                assert_eq!(
                    state,
                    tx.state_name(),
                    "a refused response changed the state"
                );
            }
        }
        Op::Ack(t) => {
            if let Transaction::ServerInvite(tx) = tx {
                let _ = tx.handle_ack(base + Duration::from_millis(t));
            }
        }
        Op::Retransmission => match tx {
            Transaction::ServerInvite(tx) => tx.handle_request_retransmission(),
            Transaction::ServerNonInvite(tx) => tx.handle_request_retransmission(),
            _ => {}
        },
        Op::TransportError => tx.handle_transport_error(),
        Op::Drain => drain_checked(tx, terminated_seen),
    }
    if was_terminated {
        assert!(tx.is_terminated(), "a terminated machine came back");
    }
    if tx.is_terminated() {
        assert_eq!(
            tx.poll_timeout(),
            None,
            "a terminated machine keeps a timer"
        );
    }
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn machines_never_panic_or_spin(
        config in config(),
        reliable in any::<bool>(),
        auto_trying in any::<bool>(),
        start in 0u64..100_000,
        ops in proptest::collection::vec(op(), 0..64),
    ) {
        let base = Instant::now();
        let created = base + Duration::from_millis(start);
        let reliability = Reliability::from_reliable(reliable);
        let machines: [Transaction; 4] = [
            ClientInvite::new(created, config, reliability, "INVITE".into()).into(),
            ClientNonInvite::new(created, config, reliability, "BYE".into()).into(),
            ServerInvite::new(created, config, reliability, auto_trying.then(|| "100".into()))
                .into(),
            ServerNonInvite::new(config, reliability).into(),
        ];
        for mut tx in machines {
            let mut terminated_seen = false;
            for op in &ops {
                apply(&mut tx, base, op, &mut terminated_seen);
            }
            drain_checked(&mut tx, &mut terminated_seen);
            // Driving the machine by its own deadlines always ends.
            let mut steps = 0;
            while let Some(now) = tx.poll_timeout() {
                tx.handle_timeout(now);
                prop_assert!(tx.poll_timeout().is_none_or(|next| next > now));
                drain_checked(&mut tx, &mut terminated_seen);
                steps += 1;
                prop_assert!(steps < 1_000, "no end to the timers: {:?}", tx);
            }
        }
    }
}
