//! Sends the gateway prober's OPTIONS and feeds the answers back.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::{GatewayEvent, ProbeId, ProbeRequest};
use net::{DialKey, Outbox, Outgoing, SendTag};
use sip::{Framing, Limits, Message, Transport};

use crate::shared::Shared;
use crate::telemetry::metrics::ProbeAnswer as Answered;

/// Branch prefix of the edge's probe OPTIONS: their responses are the
/// prober's, not routed.
pub(crate) const PROBE_BRANCH_PREFIX: &str = "z9hG4bK-anysip-probe-";

/// Runs the prober until the task is dropped: sends due probes from
/// `from` (`edge.probe_address`: the instance's own unicast address, so
/// that answers come back here even when the backend-facing address is
/// shared; else the backend-facing address) over the destination's transport
/// (a stream backend's connection is the one requests use), fires probe
/// timeouts, logs health changes. A probe that cannot be sent is answered
/// by its timeout.
pub(crate) async fn run(shared: Arc<Shared>, outbox: Outbox, from: SocketAddr) {
    loop {
        let mut sends = Vec::new();
        let wake = {
            let mut gw = shared.gateways();
            let now = Instant::now();
            gw.handle_timeout(now);
            while let Some(p) = gw.poll_probe(now) {
                let bytes = options(&p, from);
                sends.push(match p.transport {
                    Transport::Udp => Outgoing::Udp {
                        from,
                        to: p.address,
                        bytes,
                        tag: SendTag::NONE,
                    },
                    transport => Outgoing::Dial {
                        key: DialKey {
                            transport,
                            to: p.address,
                            server_name: server_name(&p.uri),
                            from: Some(from.ip()),
                        },
                        bytes,
                        fallback: None,
                        tag: SendTag::NONE,
                    },
                });
            }
            while let Some(ev) = gw.poll_event() {
                log_event(&shared, &ev);
            }
            gw.poll_timeout()
        };
        for s in sends {
            if let Err(e) = outbox.send(s).await {
                tracing::debug!(error = %e, "probe send failed");
            }
        }
        let sleep = wake
            .map(|w| w.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(500))
            .clamp(Duration::from_millis(5), Duration::from_millis(500));
        tokio::time::sleep(sleep).await;
    }
}

fn log_event(shared: &Shared, ev: &GatewayEvent) {
    match ev {
        GatewayEvent::Down {
            group, uri, reason, ..
        } => {
            tracing::warn!(%group, %uri, ?reason, "backend down");
            shared.metrics.backend_transition(group, "down");
        }
        GatewayEvent::Up { group, uri, .. } => {
            tracing::info!(%group, %uri, "backend up");
            shared.metrics.backend_transition(group, "up");
        }
    }
}

/// The name a TLS destination's certificate must carry: the host of its
/// URI when that is a name, not an IP literal.
pub(crate) fn server_name(uri: &str) -> Option<Arc<str>> {
    let target = resolve::Target::from_uri(uri).ok()?;
    if target.host.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(Arc::from(target.host.as_str()))
}

/// The OPTIONS of probe `p`, sent from `from`; its From URI is
/// `probe.from_user@probe.from_domain` when the group sets them.
fn options(p: &ProbeRequest, from: SocketAddr) -> Bytes {
    let host = match from {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    let user = p.from_user.as_deref().unwrap_or("anysip");
    let domain = p.from_domain.as_deref().unwrap_or(&host);
    let (uri, id) = (&p.uri, p.probe_id.0);
    Bytes::from(format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{via} {host};branch={PROBE_BRANCH_PREFIX}{id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{domain}>;tag=probe\r\n\
         To: <{uri}>\r\n\
         Call-ID: anysip-probe-{id}@{host}\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: {agent}\r\n\
         Content-Length: 0\r\n\r\n",
        agent = crate::shared::user_agent(),
        via = p.transport.via_name()
    ))
}

/// What a response is to the prober.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeAnswer {
    /// Not an answer to a probe: route it.
    NotProbe,
    /// An answer to one of this process's probes, handed to the prober.
    Taken,
    /// A probe's answer that is not this process's (another instance's
    /// probe, or one already timed out or answered): to drop and count.
    Stray,
}

/// Hands the answer to one of this process's probes to the prober.
pub(crate) fn answer(shared: &Shared, bytes: &Bytes) -> ProbeAnswer {
    // Every response passes here: look for the probe branch before parsing,
    // so that the edge's responses are not parsed twice.
    if memchr::memmem::find(bytes, PROBE_BRANCH_PREFIX.as_bytes()).is_none() {
        return ProbeAnswer::NotProbe;
    }
    let Ok(msg) = Message::parse(bytes.clone(), Framing::Datagram, &Limits::default()) else {
        return ProbeAnswer::NotProbe;
    };
    let Some(id) = msg
        .top_via()
        .ok()
        .and_then(|v| v.branch())
        .and_then(|b| b.strip_prefix(PROBE_BRANCH_PREFIX))
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return ProbeAnswer::NotProbe;
    };
    let Some(status) = msg.status() else {
        return ProbeAnswer::NotProbe;
    };
    if status < 200 {
        // A provisional answer to one of our probes: nothing to do.
        shared.metrics.probe_answers.inc(Answered::Taken);
        return ProbeAnswer::Taken;
    }
    let ours = shared
        .gateways()
        .handle_probe_result(ProbeId(id), Ok(status), Instant::now());
    if ours {
        shared.metrics.probe_answers.inc(Answered::Taken);
        ProbeAnswer::Taken
    } else {
        ProbeAnswer::Stray
    }
}
