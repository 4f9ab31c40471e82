//! The workspace guard: the only port a workstation opens to the VPC (8443, reachable from the
//! gateway's security group only), in front of apps that listen on `127.0.0.1`. The network
//! rule says who may *connect*; the guard says who may *open*: every request carries the
//! gateway's signed identity assertion for this workspace and this app, or is refused, so a
//! process elsewhere in the VPC that reaches the port still opens nothing.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderValue, StatusCode, Uri};
use tokio_util::sync::CancellationToken;

use crate::{
    forward::{Forwarder, X_FORWARDED_PROTO},
    identity::{GatewayPublicKey, IDENTITY_HEADER, USER_HEADER},
};

/// The header RStudio Server reads to know the path prefix it is served under.
pub const RSTUDIO_ROOT_PATH: &str = "x-rstudio-root-path";
/// The unauthenticated health check (for the agent's own checks and an operator's `curl`).
pub const HEALTH_PATH: &str = "/_atelier/health";

/// One app behind the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardApp {
    /// Its name in the path (`/w/<id>/<name>/…`): `jupyterlab`, `rstudio`.
    pub name: String,
    /// Where it listens on [`GuardConfig::app_host`].
    pub port: u16,
    /// RStudio: strip `/w/<id>/<app>` and send `X-RStudio-Root-Path`; JupyterLab: path
    /// unchanged (it runs with a base_url).
    pub strip_prefix: bool,
}

/// What the guard serves.
#[derive(Clone)]
pub struct GuardConfig {
    /// This workstation's workspace: assertions for any other are refused.
    pub workspace_id: String,
    /// The gateway's public key.
    pub key: GatewayPublicKey,
    /// The apps, by name.
    pub apps: Vec<GuardApp>,
    /// Where the apps listen ("127.0.0.1").
    pub app_host: String,
}

struct Guard {
    config: GuardConfig,
    forwarder: Forwarder,
    /// Cancelled when the guard stops: ends the WebSocket tunnels.
    close: CancellationToken,
}

/// The guard's router: `/w/<workspace id>/<app>/...` verified (identity header, see
/// identity::verify with this workspace and app) then forwarded to the app (WebSockets
/// included), the identity header removed and USER_HEADER added; anything else 404; a bad or
/// missing assertion 401 (nothing forwarded); `GET /_atelier/health` 200 "ok" unauthenticated.
pub fn router(config: GuardConfig) -> Router {
    router_closing(config, CancellationToken::new())
}

fn router_closing(config: GuardConfig, close: CancellationToken) -> Router {
    let guard = Arc::new(Guard { config, forwarder: Forwarder::new(), close });
    Router::new().route(HEALTH_PATH, get(|| async { "ok" })).fallback(open).with_state(guard)
}

/// Serves `router(config)` on `listener` (with the client address for X-Forwarded-For)
/// until `shutdown` is cancelled. Requests under way are finished; open WebSocket tunnels
/// are closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: GuardConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router_closing(config, shutdown.child_token());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Parses "jupyterlab=8888,rstudio=8787" (rstudio gets strip_prefix = true, others false);
/// errors name the bad entry.
pub fn parse_apps(spec: &str) -> Result<Vec<GuardApp>, String> {
    let mut apps: Vec<GuardApp> = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, port) = entry.split_once('=').ok_or_else(|| format!("{entry:?}: expected <app>=<port>"))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(format!("{entry:?}: the app name must be lowercase letters, digits and -"));
        }
        let port = match port.trim().parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("{entry:?}: the port must be a number from 1 to 65535")),
        };
        if apps.iter().any(|app| app.name == name) {
            return Err(format!("{entry:?}: {name} is listed twice"));
        }
        apps.push(GuardApp { name: name.to_owned(), port, strip_prefix: name == "rstudio" });
    }
    if apps.is_empty() {
        return Err(format!("{spec:?}: no app (expected e.g. jupyterlab=8888,rstudio=8787)"));
    }
    Ok(apps)
}

/// `/w/<id>/<app>[/<rest>]`: the workspace id, the app, and where the rest starts.
fn route(path: &str) -> Option<(&str, &str, usize)> {
    let rest = path.strip_prefix("/w/")?;
    let (id, rest) = rest.split_once('/')?;
    let app = rest.split('/').next()?;
    if id.is_empty() || app.is_empty() {
        return None;
    }
    Some((id, app, "/w/".len() + id.len() + 1 + app.len()))
}

async fn open(State(guard): State<Arc<Guard>>, mut request: Request) -> Response {
    let config = &guard.config;
    let path = request.uri().path().to_owned();
    let Some((id, name, prefix_end)) = route(&path) else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let Some(app) = config.apps.iter().find(|app| app.name == name).filter(|_| id == config.workspace_id) else {
        return text(StatusCode::NOT_FOUND, "no such app on this workspace");
    };
    let token = request.headers().get(IDENTITY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if token.is_empty() {
        return text(StatusCode::UNAUTHORIZED, "identity assertion missing");
    }
    let assertion = match config.key.verify(token, &config.workspace_id, &app.name, now_unix()) {
        Ok(assertion) => assertion,
        Err(error) => {
            tracing::warn!(app = app.name, error = %error, "identity assertion refused");
            return text(StatusCode::UNAUTHORIZED, &format!("identity assertion refused: {error}"));
        }
    };
    let Ok(user) = HeaderValue::from_str(&assertion.username) else {
        return text(StatusCode::UNAUTHORIZED, "identity assertion refused: the username is not a header value");
    };
    let headers = request.headers_mut();
    headers.remove(IDENTITY_HEADER);
    headers.insert(USER_HEADER, user);
    if app.strip_prefix {
        let root = HeaderValue::from_str(&path[..prefix_end]).ok();
        if let Some(root) = root {
            request.headers_mut().insert(RSTUDIO_ROOT_PATH, root);
        }
        if let Some(uri) = stripped(request.uri(), prefix_end) {
            *request.uri_mut() = uri;
        }
    }
    // Behind the gateway the browser's scheme is the gateway's header, not this hop's.
    let proto = request.headers().get(X_FORWARDED_PROTO).and_then(|v| v.to_str().ok()).unwrap_or("http").to_owned();
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let upstream = format!("{}:{}", config.app_host, app.port);
    let forwarded = guard.forwarder.forward(request, &upstream, client, &proto, guard.close.clone()).await;
    if let Some(tunnel) = forwarded.tunnel {
        let app = app.name.clone();
        let user = assertion.username;
        tokio::spawn(async move {
            let end = tunnel.await;
            tracing::info!(app, user, end = ?end, "tunnel ended");
        });
    }
    forwarded.response
}

/// The URI without its first `prefix_end` path bytes (`/` when nothing is left).
fn stripped(uri: &Uri, prefix_end: usize) -> Option<Uri> {
    let rest = uri.path().get(prefix_end..).filter(|r| !r.is_empty()).unwrap_or("/");
    let path_and_query = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    path_and_query.parse().ok()
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn text(status: StatusCode, message: &str) -> Response {
    (status, [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

#[cfg(test)]
mod tests;
