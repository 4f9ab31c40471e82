//! `atelier-agent [--once]`: the workspace agent (see the library's documentation for what it
//! does and the environment variables it reads).

use std::{future::Future, process::ExitCode, time::Duration};

use atelier_agent::{
    config::{Config, GUARD_BIND},
    setup::{Guard, Wired},
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
usage: atelier-agent [--once]

Mounts the datasets attached to this workspace (its atelier:dataset:* tags) read-only under
the data root with Mountpoint for Amazon S3, unmounts detached ones, and reports what it
mounted in its atelier:mounted:* tags; probes the apps on 127.0.0.1 and reports each in
atelier:app:<app> (ready|down). Runs every ATELIER_AGENT_INTERVAL_SECONDS until SIGTERM,
which leaves the mounts in place. Meanwhile the workspace guard serves the apps on
ATELIER_AGENT_GUARD_BIND to the gateway: /w/<workspace id>/<app>/... with a valid gateway
assertion (X-Atelier-Identity) only.

  --once     run each reconciler once, print a JSON summary, exit 1 if any failed (no guard)
  --help     this text
  --version  the version

Environment: ATELIER_AGENT_DATA_ROOT (/data), ATELIER_AGENT_INTERVAL_SECONDS (30),
ATELIER_AGENT_TAGS_FROM (imds|ec2, imds), ATELIER_AGENT_INSTANCE_ID (from instance metadata),
ATELIER_AGENT_MOUNT_COMMAND (mount-s3), ATELIER_AGENT_GUARD_BIND (0.0.0.0:8443, or off),
ATELIER_AGENT_GATEWAY_KEY_FILE (/etc/atelier/gateway.pub),
ATELIER_AGENT_APPS (jupyterlab=8888,rstudio=8787, or off),
ATELIER_AGENT_WORKSPACE_ID (the atelier:workspace tag), the standard AWS variables,
RUST_LOG (info).";

fn main() -> ExitCode {
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--version" | "-V" => {
                println!("atelier-agent {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("atelier-agent: unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    init_tracing();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error = %error, "bad configuration");
            return ExitCode::from(2);
        }
    };
    // One thread: the passes are sequential, the guard's forwarding is I/O, and the agent
    // should stay small on the scientist's machine.
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(config, once)),
        Err(error) => {
            tracing::error!(error = %error, "no runtime");
            ExitCode::FAILURE
        }
    }
}

/// JSON lines on standard error (standard output carries `--once`'s summary), event fields
/// at the top level so that journald and CloudWatch queries can select on them.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(config: Config, once: bool) -> ExitCode {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    if once {
        return match atelier_agent::setup::agent(&config, &sdk).await {
            Ok(agent) => run_once(agent).await,
            Err(error) => {
                tracing::error!(error = %error, "cannot start");
                ExitCode::FAILURE
            }
        };
    }
    let Wired { mut agent, guard } = match atelier_agent::setup::wire(&config, &sdk).await {
        Ok(wired) => wired,
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            tracing::error!(error = %error, "cannot listen for SIGTERM");
            return ExitCode::FAILURE;
        }
    };
    let stop_guard = CancellationToken::new();
    let guard = match guard {
        Some(guard) => match start_guard(guard, stop_guard.clone()).await {
            Ok(task) => Some(task),
            Err(error) => {
                tracing::error!(error = %error, "cannot start the guard");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    tracing::info!(
        data_root = %config.data_root.display(),
        interval_seconds = config.interval.as_secs(),
        tags_from = ?config.tags_from,
        guard = ?config.guard_bind,
        "started"
    );
    agent.run_until(config.interval, shutdown).await;
    stop_guard.cancel();
    if let Some(guard) = guard {
        // Requests under way get a few seconds; tunnels are closed at once.
        if tokio::time::timeout(Duration::from_secs(10), guard).await.is_err() {
            tracing::warn!("guard: requests still under way after 10 s, left");
        }
    }
    tracing::info!("stopped; mounts left in place");
    ExitCode::SUCCESS
}

async fn run_once(mut agent: atelier_agent::reconcile::Agent) -> ExitCode {
    let summary = agent.run_once().await;
    match serde_json::to_string_pretty(&summary) {
        Ok(json) => println!("{json}"),
        Err(error) => tracing::error!(error = %error, "summary not printed"),
    }
    if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Binds the guard's port now (a port in use stops the agent with a clear error) and serves
/// it in a task until `stop` is cancelled.
async fn start_guard(guard: Guard, stop: CancellationToken) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(guard.bind)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("{GUARD_BIND}={}: {e}", guard.bind)))?;
    tracing::info!(bind = %guard.bind, workspace_id = guard.config.workspace_id, "guard listening");
    Ok(tokio::spawn(async move {
        if let Err(error) = atelier_proxy::guard::serve(listener, guard.config, stop).await {
            tracing::error!(error = %error, "guard stopped");
        }
    }))
}

/// Completes on SIGTERM (systemd's stop) or SIGINT. The handlers are installed now, before
/// the first pass, so a signal during it is not lost (nor fatal).
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM"),
            _ = interrupt.recv() => tracing::info!("SIGINT"),
        }
    })
}
