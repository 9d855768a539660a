//! The two roles side by side: each builds what it serves over its bound
//! UDP sockets ([`Prepared`]) and hands it to the lifecycle
//! (`lifecycle.rs`), which runs both the same way, and says what SIGHUP
//! reloads in it ([`Reloadable`]).

pub(crate) mod core;
pub(crate) mod edge;

use std::net::SocketAddr;
use std::sync::Arc;

use net::{Connections, Dispatch, Outbox};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::shared::Shared;
use crate::worker::Worker;

/// A role built over its bound UDP sockets, ready to serve.
pub(crate) struct Prepared {
    pub(crate) shared: Arc<Shared>,
    pub(crate) dispatch: Arc<dyn Dispatch>,
    pub(crate) outbox: Outbox,
    pub(crate) conns: Connections,
    /// The UDP sockets, each to get a receive task on its worker thread.
    pub(crate) sockets: Vec<(Arc<UdpSocket>, Handle)>,
    /// Where the stream listeners (and the connections they accept) run:
    /// each of the edge's worker threads, or (empty) the process's
    /// runtime.
    pub(crate) streams_on: Vec<Handle>,
    /// Where the gateway prober sends from.
    pub(crate) probe: Option<SocketAddr>,
    /// The role's own background tasks.
    pub(crate) tasks: Vec<JoinHandle<()>>,
    /// How the role drains and stops.
    pub(crate) running: Running,
    /// What SIGHUP reloads.
    pub(crate) reload: Reloadable,
}

/// What SIGHUP reloads in a role.
#[derive(Debug, Clone)]
pub(crate) enum Reloadable {
    /// The edge's key ring (from its file); and its configuration file's
    /// blocklist.
    Edge(Arc<edge::keys::Keys>),
    /// The core's routing script.
    Core(Arc<script::Engine>),
}

/// What differs between the roles once they serve: how they drain.
pub(crate) enum Running {
    /// The edge keeps serving whatever still arrives for `drain_secs`, on
    /// its worker threads (dropped last).
    Edge { workers: Vec<Worker> },
    /// The core answers 503 to new requests and waits (at most
    /// `drain_secs`) for its transactions.
    Core {
        server: anysip_core::Server,
        handle: anysip_core::ServerHandle,
        /// The thread the proxy runs on; dropped last.
        thread: Worker,
    },
}
