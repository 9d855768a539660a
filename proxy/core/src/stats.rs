//! Counters for metrics.

use std::collections::BTreeMap;

/// Counters of a [`crate::Proxy`] (monotonic except `transactions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received, by method.
    pub requests: BTreeMap<String, u64>,
    /// Responses received, by class (index 1–6; 0 unused).
    pub responses: [u64; 7],
    /// Requests forwarded (every branch attempt).
    pub forwarded: u64,
    /// Responses sent upstream (forwarded or generated), by class.
    pub replies: [u64; 7],
    /// Transactions alive (server and client).
    pub transactions: u64,
    /// Proxy contexts (requests being routed) alive.
    pub contexts: u64,
    /// Router calls made.
    pub router_calls: u64,
    /// Router calls that failed (`Decision::Failed`).
    pub router_errors: u64,
    /// Messages dropped, by reason.
    pub drops: BTreeMap<&'static str, u64>,
    /// Retransmissions absorbed by server transactions.
    pub retransmissions: u64,
    /// Loops detected (482).
    pub loops: u64,
    /// Registered flows found dead (RFC 5626 §5.3), by what followed:
    /// `next_flow` (the instance's next flow tried), `none_left` (480).
    pub flow_failures: BTreeMap<&'static str, u64>,
    /// Reliable provisional responses (RFC 3262) the proxy sent as a UAS,
    /// by event: `sent`, `retransmitted`, `acknowledged` (a matching
    /// PRACK, answered 200), `unmatched_prack` (answered 481),
    /// `timed_out` (no PRACK in 64*T1), `unreliable` (asked for, but the
    /// request is not an INVITE or its UAC did not list 100rel).
    pub reliable_provisionals: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub(crate) fn request(&mut self, method: &str) {
        if let Some(n) = self.requests.get_mut(method) {
            *n += 1;
        } else if self.requests.len() < 64 {
            self.requests.insert(method.to_string(), 1);
        } else {
            *self.requests.entry("other".to_string()).or_default() += 1;
        }
    }

    pub(crate) fn drop(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_default() += 1;
    }

    pub(crate) fn flow(&mut self, then: &'static str) {
        *self.flow_failures.entry(then).or_default() += 1;
    }

    pub(crate) fn class(status: u16) -> usize {
        usize::from(status / 100).min(6)
    }
}
