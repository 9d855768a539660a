//! What a router decides for a request or a response.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// The decision for a request (`on_request`) or for a request whose
/// branches all failed (`on_failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer the request statefully with this response.
    Reply(Reply),
    /// Forward to one target: `next_hop` (a SIP URI, or `host[:port]`) when
    /// given, otherwise the top Route (after §16.4 processing), otherwise
    /// the (possibly rewritten) Request-URI.
    Relay {
        /// Changes to the request before it is forwarded.
        edits: Edits,
        /// Where to send it instead of the Route set / Request-URI.
        next_hop: Option<String>,
        /// The router's own callbacks for this request's responses
        /// (SIPhon's `relay(on_reply=, on_failure=)`), handed back with
        /// each of them.
        hooks: Option<Hooks>,
    },
    /// Forward to several targets (each a SIP URI that becomes the branch's
    /// Request-URI; an optional `;path=` is not used, see `Target`).
    Fork {
        /// Changes applied to every branch.
        edits: Edits,
        /// The targets, in order.
        targets: Vec<Target>,
        /// Parallel (all at once) or sequential (next one on failure).
        strategy: ForkStrategy,
        /// As for `Relay`.
        hooks: Option<Hooks>,
    },
    /// Do nothing (an ACK that matches nothing, or a request the script
    /// chose to ignore). The core counts it; a non-ACK request that got no
    /// decision is answered 500 by the core.
    Drop,
    /// The router failed (a script exception): the core answers 500 and
    /// logs the message (which holds the traceback).
    Failed(String),
}

/// What a router attaches to one forwarding decision so that the
/// responses of that request come back to it with it (a script's per-relay
/// callbacks). The core keeps it with the request until the next
/// forwarding decision replaces it, and hands it back in every
/// [`ResponseContext`](crate::ResponseContext) of the request; it never
/// looks inside. Dropped with the request.
#[derive(Clone)]
pub struct Hooks {
    value: Arc<dyn Any + Send + Sync>,
    replies: bool,
}

impl Hooks {
    /// Wraps `value`; with `replies`, every response of the request is
    /// handed to `on_reply` even when the router does not want responses
    /// otherwise ([`Router::wants_replies`](crate::Router::wants_replies)).
    pub fn new(value: Arc<dyn Any + Send + Sync>, replies: bool) -> Self {
        Hooks { value, replies }
    }

    /// What the router attached.
    pub fn value(&self) -> &(dyn Any + Send + Sync) {
        self.value.as_ref()
    }

    /// Whether every response goes to `on_reply`.
    pub fn wants_replies(&self) -> bool {
        self.replies
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("replies", &self.replies)
            .finish_non_exhaustive()
    }
}

/// The same hooks: the same attachment.
impl PartialEq for Hooks {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.value, &other.value) && self.replies == other.replies
    }
}

impl Eq for Hooks {}

/// One fork target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The Request-URI of this branch (e.g. a registered Contact).
    pub uri: String,
    /// Route set to put in front of the branch (a registered Path, RFC
    /// 3327), top first; the request goes to the first of them.
    pub route: Vec<String>,
    /// Where to send it regardless of `route` and `uri` (a registered
    /// flow's source address, `host:port` or a SIP URI), if known.
    pub next_hop: Option<String>,
    /// The RFC 5626 flow this target is, when it is a registered binding
    /// with `+sip.instance` and `reg-id`: the core then sends to one flow
    /// per instance at a time and, when that flow fails, to the
    /// instance's next one (`proxy/flows.rs`).
    pub flow: Option<RegisteredFlow>,
}

/// A registered RFC 5626 flow: one binding of an AoR for one instance
/// and `reg-id` (RFC 5626 §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisteredFlow {
    /// The AoR the binding belongs to (canonical, as the registrar keeps
    /// it).
    pub aor: String,
    /// `+sip.instance`, without its quotes (`<urn:uuid:...>`).
    pub instance: String,
    /// `reg-id`.
    pub reg_id: u32,
}

/// Parallel or sequential forking (§16.6, §16.7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForkStrategy {
    /// All branches at once; the best final response wins.
    #[default]
    Parallel,
    /// One branch at a time; the next on a failure response or timeout.
    Sequential,
}

/// Changes a router made to a request before forwarding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// A new Request-URI.
    pub ruri: Option<String>,
    /// Insert this proxy's Record-Route (§16.6 step 4).
    pub record_route: bool,
    /// Header changes, applied in order.
    pub headers: Vec<HeaderEdit>,
    /// A new body (content type, bytes); Content-Length follows.
    pub body: Option<(String, Bytes)>,
    /// SIPhon's `force_send_via`: the transport to send over and the
    /// sent-by (`host[:port]`) of this proxy's Via, instead of the
    /// listener's.
    pub via: Option<ViaOverride>,
}

/// A script's override of the transport and of the Via sent-by
/// (SIPhon's `request.force_send_via(transport, target)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaOverride {
    /// The transport the request leaves over (UDP, TCP or TLS).
    pub transport: sip::Transport,
    /// The Via sent-by, `host[:port]` (an IPv6 host in brackets),
    /// checked by whoever builds it.
    pub sent_by: String,
}

/// One header change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Remove every header of this name, then add one with this value.
    Set(String, String),
    /// Add a header of this name (after any existing ones).
    Append(String, String),
    /// Remove every header of this name.
    Remove(String),
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code, 100–699.
    pub status: u16,
    /// Reason phrase; `None` gives the standard one.
    pub reason: Option<String>,
    /// Extra headers (e.g. Contact, WWW-Authenticate, Min-Expires).
    pub headers: Vec<(String, String)>,
    /// A body (content type, bytes).
    pub body: Option<(String, Bytes)>,
    /// Send a 101–199 response to an INVITE reliably (RFC 3262): with
    /// `Require: 100rel` and an `RSeq`, retransmitted until the UAC's
    /// PRACK. Honoured only when the INVITE's Supported or Require lists
    /// `100rel`; otherwise (and for any other status or method) the
    /// response goes out unreliably. See `proxy/reliable.rs`.
    pub reliable: bool,
}

impl Reply {
    /// A bare response with the standard reason phrase.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            reason: None,
            headers: Vec::new(),
            body: None,
            reliable: false,
        }
    }
}

/// The decision for a response received on a branch (`on_reply`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReplyDecision {
    /// Go on as §16.7 says (possibly with header changes).
    #[default]
    Forward,
    /// Forward with these header changes (provisional and 2xx responses
    /// are forwarded at once; others wait for best-response selection).
    ForwardEdited(Vec<HeaderEdit>),
    /// Drop this response (it takes no part in best-response selection).
    Drop,
    /// Only for a provisional response: answer the request with this
    /// (a final, non-2xx status) and CANCEL every branch. For a final
    /// response it means `Forward`: a proxy cannot take back a 2xx.
    Reject(Reply),
}
