//! HEP v3 capture (`telemetry.hep`): every SIP message received and sent,
//! with its addresses, transport and time, to a Homer collector (what
//! Kamailio's `siptrace` sends) over UDP. The transports hand each message
//! to [`HepTap`] (a bounded queue: a full queue drops and counts, the SIP
//! path never waits); one task encodes and sends.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anysip_config::HepConfig;
use bytes::Bytes;
use net::{Direction, Tap};
use prometheus_client::metrics::counter::Counter;
use sip::{Flow, Transport};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::error::Error;

/// Messages waiting to be sent to the collector at most.
const QUEUE: usize = 8192;

/// One captured message.
#[derive(Debug)]
struct Captured {
    at: SystemTime,
    direction: Direction,
    flow: Flow,
    bytes: Bytes,
}

/// The counters of the capture.
#[derive(Debug, Clone, Default)]
pub(crate) struct HepCounters {
    /// Messages sent to the collector.
    pub(crate) sent: Counter,
    /// Messages not captured: the queue was full or the send failed.
    pub(crate) dropped: Counter,
}

/// The transports' tap: queues each message for the sender task.
#[derive(Debug)]
pub(crate) struct HepTap {
    tx: mpsc::Sender<Captured>,
    counters: HepCounters,
}

impl Tap for HepTap {
    fn capture(&self, direction: Direction, flow: &Flow, bytes: &Bytes) {
        let c = Captured {
            at: SystemTime::now(),
            direction,
            flow: *flow,
            bytes: bytes.clone(),
        };
        if self.tx.try_send(c).is_err() {
            self.counters.dropped.inc();
        }
    }
}

/// The tap of `telemetry.hep` for the transports, its sender task started
/// (within the runtime); none when the section is absent.
pub(crate) fn tap(
    config: Option<&HepConfig>,
    counters: &HepCounters,
) -> Result<Option<Arc<dyn Tap>>, Error> {
    match config {
        Some(c) => Ok(Some(start(c, counters.clone())?)),
        None => Ok(None),
    }
}

/// Starts the sender task toward `config.endpoint`; returns the tap to
/// give the transports.
fn start(config: &HepConfig, counters: HepCounters) -> Result<Arc<HepTap>, Error> {
    let bind: SocketAddr = if config.endpoint.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let io = |source| Error::Io {
        what: format!("telemetry.hep.endpoint {}", config.endpoint),
        source,
    };
    let socket = std::net::UdpSocket::bind(bind).map_err(io)?;
    socket.connect(config.endpoint).map_err(io)?;
    socket.set_nonblocking(true).map_err(io)?;
    let socket = UdpSocket::from_std(socket).map_err(io)?;
    let (tx, mut rx) = mpsc::channel::<Captured>(QUEUE);
    let (id, password) = (config.capture_id, config.password.clone());
    let c = counters.clone();
    tokio::spawn(async move {
        let mut warned = false;
        while let Some(m) = rx.recv().await {
            let packet = encode(&m, id, password.as_deref());
            match socket.send(&packet).await {
                Ok(_) => {
                    c.sent.inc();
                }
                Err(e) => {
                    c.dropped.inc();
                    if !warned {
                        tracing::warn!(error = %e, "HEP capture: sending to the collector failed (counted; logged once)");
                        warned = true;
                    }
                }
            }
        }
    });
    tracing::info!(endpoint = %config.endpoint, capture_id = id, "HEP v3 capture on");
    Ok(Arc::new(HepTap { tx, counters }))
}

/// The HEP v3 chunk types used (vendor 0, generic).
mod chunk {
    pub(super) const IP_FAMILY: u16 = 0x0001;
    pub(super) const IP_PROTOCOL: u16 = 0x0002;
    pub(super) const IPV4_SRC: u16 = 0x0003;
    pub(super) const IPV4_DST: u16 = 0x0004;
    pub(super) const IPV6_SRC: u16 = 0x0005;
    pub(super) const IPV6_DST: u16 = 0x0006;
    pub(super) const SRC_PORT: u16 = 0x0007;
    pub(super) const DST_PORT: u16 = 0x0008;
    pub(super) const TIME_SECS: u16 = 0x0009;
    pub(super) const TIME_MICROS: u16 = 0x000a;
    pub(super) const PROTOCOL_TYPE: u16 = 0x000b;
    pub(super) const CAPTURE_ID: u16 = 0x000c;
    pub(super) const AUTH_KEY: u16 = 0x000e;
    pub(super) const PAYLOAD: u16 = 0x000f;
}

