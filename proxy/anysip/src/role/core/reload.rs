//! `script.reload`: `auto` watches the script file and reloads it when it
//! changes, and on SIGHUP; `sighup` reloads on SIGHUP only (SIPhon's two
//! modes); `false` never. A reload that fails keeps the running script
//! (the engine logs why).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anysip_config::ReloadMode;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

/// How often `auto` looks at the file.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What identifies a version of the file: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let md = std::fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len()))
}

/// Starts the reloader of `engine` for `mode` (none for `false`).
pub(super) fn spawn(mode: ReloadMode, engine: Arc<script::Engine>) -> Option<JoinHandle<()>> {
    let watch = match mode {
        ReloadMode::Off => return None,
        ReloadMode::Auto => true,
        ReloadMode::Sighup => false,
    };
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: the script reloads only when its file changes");
            None
        }
    };
    tracing::info!(
        path = %engine.path().display(),
        mode = if watch { "auto (file watched, and SIGHUP)" } else { "sighup" },
        "script reload"
    );
    Some(tokio::spawn(async move {
        let mut seen = stamp(engine.path());
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                _ = tick.tick(), if watch => {
                    let now = stamp(engine.path());
                    if now == seen || now.is_none() {
                        continue;
                    }
                    seen = now;
                    "the file changed"
                }
                _ = async { match hangup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {
                    seen = stamp(engine.path());
                    "SIGHUP"
                }
            };
            tracing::info!(path = %engine.path().display(), why, "reloading the script");
            let e = engine.clone();
            // Executing the script takes the GIL: off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || e.reload_now()).await;
        }
    }))
}
