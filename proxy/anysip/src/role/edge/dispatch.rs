//! The edge behind the transports: messages in, sends out, and every
//! message counted once by what became of it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use edge::{Action, Backends, Edge, MessageKind, Target};
use gateway::GroupView;
use net::{Delivery, DialKey, Dispatch, NetError, Outgoing, SendTag};
use sip::{Flow, Limits, Message, Transport};
use tokencodec::Backend;

use super::backends::BackendIndex;
use super::relayed::RelayLink;
use super::tag::Sent;
use crate::probe::{self, ProbeAnswer};
use crate::shared::Shared;
use crate::telemetry::metrics::{
    Direction, DropReason, Kind, MessageLabels, Peer, Status, Stun, TokenOpen, TransportLabel,
};

/// The edge as a [`Dispatch`].
#[derive(Debug)]
pub(crate) struct EdgeDispatch {
    /// The decisions, with the key ring: swapped whole when SIGHUP
    /// reloads the ring (`keys.rs`).
    pub(crate) edge: Arc<ArcSwap<Edge>>,
    pub(crate) shared: Arc<Shared>,
    /// The backends: who is one, and their TLS names.
    pub(crate) backend_index: BackendIndex,
    /// The source IP of connections to stream backends: the instance's own
    /// address (`edge.probe_address`), so that the connection's packets
    /// come back to this instance when the backend-facing address is shared.
    pub(crate) dial_from: IpAddr,
    /// The relay to the other instances (`relay:`), if configured.
    pub(crate) relay: Option<RelayLink>,
}

/// The backend group as `edge` sees it: the view of its last change, no
/// lock.
struct GroupBackends<'a> {
    view: Option<arc_swap::Guard<Arc<GroupView>>>,
    index: &'a BackendIndex,
}

impl Backends for GroupBackends<'_> {
    fn backend_of(&self, source: SocketAddr, transport: Transport) -> Option<Backend> {
        self.index.backend_of(source, transport)
    }

    fn maybe_backend(&self, source: SocketAddr, transport: Transport) -> Option<Backend> {
        self.index.maybe_backend(source, transport)
    }

    fn select(&mut self, key: &[u8], sticky: bool) -> Option<Backend> {
        // The group's algorithm decides, except for INVITE, CANCEL and ACK
        // without a route token (`sticky`): an INVITE's CANCEL and non-2xx
        // ACK must reach its backend at any instance, so all three take the
        // key's rendezvous choice whatever the algorithm.
        let view: &GroupView = self.view.as_ref()?;
        let now = Instant::now();
        let d = if sticky {
            view.select_sticky(key, now)?
        } else {
            view.select(Some(key), now)?
        };
        Some(Backend {
            transport: d.transport,
            addr: d.address,
        })
    }
}

