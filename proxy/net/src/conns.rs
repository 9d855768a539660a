//! The connection table: stream connections of this process by id, in
//! [`SHARDS`] shards by id, so that sends on different connections take
//! different locks (no lock every worker shares on the send path); and by
//! peer address and transport, so that a connection a peer opened is
//! reused to send to that address (RFC 5626 flows, RFC 5923 reuse).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sip::Transport;
use tokio::sync::mpsc;

use crate::error::NetError;

/// What a connection's task takes from its send queue.
#[derive(Debug)]
pub(crate) enum ToWriter {
    Bytes(Bytes),
    Close,
}

/// A live connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The peer's address.
    pub peer: SocketAddr,
    /// TCP, TLS, WS or WSS.
    pub transport: Transport,
    tx: mpsc::Sender<ToWriter>,
}

/// Shards of the table; consecutive ids fall in different shards.
const SHARDS: usize = 64;

type Shard = Mutex<HashMap<u32, ConnHandle>>;
type PeerShard = Mutex<HashMap<(SocketAddr, Transport), u32>>;

/// Connections by id, and by peer. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Connections {
    shards: Arc<[Shard]>,
    peers: Arc<[PeerShard]>,
    next: Arc<AtomicU32>,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            peers: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            next: Arc::new(AtomicU32::new(0)),
        }
    }
}

impl Connections {
    fn shard(&self, id: u32) -> std::sync::MutexGuard<'_, HashMap<u32, ConnHandle>> {
        self.shards[id as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn peer_shard(
        &self,
        peer: SocketAddr,
    ) -> std::sync::MutexGuard<'_, HashMap<(SocketAddr, Transport), u32>> {
        self.peers[usize::from(peer.port()) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection; returns its id (never 0). A connection the
    /// peer opened (`inbound`) becomes the one found by
    /// [`Connections::by_peer`] for its address and transport; one this
    /// process opened is found by its dialer, which knows the name it was
    /// verified against.
    pub(crate) fn insert(
        &self,
        peer: SocketAddr,
        transport: Transport,
        inbound: bool,
        tx: mpsc::Sender<ToWriter>,
    ) -> u32 {
        loop {
            let id = self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if id == 0 {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = self.shard(id).entry(id) {
                slot.insert(ConnHandle {
                    peer,
                    transport,
                    tx,
                });
                if inbound {
                    self.peer_shard(peer).insert((peer, transport), id);
                }
                return id;
            }
        }
    }

    pub(crate) fn remove(&self, id: u32) {
        let Some(c) = self.shard(id).remove(&id) else {
            return;
        };
        let mut peers = self.peer_shard(c.peer);
        if peers.get(&(c.peer, c.transport)) == Some(&id) {
            peers.remove(&(c.peer, c.transport));
        }
    }

    /// The id of the connection `peer` opened over `transport`, if one is
    /// open.
    pub fn by_peer(&self, peer: SocketAddr, transport: Transport) -> Option<u32> {
        self.peer_shard(peer).get(&(peer, transport)).copied()
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The connection with this id, if it is still the one to `peer`.
    pub fn get(&self, id: u32, peer: SocketAddr) -> Option<ConnHandle> {
        self.shard(id).get(&id).filter(|c| c.peer == peer).cloned()
    }

    /// Queues bytes on a connection (never waits: a full queue drops).
    pub fn send(
        &self,
        id: u32,
        peer: SocketAddr,
        bytes: Bytes,
        close: bool,
    ) -> Result<(), NetError> {
        let c = self.get(id, peer).ok_or(NetError::ConnectionGone(id))?;
        c.tx.try_send(ToWriter::Bytes(bytes)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetError::QueueFull(id),
            mpsc::error::TrySendError::Closed(_) => NetError::ConnectionGone(id),
        })?;
        if close {
            let _ = c.tx.try_send(ToWriter::Close);
        }
        Ok(())
    }
}
