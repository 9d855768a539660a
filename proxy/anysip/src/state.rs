//! State shared by the tasks of one process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use gateway::Gateways;

use crate::filter::Filter;
use crate::metrics::Metrics;

/// What every task of the process shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) gateways: Mutex<Gateways>,
    /// The edge's backend group; `None` for a core.
    pub(crate) backend_group: Option<String>,
    pub(crate) metrics: Metrics,
    pub(crate) filter: Filter,
    /// The core's registrar (role core).
    registrar: OnceLock<Arc<registrar::Registrar>>,
    /// The core's proxy (role core).
    core: OnceLock<anysip_core::ServerHandle>,
    draining: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        gateways: Gateways,
        backend_group: Option<String>,
        filter: Filter,
    ) -> Arc<Self> {
        Arc::new(Self {
            gateways: Mutex::new(gateways),
            backend_group,
            metrics: Metrics::default(),
            filter,
            registrar: OnceLock::new(),
            core: OnceLock::new(),
            draining: AtomicBool::new(false),
        })
    }

    pub(crate) fn gateways(&self) -> MutexGuard<'_, Gateways> {
        self.gateways.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the core's registrar (once).
    pub(crate) fn set_registrar(&self, r: Arc<registrar::Registrar>) {
        let _ = self.registrar.set(r);
    }

    /// Sets the core's server handle (once).
    pub(crate) fn set_core(&self, h: anysip_core::ServerHandle) {
        let _ = self.core.set(h);
    }

    /// The core's server handle (role core).
    pub(crate) fn core(&self) -> Option<&anysip_core::ServerHandle> {
        self.core.get()
    }

    pub(crate) fn registrar(&self) -> Option<&Arc<registrar::Registrar>> {
        self.registrar.get()
    }

    /// The door of every role's dispatch: counts the message, then runs
    /// the packet filter (the classifier on UDP, the blocklist on streams,
    /// scanners by User-Agent). False when the message is to be dropped;
    /// the drop is counted.
    pub(crate) fn admit(&self, bytes: &[u8], origin: &net::Origin) -> bool {
        let m = &self.metrics;
        m.messages_in
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if origin.transport == tokencodec::Transport::Udp {
            if self.filter.check_udp(bytes, origin.source).is_drop() {
                return false; // counted by the filter
            }
        } else if self.filter.blocked(origin.source.ip()) {
            m.inc("anysip_drops_total", "reason=\"blocklisted\"".into());
            return false;
        }
        if self.filter.scanner(bytes, origin.source) {
            m.inc("anysip_drops_total", "reason=\"scanner\"".into());
            return false;
        }
        true
    }

    /// Starts draining: not ready from now on.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Ready: not draining and, for an edge, at least one healthy backend.
    pub(crate) fn is_ready(&self) -> bool {
        if self.is_draining() {
            return false;
        }
        match &self.backend_group {
            Some(group) => self
                .gateways()
                .group(group)
                .is_some_and(|g| g.healthy_count() > 0),
            None => true,
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
