//! The edge's side of the relay between instances (`relay` crate): a
//! message for a stream flow held by another instance goes to its owner;
//! a message relayed to this instance is written to its flow. Each message
//! is counted once on each instance by what became of it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use net::{Delivery, NetError, Outbox, Outgoing, SendTag};
use relay::{Ack, Failure, FlowTransport, Header, Relay};
use sip::{Flow, Limits, Message, Transport};

use crate::shared::Shared;
use crate::telemetry::metrics::{DropReason, Peer, RelayLabels, RelayPeerLabels, Status};

/// The sending side: the relay and what is needed to answer when it fails.
#[derive(Debug, Clone)]
pub(crate) struct RelayLink {
    pub(crate) relay: Relay,
    pub(crate) outbox: Outbox,
    pub(crate) shared: Arc<Shared>,
}

impl RelayLink {
    /// Relays `bytes` (this instance's part done: its Via added or popped)
    /// to `flow`'s owner. `failed` is the 430 that answers a request when
    /// the owner cannot deliver it; without it (a response, an ACK) an
    /// undeliverable message is dropped and counted.
    pub(crate) fn send(
        &self,
        flow: &tokencodec::Flow,
        bytes: Bytes,
        failed: Option<Bytes>,
        origin: &Flow,
        request: bool,
    ) -> Vec<Outgoing> {
        let Some(transport) = flow_transport(flow.transport) else {
            return self.fail(failed, origin, None);
        };
        let msg = relay::Message {
            kind: if request {
                relay::Kind::Request
            } else {
                relay::Kind::Response
            },
            target: flow.instance,
            transport,
            connection: flow.connection,
            ue: flow.ue,
            sip: bytes,
            // One way: the owner answers an undeliverable request itself
            // (`Owner`), and `failed` answers what does not reach it.
            answer: false,
        };
        let (link, answer, origin2) = (self.clone(), failed.clone(), *origin);
        let done: relay::Done = Box::new(move |outcome| {
            let m = &link.shared.metrics;
            match outcome {
                Ok(Ack::Delivered) => m.forwarded.inc(Peer::Relay),
                Ok(Ack::FlowGone | Ack::Refused) | Err(_) => {
                    let sends = link.fail(answer, &origin2, None);
                    if !sends.is_empty() {
                        let outbox = link.outbox.clone();
                        tokio::spawn(async move {
                            for s in sends {
                                let _ = outbox.send(s).await;
                            }
                        });
                    }
                }
            }
        });
        match self.relay.send(msg, done) {
            Ok(()) => vec![],
            // The peer's window is full: 503 (try another instance later).
            Err(Failure::Full) => self.fail(failed, origin, Some(503)),
            Err(_) => self.fail(failed, origin, None),
        }
    }

    /// The answer to a message the relay could not deliver: its 430 (or
    /// `status` instead) back to where it came from, counted; or a drop.
    fn fail(&self, failed: Option<Bytes>, origin: &Flow, status: Option<u16>) -> Vec<Outgoing> {
        let m = &self.shared.metrics;
        let Some(f) = failed else {
            m.drops.inc(DropReason::RelayFailed);
            return vec![];
        };
        let (bytes, code) = match status {
            Some(503) => (restatus(&f, "503 Service Unavailable"), 503),
            _ => (f, 430),
        };
        m.replies.inc(Status(code));
        vec![super::dispatch::reply(origin, bytes, false, SendTag::NONE)]
    }
}

/// `response` with another status line (same headers and body).
fn restatus(response: &Bytes, status: &str) -> Bytes {
    let rest = memchr::memmem::find(response, b"\r\n").map_or(&response[..0], |i| &response[i..]);
    let mut b = Vec::with_capacity(response.len() + 16);
    b.extend_from_slice(b"SIP/2.0 ");
    b.extend_from_slice(status.as_bytes());
    b.extend_from_slice(rest);
    Bytes::from(b)
}

fn flow_transport(t: Transport) -> Option<FlowTransport> {
    Some(match t {
        Transport::Tcp => FlowTransport::Tcp,
        Transport::Tls => FlowTransport::Tls,
        Transport::Ws => FlowTransport::Ws,
        Transport::Wss => FlowTransport::Wss,
        Transport::Udp => return None,
    })
}

fn sip_transport(t: FlowTransport) -> Transport {
    match t {
        FlowTransport::Tcp => Transport::Tcp,
        FlowTransport::Tls => Transport::Tls,
        FlowTransport::Ws => Transport::Ws,
        FlowTransport::Wss => Transport::Wss,
    }
}

