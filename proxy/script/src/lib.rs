//! Routing scripts in embedded CPython (PyO3), with the SIPhon-compatible
//! API: module `anysip` (alias `siphon`) with `proxy`, `registrar`, `auth`,
//! `gateway` and `log`. The [`Engine`] implements `anysip_core::Router`;
//! what scripts call outside the message (registrar, credentials, gateway
//! groups) goes through the [`Host`] the process gives it.

pub mod host;

pub use host::{Binding, Credential, GatewayDest, Host, HostError, SaveOutcome};
