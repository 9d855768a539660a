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
        // Full: dropped like a datagram on a full socket buffer (UDP peers
        // retransmit requests, and responses to them are retransmitted by
        // the UAS or answer a retransmission). Responses are counted apart:
        // none is lost without a trace.
        if let Err(e) = self.tx.try_send((bytes, flow)) {
            let (bytes, _) = e.into_inner();
            let counter = if bytes.starts_with(b"SIP/") {
                &self.counters.queue_full_responses
            } else {
                &self.counters.queue_full
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Vec::new()
    }
}
