//! The process's counters: typed families of the Prometheus project's
//! client (`prometheus-client`) in one registry, rendered in one place
//! (`admin/metrics.rs`).
//!
//! On the per-message path nothing takes a lock: every label of a hot family
//! is a dense index ([`Dense`]), each child is created once through the
//! family (which locks) and kept in a `OnceLock`, after which an increment is
//! one atomic add.

use std::sync::OnceLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sip::Transport;

/// Upper bounds (seconds) of the forwarding-latency histogram buckets.
const BUCKETS: [f64; 10] = [
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
];

/// A label set that maps onto `0..COUNT`, so that its children can live in
/// an array.
pub(crate) trait Dense:
    Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug
{
    /// How many distinct label sets there are.
    const COUNT: usize;
    /// This label set's index, below [`Dense::COUNT`].
    fn index(&self) -> usize;
}

/// A counter family whose children are reached without a lock once created.
#[derive(Debug)]
pub(crate) struct Counters<L: Dense> {
    family: Family<L, Counter>,
    children: Box<[OnceLock<Counter>]>,
}

impl<L: Dense + Send + Sync + 'static> Counters<L> {
    fn new() -> Self {
        Counters {
            family: Family::default(),
            children: (0..L::COUNT).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Registers the family as `name` (without `_total`).
    fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help, self.family.clone());
    }

    /// Adds one to the child of `labels`.
    pub(crate) fn inc(&self, labels: L) {
        match self.children.get(labels.index()) {
            Some(slot) => {
                slot.get_or_init(|| self.family.get_or_create(&labels).clone())
                    .inc();
            }
            // An index out of range is a bug in `Dense`; still count it.
            None => {
                self.family.get_or_create(&labels).inc();
            }
        }
    }

    /// The value of the child of `labels` (0 when never incremented).
    pub(crate) fn value(&self, labels: &L) -> u64 {
        self.children
            .get(labels.index())
            .and_then(OnceLock::get)
            .map_or(0, Counter::get)
    }
}

/// Writes a lower-case label value.
macro_rules! label_value {
    ($t:ty) => {
        impl EncodeLabelValue for $t {
            fn encode(&self, e: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
                std::fmt::Write::write_str(e, self.as_str())
            }
        }
    };
}

/// `direction` of `anysip_messages_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    In,
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}
label_value!(Direction);

/// A transport as a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TransportLabel(pub(crate) Transport);

impl TransportLabel {
    fn as_str(&self) -> &'static str {
        self.0.as_str()
    }
}
label_value!(TransportLabel);

/// Methods with a label of their own; any other is `other`.
const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

/// What a message is, as the `method` and `status` labels say it: a
/// request's method (a response's is empty), a response's status (a
/// request's is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// A request: index into [`METHODS`], or `METHODS.len()` for `other`.
    Request(u8),
    /// A response with a status code of 100 to 699.
    Response(u16),
    /// Not parsed.
    Unparsed,
}

impl Kind {
    /// Distinct kinds: the methods, `other`, the statuses and `unparsed`.
    const COUNT: usize = METHODS.len() + 1 + 600 + 1;

    pub(crate) fn of(kind: edge::MessageKind) -> Kind {
        match kind {
            edge::MessageKind::Request(m) => Kind::request(m),
            edge::MessageKind::OtherRequest => Kind::Request(METHODS.len() as u8),
            edge::MessageKind::Response(s) => Kind::response(s),
            edge::MessageKind::Unknown => Kind::Unparsed,
        }
    }

    pub(crate) fn request(method: &str) -> Kind {
        let i = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len());
        Kind::Request(i as u8)
    }

    /// A response; a status outside 100–699 counts as unparsed.
    pub(crate) fn response(status: u16) -> Kind {
        if (100..700).contains(&status) {
            Kind::Response(status)
        } else {
            Kind::Unparsed
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Request(i) => usize::from(i).min(METHODS.len()),
            Kind::Response(s) => METHODS.len() + 1 + usize::from(s.clamp(100, 699) - 100),
            Kind::Unparsed => Kind::COUNT - 1,
        }
    }

    fn from_index(i: usize) -> Kind {
        let requests = METHODS.len() + 1;
        if i < requests {
            Kind::Request(i as u8)
        } else if i < requests + 600 {
            Kind::Response(100 + (i - requests) as u16)
        } else {
            Kind::Unparsed
        }
    }

    fn method(self) -> &'static str {
        match self {
            Kind::Request(i) => METHODS.get(usize::from(i)).copied().unwrap_or("other"),
            Kind::Response(_) => "",
            Kind::Unparsed => "unparsed",
        }
    }
}

/// The labels of `anysip_messages_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MessageLabels {
    pub(crate) direction: Direction,
    pub(crate) transport: TransportLabel,
    pub(crate) kind: Kind,
}

