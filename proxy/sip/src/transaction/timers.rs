//! Timer values (RFC 3261 §17 and Table 4 of Appendix A, RFC 6026 §8 for
//! Timers L and M) and the set of armed deadlines a transaction keeps.
//!
//! Nothing here reads a clock: every deadline is an `Instant` the caller
//! passed in plus a `Duration` from [`TimerConfig`].

use std::fmt;
use std::time::{Duration, Instant};

/// The delay after which an INVITE server transaction sends 100 (Trying) on
/// the TU's behalf if asked to (RFC 3261 §17.2.1: "unless it knows that the
/// TU will generate a provisional or final response within 200 ms").
pub const AUTO_TRYING_DELAY: Duration = Duration::from_millis(200);

/// The least Timer D may be on an unreliable transport (RFC 3261 §17.1.1.2:
/// "at least 32 seconds").
pub const MIN_TIMER_D: Duration = Duration::from_secs(32);

/// The shortest interval a retransmission timer (A, E, G) is re-armed with,
/// whatever the configuration says, so that a zero T1 cannot make
/// `handle_timeout` spin.
pub const MIN_RETRANSMIT_INTERVAL: Duration = Duration::from_millis(1);

/// The timer constants T1, T2 and T4 (RFC 3261 §17.1.1.1, Table 4).
///
/// Every other timer derives from them; [`TimerConfig::initial`] is the whole
/// table in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerConfig {
    /// Estimate of the round-trip time; default 500 ms.
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE
    /// responses; default 4 s. A value below T1 acts as T1.
    pub t2: Duration,
    /// Longest time a message stays in the network; default 5 s.
    pub t4: Duration,
}

impl TimerConfig {
    /// The values RFC 3261 recommends: T1 = 500 ms, T2 = 4 s, T4 = 5 s.
    pub const DEFAULT: Self = Self {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
    };

    /// 64*T1: Timers B, F, H, L and M, and J on unreliable transports.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// The cap on the intervals of Timers E and G: T2, or T1 if T2 was set
    /// below it (which would otherwise retransmit faster than the RTT).
    pub fn retransmit_cap(&self) -> Duration {
        self.t2.max(self.t1)
    }

    /// The value `timer` is first armed with on a transport of the given
    /// reliability, or `None` if it is never armed there (the retransmission
    /// timers A, E and G on reliable transports).
    ///
    /// | timer | unreliable            | reliable |
    /// |-------|-----------------------|----------|
    /// | A     | T1 (then doubling)    | —        |
    /// | B     | 64*T1                 | 64*T1    |
    /// | D     | max(32 s, 64*T1)      | 0        |
    /// | E     | T1 (then ≤ T2)        | —        |
    /// | F     | 64*T1                 | 64*T1    |
    /// | G     | T1 (then ≤ T2)        | —        |
    /// | H     | 64*T1                 | 64*T1    |
    /// | I     | T4                    | 0        |
    /// | J     | 64*T1                 | 0        |
    /// | K     | T4                    | 0        |
    /// | L     | 64*T1                 | 64*T1    |
    /// | M     | 64*T1                 | 64*T1    |
    ///
    /// Timer D is "at least 32 seconds" (§17.1.1.2); it is stretched to 64*T1
    /// when T1 is raised above its default so that it still outlasts the
    /// server's Timer H and absorbs every retransmitted final response.
    pub fn initial(&self, timer: Timer, reliability: Reliability) -> Option<Duration> {
        let reliable = reliability.is_reliable();
        let unless_reliable = |d: Duration| if reliable { Duration::ZERO } else { d };
        let retransmit = |d: Duration| if reliable { None } else { Some(d) };
        match timer {
            Timer::A | Timer::E | Timer::G => retransmit(self.t1),
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => {
                Some(self.transaction_timeout())
            }
            Timer::D => Some(unless_reliable(MIN_TIMER_D.max(self.transaction_timeout()))),
            Timer::I | Timer::K => Some(unless_reliable(self.t4)),
            Timer::J => Some(unless_reliable(self.transaction_timeout())),
            Timer::AutoTrying => Some(AUTO_TRYING_DELAY),
        }
    }
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Whether the transport under a transaction is reliable (TCP, TLS, SCTP,
/// WebSocket) or not (UDP). Reliable transports get no retransmissions
/// (A, E, G) and zero-length D, I, J and K (RFC 3261 §17.1.1.2, §17.1.2.2,
/// §17.2.1, §17.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// UDP: the transaction layer retransmits.
    Unreliable,
    /// A stream or reliable datagram transport: the transport retransmits.
    Reliable,
}

impl Reliability {
    /// `Reliable` if `reliable`, else `Unreliable`.
    pub fn from_reliable(reliable: bool) -> Self {
        if reliable {
            Self::Reliable
        } else {
            Self::Unreliable
        }
    }

