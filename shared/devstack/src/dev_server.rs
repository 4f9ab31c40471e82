//! `make dev`: the whole product on localhost. Starts moto, seeds it, serves both API
//! functions' routes, `/config.json`, the local-only routes and the portal, and runs the
//! state-sync and scheduler jobs on timers (the scheduler with the wall clock;
//! `POST /_local/scheduler/run` replays any instant).
//!
//! The gateway listens on `ATELIER_GATEWAY_BIND` (default `127.0.0.1:8081`); each RUNNING
//! workspace gets a local machine: a real JupyterLab from the venv behind the agent's guard.
//!
//! Settings: `ATELIER_BIND` (default `127.0.0.1:8080`), `ATELIER_MOTO_PORT` (5000),
//! `ATELIER_SYNC_SECONDS` (3), `ATELIER_SCHEDULER_SECONDS` (60),
//! `ATELIER_MAX_ACTIVE_WORKSPACES` (5), `ATELIER_DEV_PASSWORD`.

use std::time::Duration;

use jiff::SignedDuration;

use crate::{MotoServer, Seed, banner::banner, local::LocalApp, machines::App, moto::repo_root, sdk_config};

/// Why the dev server stopped.
pub type Error = Box<dyn std::error::Error>;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// A whole number of seconds, at least one, from `name`.
fn seconds(name: &str, default: &str) -> Result<Duration, Error> {
    match env(name, default).trim().parse::<u64>() {
        Ok(s) if s >= 1 => Ok(Duration::from_secs(s)),
        _ => Err(format!("{name} must be a whole number of seconds, at least 1").into()),
    }
}

/// A whole number of workspaces, at least one, from `name`.
fn cap(name: &str, default: u32) -> Result<u32, Error> {
    match env(name, &default.to_string()).trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{name} must be a whole number of workspaces, at least 1").into()),
    }
}

/// The project's venv (`ATELIER_VENV`, set by the Makefile; `.venv` otherwise), where
/// JupyterLab for the local machines is installed.
fn venv() -> std::path::PathBuf {
    std::env::var_os("ATELIER_VENV").map_or_else(|| repo_root().join(".venv"), std::path::PathBuf::from)
}

/// Runs the dev server until Ctrl-C.
pub async fn run() -> Result<(), Error> {
    let moto_port = env("ATELIER_MOTO_PORT", "5000").parse().map_err(|_| "ATELIER_MOTO_PORT must be a port number")?;
    let sync_every = seconds("ATELIER_SYNC_SECONDS", "3")?;
    let scheduler_every = seconds("ATELIER_SCHEDULER_SECONDS", "60")?;
    let max_active = cap("ATELIER_MAX_ACTIVE_WORKSPACES", atelier_adapters::dynamodb::DEFAULT_MAX_ACTIVE_WORKSPACES)?;
    let moto = MotoServer::start(Some(moto_port))?;
    let sdk = sdk_config(&moto.endpoint()).await;
    let seeded = Seed::default().apply(&sdk).await?;
    let bind = env("ATELIER_BIND", "127.0.0.1:8080");
    let url = format!("http://{bind}");
    let tick = SignedDuration::try_from(scheduler_every)?;
    let gateway_bind = env("ATELIER_GATEWAY_BIND", "127.0.0.1:8081");
    let gateway_url = format!("http://{gateway_bind}");
    let app = LocalApp::with_settings(&sdk, &moto.endpoint(), &seeded, &url, |settings| {
        settings.max_active = max_active;
        settings.scheduler_tick = tick;
        settings.gateway_url = Some(gateway_url.clone());
    })
    .with_app(App::Jupyter(venv()));
    app.publish_catalog(&seeded).await?;
    let lives = crate::last_month::seed(&app.root.workspaces(), jiff::Timestamp::now()).await?;
    tracing::info!(workspaces = lives, "seeded last month's work");
    let gateway_listener = tokio::net::TcpListener::bind(&gateway_bind)
        .await
        .map_err(|e| format!("cannot listen on {gateway_bind} (ATELIER_GATEWAY_BIND): {e}"))?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let gateway = tokio::spawn(app.gateway(Some(url.clone())).serve(gateway_listener, shutdown.clone()));
    tokio::spawn(app.clone().sync_forever(sync_every));
    tokio::spawn(app.clone().scheduler_forever(scheduler_every));
    let router = app.router_with_portal(&repo_root().join("frontend/dist"));
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    println!("{}", banner(&url, &gateway_url, &moto.endpoint(), &seeded));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    shutdown.cancel();
    let _ = gateway.await;
    drop(moto);
    Ok(())
}
