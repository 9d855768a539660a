//! The classifier's answer, which is also the index into the per-CPU counter
//! array.

/// What to do with a packet. The discriminant is the index of the per-CPU
/// counter that counts this verdict (`0..Verdict::COUNT`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// SIP traffic for us that may go on (request, response, keepalive, STUN,
    /// a TCP packet from a source that is not blocklisted, or a fragment that
    /// is too short to judge).
    Pass = 0,
    /// Not for a configured SIP port/address, not UDP/TCP over IP, a
    /// non-first fragment, or headers too short or malformed to judge:
    /// passed untouched.
    PassNotOurs = 1,
    /// The source address is in the IPv4 or IPv6 blocklist.
    DropBlocklisted = 2,
    /// UDP to a SIP port whose payload is not SIP, a keepalive or STUN.
    DropNotSip = 3,
    /// A new request over the source's token bucket.
    DropRateLimited = 4,
    /// A new request dropped because of the shed level (level 2: every new
    /// request; level 1: INVITE/REGISTER over the stricter limit).
    DropShed = 5,
}

impl Verdict {
    /// Number of verdicts, i.e. the length of the per-CPU counter array.
    pub const COUNT: u32 = 6;

    /// Every verdict, in counter-index order.
    pub const ALL: [Verdict; Verdict::COUNT as usize] = [
        Verdict::Pass,
        Verdict::PassNotOurs,
        Verdict::DropBlocklisted,
        Verdict::DropNotSip,
        Verdict::DropRateLimited,
        Verdict::DropShed,
    ];

    /// Index of this verdict's counter in the per-CPU array.
    #[inline(always)]
    pub const fn counter_index(self) -> u32 {
        self as u32
    }

    /// True when the packet must be dropped (`XDP_DROP`).
    #[inline(always)]
    pub const fn is_drop(self) -> bool {
        !matches!(self, Verdict::Pass | Verdict::PassNotOurs)
    }

    /// A short stable name, for metrics labels and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::PassNotOurs => "pass_not_ours",
            Verdict::DropBlocklisted => "drop_blocklisted",
            Verdict::DropNotSip => "drop_not_sip",
            Verdict::DropRateLimited => "drop_rate_limited",
            Verdict::DropShed => "drop_shed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_indices_are_dense() {
        for (i, v) in Verdict::ALL.iter().enumerate() {
            assert_eq!(v.counter_index() as usize, i);
        }
        assert_eq!(Verdict::ALL.len(), Verdict::COUNT as usize);
        assert!(!Verdict::Pass.is_drop());
        assert!(!Verdict::PassNotOurs.is_drop());
        assert!(Verdict::DropShed.is_drop());
    }
}
