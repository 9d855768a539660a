//! The edge role behind the transports: messages in, sends out.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use edge::{Action, Backends, Edge, Inbound, Target};
use net::{Dispatch, Origin, Send};
use sip::{Framing, Limits, Message};
use tokencodec::{Backend, Transport};

use crate::state::Shared;

/// The edge as a [`Dispatch`].
#[derive(Debug)]
pub(crate) struct EdgeDispatch {
    pub(crate) edge: Edge,
    pub(crate) shared: Arc<Shared>,
    /// Addresses of the backends: requests from them are backend-originated.
    pub(crate) backend_addrs: HashSet<SocketAddr>,
}

/// The backend group as `edge` sees it.
struct GroupBackends<'a> {
    shared: &'a Shared,
    addrs: &'a HashSet<SocketAddr>,
}

impl Backends for GroupBackends<'_> {
    fn is_backend(&self, source: SocketAddr, transport: Transport) -> bool {
        // Backends are reached over UDP in this build (startup refuses
        // others), and the edge's Path and Record-Route towards them say
        // UDP: a backend's requests arrive over UDP from its address.
        transport == Transport::Udp && self.addrs.contains(&source)
    }

    fn select(&mut self, key: &[u8], sticky: bool) -> Option<Backend> {
        // The group's algorithm decides, except for CANCEL and ACK without
        // a route token: they must reach the INVITE's backend at any
        // instance, so they always take the rendezvous choice of the key
        // (the INVITE's, with `algorithm: hash`, the edge's default).
        let group = self.shared.backend_group.as_deref()?;
        let mut gw = self.shared.gateways();
        let now = Instant::now();
        let d = if sticky {
            gw.group_mut(group)?.select_sticky(key, now)?
        } else {
            gw.select(group, Some(key), now).ok()?
        };
        Some(Backend {
            transport: transport(d.transport),
            addr: d.address,
        })
    }
}

pub(crate) fn transport(t: gateway::Transport) -> Transport {
    match t {
        gateway::Transport::Udp => Transport::Udp,
        gateway::Transport::Tcp => Transport::Tcp,
        gateway::Transport::Tls => Transport::Tls,
    }
}

impl Dispatch for EdgeDispatch {
    fn on_message(&self, bytes: Bytes, origin: Origin) -> Vec<Send> {
        if !self.shared.admit(&bytes, &origin) {
            return vec![];
        }
        let m = &self.shared.metrics;
        if origin.transport == Transport::Udp && bytes.first().is_some_and(|&b| b < 2) {
            return match edge::stun_binding_response(&bytes, origin.source) {
                Ok(resp) => {
                    m.inc("anysip_stun_total", "result=\"answered\"".into());
                    vec![reply(&origin, resp, false)]
                }
                Err(_) => {
                    m.inc("anysip_drops_total", "reason=\"bad_stun\"".into());
                    vec![]
                }
            };
        }
        if bytes.starts_with(b"SIP/2.0 ")
            && crate::probe::handle_probe_response(&self.shared, &bytes)
        {
            return vec![];
        }
        let now = crate::state::now_unix();
        let inbound = Inbound {
            transport: origin.transport,
            source: origin.source,
            local: origin.local,
            connection: origin.connection,
        };
        // A span per message, with its Call-ID, when debug logs are on (the
        // Call-ID costs a second parse, which only debugging pays).
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            let call_id = Message::parse(bytes.clone(), framing_of(&origin), &Limits::default())
                .ok()
                .and_then(|m| m.call_id().ok().map(str::to_string))
                .unwrap_or_default();
            tracing::debug_span!("sip", %call_id, transport = origin.transport.as_str(), source = %origin.source)
        } else {
            tracing::Span::none()
        };
        let _entered = span.enter();
        let started = std::time::Instant::now();
        let mut backends = GroupBackends {
            shared: &self.shared,
            addrs: &self.backend_addrs,
        };
        let (action, notes) = self.edge.handle_noted(bytes, &inbound, &mut backends, now);
        let transport = origin.transport.as_str();
        m.inc(
            "anysip_messages_total",
            kind_labels("in", transport, notes.kind),
        );
        if let Some(t) = notes.token {
            m.inc(
                "anysip_token_opens_total",
                format!("result=\"{}\"", t.label()),
            );
        }
        if let Action::Forward { target, .. } = &action {
            let out_transport = match target {
                Target::Backend(b) => b.transport.as_str(),
                Target::Flow(f) => f.transport.as_str(),
            };
            m.inc(
                "anysip_messages_total",
                kind_labels("out", out_transport, notes.kind),
            );
        }
        tracing::debug!(?notes, action = action_label(&action), "decided");
        let sends = self.to_sends(action, &origin);
        m.forwarding.observe(started.elapsed());
        sends
    }
}

