//! [`ConfigError`]: every way loading a configuration can fail.
//!
//! Every variant names the file; all but [`ConfigError::Io`] also name
//! where in it (a line, a key path or both), so `anysip check` can print one
//! line an operator can act on.

use std::fmt;

/// Loading, expanding, parsing or validating a configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file, as given.
        file: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `${VAR}` expansion failed: an unset variable without a default, or a
    /// malformed reference.
    #[error("{file}:{line}: {var}: {message}")]
    Expand {
        /// The file, as given.
        file: String,
        /// 1-based line of the reference.
        line: usize,
        /// The reference as written, e.g. `${REDIS_URL}`.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// The YAML did not parse, or did not fit the schema (unknown key, wrong
    /// type, missing key, bad value).
    #[error("{file}{}: {}: {message}", Loc(*location), KeyPath(key_path))]
    Parse {
        /// The file, as given.
        file: String,
        /// Where in the document, e.g. `gateway.groups[0].destinations[1].address`;
        /// empty for the top level.
        key_path: String,
        /// What is wrong, as serde said it (without its own location).
        message: String,
        /// 1-based line and column, when the YAML parser knows them.
        location: Option<(usize, usize)>,
    },
    /// The document fits the schema but is not a usable configuration.
    #[error("{file}: {}: {message}", KeyPath(key_path))]
    Invalid {
        /// The file, as given.
        file: String,
        /// Where in the document; empty for the top level.
        key_path: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The key path the error is about, if it has one (empty for the top level).
    pub fn key_path(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { key_path, .. } | ConfigError::Invalid { key_path, .. } => {
                Some(key_path)
            }
            ConfigError::Io { .. } | ConfigError::Expand { .. } => None,
        }
    }

    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            ConfigError::Io { file, .. }
            | ConfigError::Expand { file, .. }
            | ConfigError::Parse { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }
}

/// A semantic error before the file name is attached: what
/// [`crate::Config::validate`] returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", KeyPath(key_path))]
pub struct Invalid {
    /// Where in the document, e.g. `edge.backend_group`.
    pub key_path: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// An error at `key_path`.
    pub fn new(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            key_path: key_path.into(),
            message: message.into(),
        }
    }

    /// Attaches the file name.
    pub fn in_file(self, file: &str) -> ConfigError {
        ConfigError::Invalid {
            file: file.to_owned(),
            key_path: self.key_path,
            message: self.message,
        }
    }
}

/// Shows an empty key path as `(top level)`.
struct KeyPath<'a>(&'a str);

impl fmt::Display for KeyPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(top level)")
        } else {
            f.write_str(self.0)
        }
    }
}

/// Shows a location as `:line:column`, or nothing.
struct Loc(Option<(usize, usize)>);

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, ":{line}:{column}"),
            None => Ok(()),
        }
    }
}