/// The owner's side: a message relayed to this instance, written to its
/// flow's connection when that is still there (id and peer); a request
/// whose sender does not wait for the answer and whose flow is gone gets
/// its 430 from here (`EdgeDispatch::flow_failed`).
#[derive(Debug)]
pub(crate) struct Owner {
    pub(crate) outbox: Outbox,
    pub(crate) shared: Arc<Shared>,
    pub(crate) limits: Limits,
    /// The edge, set once built (it is built after the relay).
    pub(crate) dispatch: std::sync::OnceLock<std::sync::Weak<super::dispatch::EdgeDispatch>>,
}

impl Owner {
    /// The 430 for `sip`, a relayed request whose flow is gone, sent (and
    /// counted as this instance's reply).
    async fn answer_flow_failed(&self, h: &Header, sip: &Message) {
        let Some(dispatch) = self.dispatch.get().and_then(std::sync::Weak::upgrade) else {
            return;
        };
        let flow = (sip_transport(h.transport), h.ue, h.connection);
        let sends = dispatch.flow_failed(sip, flow);
        self.outbox.deliver(&*dispatch, sends).await;
    }
}

impl relay::Deliver for Owner {
    fn deliver(
        &self,
        h: Header,
        sip: Bytes,
        answered: bool,
    ) -> Pin<Box<dyn Future<Output = Ack> + Send + '_>> {
        Box::pin(async move {
            let m = &self.shared.metrics;
            m.received.inc();
            // The same parsing and limits as any input.
            let parsed = Message::parse(
                sip.clone(),
                sip_transport(h.transport).framing(),
                &self.limits,
            );
            let parsed = match parsed {
                Ok(msg) if msg.is_request() == (h.kind == relay::Kind::Request) => msg,
                _ => {
                    m.drops.inc(DropReason::Unparseable);
                    return Ack::Refused;
                }
            };
            let send = Outgoing::Conn {
                id: h.connection,
                peer: h.ue,
                bytes: sip,
                close: false,
                fallback: None,
                tag: SendTag::NONE,
            };
            match self.outbox.send(send).await {
                Ok(Delivery::Sent | Delivery::Queued | Delivery::FellBack) => {
                    m.forwarded.inc(Peer::Ue);
                    Ack::Delivered
                }
                Err(e) => {
                    if let NetError::ConnectionGone(_) = e {
                        m.drops.inc(DropReason::RelayedFlowGone);
                    } else {
                        tracing::warn!(error = %e, "relayed message not written");
                        m.drops.inc(DropReason::SendFailed);
                    }
                    if !answered && h.kind == relay::Kind::Request {
                        self.answer_flow_failed(&h, &parsed).await;
                    }
                    Ack::FlowGone
                }
            }
        })
    }
}

/// Resolves `name` (the fleet's relay addresses) now and every `every`,
/// and hands the addresses to the relay, which identifies new ones.
pub(crate) async fn discover(
    relay: Relay,
    resolver: resolve::Resolver,
    name: String,
    port: u16,
    every: std::time::Duration,
) {
    loop {
        match resolver.socket_addrs(&name, port).await {
            Ok(addrs) => {
                tracing::debug!(%name, ?addrs, "relay: fleet resolved");
                relay.discover(addrs);
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, "relay: cannot resolve the fleet (relay.dns)")
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Counts what the relay reports.
#[derive(Debug)]
pub(crate) struct Counting(pub(crate) Arc<Shared>);

impl relay::Observer for Counting {
    fn relayed_out(&self, peer: u16, rtt: std::time::Duration) {
        self.0.metrics.relay.round_trip.observe(rtt.as_secs_f64());
        self.0
            .metrics
            .relay
            .messages
            .get_or_create(&RelayLabels {
                direction: "out",
                peer,
            })
            .inc();
    }

    fn relayed_in(&self, peer: u16) {
        self.0
            .metrics
            .relay
            .messages
            .get_or_create(&RelayLabels {
                direction: "in",
                peer,
            })
            .inc();
    }

    fn failure(&self, reason: Failure) {
        self.0.metrics.relay.failures.inc(reason.into());
    }

    fn peer_state(&self, peer: u16, up: bool) {
        self.0
            .metrics
            .relay
            .peer_transitions
            .get_or_create(&RelayPeerLabels {
                peer,
                to: if up { "up" } else { "down" },
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn restatus_keeps_headers_and_body() {
        let r =
            Bytes::from_static(b"SIP/2.0 430 Flow Failed\r\nVia: x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            &restatus(&r, "503 Service Unavailable")[..],
            b"SIP/2.0 503 Service Unavailable\r\nVia: x\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
