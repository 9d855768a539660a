//! Loading a key ring from a file or the environment: the crate's only I/O,
//! a convenience on top of the pure [`KeyRing::from_key_file`].

use std::path::Path;

use super::KeyRing;
use crate::error::Error;

/// The environment variable [`KeyRing::load_env`] reads by default. It holds
/// a whole key file, typically as one line of JSON.
pub const DEFAULT_KEYS_ENV: &str = "ANYSIP_TOKEN_KEYS";

impl KeyRing {
    /// Reads and parses a key file (YAML or JSON).
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_key_file(&text)
    }

    /// Parses the key file held by the environment variable `var` (see
    /// [`DEFAULT_KEYS_ENV`]).
    pub fn load_env(var: &str) -> Result<Self, Error> {
        let text = std::env::var(var)
            .map_err(|e| Error::KeyFile(format!("environment variable {var}: {e}")))?;
        Self::from_key_file(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyId;
    use crate::KeyFileFormat;

    #[test]
    fn loads_a_file() {
        let ring = KeyRing::generate(KeyId(5)).expect("rng");
        let dir = std::env::temp_dir().join(format!("tokencodec-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("keys.yaml");
        std::fs::write(&path, ring.to_key_file(KeyFileFormat::Yaml)).expect("write");
        let loaded = KeyRing::load_file(&path).expect("loads");
        assert_eq!(loaded.current(), KeyId(5));
        std::fs::remove_dir_all(&dir).ok();
        assert!(matches!(
            KeyRing::load_file(dir.join("missing")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn missing_env_is_an_error() {
        let err = KeyRing::load_env("TOKENCODEC_TEST_SURELY_UNSET_VARIABLE");
        assert!(matches!(err, Err(Error::KeyFile(_))));
    }
}
