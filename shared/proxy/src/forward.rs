//! One request forwarded to an upstream (`host:port`, plain HTTP/1.1): the gateway's hop to a
//! workspace guard, and the guard's hop to an app. Bodies stream both ways (nothing is
//! buffered whole: notebooks upload and download large files); a WebSocket upgrade that the
//! upstream accepts becomes a byte tunnel between the two upgraded connections.

use std::{net::IpAddr, time::Duration};

use axum::body::Body;
use http::{
    HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri,
    header::{CONNECTION, HOST, UPGRADE},
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `X-Forwarded-For`: the client addresses, each hop appending the one it saw.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the browser used.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host the browser asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that concern one connection, not the request (RFC 9110 §7.6.1), never forwarded
/// as they are (`Upgrade` and `Connection` are set again for an upgrade).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The outcome of forwarding one request.
pub struct Forwarded {
    /// What to answer the client: the upstream's answer, or a 502/504 saying what failed.
    pub response: Response<Body>,
    /// For a WebSocket (any `Upgrade`) that the upstream accepted (101): the task that pumps
    /// bytes both ways; it ends when either side closes or `close` is cancelled.
    pub tunnel: Option<JoinHandle<TunnelEnd>>,
}

/// How a tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both sides closed their connection (the WebSocket closed).
    Closed,
    /// The `close` token was cancelled (shutdown, or the gateway ending the session).
    Cancelled,
    /// An upgrade did not complete, or a connection failed; says which and why.
    Failed(String),
}

/// Forwards requests through one pool of upstream connections. Cheap to clone (the clones
/// share the pool).
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
}

impl Default for Forwarder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").field("response_timeout", &self.response_timeout).finish_non_exhaustive()
    }
}

impl Forwarder {
    /// HTTP/1.1 with pooled connections, 5 s to connect, 300 s for the upstream's response
    /// head (bodies and tunnels are not timed: downloads and WebSockets last).
    pub fn new() -> Self {
        Self::with_timeouts(Duration::from_secs(5), Duration::from_secs(300))
    }

    /// As [`Forwarder::new`] with other timeouts: `connect` for the TCP connection,
    /// `response` for the upstream's status line and headers.
    pub fn with_timeouts(connect: Duration, response: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self { client, response_timeout: response }
    }

    /// Forwards `request` to `http://<upstream><path and query>` (`upstream` = "host:port"),
    /// path unchanged, Host header preserved, hop-by-hop headers removed (Connection,
    /// Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding; Upgrade/Connection kept for
    /// upgrades), `X-Forwarded-For` (appending `client`), `X-Forwarded-Proto` (`proto`),
    /// `X-Forwarded-Host` set. Upstream unreachable or failing → 502 with a short text body
    /// saying so (never panics); timeouts → 504.
    pub async fn forward(
        &self,
        mut request: Request<Body>,
        upstream: &str,
        client: Option<IpAddr>,
        proto: &str,
        close: CancellationToken,
    ) -> Forwarded {
        let upgrade = request.headers().get(UPGRADE).cloned();
        // Taken before the request is rebuilt: the server completes it after our 101.
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));
        let outgoing = match outgoing(request, upstream, client, proto, upgrade.as_ref()) {
            Ok(outgoing) => outgoing,
            Err(message) => return failed(StatusCode::BAD_GATEWAY, upstream, &message),
        };
        let mut response = match tokio::time::timeout(self.response_timeout, self.client.request(outgoing)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return upstream_error(upstream, &error),
            Err(_) => return failed(StatusCode::GATEWAY_TIMEOUT, upstream, "no answer in time"),
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            let (parts, _) = response.into_parts();
            let tunnel = tokio::spawn(tunnel(client_upgrade, upstream_upgrade, close));
            return Forwarded { response: Response::from_parts(parts, Body::empty()), tunnel: Some(tunnel) };
        }
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        Forwarded { response: Response::from_parts(parts, Body::new(body)), tunnel: None }
    }
}

/// The request for the upstream: same method, path, query, body and end-to-end headers.
fn outgoing(
    request: Request<Body>,
    upstream: &str,
    client: Option<IpAddr>,
    proto: &str,
    upgrade: Option<&HeaderValue>,
) -> Result<Request<Body>, String> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = format!("http://{upstream}{path}").parse().map_err(|e| format!("bad upstream address: {e}"))?;
    let host = match parts.headers.get(HOST) {
        Some(host) => Some(host.clone()),
        None => parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()),
    };
    let headers = &mut parts.headers;
    remove_hop_by_hop(headers);
    if let Some(upgrade) = upgrade {
        headers.insert(UPGRADE, upgrade.clone());
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if let Some(host) = host {
        headers.insert(HOST, host.clone());
        headers.insert(X_FORWARDED_HOST, host);
    }
    if let Some(client) = client {
        // Every earlier hop's addresses, however many header lines they came in.
        let mut value: Vec<String> =
            headers.get_all(X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        value.push(client.to_string());
        let value = value.join(", ");
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_str(&value).map_err(|e| e.to_string())?);
    }
    let proto = HeaderValue::from_str(proto).map_err(|e| format!("bad X-Forwarded-Proto {proto:?}: {e}"))?;
    headers.insert(X_FORWARDED_PROTO, proto);
    parts.uri = uri;
    // The upstream speaks HTTP/1.1 whatever the client spoke.
    parts.version = http::Version::HTTP_11;
    Ok(Request::from_parts(parts, body))
}

/// Removes the hop-by-hop headers, and those the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(name);
    }
}

/// Awaits both upgrades, then copies bytes both ways until both sides close, one fails, or
/// `close` is cancelled (which drops, and so closes, both connections).
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    close: CancellationToken,
) -> TunnelEnd {
    let upgraded = tokio::select! {
        upgraded = async { tokio::try_join!(client, upstream) } => upgraded,
        () = close.cancelled() => return TunnelEnd::Cancelled,
    };
    let (client, upstream) = match upgraded {
        Ok(pair) => pair,
        Err(error) => return TunnelEnd::Failed(format!("upgrade: {error}")),
    };
    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
            Ok(_) => TunnelEnd::Closed,
            Err(error) => TunnelEnd::Failed(format!("tunnel: {error}")),
        },
        () = close.cancelled() => TunnelEnd::Cancelled,
    }
}

fn upstream_error(upstream: &str, error: &hyper_util::client::legacy::Error) -> Forwarded {
    let timed_out = std::iter::successors(std::error::Error::source(error), |e| e.source())
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut));
    if timed_out {
        return failed(StatusCode::GATEWAY_TIMEOUT, upstream, "connecting timed out");
    }
    let what = if error.is_connect() { "unreachable" } else { "failed" };
    failed(StatusCode::BAD_GATEWAY, upstream, &format!("{what} ({})", error_chain(error)))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A 502 or 504 with a one-line text body, logged.
fn failed(status: StatusCode, upstream: &str, message: &str) -> Forwarded {
    tracing::warn!(upstream, status = status.as_u16(), error = message, "forwarding failed");
    let body = format!("{}: upstream {message}\n", status.canonical_reason().unwrap_or("error"));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Forwarded { response, tunnel: None }
}

#[cfg(test)]
mod tests;
