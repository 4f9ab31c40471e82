//! The real gateway for the benchmark: `atelier_gateway::Gateway` with its ports in memory
//! (a workspace of alice's, RUNNING; the directory says she is active), a guard of its own
//! for that workspace in front of the same apps, and a session cookie sealed as the
//! gateway seals them.

use std::{net::SocketAddr, sync::Arc};

use async_trait::async_trait;
use atelier_domain::{
    State, UpstreamError,
    apps::{AppEndpoints, Apps, Endpoint},
    testing::{FakeDirectory, MemoryStore, ProductBuilder, WorkspaceBuilder},
};
use atelier_gateway::{
    Gateway, GatewayConfig,
    cookie::{CookieKey, SessionClaims},
};
use atelier_proxy::identity::keygen;
use tokio_util::sync::CancellationToken;

/// Where the real gateway listens, for which workspace, with which cookies.
pub struct Real {
    pub address: SocketAddr,
    pub workspace: String,
    pub cookie: String,
    pub rstudio_cookie: String,
}

/// Every instance is the guard at `upstream`.
struct Fixed(String);

#[async_trait]
impl AppEndpoints for Fixed {
    async fn endpoint(&self, _instance: &str) -> Result<Option<Endpoint>, UpstreamError> {
        Ok(Some(Endpoint { upstream: self.0.clone(), ready: Default::default() }))
    }
}

/// The gateway and its guard, in front of `app` (jupyterlab) and `echo` (rstudio).
pub async fn gateway(app: SocketAddr, echo: SocketAddr) -> Result<Real, String> {
    let store = Arc::new(MemoryStore::new());
    store.put_product(ProductBuilder::new("small-t3-large").apps(&["jupyterlab", "rstudio"]).build());
    let workspace = WorkspaceBuilder::new().owner("alice").state(State::Running).instance("i-bench").build();
    let id = workspace.id.to_string();
    store.put_workspace(workspace);
    let directory = Arc::new(FakeDirectory::default());
    directory.set_groups("alice", &["scientists"]);
    let (private, public) = keygen();
    let upstream = crate::spawn_guard(&id, &public, app, echo).await?.to_string();
    let apps = Apps {
        store: store.clone(),
        catalog: store.clone(),
        endpoints: Arc::new(Fixed(upstream)),
        access: store,
        standings: directory,
        gateway_url: String::new(),
    };
    // Never asked: the benchmark's sessions are cookies.
    let verifier = Arc::new(atelier_web::JwtVerifier::new(atelier_web::VerifierSettings::for_pool(
        "eu-west-3",
        "eu-west-3_bench",
        "bench",
        Some("http://127.0.0.1:9"),
    )));
    let gateway =
        Arc::new(Gateway::new(apps, verifier, &private, GatewayConfig::default()).map_err(|e| e.to_string())?);
    let listener = bind().await?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(gateway.serve(listener, CancellationToken::new()));
    let key = CookieKey::derive(&private);
    let now = jiff::Timestamp::now().as_second();
    let seal = |app: &str| {
        let claims = SessionClaims {
            sid: format!("s-bench-{app}"),
            sub: "sub-alice".into(),
            username: "alice".into(),
            groups: vec!["scientists".into()],
            ws: id.clone(),
            app: app.into(),
            iat: now,
            exp: now + 3600,
        };
        format!("{}={}", atelier_gateway::cookie::COOKIE, key.seal(&claims))
    };
    Ok(Real { address, cookie: seal("jupyterlab"), rstudio_cookie: seal("rstudio"), workspace: id })
}

async fn bind() -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())
}
