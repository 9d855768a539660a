//! The crate's error type.

use crate::config::ConfigError;

/// What can go wrong with gateway groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; every problem found, each with its key
    /// path.
    #[error("invalid gateway configuration: {}", join(.0))]
    Config(Vec<ConfigError>),
    /// No group has this name.
    #[error("unknown gateway group `{0}`")]
    UnknownGroup(String),
    /// The group has no destination with this uri or address.
    #[error("gateway group `{group}` has no destination `{dest}`")]
    UnknownDestination {
        /// The group.
        group: String,
        /// The uri or address asked for.
        dest: String,
    },
    /// Every destination of the group is down (or excluded): the edge
    /// answers 503 with Retry-After.
    #[error("gateway group `{0}` has no healthy destination")]
    NoHealthyDestination(String),
}

fn join(errors: &[ConfigError]) -> String {
    let v: Vec<String> = errors.iter().map(ToString::to_string).collect();
    v.join("; ")
}
