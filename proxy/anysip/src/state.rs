//! State shared by the tasks of one process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gateway::Gateways;

use crate::metrics::Metrics;

/// What every task of the process shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) gateways: Mutex<Gateways>,
    pub(crate) backend_group: String,
    pub(crate) metrics: Metrics,
    draining: AtomicBool,
}

impl Shared {
    pub(crate) fn new(gateways: Gateways, backend_group: String) -> Arc<Self> {
        Arc::new(Self {
            gateways: Mutex::new(gateways),
            backend_group,
            metrics: Metrics::default(),
            draining: AtomicBool::new(false),
        })
    }

    pub(crate) fn gateways(&self) -> MutexGuard<'_, Gateways> {
        self.gateways.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts draining: not ready from now on.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Ready: not draining and at least one healthy backend.
    pub(crate) fn is_ready(&self) -> bool {
        !self.is_draining()
            && self
                .gateways()
                .group(&self.backend_group)
                .is_some_and(|g| g.healthy_count() > 0)
    }
}