impl Dispatch for EdgeDispatch {
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        if !self.shared.admit(&bytes, &origin) {
            return vec![];
        }
        let m = &self.shared.metrics;
        if !origin.is_stream() && bytes.first().is_some_and(|&b| b < 2) {
            return match edge::stun_binding_response(&bytes, origin.remote) {
                Ok(resp) => {
                    m.stun.inc(Stun::Answered);
                    vec![reply(&origin, resp, false, SendTag::NONE)]
                }
                Err(_) => {
                    m.drops.inc(DropReason::BadStun);
                    vec![]
                }
            };
        }
        if bytes.starts_with(b"SIP/2.0 ") {
            match probe::answer(&self.shared, &bytes) {
                ProbeAnswer::NotProbe => {}
                ProbeAnswer::Taken => return vec![],
                ProbeAnswer::Stray => {
                    m.drops.inc(DropReason::StrayProbeAnswer);
                    return vec![];
                }
            }
        }
        let now = crate::shared::now_unix();
        // A span per message, with its Call-ID, when debug logs are on (the
        // Call-ID costs a second parse, which only debugging pays).
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            let call_id = Message::parse(bytes.clone(), origin.framing(), &Limits::default())
                .ok()
                .and_then(|m| m.call_id().ok().map(str::to_string))
                .unwrap_or_default();
            tracing::debug_span!(
                "sip",
                sip.call_id = %call_id,
                sip.transport = origin.transport.as_str(),
                sip.source = %origin.remote
            )
        } else {
            tracing::Span::none()
        };
        let _entered = span.enter();
        let started = Instant::now();
        let mut backends = GroupBackends {
            view: self.shared.backends(),
            index: &self.backend_index,
        };
        let (action, notes) = self
            .edge
            .load()
            .handle_noted(bytes, &origin, &mut backends, now);
        m.messages.inc(MessageLabels {
            direction: Direction::In,
            transport: TransportLabel(origin.transport),
            kind: Kind::of(notes.kind),
        });
        if let Some(t) = notes.token {
            m.token_opens.inc(match t {
                edge::TokenResult::Opened => TokenOpen::Opened,
                edge::TokenResult::Rejected => TokenOpen::Rejected,
            });
        }
        let sends = self.to_sends(action, &origin, notes.kind);
        m.forwarding.observe(started.elapsed().as_secs_f64());
        sends
    }

    fn on_sent(&self, tag: SendTag, result: &Result<Delivery, NetError>) {
        let m = &self.shared.metrics;
        let Some(sent) = Sent::from_tag(tag) else {
            return;
        };
        match (sent, result) {
            // Reported again once the connection being opened is.
            (_, Ok(Delivery::Queued)) => {}
            (Sent::Reply(status), Ok(_)) => m.replies.inc(status),
            (Sent::Forward(peer, labels, _), Ok(Delivery::Sent)) => {
                m.forwarded.inc(peer);
                if let Some(l) = MessageLabels::from_index(labels as usize) {
                    m.messages.inc(l);
                }
            }
            // Not deliverable (a UE's connection gone, a backend
            // unreachable): the edge answered the sender itself.
            (Sent::Forward(_, _, failed), Ok(Delivery::FellBack)) => {
                tracing::info!(status = failed, what = ?sent, "not deliverable: answered");
                m.replies.inc(Status(failed));
            }
            (_, Err(e)) => {
                m.drops.inc(DropReason::SendFailed);
                tracing::warn!(error = %e, what = ?sent, "send failed: message dropped");
            }
        }
    }
}

impl EdgeDispatch {
    /// This instance's 430 for a request relayed to it whose flow's
    /// connection is gone (`Edge::flow_failed`), handled as a response
    /// arriving here: it returns to the backend (or is relayed back to the
    /// instance holding the backend's connection). Counted as this
    /// instance's reply once sent.
    pub(crate) fn flow_failed(
        &self,
        relayed: &Message,
        (transport, ue, connection): (Transport, SocketAddr, u32),
    ) -> Vec<Outgoing> {
        let edge = self.edge.load();
        let origin = &Flow {
            transport,
            remote: ue,
            local: edge.settings().ue_facing,
            connection,
        };
        let Some(answer) = edge.flow_failed(relayed) else {
            return vec![];
        };
        let mut backends = GroupBackends {
            view: self.shared.backends(),
            index: &self.backend_index,
        };
        let now = crate::shared::now_unix();
        let (action, notes) = edge.handle_noted(answer, origin, &mut backends, now);
        if !matches!(action, Action::Forward { .. }) {
            tracing::warn!(?action, "relayed request's 430 not routable");
            self.shared.metrics.drops.inc(DropReason::RelayFailed);
            return vec![];
        }
        let tag = Sent::Reply(Status(430)).tag();
        self.to_sends(action, origin, notes.kind)
            .into_iter()
            .map(|s| s.retagged(tag))
            .collect()
    }

