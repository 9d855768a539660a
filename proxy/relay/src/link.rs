//! The connection to one peer: opened on demand, one at a time, backed off
//! after a failure; and the relaying of one message over it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Failure, RelayError};
use crate::header::{Ack, Header};
use crate::{Inner, Message, PeerStatus, Settings};

const IDLE: u8 = 0;
const CONNECTING: u8 = 1;
const UP: u8 = 2;
const DOWN: u8 = 3;

/// The QUIC transport settings of every relay connection.
pub(crate) fn transport(s: &Settings) -> Result<quinn::TransportConfig, RelayError> {
    let mut t = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(s.idle_timeout)
        .map_err(|e| RelayError::Quic(format!("idle timeout: {e}")))?;
    t.max_idle_timeout(Some(idle));
    t.keep_alive_interval(Some(s.keep_alive));
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(s.max_in_flight));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(s.max_in_flight));
    // Acknowledge every 8th packet or within 5 ms (the ACK frequency
    // extension; both ends are anysip): on a busy relay most packets then
    // carry data, not acknowledgements alone.
    let mut ack = quinn::AckFrequencyConfig::default();
    ack.ack_eliciting_threshold(quinn::VarInt::from_u32(8))
        .max_ack_delay(Some(std::time::Duration::from_millis(5)));
    t.ack_frequency_config(Some(ack));
    Ok(t)
}

/// One peer of the fleet, as this instance dials it.
pub(crate) struct Peer {
    pub(crate) instance: u16,
    address: SocketAddr,
    conn: tokio::sync::Mutex<Option<quinn::Connection>>,
    /// Until when connects are not tried again.
    backoff_until: Mutex<Option<Instant>>,
    in_flight: Arc<Semaphore>,
    state: AtomicU8,
    last_error: Mutex<Option<String>>,
    sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

impl Peer {
    pub(crate) fn new(instance: u16, address: SocketAddr, max_in_flight: u32) -> Peer {
        Peer {
            instance,
            address,
            conn: tokio::sync::Mutex::new(None),
            backoff_until: Mutex::new(None),
            in_flight: Arc::new(Semaphore::new(max_in_flight as usize)),
            state: AtomicU8::new(IDLE),
            last_error: Mutex::new(None),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        }
    }

    /// A place in the peer's in-flight window, if there is one.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.clone().try_acquire_owned().ok()
    }

