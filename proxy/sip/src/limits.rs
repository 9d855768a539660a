//! Bounds on what the parser and framer accept from the network.

/// Limits applied to every message. Defaults suit an edge proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message (header section and body), in octets.
    pub max_message_size: usize,
    /// Most header fields (lines, counting folded lines once).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 65_535,
            max_headers: 128,
        }
    }
}
