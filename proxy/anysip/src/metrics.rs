//! Counters, exported in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the forwarding-latency histogram buckets.
const BUCKETS: [f64; 10] = [
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Labelled counters (few label sets: kept in one map).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    pub(crate) messages_in: AtomicU64,
    /// Time from receiving a message to knowing what to send.
    pub(crate) forwarding: Histogram,
}

impl Metrics {
    /// Adds one to `name{labels}`; `labels` is the inside of the braces.
    pub(crate) fn inc(&self, name: &'static str, labels: String) {
        let mut m = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((name, labels)).or_insert(0) += 1;
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        let m = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = "";
        for ((name, labels), v) in m.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
        let _ = writeln!(out, "# TYPE anysip_messages_received_total counter");
        let _ = writeln!(
            out,
            "anysip_messages_received_total {}",
            self.messages_in.load(Ordering::Relaxed)
        );
        self.forwarding
            .render("anysip_forwarding_seconds", &mut out);
        out.push_str(extra);
        out
    }

    /// A snapshot of the counters as JSON-friendly pairs.
    pub(crate) fn snapshot(&self) -> Vec<(String, u64)> {
        let m = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .map(|((n, l), v)| (format!("{n}{{{l}}}"), *v))
            .collect()
    }
}
