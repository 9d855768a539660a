//! The route token's contents: a flow plus the backend chosen.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::flow::Flow;
use crate::Transport;

/// The backend an edge chose for a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Transport between the edge and the backend.
    pub transport: Transport,
    /// The backend's address and port.
    pub addr: SocketAddr,
}

/// A flow plus the backend chosen (the payload of a route token, used in
/// Record-Route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The UE's flow.
    pub flow: Flow,
    /// The backend chosen for the dialog.
    pub backend: Backend,
}
