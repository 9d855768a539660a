//! Counters, exported in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Labelled counters (few label sets: kept in one map).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    pub(crate) messages_in: AtomicU64,
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
