//! `/metrics`: the counters of [`crate::telemetry::metrics`] and what is read at
//! scrape time (connections, readiness, backends, the packet filter, the
//! core's proxy), in one registry, encoded once in the Prometheus text
//! format by `prometheus-client`.

use std::fmt;
use std::time::Instant;

use anysip_ebpf_common::Verdict;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::filter::Path;
use crate::shared::Shared;

/// The content type of the Prometheus text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What one scrape reads, owned.
#[derive(Debug)]
struct Snapshot {
    connections: usize,
    ready: bool,
    /// (group, uri, up).
    backends: Vec<(String, String, bool)>,
    filter_user: [u64; crate::filter::VERDICTS],
    filter_kernel: Option<[u64; crate::filter::VERDICTS]>,
    xdp: bool,
    shed: u32,
    blocklist: usize,
    auto_blocked: u64,
    core: Option<anysip_core::Stats>,
    /// WebSocket refusals, by reason.
    ws: Vec<(net::WsRefusal, u64)>,
    /// The registrar's `WAIT`s, on Redis with `registrar.redis.wait`.
    wait: Option<registrar::WaitStats>,
}

/// The whole `/metrics` page of a role.
pub(crate) async fn render(shared: &Shared, connections: usize) -> String {
    let core = match shared.core() {
        Some(core) => core.stats().await,
        None => None,
    };
    let gateways = shared.gateways().snapshot(Instant::now());
    let backends = gateways
        .groups
        .iter()
        .flat_map(|g| {
            g.destinations
                .iter()
                .map(|d| (g.name.clone(), d.uri.clone(), d.state == gateway::State::Up))
        })
        .collect();
    let f = &shared.filter;
    let snapshot = Snapshot {
        connections,
        ready: shared.is_ready(),
        backends,
        filter_user: f.user_counters(),
        filter_kernel: f.kernel_counters().and_then(Result::ok),
        xdp: matches!(f.path(), Path::Xdp { .. }),
        shed: f.shed(),
        blocklist: f.blocklist_len(),
        auto_blocked: f.auto_blocked(),
        core,
        wait: shared.registrar().and_then(|r| match r.store() {
            registrar::Store::Redis(s) if s.waits() => Some(s.wait_stats()),
            _ => None,
        }),
        ws: net::WsRefusal::ALL
            .into_iter()
            .map(|r| (r, shared.ws.refused(r)))
            .collect(),
    };
    let mut registry = Registry::default();
    shared.metrics.register(&mut registry);
    registry.register_collector(Box::new(snapshot));
    // The counters, gauges and histograms routing scripts defined.
    registry.register_collector(script::metrics_collector());
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// One label set of one label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct One(&'static str, String);

impl EncodeLabelSet for One {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> fmt::Result {
        [(self.0, self.1.as_str())].encode(encoder)
    }
}

/// Writes a family of `rows` (label set, value).
fn counters<S: EncodeLabelSet>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, u64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    for (labels, v) in rows {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes an unlabelled counter.
fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

/// Writes an unlabelled gauge.
fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: i64) -> fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

fn int(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        gauge(
            &mut e,
            "anysip_connections_open",
            "Stream connections open",
            int(self.connections),
        )?;
        gauge(
            &mut e,
            "anysip_ready",
            "1 when the role is ready (routerd announces on it)",
            i64::from(self.ready),
        )?;
        {
            let mut m = e.encode_descriptor(
                "anysip_backend_up",
                "1 for a gateway destination that is up",
                None,
                ConstGauge::new(0i64).metric_type(),
            )?;
            for (group, uri, up) in &self.backends {
                let labels = [("group", group.as_str()), ("uri", uri.as_str())];
                ConstGauge::new(i64::from(*up)).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "anysip_filter_packets",
                "Packets classified by the packet filter, by path and verdict",
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            let mut series = vec![("user_space", &self.filter_user)];
            if let Some(k) = &self.filter_kernel {
                series.push(("xdp", k));
            }
            for (path, counts) in series {
                for (v, n) in Verdict::ALL.iter().zip(counts) {
                    let labels = [("path", path), ("verdict", v.name())];
                    ConstCounter::new(*n).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        gauge(
            &mut e,
            "anysip_xdp_attached",
            "1 when the XDP program is attached",
            i64::from(self.xdp),
        )?;
        gauge(
            &mut e,
            "anysip_shed_level",
            "The shed level in force (0 to 2)",
            i64::from(self.shed),
        )?;
        gauge(
            &mut e,
            "anysip_blocklist_entries",
            "Sources on the blocklist",
            int(self.blocklist),
        )?;
        counter(
            &mut e,
            "anysip_auto_blocked",
            "Sources blocked automatically (scanners)",
            self.auto_blocked,
        )?;
        counters(
            &mut e,
            "anysip_ws_refused",
            "WebSocket connections refused at the Upgrade or closed for a protocol error, by reason",
            self.ws
                .iter()
                .map(|(r, n)| (One("reason", r.as_str().to_owned()), *n)),
        )?;
        if let Some(s) = &self.core {
            core(&mut e, s)?;
        }
        if let Some(w) = &self.wait {
            counter(
                &mut e,
                "anysip_registrar_redis_waits",
                "Binding writes followed by WAIT (registrar.redis.wait)",
                w.waited,
            )?;
            counter(
                &mut e,
                "anysip_registrar_redis_wait_short",
                "Binding writes acknowledged by fewer replicas than registrar.redis.wait.replicas in time",
                w.short,
            )?;
        }
        Ok(())
    }
}

/// The core proxy's counters, `anysip_core_*`.
fn core(e: &mut DescriptorEncoder<'_>, s: &anysip_core::Stats) -> fmt::Result {
    let classes = |a: &[u64; 7]| {
        (1..7)
            .map(|c| (One("class", format!("{c}xx")), a[c]))
            .collect::<Vec<_>>()
    };
    counters(
        e,
        "anysip_core_requests",
        "Requests received, by method",
        s.requests
            .iter()
            .map(|(m, n)| (One("method", m.clone()), *n)),
    )?;
    counters(
        e,
        "anysip_core_responses",
        "Responses received, by class",
        classes(&s.responses),
    )?;
    counters(
        e,
        "anysip_core_replies",
        "Responses sent upstream, by class",
        classes(&s.replies),
    )?;
    counters(
        e,
        "anysip_core_drops",
        "Messages dropped, by reason",
        s.drops
            .iter()
            .map(|(r, n)| (One("reason", (*r).to_owned()), *n)),
    )?;
    counter(
        e,
        "anysip_core_forwarded",
        "Requests forwarded (branch attempts)",
        s.forwarded,
    )?;
    gauge(
        e,
        "anysip_core_transactions",
        "Transactions alive",
        int(s.transactions),
    )?;
    gauge(
        e,
        "anysip_core_contexts",
        "Requests being routed",
        int(s.contexts),
    )?;
    counter(
        e,
        "anysip_core_router_calls",
        "Router calls made",
        s.router_calls,
    )?;
    counter(
        e,
        "anysip_core_router_errors",
        "Router calls that failed",
        s.router_errors,
    )?;
    counter(
        e,
        "anysip_core_retransmissions",
        "Retransmissions absorbed",
        s.retransmissions,
    )?;
    counters(
        e,
        "anysip_core_flow_failures",
        "Registered RFC 5626 flows found dead, by what followed (next_flow, none_left)",
        s.flow_failures
            .iter()
            .map(|(r, n)| (One("outcome", (*r).to_owned()), *n)),
    )?;
    counters(
        e,
        "anysip_core_reliable_provisionals",
        "Reliable provisional responses (RFC 3262) sent by the core, by event (sent, retransmitted, acknowledged, unmatched_prack, timed_out, unreliable)",
        s.reliable_provisionals
            .iter()
            .map(|(r, n)| (One("event", (*r).to_owned()), *n)),
    )?;
    counter(e, "anysip_core_loops", "Loops detected (482)", s.loops)
}
