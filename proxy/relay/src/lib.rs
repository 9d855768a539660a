//! The relay between edge instances (DESIGN §6a).
//!
//! A stream flow (TCP, TLS, WS, WSS) lives on the instance that accepted
//! it; a message for it that reaches another instance is relayed to the
//! owner over QUIC (quinn): one connection per peer, opened on demand,
//! mutual TLS under the fleet CA (each certificate names
//! `instance-<id>.anysip.invalid`), one bidirectional stream per message
//! (a [`header::Header`] and the SIP bytes), answered by the owner with one
//! [`header::Ack`] octet — bidirectional for a request that must be
//! answered 430 when it cannot be delivered, unidirectional (no answer)
//! for a response or an ACK. No 0-RTT. Every wait is bounded (connect,
//! answer, idle), and so is every queue (in flight per peer, peers, size).
//!
//! The crate decides nothing about SIP: the role hands it messages with
//! [`Relay::send`] and receives the peers' through [`Deliver`]; what
//! happens is reported to an [`Observer`].
#![forbid(unsafe_code)]

pub mod config;
mod discover;
pub mod error;
pub mod header;
mod lane;
mod link;
mod serve;
mod socket;
pub mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use config::{PeerConfig, RelayConfig};
pub use error::{Failure, RelayError};
pub use header::{Ack, FlowTransport, Header, Kind};
use link::Peer;

/// What the relay needs besides its certificates.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This instance's id.
    pub instance: u16,
    /// The UDP address to listen on.
    pub listen: SocketAddr,
    /// The peers: instance id → relay address (this instance's own entry
    /// is left out).
    pub peers: Vec<(u16, SocketAddr)>,
    /// Wait for a connection to a peer at most this long.
    pub connect_timeout: Duration,
    /// Wait for the owner's answer to a message at most this long.
    pub answer_timeout: Duration,
    /// QUIC keep-alive interval.
    pub keep_alive: Duration,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Messages in flight per peer.
    pub max_in_flight: u32,
    /// Connections accepted from peers at most.
    pub max_peers: u32,
    /// Largest SIP message relayed.
    pub max_message: usize,
}

impl Settings {
    /// From the `relay:` section, this instance's id and the message size
    /// limit.
    pub fn from_config(c: &RelayConfig, instance: u16, max_message: usize) -> Settings {
        Settings {
            instance,
            listen: c.listen,
            peers: c
                .peers
                .iter()
                .filter(|p| p.instance_id != instance)
                .map(|p| (p.instance_id, p.address))
                .collect(),
            connect_timeout: Duration::from_millis(c.connect_timeout_ms),
            answer_timeout: Duration::from_millis(c.connect_timeout_ms.saturating_mul(2)),
            keep_alive: Duration::from_millis(c.keep_alive_ms),
            idle_timeout: Duration::from_millis(c.idle_timeout_ms),
            max_in_flight: c.max_in_flight,
            max_peers: c.max_peers,
            max_message,
        }
    }
}

/// One message to relay: the flow it goes to and its SIP bytes.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request or response.
    pub kind: Kind,
    /// The instance holding the flow.
    pub target: u16,
    /// The flow's transport.
    pub transport: FlowTransport,
    /// The connection id at the owner.
    pub connection: u32,
    /// The UE's address.
    pub ue: SocketAddr,
    /// The SIP message, ready to be written to the connection.
    pub sip: Bytes,
    /// Whether the sender waits for the owner's answer, on a bidirectional
    /// stream. Without one the message goes one way, on a unidirectional
    /// stream, and is delivered once QUIC acknowledges it: the owner
    /// counts what it cannot deliver, and answers an undeliverable request
    /// itself (the edge: 430, routed back as any response). One way costs
    /// no packet of its own back.
    pub answer: bool,
}

/// What became of a relayed message: the owner's answer, or why there was
/// none.
pub type Outcome = Result<Ack, Failure>;

/// Called once with the [`Outcome`] of a message [`Relay::send`] took.
pub type Done = Box<dyn FnOnce(Outcome) + Send + 'static>;

/// The owner's side: writes a relayed message to its flow.
pub trait Deliver: Send + Sync + 'static {
    /// A relayed message whose header checked out. Answers what became of
    /// it; `answered`: the sender waits for that answer (else an
    /// undeliverable request is the owner's to answer).
    fn deliver(
        &self,
        header: Header,
        sip: Bytes,
        answered: bool,
    ) -> Pin<Box<dyn Future<Output = Ack> + Send + '_>>;
}