/// One message as a HEP v3 packet: the `HEP3` id and total length, then
/// the chunks (vendor, type, length including their 6-octet head, value),
/// all in network byte order. Source and destination follow the direction
/// (received: the peer to us; sent: us to the peer).
fn encode(m: &Captured, capture_id: u32, password: Option<&str>) -> Vec<u8> {
    let (src, dst) = match m.direction {
        Direction::In => (m.flow.remote, m.flow.local),
        Direction::Out => (m.flow.local, m.flow.remote),
    };
    let mut out = Vec::with_capacity(m.bytes.len() + 128);
    out.extend_from_slice(b"HEP3\0\0");
    let mut put = |kind: u16, value: &[u8]| {
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        // A chunk longer than 65535 cannot be said: the payload is cut
        // (a SIP message is at most 65535 octets, the limit of the field).
        let value = &value[..value.len().min(usize::from(u16::MAX) - 6)];
        out.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
        out.extend_from_slice(value);
    };
    let family: u8 = if src.is_ipv4() { 2 } else { 10 };
    put(chunk::IP_FAMILY, &[family]);
    // IP protocol of the carrying transport: TLS, WS and WSS run on TCP.
    let protocol: u8 = if m.flow.transport == Transport::Udp {
        17
    } else {
        6
    };
    put(chunk::IP_PROTOCOL, &[protocol]);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            put(chunk::IPV4_SRC, &s.octets());
            put(chunk::IPV4_DST, &d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            put(chunk::IPV6_SRC, &v6(s).octets());
            put(chunk::IPV6_DST, &v6(d).octets());
        }
    }
    put(chunk::SRC_PORT, &src.port().to_be_bytes());
    put(chunk::DST_PORT, &dst.port().to_be_bytes());
    let since = m.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
    put(chunk::TIME_SECS, &secs.to_be_bytes());
    put(chunk::TIME_MICROS, &since.subsec_micros().to_be_bytes());
    put(chunk::PROTOCOL_TYPE, &[1]); // SIP
    put(chunk::CAPTURE_ID, &capture_id.to_be_bytes());
    if let Some(p) = password {
        put(chunk::AUTH_KEY, p.as_bytes());
    }
    put(chunk::PAYLOAD, &m.bytes);
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks of a packet as (type, value).
    fn chunks(p: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&p[..4], b"HEP3");
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len());
        let mut at = 6;
        let mut out = Vec::new();
        while at < p.len() {
            assert_eq!(&p[at..at + 2], &[0, 0], "vendor 0");
            let kind = u16::from_be_bytes([p[at + 2], p[at + 3]]);
            let len = usize::from(u16::from_be_bytes([p[at + 4], p[at + 5]]));
            out.push((kind, p[at + 6..at + len].to_vec()));
            at += len;
        }
        assert_eq!(at, p.len());
        out
    }

    #[test]
    fn a_sent_message_goes_from_us_to_the_peer() {
        let m = Captured {
            at: UNIX_EPOCH + std::time::Duration::from_micros(1_800_000_000_123_456),
            direction: Direction::Out,
            flow: Flow {
                transport: Transport::Tcp,
                remote: "192.0.2.7:5062".parse().unwrap(),
                local: "198.51.100.1:5060".parse().unwrap(),
                connection: 3,
            },
            bytes: Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"),
        };
        let c = chunks(&encode(&m, 42, Some("secret")));
        let get = |k: u16| c.iter().find(|(t, _)| *t == k).map(|(_, v)| v.clone());
        assert_eq!(get(chunk::IP_FAMILY), Some(vec![2]));
        assert_eq!(get(chunk::IP_PROTOCOL), Some(vec![6]));
        assert_eq!(get(chunk::IPV4_SRC), Some(vec![198, 51, 100, 1]));
        assert_eq!(get(chunk::IPV4_DST), Some(vec![192, 0, 2, 7]));
        assert_eq!(get(chunk::SRC_PORT), Some(5060u16.to_be_bytes().to_vec()));
        assert_eq!(get(chunk::DST_PORT), Some(5062u16.to_be_bytes().to_vec()));
        assert_eq!(
            get(chunk::TIME_SECS),
            Some(1_800_000_000u32.to_be_bytes().to_vec())
        );
        assert_eq!(
            get(chunk::TIME_MICROS),
            Some(123_456u32.to_be_bytes().to_vec())
        );
        assert_eq!(get(chunk::PROTOCOL_TYPE), Some(vec![1]));
        assert_eq!(get(chunk::CAPTURE_ID), Some(42u32.to_be_bytes().to_vec()));
        assert_eq!(get(chunk::AUTH_KEY), Some(b"secret".to_vec()));
        assert_eq!(get(chunk::PAYLOAD), Some(m.bytes.to_vec()));
    }

    #[test]
    fn ipv6_and_received_udp() {
        let m = Captured {
            at: SystemTime::now(),
            direction: Direction::In,
            flow: Flow::udp(
                "[2001:db8::7]:5062".parse().unwrap(),
                "[2001:db8::1]:5060".parse().unwrap(),
            ),
            bytes: Bytes::from_static(b"x"),
        };
        let c = chunks(&encode(&m, 1, None));
        assert!(c.contains(&(chunk::IP_FAMILY, vec![10])));
        assert!(c.contains(&(chunk::IP_PROTOCOL, vec![17])));
        let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
        assert!(c.contains(&(chunk::IPV6_SRC, src.octets().to_vec())));
        assert!(!c.iter().any(|(t, _)| *t == chunk::AUTH_KEY));
    }
}
