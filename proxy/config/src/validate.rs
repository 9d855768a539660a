//! Semantic validation: what the types alone cannot say.
//!
//! Runs after parsing; the first problem found is returned as an
//! [`Invalid`] naming its key path. Validation never touches the file
//! system or the network (see [`Config::referenced_files`]).

mod gateway;
mod host;
mod numbers;
mod roles;
mod sections;
mod xdp;

use crate::error::Invalid;
use crate::schema::Config;

pub use host::{parse_host_port, HostPort};

/// The result of one check.
type Check = Result<(), Invalid>;

/// Fails with `message` at `key_path`.
fn fail(key_path: impl Into<String>, message: impl Into<String>) -> Check {
    Err(Invalid::new(key_path, message))
}

/// Checks a number is within `min..=max`.
fn range<T>(key_path: &str, value: T, min: T, max: T) -> Check
where
    T: PartialOrd + std::fmt::Display,
{
    if value < min || value > max {
        return fail(key_path, format!("{value} is out of range {min}..={max}"));
    }
    Ok(())
}

impl Config {
    /// Checks everything the types cannot: addresses that must differ,
    /// ranges, the sections each role needs, references between sections.
    /// [`crate::load`] and the other constructors call it.
    pub fn validate(&self) -> Result<(), Invalid> {
        sections::listeners(self)?;
        sections::tls(self)?;
        sections::websocket(&self.websocket)?;
        sections::identity(self)?;
        sections::limits(&self.limits)?;
        range("dns.timeout_ms", self.dns.timeout_ms, 100, 30_000)?;
        sections::telemetry(self)?;
        gateway::groups(&self.gateway)?;
        numbers::numbers(self)?;
        roles::role(self)
    }
}
