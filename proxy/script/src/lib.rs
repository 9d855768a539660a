//! Routing scripts in embedded CPython (PyO3), with the SIPhon-compatible
//! API: module `anysip` (alias `siphon`) with `proxy`, `registrar`, `auth`,
//! `gateway` and `log`. The [`Engine`] implements `anysip_core::Router`;
//! what scripts call outside the message (registrar, credentials, gateway
//! groups) goes through the [`Host`] the process gives it.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(host: Arc<dyn script::Host>, ctx: &anysip_core::RequestContext) -> Result<(), script::ScriptError> {
//! use anysip_core::Router;
//! let engine = script::Engine::load("/etc/anysip/proxy.py".as_ref(), true, host)?;
//! let decision = engine.on_request(ctx);
//! # let _ = decision; Ok(()) }
//! ```
//!
//! The scripting manual is `docs/scripting.md`.

pub(crate) mod api;
mod engine;
mod error;
pub mod host;

pub use api::cache::MemoryCache;
pub use api::metrics::collector as metrics_collector;
pub use engine::Engine;
pub use error::ScriptError;
pub use host::{
    Binding, CacheAnswer, CacheOp, Credential, GatewayDest, Host, HostError, Originate, SaveOutcome,
};
