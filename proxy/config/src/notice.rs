//! [`Notice`]: a warning about a configuration that loads.

use std::fmt;

/// Something an operator should know about a file that loaded: a variable
/// that was not set, a SIPhon key or section read but not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The key path (or the variable) it is about.
    pub key: String,
    /// The whole warning, naming the key.
    pub message: String,
}

impl Notice {
    /// A warning about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Notice {
            key: key.into(),
            message: message.into(),
        }
    }

    /// `key: not served by anysip (why)`.
    pub(crate) fn not_served(key: &str, why: &str) -> Self {
        Notice::new(key, format!("{key}: not served by anysip ({why})"))
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
