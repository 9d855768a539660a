//! The core as a [`net::Dispatch`]: received messages go to the core task.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use net::{Dispatch, Outgoing};
use tokio::sync::mpsc;

use super::DriverCounters;
use crate::proxy::Flow;

/// Hands received messages to the core task; never blocks. Its sends are
/// made by the core task, so `on_message` returns none.
#[derive(Debug, Clone)]
pub struct CoreDispatch {
    tx: mpsc::Sender<(Bytes, Flow)>,
    counters: Arc<DriverCounters>,
}

impl CoreDispatch {
    pub(super) fn new(tx: mpsc::Sender<(Bytes, Flow)>, counters: Arc<DriverCounters>) -> Self {
        CoreDispatch { tx, counters }
    }
}

impl Dispatch for CoreDispatch {
    fn on_message(&self, bytes: Bytes, flow: Flow) -> Vec<Outgoing> {
        if self.tx.try_send((bytes, flow)).is_err() {
            self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
        }
        Vec::new()
    }
}
