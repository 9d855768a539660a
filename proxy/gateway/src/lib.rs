//! Gateway groups for anysip: choosing a backend and keeping track of which
//! backends are alive. Used by the edge (choosing a core for a request that
//! carries none of its tokens) and by the core (`gateway.select(...)` in
//! routing scripts, serial failover).
//!
//! The crate is sans-IO: it opens no socket, reads no clock and spawns
//! nothing. Time is an [`Instant`](std::time::Instant) passed in; the prober
//! says which OPTIONS to send and when ([`Gateways::poll_probe`],
//! [`Gateways::poll_timeout`]), the caller sends them and reports the results
//! ([`Gateways::handle_probe_result`], [`Gateways::handle_timeout`]), and
//! health transitions come out of [`Gateways::poll_event`].
//!
//! * [`config`]: `gateway.groups` in the YAML file, with validation that
//!   names key paths;
//! * [`GatewayGroup`]: members, health, and the three algorithms —
//!   `weighted` (smooth weighted round robin), `round_robin`, and `hash`
//!   (weighted rendezvous hashing with the fleet-stable hash of [`hash`]);
//! * [`Gateways`]: the groups by name, admin `mark_down`/`mark_up`, the
//!   prober;
//! * [`GroupView`]: a group frozen at one picture of health, to choose from
//!   with `&self` and no lock (each worker of an edge shares one; a health
//!   change publishes a new one);
//! * [`Snapshot`]: the admin API's JSON view.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use gateway::{GatewayConfig, Gateways, State};
//!
//! let config: GatewayConfig = serde_yaml::from_str(r#"
//! groups:
//!   - name: backends
//!     algorithm: hash
//!     probe: { interval_secs: 5, timeout_secs: 2, failure_threshold: 1 }
//!     destinations:
//!       - { uri: "sip:10.0.0.1:5060", address: "10.0.0.1:5060" }
//!       - { uri: "sip:10.0.0.2:5060", address: "10.0.0.2:5060" }
//! "#)?;
//! let t0 = Instant::now();
//! let mut gw = Gateways::new(&config, t0)?;
//!
//! // The edge hashes the To AoR: every instance picks the same backend.
//! let first = gw.select("backends", Some(b"alice@example.com"), t0)?.id;
//!
//! // The prober asks for one OPTIONS per destination; the first gets 200,
//! // the second never answers.
//! let a = gw.poll_probe(t0).ok_or("no probe")?;
//! let b = gw.poll_probe(t0).ok_or("no probe")?;
//! assert!(gw.poll_probe(t0).is_none());
//! gw.handle_probe_result(a.probe_id, Ok(200), t0 + Duration::from_millis(3));
//! assert_eq!(gw.poll_timeout(), Some(b.deadline));
//! gw.handle_timeout(b.deadline);
//! let event = gw.poll_event().ok_or("no event")?;
//! println!("{event:?}"); // Down { group: "backends", dest: DestId(1), .. }
//! assert_eq!(gw.group("backends").ok_or("no group")?.state(b.dest), Some(State::Down));
//! # let _ = first;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod error;
mod gateways;
mod group;
pub mod hash;
mod health;
mod probe;
mod select;
mod snapshot;

pub use config::{
    Algorithm, ConfigError, DestinationConfig, GatewayConfig, GroupConfig, HashKey, ProbeConfig,
    Transport,
};
pub use error::Error;
pub use gateways::Gateways;
pub use group::{GatewayGroup, MAX_QUEUED_EVENTS};
pub use health::{DownReason, GatewayEvent, State};
pub use probe::{ProbeFailure, ProbeId, ProbeRequest, ProbeResult};
pub use select::{DestId, Destination, GroupView, MAX_SEQUENCE};
pub use snapshot::{DestinationSnapshot, GroupSnapshot, Snapshot};
