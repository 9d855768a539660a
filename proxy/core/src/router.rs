//! The router: who decides where requests go.

use std::net::SocketAddr;

use sip::Message;
use sip::Transport;

use crate::decision::{Decision, ReplyDecision};

/// A request as the router sees it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request, after §16.3 validation and §16.4 route processing
    /// (this proxy's own Route removed; a strict-routed request restored).
    pub message: Message,
    /// The transport it arrived over.
    pub transport: Transport,
    /// The sender.
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// Whether §16.4 removed a Route header naming this proxy.
    pub route_consumed: bool,
    /// The URIs of the Routes naming this proxy that §16.4 removed, top
    /// first.
    pub consumed_routes: Vec<String>,
}

/// A response received on one branch.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    /// The response (this proxy's Via already removed).
    pub message: Message,
    /// The URI the branch was sent to.
    pub branch_uri: String,
    /// Where the response came from (`None` for one the proxy made
    /// itself: a timeout, an unreachable destination).
    pub source: Option<SocketAddr>,
}

/// Decides what happens to requests and responses. Called on a blocking
/// thread (a script may block); implementations must be thread safe.
pub trait Router: Send + Sync + 'static {
    /// A new request (not a retransmission, not an ACK to a non-2xx, not a
    /// CANCEL: the core handles those itself).
    fn on_request(&self, req: &RequestContext) -> Decision;

    /// Whether [`Router::on_reply`] does anything. When false the core
    /// skips the call for every response (a router call per response is
    /// costly for a script). Default: true.
    fn wants_replies(&self) -> bool {
        true
    }

    /// A response arrived on a branch of `req`.
    fn on_reply(&self, req: &RequestContext, resp: &ResponseContext) -> ReplyDecision {
        let _ = (req, resp);
        ReplyDecision::Forward
    }

    /// Every branch of `req` ended without a 2xx; `best` is the response
    /// §16.7 would send. `Decision::Drop` (the default) sends `best`; a
    /// `Relay` or `Fork` starts new branches; a `Reply` sends that instead.
    fn on_failure(&self, req: &RequestContext, best: &ResponseContext) -> Decision {
        let _ = (req, best);
        Decision::Drop
    }

    /// `req` (an INVITE this proxy was forwarding) was CANCELled before a
    /// final response: the core answered it 487 and cancelled its
    /// branches. A notification for clean-up; nothing is decided.
    fn on_cancel(&self, req: &RequestContext) {
        let _ = req;
    }
}
