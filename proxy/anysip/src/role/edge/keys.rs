//! The key ring of an edge: from a file, an environment variable, or (in
//! development) generated at start; and its reload on SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anysip_config::{Config, KeySource};
use arc_swap::ArcSwap;
use edge::Edge;
use sip::Limits;
use tokencodec::{KeyId, KeyRing, TokenCodec};

use crate::error::Error;

/// Loads the configured key ring. In development mode a random ring is
/// generated and a loud warning logged: tokens then open only on this
/// instance until it restarts.
pub(crate) fn key_ring(config: &Config) -> Result<KeyRing, Error> {
    let source = config
        .edge
        .as_ref()
        .map_or(KeySource::Dev, |e| e.key_source());
    match source {
        KeySource::File(path) => load_file(path),
        KeySource::Env(var) => KeyRing::load_env(var).map_err(|e| Error::Keys(e.to_string())),
        KeySource::Dev => {
            tracing::warn!(
                "DEVELOPMENT KEY RING: no edge.keys configured, a random key ring was generated. \
                 Tokens will not open on any other instance nor after a restart. \
                 Never run a fleet like this: create a key file with `anysip token keygen`."
            );
            KeyRing::generate(KeyId(1)).map_err(|e| Error::Keys(e.to_string()))
        }
    }
}

/// A key file, with its name in every error.
fn load_file(path: &Path) -> Result<KeyRing, Error> {
    KeyRing::load_file(path).map_err(|e| match e {
        tokencodec::Error::Io { .. } => Error::Keys(e.to_string()),
        e => Error::Keys(format!("{}: {e}", path.display())),
    })
}

/// Where the running ring came from, as far as a reload cares.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    /// An environment variable: a running process's environment does not
    /// change, so there is nothing to reload.
    Env(String),
    Dev,
}

/// The edge's key ring, reloadable: SIGHUP reads the key file again and
/// swaps a new [`Edge`] (same settings, new ring) in for the workers.
#[derive(Debug)]
pub(crate) struct Keys {
    source: Source,
    edge: Arc<ArcSwap<Edge>>,
    limits: Limits,
}

impl Keys {
    pub(crate) fn new(config: &Config, edge: Arc<ArcSwap<Edge>>, limits: Limits) -> Self {
        let source = match config.edge.as_ref().map(|e| e.key_source()) {
            Some(KeySource::File(p)) => Source::File(p.to_owned()),
            Some(KeySource::Env(v)) => Source::Env(v.to_owned()),
            Some(KeySource::Dev) | None => Source::Dev,
        };
        Keys {
            source,
            edge,
            limits,
        }
    }

    /// Reads the key file again and installs its ring; on any error the
    /// running ring stays (the error names the file). Says what was done.
    pub(crate) fn reload(&self) -> Result<String, Error> {
        let path = match &self.source {
            Source::File(p) => p,
            Source::Env(var) => {
                return Ok(format!(
                    "key ring from the environment variable {var}: unchanged (restart to change it)"
                ))
            }
            Source::Dev => {
                return Ok(
                    "development key ring: unchanged (it lives as long as the process)".into(),
                )
            }
        };
        let ring = load_file(path)?;
        let old = self.edge.load();
        let before = old.codec().key_ring();
        if !ring.contains(before.current()) {
            tracing::warn!(
                file = %path.display(),
                key = %before.current(),
                "the new key ring drops the key that sealed until now: tokens sealed with it no longer open (calls and registrations made before fail)"
            );
        }
        let summary = format!(
            "key ring {}: keys {:?}, sealing with {}",
            path.display(),
            ring.key_ids().iter().map(|k| k.0).collect::<Vec<_>>(),
            ring.current()
        );
        let codec = TokenCodec::new(ring, old.codec().limits());
        self.edge.store(Arc::new(Edge::new(
            codec,
            old.settings().clone(),
            self.limits,
        )));
        Ok(summary)
    }
}
