//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use anysip_config::{Config, ConfigError};

/// `deploy/examples/` of the repository.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples")
}

/// The anysip configs among the examples (not routerd's).
pub fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with("routerd")
        })
        .collect();
    files.sort();
    files
}

/// A minimal valid edge, to which tests append or in which they replace.
pub const EDGE: &str = "\
listen:
  udp: [127.0.0.1:5060]
gateway:
  groups:
    - name: backends
      destinations:
        - uri: sip:127.0.0.1:5070
          address: 127.0.0.1:5070
";

/// A minimal valid core.
pub const CORE: &str = "\
role: core
listen:
  udp: [127.0.0.1:5070]
script:
  path: /etc/anysip/core.py
";

/// Parses with an empty environment.
pub fn parse(yaml: &str) -> Result<Config, ConfigError> {
    Config::from_yaml_with_env(yaml, "test.yaml", |_| None)
}

/// Parses with an empty environment, expecting an error.
pub fn error(yaml: &str) -> ConfigError {
    match parse(yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e,
    }
}

/// The key path of an error that must have one.
pub fn key_path(e: &ConfigError) -> String {
    e.key_path()
        .unwrap_or_else(|| panic!("no key path: {e}"))
        .to_owned()
}
