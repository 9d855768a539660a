//! The connection table: stream connections of this process by id.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::NetError;

/// What the writer task of a connection receives.
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
    tx: mpsc::Sender<ToWriter>,
}

/// Connections by id. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Connections {
    inner: Arc<Mutex<HashMap<u32, ConnHandle>>>,
    next: Arc<AtomicU32>,
}

impl Connections {
    /// Registers a connection; returns its id (never 0).
    pub(crate) fn insert(&self, peer: SocketAddr, tx: mpsc::Sender<ToWriter>) -> u32 {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let id = self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if id != 0 && !map.contains_key(&id) {
                map.insert(id, ConnHandle { peer, tx });
                return id;
            }
        }
    }

    pub(crate) fn remove(&self, id: u32) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The connection with this id, if it is still the one to `peer`.
    pub fn get(&self, id: u32, peer: SocketAddr) -> Option<ConnHandle> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id).filter(|c| c.peer == peer).cloned()
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
