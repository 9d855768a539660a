//! The connections to one peer (one per lane, `lane.rs`): each opened on
//! demand, one at a time, backed off after a failure; and the relaying of
//! one message over one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Failure, RelayError};
use crate::header::{Ack, Header};
use crate::lane::{Lane, SHARED};
use crate::{Inner, Message, PeerStatus, Settings};

/// One lane's connection to a peer.
type Slot = Arc<tokio::sync::Mutex<Option<quinn::Connection>>>;

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
    /// The connection of each lane, by lane id.
    slots: Mutex<HashMap<usize, Slot>>,
    /// Connections open (the peer is up while there is one).
    open: AtomicU32,
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
            slots: Mutex::new(HashMap::new()),
            open: AtomicU32::new(0),
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

    fn slot(&self, lane: usize) -> Slot {
        match self.slots.lock() {
            Ok(mut s) => s.entry(lane).or_default().clone(),
            Err(_) => Slot::default(),
        }
    }

    /// The state of the peer; round trip of the first lane's connection
    /// open, datagrams summed over the lanes' open connections.
    pub(crate) fn status(&self) -> PeerStatus {
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let (mut rtt, mut datagrams) = (None, None);
        for slot in slots {
            let Ok(c) = slot.try_lock() else { continue };
            let Some(c) = c.as_ref().filter(|c| c.close_reason().is_none()) else {
                continue;
            };
            let st = c.stats();
            rtt = rtt.or(Some(c.rtt()));
            let (tx, rx) = datagrams.unwrap_or((0, 0));
            datagrams = Some((tx + st.udp_tx.datagrams, rx + st.udp_rx.datagrams));
        }
        PeerStatus {
            instance: self.instance,
            address: self.address,
            // Up while any lane's connection is; else the last attempt's.
            state: match self.state.load(Ordering::Relaxed) {
                _ if self.open.load(Ordering::Relaxed) > 0 => "up",
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

    /// Takes `c` (just opened, or found by discovery) as a lane's
    /// connection to the peer, and watches it: the peer is up from its
    /// first open connection to the end of its last.
    fn up(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
        slot: &mut Option<quinn::Connection>,
        c: quinn::Connection,
    ) {
        self.state.store(UP, Ordering::Relaxed);
        if self.open.fetch_add(1, Ordering::Relaxed) == 0 {
            inner.observer.peer_state(self.instance, true);
            tracing::info!(peer = self.instance, address = %self.address, "relay: peer up");
        }
        *slot = Some(c.clone());
        let (me, inner) = (self.clone(), inner.clone());
        tokio::spawn(async move {
            let why = c.closed().await;
            me.note_error(why.to_string());
            if me.open.fetch_sub(1, Ordering::Relaxed) == 1 {
                me.state.store(DOWN, Ordering::Relaxed);
                inner.observer.peer_state(me.instance, false);
                tracing::warn!(peer = me.instance, reason = %why, "relay: peer down");
            }
        });
    }

    /// Adopts a connection opened by discovery as the shared lane's,
    /// unless that one is open.
    pub(crate) async fn adopt(self: &Arc<Self>, inner: &Arc<Inner>, c: quinn::Connection) {
        let slot = self.slot(SHARED);
        let mut slot = slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.close_reason().is_none()) {
            c.close(0u32.into(), b"duplicate");
            return;
        }
        self.up(inner, &mut slot, c);
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The lane's open connection to the peer (the shared lane's: the
    /// listening endpoint's), opening it if needed (one attempt at a time;
    /// the others wait for its result).
    async fn connection(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
        lane: Option<&Lane>,
    ) -> Result<quinn::Connection, Failure> {
        let (id, endpoint) = match lane {
            Some(l) => (l.id, &l.endpoint),
            None => (SHARED, &inner.endpoint),
        };
        let slot = self.slot(id);
        let mut slot = slot.lock().await;
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
            match endpoint.connect(self.address, &name) {
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

/// Relays one message and waits for the owner's answer, or (a one-way
/// message) for QUIC to acknowledge all of it: `Delivered` then means the
/// owner has it (and answers for it: an undeliverable request gets its
/// 430 from the owner); a connection lost before that is a failure.
pub(crate) async fn relay_one(
    inner: &Arc<Inner>,
    peer: &Arc<Peer>,
    lane: Option<&Lane>,
    msg: Message,
) -> Result<Ack, Failure> {
    let conn = peer.connection(inner, lane).await?;
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
            // No packet of its own: the acknowledgement comes with the
            // peer's next ones (every 8th packet or 5 ms).
            return match send.stopped().await {
                Ok(None) => Ok(Ack::Delivered),
                // The owner never stops a stream it reads: refused.
                Ok(Some(_)) => Ok(Ack::Refused),
                Err(e) => Err(lost(e)),
            };
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
    // The owner's answer's round trip; for a one-way message, the
    // connection's smoothed round-trip time (acknowledgement delays taken
    // out, RFC 9002 §5.3): what crossing the relay adds, the owner's
    // processing aside.
    let rtt = if msg.answer {
        started.elapsed()
    } else {
        conn.rtt()
    };
    inner.observer.relayed_out(peer.instance, rtt);
    Ok(ack)
}