/// What the relay reports, for counters and logs.
pub trait Observer: Send + Sync + 'static {
    /// A message reached its owner: answered (delivered or not), `rtt`
    /// after its stream was opened (the relay hop there and back, the
    /// owner's write included); or, one way, acknowledged by QUIC, `rtt`
    /// the connection's smoothed round-trip time.
    fn relayed_out(&self, _peer: u16, _rtt: Duration) {}
    /// A message from `peer` was taken (its header checked out).
    fn relayed_in(&self, _peer: u16) {}
    /// A failure, in or out.
    fn failure(&self, _reason: Failure) {}
    /// The connection to (or from) `peer` came up or went down.
    fn peer_state(&self, _peer: u16, _up: bool) {}
}

/// The state of one peer, for `/admin/relay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its instance id.
    pub instance: u16,
    /// Its relay address.
    pub address: SocketAddr,
    /// `idle` (never dialled), `connecting`, `up` or `down`.
    pub state: &'static str,
    /// Round-trip time of the connection, when up.
    pub rtt: Option<Duration>,
    /// UDP datagrams sent and received on the connection to the peer (the
    /// one this instance dialled), when up: with `sent`, what a relayed
    /// message costs in packets.
    pub datagrams: Option<(u64, u64)>,
    /// Messages relayed to it and answered.
    pub sent: u64,
    /// Messages it relayed to this instance.
    pub received: u64,
    /// The last connect or connection error.
    pub last_error: Option<String>,
}

/// The relay of one instance: its QUIC endpoint, its peers.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("instance", &self.inner.settings.instance)
            .field("listen", &self.inner.settings.listen)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: Settings,
    endpoint: quinn::Endpoint,
    /// The peers by instance id: the configured ones, and those found by
    /// [`Relay::discover`].
    peers: std::sync::RwLock<HashMap<u16, Arc<Peer>>>,
    /// Dials an address to learn which instance it is (discovery).
    discovery_client: quinn::ClientConfig,
    discovery: discover::State,
    observer: Arc<dyn Observer>,
    /// Connections accepted and open.
    inbound: std::sync::atomic::AtomicU32,
    /// The runtime the relay was bound on: the listening endpoint and the
    /// shared lane's messages run there.
    runtime: tokio::runtime::Handle,
    /// How this instance dials its peers (each lane's endpoint).
    client: quinn::ClientConfig,
    /// The lanes' endpoints (closed with the relay), and the next lane id.
    lanes: std::sync::Mutex<Vec<quinn::Endpoint>>,
    next_lane: std::sync::atomic::AtomicUsize,
}

impl Inner {
    fn peer(&self, instance: u16) -> Option<Arc<Peer>> {
        self.peers.read().ok()?.get(&instance).cloned()
    }

    /// A client endpoint on the current runtime, bound to the relay's
    /// address with a port of its own.
    fn new_lane(&self) -> Result<lane::Lane, RelayError> {
        let addr = SocketAddr::new(self.settings.listen.ip(), 0);
        let mut endpoint = endpoint(addr, None, &self.observer)?;
        endpoint.set_default_client_config(self.client.clone());
        if let Ok(mut l) = self.lanes.lock() {
            l.push(endpoint.clone());
        }
        let id = self
            .next_lane
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(lane::Lane { id, endpoint })
    }
}

/// A QUIC endpoint on a UDP socket bound to `addr` (screened: garbage is
/// counted), on the current runtime; a server when `server` is given.
fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
    observer: &Arc<dyn Observer>,
) -> Result<quinn::Endpoint, RelayError> {
    let bind_err = |source| RelayError::Bind { addr, source };
    let udp = std::net::UdpSocket::bind(addr).map_err(bind_err)?;
    let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
    let socket = Arc::new(socket::Screened {
        inner: runtime.wrap_udp_socket(udp).map_err(bind_err)?,
        observer: observer.clone(),
    });
    // Peers are anysip instances: none greases the fixed bit, so a
    // datagram without it is garbage (counted by the socket).
    let mut config = quinn::EndpointConfig::default();
    config.grease_quic_bit(false);
    quinn::Endpoint::new_with_abstract_socket(config, server, socket, runtime).map_err(bind_err)
}

