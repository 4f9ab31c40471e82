//! dev-server: the whole product on localhost (never deployed). Starts moto, seeds it,
//! serves every function's router and the portal, and runs state-sync and the scheduler on
//! timers (the scheduler with the wall clock; `POST /_local/scheduler/run` replays any instant).

use std::time::Duration;

use atelier_devstack::{MotoServer, Seed, banner::banner, local::LocalApp, moto::repo_root, sdk_config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    atelier_web::init_tracing();
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let moto = MotoServer::start(Some(env("ATELIER_MOTO_PORT", "5000").parse()?))?;
    let sdk = sdk_config(&moto.endpoint()).await;
    let seeded = Seed::default().apply(&sdk).await?;
    let bind = env("ATELIER_BIND", "127.0.0.1:8080");
    let url = format!("http://{bind}");
    let app = LocalApp::new(&sdk, &moto.endpoint(), &seeded, &url);
    let sync_every = Duration::from_secs(env("ATELIER_SYNC_SECONDS", "3").parse()?);
    tokio::spawn(app.clone().sync_forever(sync_every));
    let scheduler_every = Duration::from_secs(env("ATELIER_SCHEDULER_SECONDS", "60").parse()?);
    tokio::spawn(app.clone().scheduler_forever(scheduler_every));
    let router = app.router_with_portal(&repo_root().join("frontend/dist"));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("{}", banner(&url, &moto.endpoint(), &seeded));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(moto);
    Ok(())
}
