//! What the tasks of one role share: the gateway groups, the counters, the
//! packet filter, the drain flag, and what only this role has.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use arc_swap::ArcSwap;
use gateway::{Gateways, GroupView};
use sip::Flow;

use crate::filter::Filter;
use crate::telemetry::metrics::{DropReason, Metrics};

/// The `User-Agent` of the requests this process makes itself (gateway
/// probes): `server.user_agent_header`, set once at start.
static USER_AGENT: OnceLock<String> = OnceLock::new();

/// Sets the `User-Agent` of this process's own requests (first call wins:
/// the roles of one process share it).
pub(crate) fn set_user_agent(value: Option<&str>) {
    if let Some(v) = value {
        let _ = USER_AGENT.set(v.to_owned());
    }
}

/// The `User-Agent` of this process's own requests; `anysip` by default.
pub(crate) fn user_agent() -> &'static str {
    USER_AGENT.get().map_or("anysip", String::as_str)
}

/// What only one role has.
#[derive(Debug)]
pub(crate) enum RoleState {
    /// An edge: the gateway group its backends are in, and that group as
    /// of its last change, which the workers choose from without a lock.
    Edge {
        backend_group: String,
        backends: ArcSwap<GroupView>,
    },
    /// A core: its registrar, and its proxy once started.
    Core {
        registrar: Arc<registrar::Registrar>,
        server: OnceLock<anysip_core::ServerHandle>,
    },
}

/// What every task of a role shares.
#[derive(Debug)]
pub(crate) struct Shared {
    gateways: Mutex<Gateways>,
    pub(crate) metrics: Metrics,
    pub(crate) filter: Filter,
    pub(crate) role: RoleState,
    /// The relay between edge instances, once started (`relay:`).
    pub(crate) relay: OnceLock<relay::Relay>,
    /// What the WebSocket listeners refused (read at scrape time).
    pub(crate) ws: Arc<net::WsStats>,
    draining: AtomicBool,
}

impl Shared {
    /// The state of an edge whose backends are the group `backend_group` of
    /// `gateways` (`None` when there is no such group).
    pub(crate) fn edge(gateways: &Gateways, backend_group: &str) -> Option<RoleState> {
        let view = gateways.group(backend_group)?.view();
        Some(RoleState::Edge {
            backend_group: backend_group.to_owned(),
            backends: ArcSwap::from_pointee(view),
        })
    }

    pub(crate) fn new(gateways: Gateways, filter: Filter, role: RoleState) -> Arc<Self> {
        Arc::new(Self {
            gateways: Mutex::new(gateways),
            metrics: Metrics::default(),
            filter,
            role,
            relay: OnceLock::new(),
            ws: Arc::default(),
            draining: AtomicBool::new(false),
        })
    }

    /// The gateway groups, for the prober, the admin API and the script.
    /// On an edge, when the guard was used to change them, the backend
    /// group's view is published anew as it is dropped, so that health
    /// changes reach the workers; reading publishes nothing.
    pub(crate) fn gateways(&self) -> GatewaysGuard<'_> {
        GatewaysGuard {
            guard: self.gateways.lock().unwrap_or_else(|e| e.into_inner()),
            role: &self.role,
            changed: false,
        }
    }

    /// The edge's backend group as of its last change (role edge).
    pub(crate) fn backends(&self) -> Option<arc_swap::Guard<Arc<GroupView>>> {
        match &self.role {
            RoleState::Edge { backends, .. } => Some(backends.load()),
            RoleState::Core { .. } => None,
        }
    }

    /// The core's proxy (role core, once started).
    pub(crate) fn core(&self) -> Option<&anysip_core::ServerHandle> {
        match &self.role {
            RoleState::Core { server, .. } => server.get(),
            RoleState::Edge { .. } => None,
        }
    }

    /// The core's registrar (role core).
    pub(crate) fn registrar(&self) -> Option<&Arc<registrar::Registrar>> {
        match &self.role {
            RoleState::Core { registrar, .. } => Some(registrar),
            RoleState::Edge { .. } => None,
        }
    }

    /// The door of every role's dispatch: counts the message, then runs
    /// the packet filter (the classifier on UDP, the blocklist on streams,
    /// scanners by User-Agent). False when the message is to be dropped;
    /// the drop is counted (by the filter for its verdicts).
    pub(crate) fn admit(&self, bytes: &[u8], origin: &Flow) -> bool {
        let m = &self.metrics;
        m.received.inc();
        if !origin.is_stream() {
            if self.filter.check_udp(bytes, origin.remote).is_drop() {
                return false;
            }
        } else if self.filter.blocked(origin.remote.ip()) {
            m.drops.inc(DropReason::Blocklisted);
            return false;
        }
        if self.filter.scanner(bytes, origin.remote) {
            m.drops.inc(DropReason::Scanner);
            return false;
        }
        true
    }

    /// Starts draining: not ready from now on.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        if let Some(core) = self.core() {
            core.drain(); // at once, not at the next poll of the drain watcher
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Ready: not draining and, for an edge, at least one healthy backend.
    pub(crate) fn is_ready(&self) -> bool {
        if self.is_draining() {
            return false;
        }
        match &self.role {
            RoleState::Edge { backends, .. } => backends.load().healthy_count() > 0,
            RoleState::Core { .. } => true,
        }
    }
}

/// The gateway groups, locked.
pub(crate) struct GatewaysGuard<'a> {
    guard: MutexGuard<'a, Gateways>,
    role: &'a RoleState,
    /// Borrowed mutably: the view may be stale.
    changed: bool,
}

impl Deref for GatewaysGuard<'_> {
    type Target = Gateways;
    fn deref(&self) -> &Gateways {
        &self.guard
    }
}

impl DerefMut for GatewaysGuard<'_> {
    fn deref_mut(&mut self) -> &mut Gateways {
        self.changed = true;
        &mut self.guard
    }
}

impl Drop for GatewaysGuard<'_> {
    fn drop(&mut self) {
        if !self.changed {
            return;
        }
        if let RoleState::Edge {
            backend_group,
            backends,
        } = self.role
        {
            if let Some(g) = self.guard.group(backend_group) {
                backends.store(Arc::new(g.view()));
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
