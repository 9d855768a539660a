//! SIPhon's `Flow`: the transport flow a request (or the REGISTER of a
//! binding) arrived on — `request.flow`, `Contact.flow` — which
//! `request.relay(flow=)` sends back over.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;

use super::host;

/// A flow as scripts see it (compared and hashed by value).
#[pyclass(module = "anysip", name = "Flow", frozen, eq, hash)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub(crate) flow: sip::Flow,
}

impl Hash for Flow {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.flow.hash(state);
    }
}

impl Flow {
    /// The next hop that reaches the peer over this flow:
    /// `sip:192.0.2.1:40000;transport=tcp`. Over a stream, the core sends
    /// on the connection the peer opened from that address while it is
    /// open.
    pub(crate) fn next_hop(&self) -> String {
        let f = &self.flow;
        format!(
            "sip:{}:{};transport={}",
            host_text(f.remote.ip()),
            f.remote.port(),
            f.transport.as_str().to_ascii_lowercase()
        )
    }
}

fn host_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}

#[pymethods]
impl Flow {
    /// `udp`, `tcp`, `tls`, `ws` or `wss`.
    #[getter]
    fn transport(&self) -> String {
        self.flow.transport.as_str().to_ascii_lowercase()
    }

    /// The peer's address, `ip:port`.
    #[getter]
    fn remote_addr(&self) -> String {
        self.flow.remote.to_string()
    }

    /// The local address (the listener), `ip:port`.
    #[getter]
    fn local_addr(&self) -> String {
        self.flow.local.to_string()
    }

    /// The stream connection's id in this process (0 over UDP).
    #[getter]
    fn connection_id(&self) -> u32 {
        self.flow.connection
    }

    /// Whether the flow can still be used: over UDP always; over a stream
    /// while the very connection is open in this process.
    #[getter]
    fn is_alive(&self) -> PyResult<bool> {
        Ok(host()?.flow_alive(&self.flow))
    }

    fn __repr__(&self) -> String {
        format!(
            "Flow(transport={}, remote_addr={}, local_addr={}, connection_id={})",
            self.transport(),
            self.flow.remote,
            self.flow.local,
            self.flow.connection
        )
    }
}
