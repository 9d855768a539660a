//! `script.reload: auto` watches the script file and reloads it when it
//! changes (SIGHUP reloads it in every mode: `lifecycle/reload.rs`). A
//! reload that fails keeps the running script (the engine logs why).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anysip_config::ReloadMode;
use tokio::task::JoinHandle;

/// How often `auto` looks at the file.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What identifies a version of the file: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let md = std::fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len()))
}

/// Starts the watcher of `engine`'s file for `auto` (none otherwise:
/// SIGHUP, which reloads the script in every mode, is the lifecycle's,
/// `lifecycle/reload.rs`).
pub(super) fn spawn(mode: ReloadMode, engine: Arc<script::Engine>) -> Option<JoinHandle<()>> {
    if mode != ReloadMode::Auto {
        return None;
    }
    tracing::info!(
        path = %engine.path().display(),
        mode = "auto (file watched, and SIGHUP)",
        "script reload"
    );
    Some(tokio::spawn(async move {
        let mut seen = stamp(engine.path());
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = stamp(engine.path());
            if now == seen || now.is_none() {
                continue;
            }
            seen = now;
            tracing::info!(path = %engine.path().display(), why = "the file changed", "reloading the script");
            let e = engine.clone();
            // Executing the script takes the GIL: off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || e.reload_now()).await;
        }
    }))
}
