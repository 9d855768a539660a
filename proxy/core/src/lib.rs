//! The anysip core: a stateful proxy (RFC 3261 §16) on the `sip`
//! transaction layer. What to do with each request is asked of a
//! [`Router`] (in production the Python script of the `script` crate);
//! the core carries the decision out: forwarding, forking, best-response
//! selection, CANCEL, 100 Trying, Timer C.
//!
//! The contract with the router is [`decision`] and [`router`].

pub mod decision;
pub mod router;

pub use decision::{Decision, Edits, ForkStrategy, HeaderEdit, Reply, ReplyDecision, Target};
pub use router::{RequestContext, ResponseContext, Router};
