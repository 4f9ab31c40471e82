//! In-process stand-ins for tests and the benchmark (feature `testing`): servers on
//! `127.0.0.1:0`, a gateway hop that signs an assertion for every request, a WebSocket
//! echo app. Not for production: the gateway hop authenticates nobody.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    forward::{Forwarder, TunnelEnd},
    identity::{Assertion, GatewayKey, IDENTITY_HEADER},
};

/// Serves `router` on a fresh port of 127.0.0.1 (with the client address available as
/// `ConnectInfo<SocketAddr>`) until the process ends; its address.
pub async fn spawn(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port on 127.0.0.1");
    let address = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(error = %error, "test server stopped");
        }
    });
    address
}

/// A WebSocket server on a fresh port of 127.0.0.1 that sends back every text and binary
/// message it receives, on any path; its address.
pub async fn spawn_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port on 127.0.0.1");
    let address = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

/// The gateway's forwarding hop without its authentication: every request to
/// `/w/<id>/<app>/…` gets a fresh assertion for `id` and `app` (subject `sub-test`,
/// username `tester`) signed with `key`, and is forwarded to the guard at `guard`.
/// Tunnels close when `close` is cancelled; their ends are sent to `ends`, if given.
#[derive(Clone)]
pub struct GatewayHop {
    /// The gateway's signing key.
    pub key: Arc<GatewayKey>,
    /// The guard's `host:port`.
    pub guard: String,
    /// Closes the tunnels.
    pub close: CancellationToken,
    /// Receives how each tunnel ended.
    pub ends: Option<tokio::sync::mpsc::UnboundedSender<TunnelEnd>>,
    /// The pool to the guard.
    pub forwarder: Forwarder,
}

impl GatewayHop {
    /// A hop to `guard` signing with `key`.
    pub fn new(key: GatewayKey, guard: SocketAddr) -> Self {
        Self {
            key: Arc::new(key),
            guard: guard.to_string(),
            close: CancellationToken::new(),
            ends: None,
            forwarder: Forwarder::new(),
        }
    }

    /// The hop as a router (every path).
    pub fn router(self) -> Router {
        Router::new().fallback(hop).with_state(self)
    }
}

async fn hop(State(hop): State<GatewayHop>, mut request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    let (id, app) = (segments.next().unwrap_or_default(), segments.next().unwrap_or_default());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs().cast_signed());
    let token = hop.key.sign(&Assertion::new(id, app, "sub-test", "tester", now));
    if let Ok(token) = HeaderValue::from_str(&token) {
        request.headers_mut().insert(IDENTITY_HEADER, token);
    }
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let forwarded = hop.forwarder.forward(request, &hop.guard, client, "https", hop.close.clone()).await;
    if let Some(tunnel) = forwarded.tunnel {
        let ends = hop.ends.clone();
        tokio::spawn(async move {
            let end = tunnel.await.unwrap_or_else(|e| TunnelEnd::Failed(e.to_string()));
            if let Some(ends) = ends {
                let _ = ends.send(end);
            }
        });
    }
    forwarded.response
}
