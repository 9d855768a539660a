//! The flow token's contents: a UE's flow through one edge.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Transport;

/// A UE's flow through the edge (the payload of a flow token).
///
/// IPv6 flow labels and scope ids are not carried: an opened address has
/// both set to zero.
///
/// Serialises (serde) as `{"transport": "tcp", "ue": "192.0.2.1:5060",
/// "local": "...", "instance": 3, "connection": 42}`, for the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Transport between the UE and the edge.
    pub transport: Transport,
    /// The UE's address and port, as seen by the edge (after NAT).
    pub ue: SocketAddr,
    /// The edge's local listener address and port the UE talks to.
    pub local: SocketAddr,
    /// Id of the edge instance holding the connection of a stream flow.
    /// Conventionally 0 for UDP, where any instance can send.
    pub instance: u16,
    /// Id of the connection on that instance (stream flows). Conventionally
    /// 0 for UDP. Ids wrap after 2^32 connections, so an edge must check that
    /// the connection it finds still has the token's UE address as its peer.
    pub connection: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_is_plain_data() {
        let flow = Flow {
            transport: Transport::Tcp,
            ue: "[2001:db8::1]:5060".parse().unwrap(),
            local: "192.0.2.1:5060".parse().unwrap(),
            instance: 3,
            connection: 42,
        };
        let copy = flow;
        assert_eq!(flow, copy);
    }
}
