//! The core as a [`net::Dispatch`]: received messages go to the core task.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use net::{Delivery, Dispatch, NetError, Outgoing, SendTag};
use tokio::sync::mpsc;

use super::DriverCounters;
use crate::proxy::{Flow, SendRef};

/// Hands received messages to the core task; never blocks. Its sends are
/// made by the core task, so `on_message` returns none.
#[derive(Debug, Clone)]
pub struct CoreDispatch {
    tx: mpsc::Sender<(Bytes, Flow)>,
    failed: mpsc::Sender<SendRef>,
    counters: Arc<DriverCounters>,
}

impl CoreDispatch {
    pub(super) fn new(
        tx: mpsc::Sender<(Bytes, Flow)>,
        failed: mpsc::Sender<SendRef>,
        counters: Arc<DriverCounters>,
    ) -> Self {
        CoreDispatch {
            tx,
            failed,
            counters,
        }
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

    /// A send that waited for its connection: a failure goes back to the
    /// transaction (RFC 3263 §4.3: the next destination is tried).
    fn on_sent(&self, tag: SendTag, result: &Result<Delivery, NetError>) {
        let (Err(e), Some(r)) = (result, SendRef::from_u64(tag.0)) else {
            return;
        };
        tracing::debug!(error = %e, "send failed after connecting");
        if self.failed.try_send(r).is_err() {
            self.counters
                .send_failures_lost
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
