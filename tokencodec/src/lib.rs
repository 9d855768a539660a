//! Sealed, stateless routing tokens for the anysip edge.
//!
//! Every mid-call packet may land on a different edge instance, so an edge
//! keeps no per-dialog state: whatever it needs to route later messages goes
//! into tokens that any instance holding the shared [`KeyRing`] can open.
//!
//! * a **flow** token ([`Flow`]) names the UE's flow: transport, UE address,
//!   local listener, the edge instance and connection holding a stream, and
//!   the issue time. It goes into Path, Contact routing and, for stream flows,
//!   a parameter of the edge's own Via;
//! * a **route** token ([`Route`]) is a flow plus the backend chosen, for
//!   Record-Route;
//! * the **branch** ([`Branch`]) of the edge's own Via is deterministic over
//!   the RFC 3261 section 16.11 inputs ([`BranchInputs`]) and carries a keyed
//!   MAC so that an edge can tell that a Via is its own.
//!
//! Flow and route tokens are sealed with a deterministic authenticated
//! encryption (HMAC-SHA-256 synthetic IV over AES-256 in counter mode, both
//! from `ring`), carry a version byte and the key id in clear, and are encoded
//! as base64url without padding. The byte layout, sizes and the security
//! argument are in `docs/tokens.md`.
//!
//! The crate does no I/O and reads no clock: time is always an argument
//! (`now`, Unix seconds). The only exception is [`KeyRing::load_file`] /
//! [`KeyRing::load_env`], a convenience kept in its own module.
//!
//! ```
//! use std::net::SocketAddr;
//! use tokencodec::{Flow, KeyId, KeyRing, Limits, Route, TokenCodec, Transport, Backend};
//!
//! let ring = KeyRing::generate(KeyId(1))?;
//! let codec = TokenCodec::new(ring, Limits::default());
//! let now = 1_760_000_000; // Unix seconds, passed in by the caller
//! let flow = Flow {
//!     transport: Transport::Udp,
//!     ue: "192.0.2.10:5060".parse::<SocketAddr>()?,
//!     local: "203.0.113.1:5060".parse::<SocketAddr>()?,
//!     instance: 7,
//!     connection: 0,
//! };
//! let route = Route {
//!     flow,
//!     backend: Backend { transport: Transport::Udp, addr: "10.0.0.5:5060".parse()? },
//! };
//! let token = codec.seal_route(&route, now)?;
//! assert!(token.len() <= 80);
//! let opened = codec.open_route(&token, now + 60)?;
//! assert_eq!(opened.token, route);
//! assert_eq!(opened.issued_at, now);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod b64;
mod branch;
mod codec;
mod ct;
mod error;
mod flow;
mod key;
mod keyring;
mod route;
mod time;
mod token;
mod transport;

pub use branch::{Branch, BranchInputs, BRANCH_LEN, MAGIC_COOKIE};
pub use codec::{encoded_len, sealed_len, TokenCodec};
pub use error::Error;
pub use flow::Flow;
pub use key::{KeyId, Secret};
pub use keyring::{KeyFileFormat, KeyRing, DEFAULT_KEYS_ENV};
pub use route::{Backend, Route};
pub use sip::Transport;
pub use time::{unix_seconds, Limits, TOKEN_EPOCH};
pub use token::{Kind, Opened, Token, MAX_TOKEN_LEN, VERSION};
