//! The crate's error type.

use crate::bird::BirdError;

/// Everything that can stop routerd or one of its commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("{file}: {source}")]
    ReadConfig {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is wrong: which file, which key, what.
    #[error("{file}: {}{message}", if path.is_empty() || path == "." { String::new() } else { format!("{path}: ") })]
    Config {
        /// The file.
        file: String,
        /// The key path, e.g. `services[0].checks[1].rise`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The admin API could not listen.
    #[error("admin API cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Talking to the daemon's admin API failed (`routerd drain` etc.).
    #[error("admin API at {addr}: {message}")]
    Admin {
        /// The address.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The HTTP client of the checks could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// Talking to BIRD failed.
    #[error(transparent)]
    Bird(#[from] BirdError),
    /// Any other I/O failure (signal handler setup, serving).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}
