//! What the proxy needs to know about itself.

use std::net::SocketAddr;
use std::time::Duration;

use sip::transaction::TimerConfig;
use sip::Transport;

/// One local listener of this proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// The transport it serves.
    pub transport: Transport,
    /// The bound address (an unspecified IP listens on every address).
    pub addr: SocketAddr,
}

/// Settings of a [`crate::Proxy`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The listeners: requests leave from them, and Route / Record-Route
    /// URIs naming them are this proxy's.
    pub listeners: Vec<Listener>,
    /// The host written in Via and Record-Route instead of the listener's
    /// address (an advertised or NATed address), if any. Required when a
    /// listener is bound to an unspecified address (`0.0.0.0`, `::`):
    /// this host (with a listener's port) is then how the proxy knows its
    /// own Route and Record-Route URIs.
    pub advertised: Option<String>,
    /// Other host names that name this proxy in a Route header (its
    /// domains; compared case-insensitively, any port).
    pub aliases: Vec<String>,
    /// Option tags this proxy supports in Proxy-Require (§16.3 step 5).
    pub supported: Vec<String>,
    /// Timer C (§16.6 step 11): how long an INVITE branch may stay without
    /// a final response. Default 3 minutes; at least 3 minutes in RFC 3261,
    /// shorter values are accepted (tests).
    pub timer_c: Duration,
    /// T1, T2, T4 for the transaction machines.
    pub timers: TimerConfig,
    /// Retry-After (seconds) of the 503 sent to new requests while draining.
    pub drain_retry_after: u32,
    /// Ask the router about every response (`on_reply`). Off saves a router
    /// call per response when the router does not care.
    pub ask_on_reply: bool,
    /// Seed of the unique part of Via branches and To tags (the driver
    /// passes something different on every start, e.g. the start time).
    pub seed: u64,
    /// Message limits for parsing.
    pub limits: sip::Limits,
    /// Most server transactions alive at once (those in their Completed or
    /// Accepted linger included); new requests past this get 503
    /// (overload). A UDP call holds about two for 32 s after it ends, so
    /// 100,000 sustains about 1,500 calls/s.
    pub max_transactions: usize,
    /// The `Server` header of the responses the proxy makes itself (not of
    /// those it forwards), if any.
    pub server_header: Option<String>,
    /// Largest request sent over UDP (RFC 3261 §18.1.1: the path MTU less
    /// 200 octets); a larger one goes over TCP to the same address and
    /// port. Default 1300.
    pub udp_max_request: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listeners: Vec::new(),
            advertised: None,
            aliases: Vec::new(),
            supported: Vec::new(),
            timer_c: Duration::from_secs(180),
            timers: TimerConfig::default(),
            drain_retry_after: 30,
            ask_on_reply: true,
            seed: 0,
            limits: sip::Limits::default(),
            max_transactions: 100_000,
            server_header: None,
            udp_max_request: 1300,
        }
    }
}
