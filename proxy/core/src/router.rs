//! The router: who decides where requests go.

use std::net::SocketAddr;

use sip::Message;
use sip::Transport;

use crate::decision::{Decision, Hooks, RegisteredFlow, ReplyDecision};

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
    /// The stream connection it arrived on (0 for UDP).
    pub connection: u32,
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
    /// What the router attached to the decision that forwarded the
    /// request ([`Decision::Relay`]'s `hooks`), if anything.
    pub hooks: Option<Hooks>,
}

/// How a registered flow was found dead (RFC 5626 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowFailure {
    /// The edge holding it answered 430 Flow Failed.
    FlowFailed,
    /// No response at all before the transaction timed out (408).
    Timeout,
    /// The request could not be sent to any destination (a transport
    /// error, 503 made here).
    Unreachable,
}

impl FlowFailure {
    /// A name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowFailure::FlowFailed => "flow_failed",
            FlowFailure::Timeout => "timeout",
            FlowFailure::Unreachable => "unreachable",
        }
    }
}

/// A registered flow a request was sent over and found dead: its binding
/// should end (the registrar removes it, so that later requests do not
/// try it). The binding is named as the target carried it, so that a
/// binding the UA registered again meanwhile (same instance and reg-id,
/// another Path) is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFlow {
    /// The flow.
    pub flow: RegisteredFlow,
    /// The target's URI (the binding's Contact URI).
    pub uri: String,
    /// The target's route set (the binding's Path).
    pub route: Vec<String>,
    /// How it failed.
    pub failure: FlowFailure,
}

/// Decides what happens to requests and responses. Called on a blocking
/// thread (a script may block); implementations must be thread safe.
pub trait Router: Send + Sync + 'static {
    /// A new request (not a retransmission, not an ACK to a non-2xx, not a
    /// CANCEL: the core handles those itself).
    fn on_request(&self, req: &RequestContext) -> Decision;

    /// Whether [`Router::on_reply`] does anything. When false the core
    /// skips the call for every response (a router call per response is
    /// costly for a script), except for requests whose forwarding decision
    /// carried [`Hooks`] wanting replies. Default: true.
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

    /// A request sent over a registered RFC 5626 flow found it dead (430,
    /// or no response at all): the core has already moved on to the
    /// instance's next flow, or answered 480. A notification whose job is
    /// to end the flow's binding (RFC 5626 §5.3; Kamailio's `unregister`
    /// on 430); nothing is decided. Default: nothing.
    fn on_flow_failed(&self, failed: &FailedFlow) {
        let _ = failed;
    }

    /// Runs `body`, the whole life of a thread that makes router calls,
    /// inside whatever per-thread state the router keeps from one call to
    /// the next (the script engine: the thread's Python state, made once
    /// rather than per call). Default: runs it.
    fn run_thread(&self, body: &mut (dyn FnMut() + Send)) {
        body()
    }
}