    fn to_sends(&self, action: Action, origin: &Flow, kind: MessageKind) -> Vec<Outgoing> {
        let m = &self.shared.metrics;
        let edge = self.edge.load();
        let settings = edge.settings();
        let out = |transport: Transport| MessageLabels {
            direction: Direction::Out,
            transport: TransportLabel(transport),
            kind: Kind::of(kind),
        };
        match action {
            Action::Reply { bytes, close } => {
                tracing::debug!(action = "reply", "decided");
                let tag = Sent::Reply(status_of(&bytes)).tag();
                vec![reply(origin, bytes, close, tag)]
            }
            Action::Drop(reason) => {
                tracing::debug!(action = reason.label(), "decided");
                m.drops.inc(drop_reason(&reason));
                vec![]
            }
            Action::Forward {
                target: Target::Backend(b),
                bytes,
                failed,
            } => {
                tracing::debug!(action = "forward to backend", transport = %b.transport, "decided");
                let status = failed.as_deref().map(status_of);
                let tag = Sent::forward(Peer::Backend, &out(b.transport), status).tag();
                if b.transport == Transport::Udp {
                    return vec![Outgoing::Udp {
                        from: settings.backend_facing,
                        to: b.addr,
                        bytes,
                        tag,
                    }];
                }
                let key = DialKey {
                    transport: b.transport,
                    to: b.addr,
                    server_name: self.backend_index.server_name(b.addr),
                    from: Some(self.dial_from),
                };
                let fallback = failed.map(|f| Box::new(reply(origin, f, false, SendTag::NONE)));
                vec![Outgoing::Dial {
                    key,
                    bytes,
                    fallback,
                    tag,
                }]
            }
            Action::Forward {
                target: Target::Flow(flow),
                bytes,
                failed,
            } => {
                let status = failed.as_deref().map(status_of);
                let tag = Sent::forward(Peer::Ue, &out(flow.transport), status).tag();
                if flow.transport == Transport::Udp {
                    tracing::debug!(action = "forward to UE flow", "decided");
                    return vec![Outgoing::Udp {
                        from: flow.local,
                        to: flow.ue,
                        bytes,
                        tag,
                    }];
                }
                if flow.instance != settings.instance_id {
                    if let Some(relay) = &self.relay {
                        tracing::debug!(action = "relay", instance = flow.instance, "decided");
                        let request =
                            matches!(kind, MessageKind::Request(_) | MessageKind::OtherRequest);
                        return relay.send(&flow, bytes, failed, origin, request);
                    }
                    // Held by another instance and no relay configured: a
                    // request is answered 430 (Flow Failed), a response is
                    // dropped.
                    tracing::debug!(
                        action = "flow on another instance",
                        instance = flow.instance,
                        "decided"
                    );
                    return match failed {
                        Some(f) => vec![reply(origin, f, false, Sent::Reply(Status(430)).tag())],
                        None => {
                            m.drops.inc(DropReason::FlowOnOtherInstance);
                            vec![]
                        }
                    };
                }
                tracing::debug!(action = "forward to UE flow", "decided");
                let fallback = failed.map(|f| Box::new(reply(origin, f, false, SendTag::NONE)));
                vec![Outgoing::Conn {
                    id: flow.connection,
                    peer: flow.ue,
                    bytes,
                    close: false,
                    fallback,
                    tag,
                }]
            }
        }
    }
}

/// A send back to where a message came from.
pub(crate) fn reply(origin: &Flow, bytes: Bytes, close: bool, tag: SendTag) -> Outgoing {
    if origin.is_stream() {
        Outgoing::Conn {
            id: origin.connection,
            peer: origin.remote,
            bytes,
            close,
            fallback: None,
            tag,
        }
    } else {
        Outgoing::Udp {
            from: origin.local,
            to: origin.remote,
            bytes,
            tag,
        }
    }
}

fn drop_reason(r: &edge::DropReason) -> DropReason {
    match r {
        edge::DropReason::Unparseable(_) => DropReason::Unparseable,
        edge::DropReason::ForeignVia => DropReason::ForeignVia,
        edge::DropReason::BadViaToken => DropReason::BadViaToken,
        edge::DropReason::Internal(_) => DropReason::Internal,
        edge::DropReason::AckAbsorbed => DropReason::AckAbsorbed,
    }
}

/// The status code of a response the edge built.
fn status_of(bytes: &[u8]) -> Status {
    let code = bytes
        .get(8..11)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or(500);
    Status(code)
}
