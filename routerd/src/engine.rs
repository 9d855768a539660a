//! The daemon loop: runs the checks the machine asks for, feeds it the
//! results, the addresses, the disable file and the admin requests, and
//! makes BIRD match the machine's wanted state, re-asserted every tick.

mod apply;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::bird::Client;
use crate::checks::Checker;
use crate::config::{CheckKind, Config};
use crate::machine::{CheckId, Machine, MaintenanceSource, PrefixAction, ShutdownMode};
use crate::metrics::labels::Kind;
use crate::metrics::Metrics;
use crate::status::{CheckStatus, PrefixStatus, ServiceStatus, Status};
use crate::{addr, Error};

/// How long a shutdown keeps trying to reach BIRD before giving up.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(5);

/// A request from the admin API.
#[derive(Debug)]
pub struct AdminRequest {
    /// Drain (`true`) or undrain (`false`).
    pub drain: bool,
    /// Answered once the machine has taken the request.
    pub done: oneshot::Sender<()>,
}

/// The status shared with the admin API.
pub type SharedStatus = Arc<Mutex<Status>>;

/// Locks the shared status, recovering from a poisoned lock (the data is
/// only counters and labels, always valid).
pub fn lock(s: &SharedStatus) -> MutexGuard<'_, Status> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The initial status for `config`, before anything has run.
pub fn initial_status(config: &Config) -> Status {
    let mut st = Status::default();
    st.bird.socket = config.bird.socket.display().to_string();
    st.services = config
        .services
        .iter()
        .map(|s| ServiceStatus {
            name: s.name.clone(),
            state: "init".into(),
            wanted: PrefixAction::Withdraw.as_str().into(),
            address_present: false,
            transitions: Default::default(),
            checks: s
                .checks
                .iter()
                .map(|c| CheckStatus {
                    name: c.name.clone(),
                    kind: Kind::from(c.kind().as_ref()).as_str().into(),
                    health: "init".into(),
                    ..Default::default()
                })
                .collect(),
            prefixes: s
                .prefixes
                .iter()
                .map(|p| PrefixStatus {
                    prefix: p.prefix.to_string(),
                    announce_protocol: p.announce_protocol.clone(),
                    drain_protocol: p.drain_protocol.clone(),
                    wanted: PrefixAction::Withdraw.as_str().into(),
                    announce_state: None,
                    drain_state: None,
                })
                .collect(),
        })
        .collect();
    st
}

#[derive(Debug)]
struct CheckDone {
    id: CheckId,
    result: Result<(), String>,
    latency: Duration,
}

