//! What the service manager is told (systemd's `Type=notify`, through the
//! `sd-notify` crate; nothing at all when `NOTIFY_SOCKET` is unset):
//! `READY=1` once every role of the process serves (listeners bound, an
//! edge's key ring loaded), `RELOADING=1` … `READY=1` around a SIGHUP
//! reload, `STOPPING=1` at drain with the stop timeout extended past
//! `drain_secs`.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::mpsc;

/// Tells the service manager the process is ready once `roles` roles have
/// each sent on the returned channel.
pub(crate) fn ready_when_all(roles: usize) -> mpsc::Sender<()> {
    let (tx, mut rx) = mpsc::channel(roles.max(1));
    tokio::spawn(async move {
        for _ in 0..roles {
            if rx.recv().await.is_none() {
                return; // a role failed before serving: the process exits
            }
        }
        ready("serving");
    });
    tx
}

/// `READY=1` with a status line.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` (with the monotonic time systemd 253+ asks for).
pub(crate) fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    states.push(NotifyState::Status("reloading"));
    send(&states);
}

/// `STOPPING=1`, asking for `drain` plus a margin before the stop timeout
/// (`TimeoutStopSec`) kills the process.
pub(crate) fn stopping(drain: Duration) {
    let usec = (drain + Duration::from_secs(15)).as_micros();
    send(&[
        NotifyState::Stopping,
        NotifyState::ExtendTimeoutUsec(u32::try_from(usec).unwrap_or(u32::MAX)),
        NotifyState::Status("draining"),
    ]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}
