//! Connections this process opens: TCP and TLS towards backends and
//! targets, one per destination, reused, reconnected with backoff.
//!
//! A send to a destination with no connection puts one in the
//! [`Connections`](crate::Connections) table at once, queues the message on
//! it and dials in the background: the caller never waits for a connect
//! (a UDP worker or the core's one task must not), and messages keep their
//! order. What becomes of the messages queued while connecting is reported
//! to the [`Dispatch`] once the dial ends ([`Delivery::Queued`] now, then
//! `on_sent` with `Sent`, the fallback's `FellBack`, or the error). A
//! destination that could not be reached is not dialled again before its
//! backoff (1 s, doubling to 30 s) is over: sends meanwhile fail at once.

mod task;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::Transport;
use tokio::sync::Semaphore;

use crate::dispatch::{Delivery, Dispatch, Outbox, Outgoing, SendTag};
use crate::error::NetError;
use crate::stream::conn::Registered;
use crate::stream::StreamLimits;

/// First wait before dialling a destination again after a failure.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Past this many destinations, a failure sweeps out the backoffs that
/// are over.
const SWEEP_ABOVE: usize = 1024;

/// How connections are opened.
#[derive(Clone)]
pub struct DialSettings {
    /// Time limit for the TCP connect and the TLS handshake together.
    pub connect_timeout: Duration,
    /// Limits of the connections once open (idle close, framing, queue);
    /// `max_connections` bounds the connections opened by this process.
    pub limits: StreamLimits,
    /// The TLS client configuration (trust anchors, client certificate);
    /// without one, TLS destinations are refused.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for DialSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialSettings")
            .field("connect_timeout", &self.connect_timeout)
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A destination: one connection each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialKey {
    /// TCP or TLS.
    pub transport: Transport,
    /// Where to.
    pub to: SocketAddr,
    /// The name the TLS server's certificate must carry (SNI); its IP
    /// address when none.
    pub server_name: Option<Arc<str>>,
    /// The local address to connect from; any when none.
    pub from: Option<IpAddr>,
}

/// A message queued on a connection being opened, reported once it is.
pub(crate) struct Waiting {
    pub(crate) tag: SendTag,
    pub(crate) fallback: Option<Box<Outgoing>>,
}

/// A destination's connection.
enum Slot {
    /// Being opened: connection `id` is in the table; these wait on it.
    Connecting {
        id: u32,
        waiting: Vec<Waiting>,
        failures: u32,
    },
    /// Open.
    Up { id: u32 },
    /// The last attempt failed: no new one before `until`.
    Backoff { until: Instant, failures: u32 },
}

/// Opens and keeps the connections of this process. Shared by the
/// [`Outbox`]es of a role; the role attaches itself once built
/// ([`Dialer::attach`]) to receive what arrives on them.
pub struct Dialer {
    settings: DialSettings,
    slots: Mutex<HashMap<DialKey, Slot>>,
    dispatch: OnceLock<Arc<dyn Dispatch>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    /// A dialer with these settings.
    pub fn new(settings: DialSettings) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(settings.limits.max_connections.max(1)));
        Arc::new(Dialer {
            settings,
            slots: Mutex::new(HashMap::new()),
            dispatch: OnceLock::new(),
            permits,
        })
    }

    /// The role that receives what arrives on opened connections, and the
    /// reports of sends queued while connecting. Set once; later calls are
    /// ignored.
    pub fn attach(&self, dispatch: Arc<dyn Dispatch>) {
        let _ = self.dispatch.set(dispatch);
    }

    /// How many destinations have a connection open or being opened.
    pub fn open(&self) -> usize {
        self.slots()
            .values()
            .filter(|s| !matches!(s, Slot::Backoff { .. }))
            .count()
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<DialKey, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `bytes` to `key`'s connection, opening it if need be.
    pub(crate) fn send(
        self: &Arc<Self>,
        outbox: &Outbox,
        key: DialKey,
        bytes: Bytes,
        tag: SendTag,
        fallback: Option<Box<Outgoing>>,
    ) -> Result<Delivery, DialFailure> {
        let unreachable = |fallback, e| Err(DialFailure { error: e, fallback });
        let Some(dispatch) = self.dispatch.get().cloned() else {
            return unreachable(fallback, NetError::NotDialing(key.to));
        };
        if key.transport == Transport::Tls && self.settings.tls.is_none() {
            return unreachable(fallback, NetError::NoTlsClient(key.to));
        }
        if !matches!(key.transport, Transport::Tcp | Transport::Tls) {
            return unreachable(fallback, NetError::NotDialable(key.transport, key.to));
        }
        let conns = outbox.connections();
        // Twice at most: an open connection found gone is dialled again.
        for _ in 0..2 {
            let mut slots = self.slots();
            let failures = match slots.get_mut(&key) {
                Some(Slot::Up { id }) => {
                    let id = *id;
                    match conns.send(id, key.to, bytes.clone(), false) {
                        Ok(()) => return Ok(Delivery::Sent),
                        Err(NetError::ConnectionGone(_)) => {
                            slots.remove(&key);
                            continue;
                        }
                        Err(e) => return unreachable(fallback, e),
                    }
                }
                Some(Slot::Connecting { id, waiting, .. }) => {
                    return match conns.send(*id, key.to, bytes, false) {
                        Ok(()) => {
                            waiting.push(Waiting { tag, fallback });
                            Ok(Delivery::Queued)
                        }
                        Err(e) => unreachable(fallback, e),
                    };
                }
                Some(Slot::Backoff { until, failures }) => {
                    if Instant::now() < *until {
                        return unreachable(fallback, NetError::Unreachable(key.to));
                    }
                    *failures
                }
                None => {
                    // A connection the peer opened from this address (a
                    // UE's flow, RFC 5626): sent on it.
                    if let Some(id) = conns.by_peer(key.to, key.transport) {
                        if conns.send(id, key.to, bytes.clone(), false).is_ok() {
                            return Ok(Delivery::Sent);
                        }
                    }
                    0
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                return unreachable(fallback, NetError::TooManyConnections(key.to));
            };
            let limits = &self.settings.limits;
            let registered = Registered::new(outbox, key.to, key.transport, false, limits);
            let id = registered.id;
            if let Err(e) = conns.send(id, key.to, bytes, false) {
                conns.remove(id);
                return unreachable(fallback, e);
            }
            slots.insert(
                key.clone(),
                Slot::Connecting {
                    id,
                    waiting: vec![Waiting { tag, fallback }],
                    failures,
                },
            );
            drop(slots);
            tokio::spawn(task::dial(
                self.clone(),
                key,
                registered,
                permit,
                dispatch,
                outbox.clone(),
            ));
            return Ok(Delivery::Queued);
        }
        unreachable(fallback, NetError::Unreachable(key.to))
    }

    /// The dial of `key` (connection `id`) ended: `Ok` when the connection
    /// is open. Returns what waited on it.
    pub(crate) fn dialled(&self, key: &DialKey, id: u32, ok: bool) -> Vec<Waiting> {
        let mut slots = self.slots();
        let Some(Slot::Connecting {
            id: current,
            waiting,
            failures,
        }) = slots.get_mut(key)
        else {
            return Vec::new();
        };
        if *current != id {
            return Vec::new();
        }
        let waiting = std::mem::take(waiting);
        let failures = *failures;
        let next = if ok {
            Slot::Up { id }
        } else {
            let wait = BACKOFF_MIN
                .saturating_mul(1 << failures.min(5))
                .min(BACKOFF_MAX);
            Slot::Backoff {
                until: Instant::now() + wait,
                failures: failures.saturating_add(1),
            }
        };
        slots.insert(key.clone(), next);
        if !ok && slots.len() > SWEEP_ABOVE {
            // Destinations that failed once and were never tried again
            // (a core's expired contacts) are forgotten once their
            // backoff is over: the table stays bounded.
            let now = Instant::now();
            slots.retain(|_, s| !matches!(s, Slot::Backoff { until, .. } if *until <= now));
        }
        waiting
    }

    /// Connection `id` to `key` ended.
    pub(crate) fn closed(&self, key: &DialKey, id: u32) {
        let mut slots = self.slots();
        if matches!(slots.get(key), Some(Slot::Up { id: current }) if *current == id) {
            slots.remove(key);
        }
    }

    pub(crate) fn settings(&self) -> &DialSettings {
        &self.settings
    }
}

/// A send that could not be made, with the fallback to perform instead.
pub(crate) struct DialFailure {
    pub(crate) error: NetError,
    pub(crate) fallback: Option<Box<Outgoing>>,
}