impl Relay {
    /// Binds the endpoint, on the current tokio runtime (where everything
    /// the relay does then runs).
    pub fn bind(
        settings: Settings,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        observer: Arc<dyn Observer>,
    ) -> Result<Relay, RelayError> {
        let here = tokio::runtime::Handle::try_current()
            .map_err(|e| RelayError::Quic(format!("no tokio runtime: {e}")))?;
        let fleet = tls::FleetTls::new(ca_pem, cert_pem, key_pem)?;
        let own = tls::certs(cert_pem)?;
        let roots = tls::roots(ca_pem)?;
        if let Some(c) = own.first() {
            tls::check_names(&roots, c, settings.instance).map_err(|e| {
                RelayError::Certificate(format!(
                    "this instance's certificate (server.instance_id {}): {e}",
                    settings.instance
                ))
            })?;
        }
        let transport = Arc::new(link::transport(&settings)?);
        let quic_err = |e: &dyn std::fmt::Display| RelayError::Quic(e.to_string());
        let server_crypto = quinn::crypto::rustls::QuicServerConfig::try_from(fleet.server)
            .map_err(|e| quic_err(&e))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
        server.transport_config(transport.clone());
        let client_crypto = quinn::crypto::rustls::QuicClientConfig::try_from(fleet.client)
            .map_err(|e| quic_err(&e))?;
        let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
        client.transport_config(transport.clone());
        let discovery_crypto = quinn::crypto::rustls::QuicClientConfig::try_from(fleet.discovery)
            .map_err(|e| quic_err(&e))?;
        let mut discovery_client = quinn::ClientConfig::new(Arc::new(discovery_crypto));
        discovery_client.transport_config(transport);
        let mut endpoint = endpoint(settings.listen, Some(server), &observer)?;
        endpoint.set_default_client_config(client.clone());
        let peers = settings
            .peers
            .iter()
            .map(|&(id, addr)| (id, Arc::new(Peer::new(id, addr, settings.max_in_flight))))
            .collect();
        Ok(Relay {
            inner: Arc::new(Inner {
                settings,
                endpoint,
                peers: std::sync::RwLock::new(peers),
                discovery_client,
                discovery: discover::State::default(),
                observer,
                inbound: Default::default(),
                runtime: here,
                client,
                lanes: Default::default(),
                next_lane: std::sync::atomic::AtomicUsize::new(lane::SHARED + 1),
            }),
        })
    }

    /// The address the endpoint is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.endpoint.local_addr()
    }

    /// This instance's id.
    pub fn instance(&self) -> u16 {
        self.inner.settings.instance
    }

    /// Relays `msg` to its owner; `done` is called once with the outcome.
    /// Refused at once (and `done` dropped uncalled) when the owner is
    /// unknown, the message too large or the peer's queue full.
    pub fn send(&self, msg: Message, done: Done) -> Result<(), Failure> {
        let refuse = |f: Failure| {
            self.inner.observer.failure(f);
            Err(f)
        };
        let Some(peer) = self.inner.peer(msg.target) else {
            return refuse(Failure::UnknownPeer);
        };
        if msg.sip.len() > self.inner.settings.max_message {
            return refuse(Failure::TooLarge);
        }
        let Some(permit) = peer.admit() else {
            return refuse(Failure::Full);
        };
        let inner = self.inner.clone();
        // On this thread's lane when it has one, else on the relay's
        // runtime.
        let lane = lane::here(&inner);
        let local = lane.is_some();
        let task = async move {
            let outcome = link::relay_one(&inner, &peer, lane.as_deref(), msg).await;
            drop(permit);
            if let Err(f) = outcome {
                inner.observer.failure(f);
            }
            done(outcome);
        };
        if local {
            tokio::spawn(task);
        } else {
            self.inner.runtime.spawn(task);
        }
        Ok(())
    }

    /// Accepts peers' connections and hands their messages to `deliver`,
    /// until the endpoint is closed.
    pub async fn serve(self, deliver: Arc<dyn Deliver>) {
        serve::accept_loop(self.inner.clone(), deliver).await;
    }

    /// The peers and their state.
    pub fn peers(&self) -> Vec<PeerStatus> {
        let mut v: Vec<PeerStatus> = self
            .inner
            .peers
            .read()
            .map(|p| p.values().map(|p| p.status()).collect())
            .unwrap_or_default();
        v.sort_by_key(|p| p.instance);
        v
    }

    /// Connections accepted from peers and open now.
    pub fn inbound(&self) -> u32 {
        self.inner
            .inbound
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The fleet's relay addresses as DNS lists them now (`relay.dns`):
    /// each address not known yet is dialled to learn, from its
    /// certificate, which instance it is; instances found this way whose
    /// address is no longer listed are forgotten. Configured peers stay.
    pub fn discover(&self, addrs: Vec<SocketAddr>) {
        discover::update(&self.inner, addrs);
    }

    /// Closes every connection and the endpoint.
    pub fn close(&self) {
        self.inner.endpoint.close(0u32.into(), b"shutdown");
        if let Ok(lanes) = self.inner.lanes.lock() {
            for e in lanes.iter() {
                e.close(0u32.into(), b"shutdown");
            }
        }
    }
}