    /// Whether this is [`Reliability::Reliable`].
    pub fn is_reliable(self) -> bool {
        self == Self::Reliable
    }
}

/// The transaction timers of RFC 3261 §17 (Table 4) and RFC 6026 §8, named
/// for events and tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmission (client, Calling).
    A,
    /// INVITE transaction timeout (client, Calling).
    B,
    /// Wait for retransmitted final responses (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmission (client, Trying and Proceeding).
    E,
    /// Non-INVITE transaction timeout (client, Trying and Proceeding).
    F,
    /// INVITE final response retransmission (server, Completed).
    G,
    /// Wait for the ACK (server INVITE, Completed).
    H,
    /// Wait for ACK retransmissions (server INVITE, Confirmed).
    I,
    /// Wait for non-INVITE request retransmissions (server, Completed).
    J,
    /// Wait for non-INVITE response retransmissions (client, Completed).
    K,
    /// Wait for 2xx retransmissions from the TU (server INVITE, Accepted;
    /// RFC 6026 §8.7).
    L,
    /// Wait for 2xx retransmissions (client INVITE, Accepted; RFC 6026 §8.4).
    M,
    /// Not a lettered timer: the 200 ms after which an INVITE server
    /// transaction sends 100 (Trying) itself (RFC 3261 §17.2.1), when asked to.
    AutoTrying,
}

impl Timer {
    /// Every timer, in the order timers due at the same instant fire: the
    /// ones that end a state first, so that no retransmission is sent at the
    /// very instant the transaction gives up.
    const BY_PRIORITY: [Timer; 13] = [
        Timer::B,
        Timer::D,
        Timer::F,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::A,
        Timer::E,
        Timer::G,
        Timer::AutoTrying,
    ];

    /// The name used in tracing: `"A"` … `"M"`, or `"100 Trying"`.
    pub fn name(self) -> &'static str {
        match self {
            Timer::A => "A",
            Timer::B => "B",
            Timer::D => "D",
            Timer::E => "E",
            Timer::F => "F",
            Timer::G => "G",
            Timer::H => "H",
            Timer::I => "I",
            Timer::J => "J",
            Timer::K => "K",
            Timer::L => "L",
            Timer::M => "M",
            Timer::AutoTrying => "100 Trying",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timer::AutoTrying => f.write_str("100 Trying timer"),
            other => write!(f, "Timer {}", other.name()),
        }
    }
}

/// The armed deadlines of one transaction, one slot per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    deadlines: [Option<Instant>; Timer::BY_PRIORITY.len()],
}

impl Timers {
    /// Arms `timer` to fire `after` from `now`. A deadline past the end of
    /// `Instant`'s range is never reached, so the timer stays disarmed.
    pub(crate) fn arm(&mut self, timer: Timer, now: Instant, after: Duration) {
        self.deadlines[timer.slot()] = now.checked_add(after);
    }

    /// Re-arms a retransmission timer that was due at `deadline` and fired at
    /// `now`: `interval` after the old deadline, so that the schedule does not
    /// drift when the caller is a little late, but never at or before `now`,
    /// so that a caller who is very late gets one retransmission, not a burst.
    pub(crate) fn rearm(
        &mut self,
        timer: Timer,
        deadline: Instant,
        now: Instant,
        interval: Duration,
    ) {
        let interval = interval.max(MIN_RETRANSMIT_INTERVAL);
        let next = match deadline.checked_add(interval) {
            Some(next) if next > now => Some(next),
            _ => now.checked_add(interval),
        };
        self.deadlines[timer.slot()] = next;
    }

    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.deadlines[timer.slot()] = None;
    }

    pub(crate) fn clear(&mut self) {
        self.deadlines = Default::default();
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the timer due at `now` (deadline ≤ `now`) with the
    /// earliest deadline, ties broken by [`Timer::BY_PRIORITY`], together
    /// with its deadline.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let mut due: Option<(Timer, Instant)> = None;
        for timer in Timer::BY_PRIORITY {
            if let Some(at) = self.deadlines[timer.slot()] {
                if at <= now && due.is_none_or(|(_, best)| at < best) {
                    due = Some((timer, at));
                }
            }
        }
        if let Some((timer, _)) = due {
            self.disarm(timer);
        }
        due
    }
}

/// How many timers one `handle_timeout` call may fire at most. Each fired
/// timer is disarmed or re-armed past `now`, so a call fires each timer at
/// most once; this bound only guards against a logic error becoming a hang.
pub(crate) const MAX_FIRINGS_PER_CALL: usize = 2 * Timer::BY_PRIORITY.len();

/// The next interval of a retransmission timer that doubles up to `cap`
/// (Timers E and G; Timer A passes no cap).
pub(crate) fn doubled(interval: Duration, cap: Option<Duration>) -> Duration {
    let doubled = interval.saturating_mul(2);
    match cap {
        Some(cap) => doubled.min(cap),
        None => doubled,
    }
}
