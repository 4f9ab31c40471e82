//! `atelier-agent [--once]`: the workspace agent (see the library's documentation for what it
//! does and the environment variables it reads).

use std::{future::Future, process::ExitCode};

use atelier_agent::config::Config;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
usage: atelier-agent [--once]

Mounts the datasets attached to this workspace (its atelier:dataset:* tags) read-only under
the data root with Mountpoint for Amazon S3, unmounts detached ones, and reports what it
mounted in its atelier:mounted:* tags. Runs every ATELIER_AGENT_INTERVAL_SECONDS until SIGTERM,
which leaves the mounts in place.

  --once     run each reconciler once, print a JSON summary, exit 1 if any failed
  --help     this text
  --version  the version

Environment: ATELIER_AGENT_DATA_ROOT (/data), ATELIER_AGENT_INTERVAL_SECONDS (30),
ATELIER_AGENT_TAGS_FROM (imds|ec2, imds), ATELIER_AGENT_INSTANCE_ID (from instance metadata),
ATELIER_AGENT_MOUNT_COMMAND (mount-s3), the standard AWS variables, RUST_LOG (info).";

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
    // One thread: the passes are sequential, and the agent should stay small on the machine.
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
    let mut agent = match atelier_agent::setup::agent(&config, &sdk).await {
        Ok(agent) => agent,
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if once {
        let summary = agent.run_once().await;
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => println!("{json}"),
            Err(error) => tracing::error!(error = %error, "summary not printed"),
        }
        return if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            tracing::error!(error = %error, "cannot listen for SIGTERM");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        data_root = %config.data_root.display(),
        interval_seconds = config.interval.as_secs(),
        tags_from = ?config.tags_from,
        "started"
    );
    agent.run_until(config.interval, shutdown).await;
    tracing::info!("stopped; mounts left in place");
    ExitCode::SUCCESS
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
