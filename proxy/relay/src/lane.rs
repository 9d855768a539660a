//! Lanes: where a relayed message leaves from. A thread that runs its own
//! (current-thread) tokio runtime — each of the edge's worker threads —
//! dials the peers from its own client endpoint, so a message relayed by
//! that thread is written, sent and answered on it, with no hand-off to
//! another thread (a hand-off wakes that thread: about 40 µs of CPU per
//! relayed message on a two-core machine, docs/performance.md). Any other
//! caller uses the shared lane, the listening endpoint, on the relay's own
//! runtime.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::Inner;

/// A client endpoint and its id (the key of its connection in each
/// [`crate::link::Peer`]).
#[derive(Debug)]
pub(crate) struct Lane {
    pub(crate) id: usize,
    pub(crate) endpoint: quinn::Endpoint,
}

/// The shared lane's id: the listening endpoint.
pub(crate) const SHARED: usize = 0;

/// A relay, and this thread's lane for it (`None`: binding one failed).
type Entry = (Weak<Inner>, Option<Arc<Lane>>);

thread_local! {
    /// This thread's lanes, by relay (one relay per process in practice,
    /// several in tests); `None` where binding one failed (not tried
    /// again: the shared lane serves).
    static HERE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// This thread's lane for `inner`, made on first use when the thread runs
/// a current-thread runtime; `None`: use the shared lane on the relay's
/// runtime.
pub(crate) fn here(inner: &Arc<Inner>) -> Option<Arc<Lane>> {
    let found = HERE.with(|h| {
        h.borrow()
            .iter()
            .find(|(i, _)| std::ptr::eq(i.as_ptr(), Arc::as_ptr(inner)))
            .map(|(_, l)| l.clone())
    });
    if let Some(known) = found {
        return known;
    }
    let rt = tokio::runtime::Handle::try_current().ok()?;
    if rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
        return None;
    }
    let lane = match inner.new_lane() {
        Ok(l) => Some(Arc::new(l)),
        Err(e) => {
            tracing::warn!(error = %e, "relay: cannot bind this thread's client endpoint; it uses the shared one");
            None
        }
    };
    HERE.with(|h| {
        let mut h = h.borrow_mut();
        // The lanes of relays since dropped go now.
        h.retain(|(i, _)| i.strong_count() > 0);
        h.push((Arc::downgrade(inner), lane.clone()));
    });
    lane
}