impl EdgeDispatch {
    fn to_sends(&self, action: Action, origin: &Origin) -> Vec<Send> {
        let m = &self.shared.metrics;
        let settings = self.edge.settings();
        match action {
            Action::Reply { bytes, close } => {
                m.inc("anysip_replies_total", status_label(&bytes));
                vec![reply(origin, bytes, close)]
            }
            Action::Drop(reason) => {
                m.inc(
                    "anysip_drops_total",
                    format!("reason=\"{}\"", reason.label()),
                );
                vec![]
            }
            Action::Forward {
                target: Target::Backend(b),
                bytes,
                ..
            } => {
                m.inc("anysip_forwarded_total", "to=\"backend\"".into());
                if b.transport != Transport::Udp {
                    m.inc("anysip_drops_total", "reason=\"backend_transport\"".into());
                    return vec![];
                }
                vec![Send::Udp {
                    from: settings.backend_facing,
                    to: b.addr,
                    bytes,
                }]
            }
            Action::Forward {
                target: Target::Flow(flow),
                bytes,
                flow_failed,
            } => {
                m.inc("anysip_forwarded_total", "to=\"ue\"".into());
                if flow.transport == Transport::Udp {
                    return vec![Send::Udp {
                        from: flow.local,
                        to: flow.ue,
                        bytes,
                    }];
                }
                let fallback = flow_failed.map(|f| Box::new(reply(origin, f, false)));
                if flow.instance != settings.instance_id {
                    // Held by another instance: the relay between instances is
                    // a later step; a request is answered 430 (Flow Failed).
                    m.inc(
                        "anysip_drops_total",
                        "reason=\"flow_on_other_instance\"".into(),
                    );
                    return fallback.map(|f| vec![*f]).unwrap_or_default();
                }
                vec![Send::Conn {
                    id: flow.connection,
                    peer: flow.ue,
                    bytes,
                    close: false,
                    fallback,
                }]
            }
        }
    }
}

/// A send back to where a message came from.
fn reply(origin: &Origin, bytes: Bytes, close: bool) -> Send {
    match origin.transport {
        Transport::Udp => Send::Udp {
            from: origin.local,
            to: origin.source,
            bytes,
        },
        _ => Send::Conn {
            id: origin.connection,
            peer: origin.source,
            bytes,
            close,
            fallback: None,
        },
    }
}

fn framing_of(origin: &Origin) -> Framing {
    if origin.transport.is_stream() {
        Framing::Stream
    } else {
        Framing::Datagram
    }
}

fn action_label(a: &Action) -> &'static str {
    match a {
        Action::Forward {
            target: Target::Backend(_),
            ..
        } => "forward to backend",
        Action::Forward {
            target: Target::Flow(_),
            ..
        } => "forward to UE flow",
        Action::Reply { .. } => "reply",
        Action::Drop(r) => r.label(),
    }
}

/// Labels of `anysip_messages_total`: direction, transport, and the method
/// of a request or the status of a response.
fn kind_labels(direction: &str, transport: &str, kind: edge::MessageKind) -> String {
    let (method, status) = match kind {
        edge::MessageKind::Request(m) => (m.to_string(), String::new()),
        edge::MessageKind::OtherRequest => ("other".to_string(), String::new()),
        edge::MessageKind::Response(s) => (String::new(), s.to_string()),
        edge::MessageKind::Unknown => ("unparsed".to_string(), String::new()),
    };
    format!("direction=\"{direction}\",transport=\"{transport}\",method=\"{method}\",status=\"{status}\"")
}

fn status_label(bytes: &[u8]) -> String {
    let code = bytes
        .get(8..11)
        .and_then(|c| std::str::from_utf8(c).ok())
        .unwrap_or("???");
    format!("status=\"{code}\"")
}
