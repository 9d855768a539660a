//! Text to [`Config`]: expand, parse (with key paths), validate.

use std::path::Path;

use crate::error::ConfigError;
use crate::expand::expand_noting;
use crate::notice::Notice;
use crate::schema::Config;

/// The name the embedded default goes by in errors.
pub const EMBEDDED_NAME: &str = "<embedded default>";

/// The embedded default configuration (`anysip run` without `-c`): an edge
/// on 127.0.0.1:5060 (UDP and TCP) in front of a backend at 127.0.0.1:5070,
/// admin on 127.0.0.1:9091, development key ring.
pub const DEFAULT_YAML: &str = include_str!("default.yaml");

/// Reads, expands (from the process environment), parses and validates
/// the file at `path`. Errors name the file as given.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: file.clone(),
        source,
    })?;
    let mut config = Config::from_yaml(&text, &file)?;
    config.anchor_script_paths(path);
    Ok(config)
}

/// The process environment, where an unset `HOSTNAME` (shells set it
/// without exporting it; systemd does not set it) is the kernel's host name,
/// so SIPhon-style `instance_id: "${HOSTNAME}"` works everywhere.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        (name == "HOSTNAME")
            .then(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .flatten()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
    })
}

impl Config {
    /// Reads and checks `path`; the same as [`load`].
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        load(path)
    }

    /// Expands `text` from the process environment, parses and validates
    /// it; `file` names it in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Config, ConfigError> {
        Config::from_yaml_with_env(text, file, process_env)
    }

    /// As [`Config::from_yaml`], looking variables up with `env` instead of
    /// the process environment (tests, or a caller with its own source).
    pub fn from_yaml_with_env<F>(text: &str, file: &str, env: F) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let (expanded, unset) = expand_noting(text, env).map_err(|e| ConfigError::Expand {
            file: file.to_owned(),
            line: e.line,
            var: e.var,
            message: e.message,
        })?;
        let mut config = parse(&expanded, file)?;
        config.settle();
        config.settle_siphon().map_err(|e| e.in_file(file))?;
        config.validate().map_err(|e| e.in_file(file))?;
        config.notices = unset
            .into_iter()
            .map(|u| {
                Notice::new(
                    &u.name,
                    format!(
                        "line {}: environment variable {} is not set: ${{{}}} expands to nothing \
                         (as in SIPhon; write ${{{}:-default}} for a default)",
                        u.line, u.name, u.name, u.name
                    ),
                )
            })
            .collect();
        config.notices.extend(config.siphon_notices());
        Ok(config)
    }

    /// The embedded default ([`DEFAULT_YAML`]), parsed and validated through
    /// the same path as a file. It names no environment variables.
    pub fn embedded_default() -> Config {
        #[allow(clippy::expect_used)]
        Config::from_yaml_with_env(DEFAULT_YAML, EMBEDDED_NAME, |_| None)
            .expect("the embedded default configuration is valid (tested)")
    }
}

/// Parses expanded text, keeping the key path of the first error.
fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let key_path = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let location = inner.location().map(|l| (l.line(), l.column()));
        ConfigError::Parse {
            file: file.to_owned(),
            message: clean_message(&inner.to_string(), &key_path),
            key_path,
            location,
        }
    })
}

/// Drops what serde_yaml repeats (its own shorter path in front, the
/// location at the end) and rewords the standard library's terse address
/// errors.
fn clean_message(message: &str, key_path: &str) -> String {
    let mut message = message;
    if let Some(at) = message.rfind(" at line ") {
        let tail = &message[at + " at line ".len()..];
        let is_location = tail
            .split_once(" column ")
            .is_some_and(|(l, c)| is_digits(l) && is_digits(c));
        if is_location {
            message = &message[..at];
        }
    }
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.contains(' ') && !head.is_empty() && key_path.starts_with(head) {
            message = rest;
        }
    }
    if let Some((head, _)) = message.split_once(", expected struct ") {
        return format!("{head}, expected a mapping (key: value)");
    }
    match message {
        "invalid socket address syntax" => {
            "not a socket address (expected IP:port, IPv6 as [addr]:port)".to_owned()
        }
        "invalid IP address syntax" => "not an IP address".to_owned(),
        other => other.to_owned(),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
