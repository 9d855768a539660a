//! The anysip core: a stateful proxy (RFC 3261 §16) on the `sip`
//! transaction layer. What to do with each request is asked of a
//! [`Router`] (in production the Python script of the `script` crate);
//! the core carries the decision out: forwarding, forking, best-response
//! selection, CANCEL, 100 Trying, Timer C.
//!
//! Two layers, as in quinn:
//!
//! - [`Proxy`] is sans-IO: messages, router answers, resolved destinations
//!   and the time go in as arguments; what to send, which router calls and
//!   resolutions to make, and when to wake up come out by polling. Nothing
//!   in it reads a clock or touches a socket, so every timer is tested on a
//!   virtual clock (see `tests/`).
//! - [`server`] drives a `Proxy` on tokio: a `net::Dispatch` feeding a core
//!   task, router calls on a pool of threads, `resolve::Resolver`, sends
//!   through `net::Outbox`; every queue bounded.
//!
//! The contract with the router is [`decision`] and [`router`].
//!
//! # What the proxy does
//!
//! | input | behaviour |
//! |---|---|
//! | request failing `sip::validate` | 400 / 416 / 505 (stateless); bad ACKs dropped |
//! | retransmission | absorbed by its server transaction (last response re-sent) |
//! | new request while draining, no To tag | 503 with Retry-After |
//! | Max-Forwards 0, unsupported Proxy-Require | 483, 420 with Unsupported |
//! | one of our Vias carries this request's loop hash | 482 (a spiral, with another Request-URI or Route set, passes) |
//! | our Record-Route URI as Request-URI with a Route set | strict-route fix: the last Route becomes the Request-URI |
//! | top Route(s) naming this proxy | removed (`route_consumed`) |
//! | INVITE | 100 Trying at once, then the router |
//! | CANCEL | 200, CANCEL of every pending branch, 487 to the INVITE; 481 when nothing matches |
//! | ACK of a non-2xx | absorbed by the INVITE server transaction |
//! | ACK of a 2xx | to the router, forwarded statelessly (no transaction) |
//! | response to a branch | 1xx (not 100) and 2xx forwarded at once (every 2xx of a fork), 6xx answers and CANCELs the rest, others wait for §16.7 best-response selection and `on_failure` |
//! | stray response | a 2xx to an INVITE goes on per the next Via; anything else dropped |
//! | targets that are RFC 5626 flows of one instance | one flow at a time; on 430, or a timeout / transport error with no response, the flow is reported dead (`Router::on_flow_failed`) and the instance's next flow tried; none left: 480 |
//!
//! Branches try the destinations of RFC 3263 in order on a transport
//! error, a timeout or a 503; Timer C (default 3 minutes) CANCELs a ringing
//! branch (then counted as 408) or ends a silent one with 408; a CANCELled
//! branch that never answers is given up after 64*T1.
#![forbid(unsafe_code)]

pub mod decision;
pub mod error;
pub mod proxy;
pub mod router;
pub mod server;
pub mod settings;
pub mod stats;

pub use decision::{
    Decision, Edits, ForkStrategy, HeaderEdit, Hooks, RegisteredFlow, Reply, ReplyDecision, Target,
    ViaOverride,
};
pub use error::CoreError;
pub use proxy::{
    Flow, Proxy, ResolveCall, ResolveId, RouterCall, RouterCallId, RouterCallKind, SendRef,
    Transmit,
};
pub use router::{FailedFlow, FlowFailure, RequestContext, ResponseContext, Router};
pub use server::{CoreDispatch, DriverSettings, Server, ServerHandle};
pub use settings::{Listener, Settings};
pub use sip::Transport;
pub use stats::Stats;