/// Runs the daemon until `shutdown` resolves and the routes are withdrawn
/// (or drained then withdrawn, per `mode`). Fails only at start, if the
/// checks' HTTP client cannot be set up.
pub async fn run(
    config: Config,
    status: SharedStatus,
    metrics: Arc<Metrics>,
    mut admin: mpsc::Receiver<AdminRequest>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let checker = Checker::new()?;
    let now = Instant::now();
    let mut machine = Machine::new(&config.service_specs(), now);
    // Addresses and the disable file before anything else, so the first
    // state is not a spurious "down".
    observe(&config, &mut machine, now);
    let mut bird = Client::new(
        &config.bird.socket,
        Duration::from_millis(config.bird.timeout_ms),
    );
    let kinds: Vec<Vec<(Option<CheckKind>, Duration)>> = config
        .services
        .iter()
        .map(|s| s.checks.iter().map(|c| (c.kind(), c.timeout())).collect())
        .collect();
    let n_checks: usize = kinds.iter().map(Vec::len).sum();
    let (tx, mut rx) = mpsc::channel::<CheckDone>(n_checks.max(1));
    let mode: ShutdownMode = config.on_shutdown.into();
    let tick = config.tick();
    let mut next_tick = now;
    let mut applied: Vec<Option<PrefixAction>> = vec![None; config.services.len()];
    let mut shutdown_at: Option<Instant> = None;
    let mut last_bird_error: Option<String> = None;
    tokio::pin!(shutdown);

    loop {
        let now = Instant::now();
        machine.tick(now);
        for id in machine.poll_due(now) {
            let Some((Some(kind), timeout)) =
                kinds.get(id.service).and_then(|s| s.get(id.check)).cloned()
            else {
                continue;
            };
            let tx = tx.clone();
            let checker = checker.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = checker.run(&kind, timeout).await;
                let latency = started.elapsed();
                // The engine outlives every check it starts, except at exit.
                let _ = tx
                    .send(CheckDone {
                        id,
                        result,
                        latency,
                    })
                    .await;
            });
        }

        let mut reassert = false;
        if now >= next_tick {
            observe(&config, &mut machine, now);
            reassert = true;
            next_tick = now + tick;
        }
        record_transitions(&config, &mut machine, &status, &metrics);

        let wanted: Vec<PrefixAction> = (0..config.services.len())
            .map(|i| machine.wanted(i))
            .collect();
        let changed = wanted.iter().zip(&applied).any(|(w, a)| Some(*w) != *a);
        // After a failure, BIRD is retried at the tick, not on every wake-up.
        if (changed && last_bird_error.is_none()) || reassert {
            let ok = apply::apply(&config, &mut bird, &wanted, &applied, &status, &metrics).await;
            match ok {
                Ok(()) => {
                    applied = wanted.iter().copied().map(Some).collect();
                    if last_bird_error.take().is_some() {
                        tracing::info!("BIRD reachable again and in the wanted state");
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    if last_bird_error.as_deref() != Some(msg.as_str()) {
                        tracing::warn!(error = %msg, "cannot bring BIRD to the wanted state; retrying every tick");
                    }
                    last_bird_error = Some(msg);
                    // Retried at the next tick; nothing counts as applied.
                    applied = vec![None; config.services.len()];
                }
            }
        }
        publish(&config, &machine, &bird, &status, shutdown_at.is_some());

        if let Some(at) = shutdown_at {
            let settled = machine.is_finished()
                && last_bird_error.is_none()
                && !changed_after(&machine, &applied);
            if settled {
                tracing::info!("routes withdrawn; exiting");
                return Ok(());
            }
            if machine.is_finished() && now.duration_since(at) > SHUTDOWN_RETRY {
                tracing::error!("could not confirm the withdrawal in BIRD; exiting anyway (ExecStopPost withdraws)");
                return Ok(());
            }
        }

        let deadline = machine
            .poll_timeout()
            .map_or(next_tick, |t| t.min(next_tick))
            .max(now);
        tokio::select! {
            Some(done) = rx.recv() => on_check_done(&config, &mut machine, &status, &metrics, done),
            Some(req) = admin.recv() => {
                let now = Instant::now();
                machine.set_maintenance(MaintenanceSource::Admin, req.drain, now);
                tracing::info!(drain = req.drain, "admin request");
                lock(&status).maintenance.admin = req.drain;
                let _ = req.done.send(());
            }
            () = &mut shutdown, if shutdown_at.is_none() => {
                tracing::info!(?mode, "shutting down");
                let now = Instant::now();
                shutdown_at = Some(now);
                machine.shutdown(mode, now);
            }
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// Whether the wanted state differs from what was last applied.
fn changed_after(machine: &Machine, applied: &[Option<PrefixAction>]) -> bool {
    applied
        .iter()
        .enumerate()
        .any(|(i, a)| Some(machine.wanted(i)) != *a)
}

/// Looks at the local addresses and the disable file.
fn observe(config: &Config, machine: &mut Machine, now: Instant) {
    let local = addr::local_addresses();
    for (i, s) in config.services.iter().enumerate() {
        let present = addr::all_present(&s.addresses, &local);
        if present != machine.address_present(i) {
            if present {
                tracing::info!(service = %s.name, "anycast address present");
            } else {
                tracing::warn!(service = %s.name, addresses = ?s.addresses, "anycast address missing from local interfaces");
            }
        }
        machine.set_address_present(i, present, now);
    }
    let file = config.disable_file.as_ref().is_some_and(|p| p.exists());
    if file != machine.maintenance(MaintenanceSource::File) {
        tracing::info!(present = file, file = ?config.disable_file, "disable file");
    }
    machine.set_maintenance(MaintenanceSource::File, file, now);
}

fn on_check_done(
    config: &Config,
    machine: &mut Machine,
    status: &SharedStatus,
    metrics: &Metrics,
    done: CheckDone,
) {
    let before = machine.check_health(done.id);
    machine.on_result(done.id, Instant::now(), done.result.is_ok());
    let after = machine.check_health(done.id);
    let (service, check) = match config
        .services
        .get(done.id.service)
        .and_then(|s| Some((s, s.checks.get(done.id.check)?)))
    {
        Some((s, c)) => (s.name.as_str(), c.name.as_str()),
        None => return,
    };
    if before.as_str() != after.as_str() {
        tracing::info!(service, check, from = before.as_str(), to = after.as_str(), error = ?done.result.as_ref().err(), "check health");
    } else if let Err(e) = &done.result {
        tracing::debug!(service, check, error = %e, "check failed");
    }
    let secs = done.latency.as_secs_f64();
    metrics.check_ran(done.id, done.result.is_ok(), secs);
    let mut st = lock(status);
    if let Some(c) = st
        .services
        .get_mut(done.id.service)
        .and_then(|s| s.checks.get_mut(done.id.check))
    {
        c.health = after.as_str().into();
        c.last_ok = Some(done.result.is_ok());
        c.last_error = done.result.err();
        c.last_latency_seconds = Some(secs);
        c.runs_total += 1;
        c.failures_total += u64::from(c.last_ok == Some(false));
        c.latency_seconds_sum += secs;
    }
}

fn record_transitions(
    config: &Config,
    machine: &mut Machine,
    status: &SharedStatus,
    metrics: &Metrics,
) {
    let transitions = machine.take_transitions();
    if transitions.is_empty() {
        return;
    }
    let mut st = lock(status);
    for t in transitions {
        let name = config
            .services
            .get(t.service)
            .map_or("?", |s| s.name.as_str());
        tracing::info!(service = name, from = %t.from, to = %t.to, wanted = %t.to.action(), "service state");
        metrics.transition(t.service, t.to);
        if let Some(s) = st.services.get_mut(t.service) {
            *s.transitions.entry(t.to.as_str().to_owned()).or_default() += 1;
        }
    }
}

fn publish(
    config: &Config,
    machine: &Machine,
    bird: &Client,
    status: &SharedStatus,
    shutting_down: bool,
) {
    let mut st = lock(status);
    st.maintenance.disable_file = machine.maintenance(MaintenanceSource::File);
    st.maintenance.admin = machine.maintenance(MaintenanceSource::Admin);
    st.maintenance.shutting_down = shutting_down;
    st.bird.connected = bird.is_connected() && st.bird.last_error.is_none();
    for (i, s) in st
        .services
        .iter_mut()
        .enumerate()
        .take(config.services.len())
    {
        let state = machine.state(i);
        s.state = state.as_str().into();
        s.wanted = state.action().as_str().into();
        s.address_present = machine.address_present(i);
        for p in &mut s.prefixes {
            p.wanted = state.action().as_str().into();
        }
        for (j, c) in s.checks.iter_mut().enumerate() {
            c.health = machine
                .check_health(CheckId {
                    service: i,
                    check: j,
                })
                .as_str()
                .into();
        }
    }
}
