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

    pub(crate) fn class(status: u16) -> usize {
        usize::from(status / 100).min(6)
    }
}

impl Stats {
    /// The counters in the Prometheus text exposition format, names
    /// prefixed `anysip_core_` (for the admin `/metrics` endpoint).
    pub fn prometheus(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP anysip_core_{name} {help}");
            let _ = writeln!(out, "# TYPE anysip_core_{name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(out, "anysip_core_{name}{labels} {v}");
            }
        };
        let label = |k: &str, v: &str| format!("{{{k}=\"{}\"}}", v.replace(['"', '\\', '\n'], "_"));
        let classes = |a: &[u64; 7]| {
            (1..7)
                .map(|c| (label("class", &format!("{c}xx")), a[c]))
                .collect::<Vec<_>>()
        };
        let requests = self
            .requests
            .iter()
            .map(|(m, n)| (label("method", m), *n))
            .collect();
        family(
            "requests_total",
            "counter",
            "Requests received, by method.",
            requests,
        );
        family(
            "responses_total",
            "counter",
            "Responses received, by class.",
            classes(&self.responses),
        );
        family(
            "replies_total",
            "counter",
            "Responses sent upstream, by class.",
            classes(&self.replies),
        );
        let drops = self
            .drops
            .iter()
            .map(|(r, n)| (label("reason", r), *n))
            .collect();
        family(
            "drops_total",
            "counter",
            "Messages dropped, by reason.",
            drops,
        );
        for (name, kind, help, v) in [
            (
                "forwarded_total",
                "counter",
                "Requests forwarded (branch attempts).",
                self.forwarded,
            ),
            (
                "transactions",
                "gauge",
                "Transactions alive.",
                self.transactions,
            ),
            ("contexts", "gauge", "Requests being routed.", self.contexts),
            (
                "router_calls_total",
                "counter",
                "Router calls made.",
                self.router_calls,
            ),
            (
                "router_errors_total",
                "counter",
                "Router calls that failed.",
                self.router_errors,
            ),
            (
                "retransmissions_total",
                "counter",
                "Retransmissions absorbed.",
                self.retransmissions,
            ),
            (
                "loops_total",
                "counter",
                "Loops detected (482).",
                self.loops,
            ),
        ] {
            family(name, kind, help, vec![(String::new(), v)]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text() {
        let mut s = Stats::default();
        s.request("INVITE");
        s.drop("stray_response");
        s.responses[2] = 3;
        let t = s.prometheus();
        assert!(
            t.contains("anysip_core_requests_total{method=\"INVITE\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("anysip_core_responses_total{class=\"2xx\"} 3\n"));
        assert!(t.contains("anysip_core_drops_total{reason=\"stray_response\"} 1\n"));
        assert!(t.contains("# TYPE anysip_core_transactions gauge\nanysip_core_transactions 0\n"));
    }
}
