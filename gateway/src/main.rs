//! `atelier-gateway`: the workspace gateway service (see the library's documentation).
//! `atelier-gateway keygen` prints a new Ed25519 key pair: the private key for the
//! `ATELIER_GATEWAY_SIGNING_KEY` secret, the public key for the products' `GatewayPublicKey`.

use std::{process::ExitCode, sync::Arc};

use atelier_gateway::{Gateway, GatewayConfig};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("keygen") => {
            let (private, public) = atelier_proxy::identity::keygen();
            println!("{private}\n{public}");
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("atelier-gateway {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("usage: atelier-gateway [keygen]  (unknown argument {other:?})");
            return ExitCode::from(2);
        }
        None => {}
    }
    atelier_app::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime.map_err(atelier_app::Error::from).and_then(|r| r.block_on(run())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "the gateway stopped");
            eprintln!("atelier-gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), atelier_app::Error> {
    let root = atelier_app::from_env(&atelier_app::settings::GATEWAY)?;
    let settings = root.settings().gateway.clone();
    let key = settings.signing_key.clone().ok_or("ATELIER_GATEWAY_SIGNING_KEY is required")?;
    let config = GatewayConfig { portal_url: settings.portal_url.clone(), secure_cookies: true };
    let gateway = Arc::new(Gateway::new(root.apps(), root.verifier().clone(), &key, config)?);
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    tracing::info!(address = %settings.bind, "gateway serving");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { if let Some(t) = term.as_mut() { t.recv().await; } } => {}
        }
        stop.cancel();
    });
    gateway.serve(listener, shutdown).await?;
    Ok(())
}