impl EncodeLabelSet for MessageLabels {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> std::fmt::Result {
        /// The labels as they are written.
        #[derive(EncodeLabelSet)]
        struct Written {
            direction: Direction,
            transport: TransportLabel,
            method: &'static str,
            status: Option<u16>,
        }
        Written {
            direction: self.direction,
            transport: self.transport,
            method: self.kind.method(),
            status: match self.kind {
                Kind::Response(s) => Some(s),
                _ => None,
            },
        }
        .encode(encoder)
    }
}

impl MessageLabels {
    /// The labels of a [`Dense::index`].
    pub(crate) fn from_index(i: usize) -> Option<MessageLabels> {
        if i >= Self::COUNT {
            return None;
        }
        let (dt, kind) = (i / Kind::COUNT, i % Kind::COUNT);
        Some(MessageLabels {
            direction: if dt >= 5 {
                Direction::Out
            } else {
                Direction::In
            },
            transport: TransportLabel(Transport::ALL[dt % 5]),
            kind: Kind::from_index(kind),
        })
    }
}

impl Dense for MessageLabels {
    const COUNT: usize = 2 * 5 * Kind::COUNT;
    fn index(&self) -> usize {
        let d = usize::from(self.direction == Direction::Out);
        let t = Transport::ALL
            .iter()
            .position(|t| *t == self.transport.0)
            .unwrap_or(0);
        (d * 5 + t) * Kind::COUNT + self.kind.index()
    }
}

/// Declares a one-label set over an enum of `&'static str` values.
macro_rules! enum_labels {
    ($(#[$doc:meta])* $name:ident, $key:literal, { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }
        }

        impl EncodeLabelSet for $name {
            fn encode(
                &self,
                encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
            ) -> std::fmt::Result {
                [($key, self.as_str())].encode(encoder)
            }
        }

        impl Dense for $name {
            const COUNT: usize = $name::ALL.len();
            fn index(&self) -> usize {
                *self as usize
            }
        }
    };
}

enum_labels!(
    /// `reason` of `anysip_drops_total`: why a message in was not passed on.
    DropReason, "reason", {
        Unparseable => "unparseable",
        ForeignVia => "foreign_via",
        BadViaToken => "bad_via_token",
        Internal => "internal",
        AckAbsorbed => "ack_absorbed",
        BadStun => "bad_stun",
        Blocklisted => "blocklisted",
        Scanner => "scanner",
        SendFailed => "send_failed",
        StrayProbeAnswer => "stray_probe_answer",
        FlowOnOtherInstance => "flow_on_other_instance",
        RelayFailed => "relay_failed",
        RelayedFlowGone => "relayed_flow_gone",
    }
);

enum_labels!(
    /// `to` of `anysip_forwarded_total`.
    Peer, "to", {
        Backend => "backend",
        Ue => "ue",
        Relay => "relay",
    }
);

enum_labels!(
    /// `result` of `anysip_token_opens_total`.
    TokenOpen, "result", {
        Opened => "opened",
        Rejected => "rejected",
    }
);

enum_labels!(
    /// `result` of `anysip_stun_total`.
    Stun, "result", {
        Answered => "answered",
    }
);

enum_labels!(
    /// `result` of `anysip_probe_answers_total`.
    ProbeAnswer, "result", {
        Taken => "taken",
    }
);

/// `status` of `anysip_replies_total`: a status code of 100 to 699.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Status(pub(crate) u16);

impl EncodeLabelSet for Status {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> std::fmt::Result {
        [("status", self.0)].encode(encoder)
    }
}

impl Dense for Status {
    const COUNT: usize = 600;
    fn index(&self) -> usize {
        usize::from(self.0.clamp(100, 699) - 100)
    }
}

/// `anysip_backend_transitions_total`: a health change of a backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TransitionLabels {
    pub(crate) group: String,
    pub(crate) to: &'static str,
}

/// `anysip_relay_messages_total`: messages relayed to (`out`) or from
/// (`in`) a peer instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RelayLabels {
    pub(crate) direction: &'static str,
    pub(crate) peer: u16,
}

enum_labels!(
    /// `reason` of `anysip_relay_failures_total` (`relay::Failure`).
    RelayFailure, "reason", {
        UnknownPeer => "unknown_peer",
        Full => "full",
        TooLarge => "too_large",
        Unreachable => "unreachable",
        Handshake => "handshake",
        ConnectionLost => "connection_lost",
        Timeout => "timeout",
        Refused => "refused",
        BadHeader => "bad_header",
        WrongInstance => "wrong_instance",
        NotFleet => "not_fleet",
        PeersLimit => "peers_limit",
        NotQuic => "not_quic",
    }
);

