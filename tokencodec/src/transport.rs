//! SIP transports a token can name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A SIP transport (RFC 3261, RFC 7118 for WebSocket). Serialises as its
/// lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl Transport {
    /// All transports, in code order.
    pub const ALL: [Transport; 5] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ];

    /// Whether the transport is connection-oriented, so that a flow over it
    /// is pinned to the edge instance holding the connection.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The lower-case name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// The 4-bit code used in the token layout.
    pub(crate) fn code(self) -> u8 {
        match self {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
            Transport::Ws => 3,
            Transport::Wss => 4,
        }
    }

    /// Inverse of [`Transport::code`].
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = Error;

    /// Parses a transport name, case-insensitively (`udp`, `TCP`, `tls`,
    /// `ws`, `wss`).
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or(Error::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_code(t.code()), Some(t));
            assert_eq!(t.as_str().parse::<Transport>().ok(), Some(t));
            assert_eq!(t.as_str().to_uppercase().parse::<Transport>().ok(), Some(t));
        }
        assert_eq!(Transport::from_code(5), None);
        assert_eq!(Transport::from_code(15), None);
        assert!("sctp".parse::<Transport>().is_err());
        assert!(!Transport::Udp.is_stream());
        assert!(Transport::Wss.is_stream());
    }
}
