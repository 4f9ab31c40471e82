//! dev-server: the whole product on localhost (never deployed). Starts moto, seeds it,
//! serves every function's router and the portal, and runs state-sync and the scheduler on
//! timers (the scheduler with the wall clock; `POST /_local/scheduler/run` replays any instant).

use std::{process::ExitCode, time::Duration};

use atelier_devstack::{MotoServer, Seed, banner::banner, local::LocalApp, moto::repo_root, sdk_config};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    atelier_web::init_tracing();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dev-server: {err}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A whole number of seconds, at least one, from `name`.
fn seconds(name: &str, default: &str) -> Result<Duration, Error> {
    match env(name, default).parse::<u64>() {
        Ok(s) if s >= 1 => Ok(Duration::from_secs(s)),
        _ => Err(format!("{name} must be a whole number of seconds, at least 1").into()),
    }
}

async fn run() -> Result<(), Error> {
    let moto_port = env("ATELIER_MOTO_PORT", "5000").parse().map_err(|_| "ATELIER_MOTO_PORT must be a port number")?;
    let (sync_every, scheduler_every) =
        (seconds("ATELIER_SYNC_SECONDS", "3")?, seconds("ATELIER_SCHEDULER_SECONDS", "60")?);
    let moto = MotoServer::start(Some(moto_port))?;
    let sdk = sdk_config(&moto.endpoint()).await;
    let seeded = Seed::default().apply(&sdk).await?;
    let bind = env("ATELIER_BIND", "127.0.0.1:8080");
    let url = format!("http://{bind}");
    let max_active = atelier_adapters::dynamodb::max_active_from_env()?;
    let app = LocalApp::with_max_active(&sdk, &moto.endpoint(), &seeded, &url, max_active);
    tokio::spawn(app.clone().sync_forever(sync_every));
    tokio::spawn(app.clone().scheduler_forever(scheduler_every));
    let router = app.router_with_portal(&repo_root().join("frontend/dist"));
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    println!("{}", banner(&url, &moto.endpoint(), &seeded));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(moto);
    Ok(())
}
