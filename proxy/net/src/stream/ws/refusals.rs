//! What WebSocket listeners refused or closed, by reason: counted here
//! (atomics, no lock) and read by the role's `/metrics` at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a WebSocket connection was refused at the Upgrade or closed for a
/// protocol error. Nothing it carried was passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsRefusal {
    /// The Upgrade did not offer the `sip` subprotocol (RFC 7118 §4):
    /// answered 400.
    Subprotocol,
    /// The Upgrade's `Origin` is not in `websocket.allowed_origins`:
    /// answered 403.
    Origin,
    /// Not a WebSocket Upgrade (malformed HTTP, missing or wrong headers),
    /// or the TLS handshake of WSS failed.
    Handshake,
    /// The TLS and HTTP handshakes did not finish within the handshake
    /// timeout (a half-open upgrade).
    HandshakeTimeout,
    /// A frame or message over the size limit (`limits.max_message_size`):
    /// closed with 1009.
    TooBig,
    /// A text frame that is not UTF-8: closed with 1007.
    BadUtf8,
    /// Any other WebSocket protocol error (unmasked frame, bad opcode,
    /// reserved bits, fragmented control frame...): closed with 1002.
    Protocol,
    /// The peer answered no ping within the ping interval: closed.
    PingTimeout,
}

impl WsRefusal {
    /// Every reason, in counter order.
    pub const ALL: [WsRefusal; 8] = [
        WsRefusal::Subprotocol,
        WsRefusal::Origin,
        WsRefusal::Handshake,
        WsRefusal::HandshakeTimeout,
        WsRefusal::TooBig,
        WsRefusal::BadUtf8,
        WsRefusal::Protocol,
        WsRefusal::PingTimeout,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            WsRefusal::Subprotocol => "subprotocol",
            WsRefusal::Origin => "origin",
            WsRefusal::Handshake => "handshake",
            WsRefusal::HandshakeTimeout => "handshake_timeout",
            WsRefusal::TooBig => "too_big",
            WsRefusal::BadUtf8 => "bad_utf8",
            WsRefusal::Protocol => "protocol",
            WsRefusal::PingTimeout => "ping_timeout",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The refusals of a process's WebSocket listeners. Shared by them all.
#[derive(Debug, Default)]
pub struct WsStats {
    refused: [AtomicU64; WsRefusal::ALL.len()],
}

impl WsStats {
    pub(crate) fn count(&self, why: WsRefusal) {
        if let Some(c) = self.refused.get(why.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many connections were refused or closed for `why`.
    pub fn refused(&self, why: WsRefusal) -> u64 {
        self.refused
            .get(why.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let s = WsStats::default();
        for (i, r) in WsRefusal::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i);
            s.count(r);
            s.count(r);
        }
        for r in WsRefusal::ALL {
            assert_eq!(s.refused(r), 2, "{}", r.as_str());
        }
    }
}
