//! SIGHUP: every role of the process reloads, without dropping a call,
//! what can change under a running process — an edge's blocklist (the
//! configuration file's `xdp.blocklist`) and key ring (its key file), a
//! core's routing script. A part that fails to load (a broken
//! file) keeps the running version, and the error names the file. Other
//! changes of the configuration file take effect at the next start.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::signal::unix::{signal, SignalKind};

use super::notify;
use crate::error::Error;
use crate::role::Reloadable;
use crate::shared::Shared;

/// One role's reloadable parts.
#[derive(Debug, Clone)]
pub(crate) struct RoleReload {
    /// The configuration file (none for the embedded defaults): an edge
    /// reads its blocklist again.
    pub(crate) path: Option<PathBuf>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) what: Reloadable,
}

/// The roles of the process, each added once it serves.
#[derive(Debug, Default)]
pub(crate) struct Reloader {
    roles: Mutex<Vec<RoleReload>>,
}

impl Reloader {
    pub(crate) fn add(&self, role: RoleReload) {
        self.roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(role);
    }

    /// Takes SIGHUP from now on (its default action would end the
    /// process) and reloads every role at each one, telling the service
    /// manager.
    pub(crate) fn listen(self: Arc<Self>) -> Result<(), Error> {
        let mut hup = signal(SignalKind::hangup()).map_err(|source| Error::Io {
            what: "SIGHUP handler".into(),
            source,
        })?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                notify::reloading();
                let roles = self.roles.lock().unwrap_or_else(|e| e.into_inner()).clone();
                // Loading a script runs Python; reading files blocks.
                let failed = tokio::task::spawn_blocking(move || {
                    roles.iter().map(RoleReload::reload).sum::<usize>()
                })
                .await
                .unwrap_or(1);
                if failed == 0 {
                    tracing::info!("SIGHUP: reloaded");
                } else {
                    tracing::error!(
                        failed,
                        "SIGHUP: reloaded, but some parts failed and kept their running version"
                    );
                }
                notify::ready(if failed == 0 {
                    "serving; reloaded"
                } else {
                    "serving; the last reload failed in part (see the log)"
                });
            }
        });
        Ok(())
    }
}

impl RoleReload {
    /// Reloads each part; returns how many failed.
    fn reload(&self) -> usize {
        let mut failed = 0;
        // `xdp:` is an edge's section.
        if let (Some(path), Reloadable::Edge(_)) = (&self.path, &self.what) {
            let file = path.display().to_string();
            match anysip_config::load(path)
                .map_err(|e| e.to_string())
                .and_then(|c| self.shared.filter.reload_config_blocklist(&c))
            {
                Ok((added, removed)) => {
                    tracing::info!(%file, added, removed, "reload: xdp.blocklist")
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(%file, error = %e, "reload: configuration file not loaded; the running blocklist stays");
                }
            }
        }
        match &self.what {
            Reloadable::Edge(keys) => match keys.reload() {
                Ok(what) => tracing::info!("reload: {what}"),
                Err(e) => {
                    failed += 1;
                    tracing::error!(error = %e, "reload: key ring not loaded; the running key ring stays");
                }
            },
            Reloadable::Core(engine) => {
                // Logs the traceback of a failure itself.
                if let Err(e) = engine.reload_now() {
                    failed += 1;
                    tracing::error!(file = %engine.path().display(), error = %e, "reload: script not loaded; the running script stays");
                }
            }
        }
        failed
    }
}