impl From<relay::Failure> for RelayFailure {
    fn from(f: relay::Failure) -> Self {
        use relay::Failure as F;
        match f {
            F::UnknownPeer => RelayFailure::UnknownPeer,
            F::Full => RelayFailure::Full,
            F::TooLarge => RelayFailure::TooLarge,
            F::Unreachable => RelayFailure::Unreachable,
            F::Handshake => RelayFailure::Handshake,
            F::ConnectionLost => RelayFailure::ConnectionLost,
            F::Timeout => RelayFailure::Timeout,
            F::Refused => RelayFailure::Refused,
            F::BadHeader => RelayFailure::BadHeader,
            F::WrongInstance => RelayFailure::WrongInstance,
            F::NotFleet => RelayFailure::NotFleet,
            F::PeersLimit => RelayFailure::PeersLimit,
            F::NotQuic => RelayFailure::NotQuic,
        }
    }
}

/// `anysip_relay_peer_transitions_total`: a relay connection up or down.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RelayPeerLabels {
    pub(crate) peer: u16,
    pub(crate) to: &'static str,
}

/// The relay's counters (a message relayed takes a lock on its family:
/// the relay path is not the hot path).
#[derive(Debug)]
pub(crate) struct RelayMetrics {
    pub(crate) messages: Family<RelayLabels, Counter>,
    pub(crate) failures: Counters<RelayFailure>,
    pub(crate) peer_transitions: Family<RelayPeerLabels, Counter>,
    /// The relay's round trip per relayed message: the QUIC connection's
    /// smoothed round-trip time (one-way messages), or from the stream
    /// opened to the owner's answer.
    pub(crate) round_trip: Histogram,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        RelayMetrics {
            messages: Family::default(),
            failures: Counters::new(),
            peer_transitions: Family::default(),
            round_trip: Histogram::new(BUCKETS),
        }
    }
}

/// Every counter of the process.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Messages received, before the filter.
    pub(crate) received: Counter,
    /// Messages by direction, transport and method or status.
    pub(crate) messages: Counters<MessageLabels>,
    pub(crate) token_opens: Counters<TokenOpen>,
    /// Responses the process generated itself.
    pub(crate) replies: Counters<Status>,
    pub(crate) drops: Counters<DropReason>,
    /// Messages passed on (and written: a failed send is a drop).
    pub(crate) forwarded: Counters<Peer>,
    pub(crate) stun: Counters<Stun>,
    /// Answers to this process's gateway probes.
    pub(crate) probe_answers: Counters<ProbeAnswer>,
    pub(crate) backend_transitions: Family<TransitionLabels, Counter>,
    /// Time from receiving a message to knowing what to send.
    pub(crate) forwarding: Histogram,
    /// The relay between instances.
    pub(crate) relay: RelayMetrics,
    /// The HEP capture's messages sent and dropped.
    pub(crate) hep: super::hep::HepCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            received: Counter::default(),
            messages: Counters::new(),
            token_opens: Counters::new(),
            replies: Counters::new(),
            drops: Counters::new(),
            forwarded: Counters::new(),
            stun: Counters::new(),
            probe_answers: Counters::new(),
            backend_transitions: Family::default(),
            forwarding: Histogram::new(BUCKETS),
            relay: RelayMetrics::default(),
            hep: super::hep::HepCounters::default(),
        }
    }
}