    pub(crate) fn status(&self) -> PeerStatus {
        let (rtt, datagrams) = self
            .conn
            .try_lock()
            .ok()
            .and_then(|c| {
                c.as_ref().filter(|c| c.close_reason().is_none()).map(|c| {
                    let st = c.stats();
                    (
                        Some(c.rtt()),
                        Some((st.udp_tx.datagrams, st.udp_rx.datagrams)),
                    )
                })
            })
            .unwrap_or((None, None));
        PeerStatus {
            instance: self.instance,
            address: self.address,
            state: match self.state.load(Ordering::Relaxed) {
                IDLE => "idle",
                CONNECTING => "connecting",
                UP => "up",
                _ => "down",
            },
            rtt,
            datagrams,
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    fn note_error(&self, e: String) {
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(e);
        }
    }

    /// Takes `c` (just opened, or found by discovery) as the connection to
    /// the peer, and watches it.
    fn up(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
        slot: &mut Option<quinn::Connection>,
        c: quinn::Connection,
    ) {
        self.state.store(UP, Ordering::Relaxed);
        inner.observer.peer_state(self.instance, true);
        tracing::info!(peer = self.instance, address = %self.address, "relay: peer up");
        *slot = Some(c.clone());
        let (me, inner) = (self.clone(), inner.clone());
        tokio::spawn(async move {
            let why = c.closed().await;
            me.state.store(DOWN, Ordering::Relaxed);
            me.note_error(why.to_string());
            inner.observer.peer_state(me.instance, false);
            tracing::warn!(peer = me.instance, reason = %why, "relay: peer down");
        });
    }

    /// Adopts a connection opened by discovery, unless one is open.
    pub(crate) async fn adopt(self: &Arc<Self>, inner: &Arc<Inner>, c: quinn::Connection) {
        let mut slot = self.conn.lock().await;
        if slot.as_ref().is_some_and(|c| c.close_reason().is_none()) {
            c.close(0u32.into(), b"duplicate");
            return;
        }
        self.up(inner, &mut slot, c);
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The open connection to the peer, opening it if needed (one attempt
    /// at a time; the others wait for its result).
    async fn connection(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
    ) -> Result<quinn::Connection, Failure> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            if c.close_reason().is_none() {
                return Ok(c.clone());
            }
        }
        if self
            .backoff_until
            .lock()
            .ok()
            .and_then(|b| *b)
            .is_some_and(|t| Instant::now() < t)
        {
            return Err(Failure::Unreachable);
        }
        self.state.store(CONNECTING, Ordering::Relaxed);
        let name = crate::tls::instance_name(self.instance);
        let attempt = async {
            match inner.endpoint.connect(self.address, &name) {
                Ok(connecting) => connecting.await.map_err(|e| {
                    let f = match e {
                        quinn::ConnectionError::TimedOut => Failure::Unreachable,
                        _ => Failure::Handshake,
                    };
                    (f, e.to_string())
                }),
                Err(e) => Err((Failure::Unreachable, e.to_string())),
            }
        };
        let result = match tokio::time::timeout(inner.settings.connect_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err((Failure::Unreachable, "connect timeout".to_owned())),
        };
        match result {
            Ok(c) => {
                self.up(inner, &mut slot, c.clone());
                Ok(c)
            }
            Err((f, e)) => {
                self.state.store(DOWN, Ordering::Relaxed);
                tracing::warn!(peer = self.instance, address = %self.address, error = %e, "relay: cannot connect");
                self.note_error(e);
                if let Ok(mut b) = self.backoff_until.lock() {
                    // Messages to the peer are refused at once for a
                    // connect timeout (none waits for a connect known to
                    // fail); the next message after it dials again.
                    *b = Some(Instant::now() + inner.settings.connect_timeout);
                }
                Err(f)
            }
        }
    }
}

/// Any stream error: the connection (or the stream) is gone.
fn lost<E>(_: E) -> Failure {
    Failure::ConnectionLost
}

/// Relays one message and, when it wants one, waits for the owner's answer
/// (a one-way message is `Delivered` once written).
pub(crate) async fn relay_one(
    inner: &Arc<Inner>,
    peer: &Arc<Peer>,
    msg: Message,
) -> Result<Ack, Failure> {
    let conn = peer.connection(inner).await?;
    let header = Header {
        kind: msg.kind,
        hops: 1,
        transport: msg.transport,
        target: msg.target,
        source: inner.settings.instance,
        connection: msg.connection,
        ue: msg.ue,
        body_len: u32::try_from(msg.sip.len()).map_err(|_| Failure::TooLarge)?,
    };
    // Header and message in one write, then the end of the stream: one
    // packet for a message that fits.
    let mut chunks = [
        bytes::Bytes::copy_from_slice(&header.encode()),
        msg.sip.clone(),
    ];
    let exchange = async {
        if !msg.answer {
            let mut send = conn.open_uni().await.map_err(lost)?;
            send.write_all_chunks(&mut chunks).await.map_err(lost)?;
            send.finish().map_err(lost)?;
            return Ok(Ack::Delivered);
        }
        let (mut send, mut recv) = conn.open_bi().await.map_err(lost)?;
        send.write_all_chunks(&mut chunks).await.map_err(lost)?;
        send.finish().map_err(lost)?;
        // To the end of the stream (the owner finishes it after its
        // octet): a stream dropped before its end would cost a STOP_SENDING
        // frame, most often a packet of its own.
        let ack = recv.read_to_end(1).await.map_err(lost)?;
        match ack.as_slice() {
            // The end of the stream alone: delivered.
            [] => Ok(Ack::Delivered),
            [octet] => Ack::from_octet(*octet).ok_or(Failure::ConnectionLost),
            _ => Err(Failure::ConnectionLost),
        }
    };
    let started = Instant::now();
    let ack = tokio::time::timeout(inner.settings.answer_timeout, exchange)
        .await
        .map_err(|_| Failure::Timeout)??;
    peer.sent.fetch_add(1, Ordering::Relaxed);
    let rtt = msg.answer.then(|| started.elapsed());
    inner.observer.relayed_out(peer.instance, rtt);
    Ok(ack)
}
