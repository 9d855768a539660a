//! `anysip run` and `anysip check`, and the one lifecycle every role
//! follows: configuration → listeners → the role → admin API → serve →
//! drain → exit; the service manager is told along the way (`notify.rs`),
//! and SIGHUP reloads what can change under a running role (`reload.rs`).

mod defaults;
mod notify;
mod reload;
mod served;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anysip_config::{Config, Role};

use crate::error::Error;
use crate::listeners;
use crate::role::{Prepared, Running};
use crate::shared::Shared;
use reload::{Reloader, RoleReload};

/// What a role tells the rest of the process: that it serves (for
/// `READY=1`), and what SIGHUP reloads in it.
struct Hooks {
    path: Option<PathBuf>,
    ready: tokio::sync::mpsc::Sender<()>,
    reloader: Arc<Reloader>,
}

/// `anysip check -c FILE`.
pub(crate) fn check(path: &Path) -> Result<(), Error> {
    let config = anysip_config::load(path)?;
    served::refuse_unserved(&config)
        .map_err(|e| Error::Startup(format!("{}: {e}", path.display())))?;
    for notice in &config.notices {
        println!("{}: warning: {notice}", path.display());
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// `anysip run [-c FILE]`.
/// Raises the soft limit of open files to the hard one: every connection
/// is a descriptor, and the usual soft limit (1024) is far below
/// `limits.max_connections`. Warns when even the hard limit is below what
/// the configuration allows.
fn raise_file_limit(connections: usize) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft < hard {
        if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            tracing::warn!(error = %e, soft, hard, "cannot raise the open files limit");
        }
    }
    // Room for listeners, sockets of the roles and the admin API.
    let needed = connections.saturating_add(256) as u64;
    if hard < needed {
        tracing::warn!(
            limit = hard,
            needed,
            "the open files limit is below limits.max_connections: raise LimitNOFILE (systemd) or ulimit -n"
        );
    }
}

pub(crate) fn run(path: Option<&Path>) -> Result<(), Error> {
    let configs = match path {
        Some(p) => vec![anysip_config::load(p)?],
        None => defaults::embedded()?,
    };
    for c in &configs {
        served::refuse_unserved(c)?;
    }
    crate::telemetry::init(&configs[0])?;
    for c in &configs {
        for notice in &c.notices {
            tracing::warn!(config = %path.map_or("(embedded)".into(), |p| p.display().to_string()), "{notice}");
        }
    }
    crate::shared::set_user_agent(configs[0].server.user_agent_header.as_deref());
    if path.is_none() {
        tracing::warn!("no -c FILE: running the embedded development default: an edge on 127.0.0.1:5060 in front of a core on 127.0.0.1:5070 (memory registrar, deploy/scripts/proxy_default.py, users alice and bob)");
    }
    let wanted: usize = configs.iter().map(|c| c.limits.max_connections).sum();
    raise_file_limit(wanted);
    let workers = match configs[0].server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    // An edge serves SIP on its own worker threads (`worker.rs`); what is
    // left on this runtime (admin API, probes, timers) needs one thread.
    // A core's streams, registrar and DNS run here.
    let threads = if configs.iter().all(|c| c.role == Role::Edge) {
        1
    } else {
        workers
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "tokio runtime".into(),
            source,
        })?;
    let result = rt.block_on(async move {
        let reloader = Arc::new(Reloader::default());
        reloader.clone().listen()?;
        let ready = notify::ready_when_all(configs.len());
        let tasks: Vec<_> = configs
            .into_iter()
            .map(|c| {
                let hooks = Hooks {
                    path: path.map(Path::to_path_buf),
                    ready: ready.clone(),
                    reloader: reloader.clone(),
                };
                tokio::spawn(serve(c, workers, hooks))
            })
            .collect();
        // The roles run side by side; the first error wins.
        let mut result = Ok(());
        for t in tasks {
            let r = t
                .await
                .unwrap_or_else(|e| Err(Error::Startup(format!("role task failed: {e}"))));
            if result.is_ok() {
                result = r;
            }
        }
        result
    });
    crate::telemetry::otlp::flush();
    result
}

/// Serves one configuration (one role) until drained.
async fn serve(config: Config, workers: usize, hooks: Hooks) -> Result<(), Error> {
    let p = match config.role {
        Role::Edge => crate::role::edge::prepare(&config, workers)?,
        Role::Core => crate::role::core::prepare(&config).await?,
    };
    let Prepared {
        shared,
        dispatch,
        outbox,
        conns,
        sockets,
        streams_on,
        probe,
        mut tasks,
        running,
        reload,
    } = p;
    listeners::serve_sip(
        &config,
        (sockets, &streams_on),
        &dispatch,
        &outbox,
        &mut tasks,
    )?;
    if config.role == Role::Edge {
        listeners::serve_ws(
            &config,
            (&shared, &streams_on),
            &dispatch,
            &outbox,
            &mut tasks,
        )?;
    }
    if let Some(from) = probe {
        tasks.push(tokio::spawn(crate::probe::run(
            shared.clone(),
            outbox.clone(),
            from,
        )));
    }
    listeners::serve_admin(&config, &shared, &conns, &mut tasks).await?;
    tracing::info!(
        role = ?config.role,
        instance = %config.server.instance_id.name,
        udp = ?config.listen.udp,
        tcp = ?config.listen.tcp,
        tls = ?config.listen.tls,
        ws = ?config.listen.ws,
        wss = ?config.listen.wss,
        admin = %config.admin.listen,
        "anysip {} running",
        match config.role {
            Role::Edge => "edge",
            Role::Core => "core",
        }
    );
    hooks.reloader.add(RoleReload {
        path: hooks.path,
        shared: shared.clone(),
        what: reload,
    });
    let _ = hooks.ready.send(()).await;
    wait_for_drain(&shared).await;
    let limit = Duration::from_secs(config.server.drain_secs);
    notify::stopping(limit);
    match &running {
        Running::Edge { .. } => {
            tracing::warn!(
                secs = limit.as_secs(),
                "draining: not ready, still serving, stopping after drain_secs"
            );
            tokio::time::sleep(limit).await;
        }
        Running::Core { handle, .. } => {
            tracing::warn!(
                secs = limit.as_secs(),
                "draining: new requests get 503, transactions in flight finish"
            );
            if !handle.wait_idle(limit).await {
                tracing::warn!("drain_secs passed with transactions still in flight");
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    match running {
        Running::Edge { workers } => {
            shared.filter.detach();
            drop(workers);
        }
        Running::Core { server, thread, .. } => {
            // The proxy task first, then its thread.
            drop(server);
            drop(thread);
        }
    }
    tracing::info!("drained: exiting");
    Ok(())
}

/// Returns when SIGTERM or SIGINT arrives, or a drain is requested over
/// the admin API; the role is then draining (not ready).
async fn wait_for_drain(shared: &Shared) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    loop {
        tokio::select! {
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if shared.is_draining() {
                    break;
                }
            }
        }
    }
    shared.drain();
}