impl Metrics {
    /// Registers every family (handles onto the same values) in `r`.
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "anysip_messages_received",
            "Messages received, before the packet filter",
            self.received.clone(),
        );
        self.messages.register(
            r,
            "anysip_messages",
            "Messages handled by the edge, by direction, transport and method or status",
        );
        self.token_opens
            .register(r, "anysip_token_opens", "Routing tokens opened, by result");
        self.replies.register(
            r,
            "anysip_replies",
            "Responses generated by this process, by status",
        );
        self.drops.register(
            r,
            "anysip_drops",
            "Messages received and not passed on, by reason",
        );
        self.forwarded.register(
            r,
            "anysip_forwarded",
            "Messages passed on and written, by where they went",
        );
        self.stun
            .register(r, "anysip_stun", "STUN binding requests answered");
        self.probe_answers.register(
            r,
            "anysip_probe_answers",
            "Answers to this process's gateway probes",
        );
        r.register(
            "anysip_backend_transitions",
            "Backend health changes, by group and the state entered",
            self.backend_transitions.clone(),
        );
        r.register(
            "anysip_relay_messages",
            "Messages relayed to (out, acknowledged by the owner) or from (in) a peer instance",
            self.relay.messages.clone(),
        );
        self.relay.failures.register(
            r,
            "anysip_relay_failures",
            "Relay failures and refused relay input, by reason",
        );
        r.register(
            "anysip_relay_round_trip_seconds",
            "Round trip to the owner per relayed message: the QUIC connection's smoothed RTT (acknowledgement delays taken out)",
            self.relay.round_trip.clone(),
        );
        r.register(
            "anysip_relay_peer_transitions",
            "Relay connections to or from a peer coming up or going down",
            self.relay.peer_transitions.clone(),
        );
        r.register(
            "anysip_hep_sent",
            "SIP messages sent to the HEP collector (telemetry.hep)",
            self.hep.sent.clone(),
        );
        r.register(
            "anysip_hep_dropped",
            "SIP messages not captured: the capture queue was full or the send failed",
            self.hep.dropped.clone(),
        );
        r.register(
            "anysip_forwarding_seconds",
            "Time from receiving a message to knowing what to send",
            self.forwarding.clone(),
        );
    }

    /// Counts a health change of a backend.
    pub(crate) fn backend_transition(&self, group: &str, to: &'static str) {
        self.backend_transitions
            .get_or_create(&TransitionLabels {
                group: group.to_owned(),
                to,
            })
            .inc();
    }

    /// The non-zero counters as `name{labels}` → value, for `/admin/stats`.
    pub(crate) fn snapshot(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let mut add = |name: &str, label: String, v: u64| {
            if v > 0 {
                out.push((format!("{name}{{{label}}}"), v));
            }
        };
        for r in DropReason::ALL {
            add(
                "anysip_drops_total",
                format!("reason=\"{}\"", r.as_str()),
                self.drops.value(r),
            );
        }
        for p in Peer::ALL {
            add(
                "anysip_forwarded_total",
                format!("to=\"{}\"", p.as_str()),
                self.forwarded.value(p),
            );
        }
        for t in TokenOpen::ALL {
            add(
                "anysip_token_opens_total",
                format!("result=\"{}\"", t.as_str()),
                self.token_opens.value(t),
            );
        }
        for s in 100..700 {
            add(
                "anysip_replies_total",
                format!("status=\"{s}\""),
                self.replies.value(&Status(s)),
            );
        }
        for f in RelayFailure::ALL {
            add(
                "anysip_relay_failures_total",
                format!("reason=\"{}\"", f.as_str()),
                self.relay.failures.value(f),
            );
        }
        add(
            "anysip_stun_total",
            "result=\"answered\"".into(),
            self.stun.value(&Stun::Answered),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_indices_are_distinct_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        for direction in [Direction::In, Direction::Out] {
            for t in Transport::ALL {
                let kinds = (0..=METHODS.len() as u8)
                    .map(Kind::Request)
                    .chain((100..700).map(Kind::Response))
                    .chain([Kind::Unparsed]);
                for kind in kinds {
                    let l = MessageLabels {
                        direction,
                        transport: TransportLabel(t),
                        kind,
                    };
                    assert!(l.index() < MessageLabels::COUNT);
                    assert_eq!(MessageLabels::from_index(l.index()), Some(l.clone()));
                    assert!(seen.insert(l.index()), "{l:?}");
                }
            }
        }
        assert_eq!(seen.len(), MessageLabels::COUNT);
    }

    #[test]
    fn relay_failures_keep_the_relay_crate_names() {
        for f in relay::Failure::ALL {
            assert_eq!(RelayFailure::from(f).as_str(), f.as_str());
        }
    }

    #[test]
    fn renders_the_familiar_names() {
        let m = Metrics::default();
        m.received.inc();
        m.messages.inc(MessageLabels {
            direction: Direction::In,
            transport: TransportLabel(Transport::Udp),
            kind: Kind::request("INVITE"),
        });
        m.messages.inc(MessageLabels {
            direction: Direction::Out,
            transport: TransportLabel(Transport::Tcp),
            kind: Kind::response(180),
        });
        m.drops.inc(DropReason::ForeignVia);
        m.replies.inc(Status(503));
        m.backend_transition("b\"x", "down");
        m.forwarding.observe(20e-6);
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &r).unwrap();
        for line in [
            "anysip_messages_received_total 1",
            "anysip_messages_total{direction=\"in\",transport=\"udp\",method=\"INVITE\",status=\"\"} 1",
            "anysip_messages_total{direction=\"out\",transport=\"tcp\",method=\"\",status=\"180\"} 1",
            "anysip_drops_total{reason=\"foreign_via\"} 1",
            "anysip_replies_total{status=\"503\"} 1",
            "anysip_backend_transitions_total{group=\"b\\\"x\",to=\"down\"} 1",
            "anysip_forwarding_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(m.drops.value(&DropReason::ForeignVia), 1);
        assert_eq!(m.drops.value(&DropReason::Scanner), 0);
    }
}
