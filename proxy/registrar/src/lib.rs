//! The anysip registrar: RFC 3261 §10.3 with RFC 3327 Path and RFC 5626
//! outbound (`+sip.instance`, `reg-id`), bindings kept in memory or Redis.
//!
//! The crate is split the same way as the SIP core:
//!
//! - sans-IO decisions: [`Register`] (the plain data of a REGISTER, read
//!   from a [`sip::Message`]), [`process`] (the §10.3 steps against the
//!   AoR's current bindings at a given `now`) and [`Outcome`] (status,
//!   reason and header fields of the response for the caller to build);
//! - storage: [`Store`] — in this process ([`MemoryStore`]) or in Redis
//!   ([`RedisStore`], shared by every core and durable across restarts),
//!   with an atomic per-AoR read-modify-write;
//! - [`Registrar`]: the two together, as the core uses them.
//!
//! Time is always an argument (`now_unix`, seconds since the epoch): nothing
//! here reads a clock.
#![forbid(unsafe_code)]

mod aor;
mod binding;
pub mod config;
mod date;
mod error;
pub mod link;
mod outcome;
mod policy;
mod process;
mod registrar;
mod request;
mod store;

pub use aor::{alias_key_of, aor_of};
pub use binding::{Accepted, Binding, StoredFlow, TriedFlow};
pub use config::{
    ClusterConfig, RedisConfig, RegistrarBackend, RegistrarConfig, SentinelConfig, WaitConfig,
};
pub use date::http_date;
pub use error::RegistrarError;
pub use outcome::Outcome;
pub use policy::{Policy, Source};
pub use process::{process, Decision};
pub use registrar::{Registrar, PROXY_GRACE_SECS};
pub use request::{ContactSpec, Contacts, Register};
pub use store::{AliasSet, MemoryStore, RedisStore, Store, WaitStats};
