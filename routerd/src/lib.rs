//! routerd: the anysip BGP health daemon.
//!
//! It checks the local edge (HTTP, SIP OPTIONS or a command), checks that the
//! anycast address is on a local interface, and tells the local BIRD over its
//! control socket to announce, drain or withdraw the anycast prefixes. See
//! `docs/routerd.md` for the operator's view.
//!
//! - [`machine`]: the sans-IO health state machine (time passed in).
//! - [`bird`]: the BIRD control-socket protocol and a tokio client.
//! - [`config`]: the YAML configuration.
//! - [`checks`], [`addr`]: the I/O the machine is fed from.
//! - [`cli`]: the command line (also read by the package's man page and
//!   completion generator).
//! - [`engine`]: the daemon loop that ties them together; [`admin`]: its
//!   HTTP API, with [`status`] and [`metrics`].
#![forbid(unsafe_code)]

pub mod addr;
pub mod admin;
pub mod bird;
pub mod checks;
pub mod cli;
pub mod config;
pub mod engine;
mod error;
pub mod machine;
pub mod metrics;
pub mod status;

pub use error::Error;
