//! The `routerd` binary: `run`, `check`, `drain`, `undrain`, `status`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use clap::Parser;
use reqwest::Method;
use routerd::admin::{self, AdminState};
use routerd::checks::http;
use routerd::cli::{AdminArgs, Cli, Command};
use routerd::config::Config;
use routerd::metrics::Metrics;
use routerd::{engine, Error};
use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("routerd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config } => run(&config).await,
            Command::Check { config } => check(&config),
            Command::Drain(a) => admin_call(&a, Method::POST, "/drain").await,
            Command::Undrain(a) => admin_call(&a, Method::POST, "/undrain").await,
            Command::Status(a) => admin_call(&a, Method::GET, "/status").await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("routerd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &Path) -> Result<(), Error> {
    let c = Config::load(path)?;
    let checks: usize = c.services.iter().map(|s| s.checks.len()).sum();
    let prefixes: usize = c.services.iter().map(|s| s.prefixes.len()).sum();
    println!(
        "{}: OK ({} services, {prefixes} prefixes, {checks} checks)",
        path.display(),
        c.services.len()
    );
    Ok(())
}

async fn run(path: &Path) -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::load(path)?;
    let status = Arc::new(Mutex::new(engine::initial_status(&config)));
    let metrics = Arc::new(Metrics::new(&config));
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let listen = config.admin.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
    let state = AdminState {
        status: status.clone(),
        metrics: metrics.clone(),
        requests: tx,
    };
    if let Some(at) = config.admin.metrics_listen {
        let l = tokio::net::TcpListener::bind(at)
            .await
            .map_err(|source| Error::Bind { addr: at, source })?;
        let app = admin::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    let app = admin::router(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin API stopped");
        }
    });
    let mut term = signal(SignalKind::terminate()).map_err(|source| Error::Io {
        what: "installing the SIGTERM handler",
        source,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| Error::Io {
        what: "installing the SIGINT handler",
        source,
    })?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
        notify(&[NotifyState::Stopping]);
    };
    tracing::info!(
        config = %path.display(),
        admin = %listen,
        bird = %config.bird.socket.display(),
        services = config.services.len(),
        "routerd starting"
    );
    // systemd (Type=notify): the admin API answers and the signals are
    // taken; the engine starts withdrawn until the checks pass.
    notify(&[NotifyState::Ready]);
    engine::run(config, status, metrics, rx, shutdown).await
}

/// Tells the service manager (`NOTIFY_SOCKET`; nothing when unset).
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}

/// Time limit of one admin command, connecting included.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest admin response read.
const ADMIN_LIMIT: usize = 4 << 20;

async fn admin_call(a: &AdminArgs, method: Method, path: &str) -> Result<(), Error> {
    let addr = match (&a.admin, &a.config) {
        (Some(addr), _) => *addr,
        (None, Some(c)) => Config::load(c)?.admin.listen,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 9180)),
    };
    let err = |message: String| Error::Admin {
        addr: addr.to_string(),
        message,
    };
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            err(format!("no answer within {} s", ADMIN_TIMEOUT.as_secs()))
        } else {
            err(http::describe(&e))
        }
    };
    let client = reqwest::Client::builder()
        .user_agent(http::USER_AGENT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ADMIN_TIMEOUT)
        .build()
        .map_err(failed)?;
    let url = format!("http://{addr}{path}");
    let mut r = client.request(method, &url).send().await.map_err(failed)?;
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > ADMIN_LIMIT {
            return Err(err(format!("answer longer than {ADMIN_LIMIT} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&body);
    if !r.status().is_success() {
        return Err(err(format!("status {}: {}", r.status(), body.trim())));
    }
    println!("{}", body.trim_end());
    Ok(())
}
