//! The workspace gateway ([ADR 0009](../../docs/adr/0009-gateway.md)): between browsers and
//! workspaces, it authenticates the caller, lets in the workspace's owner (or an admin
//! under an audited break-glass grant), finds the machine, and proxies HTTP and WebSocket
//! traffic to the workspace's guard with a signed identity the guard checks.
//!
//! # Routes
//!
//! - `POST /w/<workspace>/<app>/_atelier/session` (form `access_token=<Cognito access
//!   token>`, from the portal's origin): opens a browser session, sets the
//!   [`cookie::COOKIE`] on `/w/<workspace>/<app>/` and redirects to the app.
//! - `/w/<workspace>/<app>/...`: the app, for a session cookie or `Authorization: Bearer
//!   <access token>` (scripts, IDEs).
//! - `GET|POST /w/<workspace>/<app>/_atelier/signout`: ends the session.
//! - `GET /_atelier/health`: 200 `ok` (the load balancer's health check).
//!
//! # Authorisation
//!
//! [`atelier_domain::apps::Apps::authorize`] on every new session, and again at least every
//! [`RECHECK`] (on the next request, or by [`Gateway::watch`] while a WebSocket is open):
//! a workspace that stopped, a person disabled, deleted or recreated, an admin whose grant
//! expired or who left `admins`, loses the session within that bound, WebSockets included.
//! Refusals: 401 without a valid token or cookie, 404 for anything the caller may not know
//! exists, 403 for an account that no longer stands, 409 while the workspace is not running.
//!
//! # What reaches the workspace
//!
//! The request as sent, minus the gateway's cookie, `Authorization` and any `X-Atelier-*`
//! header, plus `X-Atelier-Identity` (an Ed25519-signed assertion for this workspace, app
//! and person, valid 60 s; [`atelier_proxy::identity`]) and `X-Forwarded-*`.
//!
//! # Traceability
//!
//! Each session is a `connect` event in the workspace's history when it opens and a
//! `disconnect` event when it ends (signed out, idle 15 minutes, refused, expired, gateway
//! shutting down), with the app, the source address and the grounds (owner or break-glass);
//! every request is a log line with the same session id, username and workspace.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
#![warn(missing_docs)]

pub mod cookie;
mod respond;
pub mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atelier_domain::{
    Caller, DomainError,
    apps::{Apps, Connection, RECHECK, Target},
};
use atelier_proxy::{
    forward::Forwarder,
    identity::{Assertion, GatewayKey, IDENTITY_HEADER, IdentityError},
};
use atelier_web::JwtVerifier;
use axum::{
    Router,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::cookie::{CookieKey, SESSION_SECONDS, SessionClaims};
use crate::respond::refusal;
use crate::sessions::{Due, Sessions};

/// How the gateway presents itself.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// The portal's URL: browsers without a session are sent there, and only a form posted
    /// from its origin opens a session (no login CSRF). `None`: any origin (tests).
    pub portal_url: Option<String>,
    /// Mark cookies `Secure` (HTTPS in front, as in AWS).
    pub secure_cookies: bool,
}

/// The gateway: its use cases, keys, sessions and connection pool.
pub struct Gateway {
    apps: Apps,
    verifier: Arc<JwtVerifier>,
    key: GatewayKey,
    cookies: CookieKey,
    forwarder: Forwarder,
    sessions: Sessions,
    config: GatewayConfig,
}

/// The path of an app request.
#[derive(serde::Deserialize)]
struct AppPath {
    id: String,
    app: String,
}

/// Who a request is from, and which session it belongs to.
struct Identity {
    caller: Caller,
    sid: String,
    started_at: Timestamp,
    expires_at: Option<i64>,
}

impl Gateway {
    /// A gateway authorising with `apps`, verifying Cognito tokens with `verifier`, and
    /// signing identities (and deriving its cookie key) from `signing_key_pem`.
    pub fn new(
        apps: Apps,
        verifier: Arc<JwtVerifier>,
        signing_key_pem: &str,
        config: GatewayConfig,
    ) -> Result<Self, IdentityError> {
        let key = GatewayKey::from_pem(signing_key_pem)?;
        let cookies = CookieKey::derive(signing_key_pem);
        let (forwarder, sessions) = (Forwarder::new(), Sessions::default());
        Ok(Self { apps, verifier, key, cookies, forwarder, sessions, config })
    }

    /// The gateway's router (serve it with the peer address: [`Gateway::serve`]).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/_atelier/health", get(|| async { "ok" }))
            .route("/w/{id}/{app}/_atelier/session", post(open_session))
            .route("/w/{id}/{app}/_atelier/signout", get(sign_out).post(sign_out))
            .route("/w/{id}/{app}", any(add_slash))
            .route("/w/{id}/{app}/", any(proxy))
            .route("/w/{id}/{app}/{*rest}", any(proxy))
            .fallback(|| async {
                refusal(StatusCode::NOT_FOUND, "Nothing here: workspace apps are at /w/<workspace>/<app>/.", None)
            })
            .with_state(self)
    }

    /// Serves the gateway on `listener` until `shutdown`, re-checking open sessions in
    /// the background; on shutdown every open session ends (`disconnect` events).
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let watch = tokio::spawn(self.clone().watch(shutdown.clone()));
        let app = self.clone().router().into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        watch.abort();
        self.end_all("the gateway stopped").await;
        served
    }

    /// Every few seconds until `shutdown`: re-checks the sessions with open WebSockets
    /// whose check is older than [`RECHECK`], and ends the idle and expired ones.
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let recheck = Duration::try_from(RECHECK).expect("a positive bound");
        let mut timer = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = timer.tick() => {}
            }
            let now = Timestamp::now();
            for due in self.sessions.due(recheck, now.as_second()) {
                match due {
                    Due::End(sid, _, reason) => self.end(&sid, reason).await,
                    Due::Recheck(sid, s) => {
                        let (id, app) = (s.target.workspace_id.to_string(), s.target.app.to_string());
                        if let Err(e) =
                            self.authorize(&s.caller, &sid, &id, &app, s.source, s.started_at, s.expires_at).await
                        {
                            tracing::info!(session = %sid, error = %e, "session refused on re-check");
                        }
                    }
                }
            }
        }
    }

    /// Ends every open session with `reason`.
    pub async fn end_all(&self, reason: &str) {
        for sid in self.sessions.all() {
            self.end(&sid, reason).await;
        }
    }

    /// Ends `sid` (closing its tunnels) and writes its `disconnect` event.
    async fn end(&self, sid: &str, reason: &str) {
        let Some(session) = self.sessions.end(sid) else { return };
        let connection = Connection {
            app: session.target.app.to_string(),
            session: sid.to_owned(),
            source: session.source.clone(),
            via: session.target.via,
            started_at: Some(session.started_at),
        };
        let result = self
            .apps
            .record(&session.caller, &session.target, connection, Some(reason.to_owned()), Timestamp::now())
            .await;
        match result {
            Ok(()) => {
                tracing::info!(session = %sid, username = %session.caller.username, workspace = %session.target.workspace_id, reason, "session ended")
            }
            Err(e) => tracing::error!(session = %sid, error = %e, "could not record the end of a session"),
        }
    }

    /// Authorises `caller` for `id`/`app` now, registering the session (and writing its
    /// `connect` event) when it is new; a refusal ends a session that was open.
    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        caller: &Caller,
        sid: &str,
        id: &str,
        app: &str,
        source: Option<String>,
        started_at: Timestamp,
        expires_at: Option<i64>,
    ) -> Result<(Target, CancellationToken), DomainError> {
        let now = Timestamp::now();
        let target = match self.apps.authorize(caller, id, app, now).await {
            Ok(target) => target,
            Err(e) => {
                let reason = match &e {
                    DomainError::Unprocessable { message, .. } => message.clone(),
                    DomainError::Upstream(_) => return Err(e),
                    other => format!("access refused: {other}"),
                };
                self.end(sid, &reason).await;
                return Err(e);
            }
        };
        if !self.sessions.known(sid) {
            let connection = Connection {
                app: target.app.to_string(),
                session: sid.to_owned(),
                source: source.clone(),
                via: target.via,
                started_at: None,
            };
            self.apps.record(caller, &target, connection, None, now).await?;
            tracing::info!(session = %sid, username = %caller.username, sub = %caller.sub, workspace = %target.workspace_id, app, via = ?target.via, source = ?source, "session opened");
        }
        let close = self.sessions.authorised(sid, caller, target.clone(), source, started_at, expires_at);
        Ok((target, close))
    }

    /// The identity of a request for `id`/`app`: its bearer token or its session cookie.
    async fn identify(&self, headers: &HeaderMap, id: &str, app: &str) -> Result<Identity, Response> {
        let unauthorised = |why: &str| refusal(StatusCode::UNAUTHORIZED, why, self.config.portal_url.as_deref());
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let token = value.strip_prefix("Bearer ").ok_or_else(|| unauthorised("Not a bearer token."))?.trim();
            let caller =
                self.verifier.verify(token).await.map_err(|e| unauthorised(&format!("The token was refused: {e}.")))?;
            let sid = format!("b-{}", &hex(&Sha256::digest(token.as_bytes()))[..24]);
            return Ok(Identity { caller, sid, started_at: Timestamp::now(), expires_at: None });
        }
        let now = Timestamp::now().as_second();
        let claims = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(cookie::find)
            .find_map(|value| self.cookies.open(value, id, app, now))
            .ok_or_else(|| unauthorised("No session: open the app from the portal."))?;
        let caller = Caller { sub: claims.sub, username: claims.username, groups: claims.groups };
        let started_at = Timestamp::from_second(claims.iat).unwrap_or_else(|_| Timestamp::now());
        Ok(Identity { caller, sid: claims.sid, started_at, expires_at: Some(claims.exp) })
    }

    /// Where `identity`'s session may go: the cached target while fresh, else asked again.
    async fn target(
        &self,
        identity: &Identity,
        id: &str,
        app: &str,
        source: Option<String>,
    ) -> Result<(Target, CancellationToken), Response> {
        let recheck = Duration::try_from(RECHECK).expect("a positive bound");
        // A use of a fresh authorisation does not renew it: a busy session is checked again
        // after RECHECK like an idle one.
        if let Some(fresh) = self.sessions.fresh(&identity.sid, recheck) {
            return Ok(fresh);
        }
        self.authorize(&identity.caller, &identity.sid, id, app, source, identity.started_at, identity.expires_at)
            .await
            .map_err(|e| respond::domain(&e, self.config.portal_url.as_deref()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The caller's address: the last `X-Forwarded-For` entry (the one the load balancer
/// added), else the peer.
fn source_address(headers: &HeaderMap, peer: SocketAddr) -> String {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
        .map_or_else(|| peer.ip().to_string(), str::to_owned)
}

/// `X-Forwarded-Proto` as the load balancer set it, else `http`.
fn proto(headers: &HeaderMap) -> String {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http").to_owned()
}

async fn add_slash(Path(p): Path<AppPath>) -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, format!("/w/{}/{}/", p.id, p.app))]).into_response()
}

/// Body of the session form.
#[derive(serde::Deserialize)]
struct SessionForm {
    access_token: String,
}

async fn open_session(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(p): Path<AppPath>,
    request: Request,
) -> Response {
    let portal = gw.config.portal_url.as_deref();
    if let Some(portal) = portal {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
        if origin != portal.trim_end_matches('/') {
            return refusal(StatusCode::FORBIDDEN, "Sessions open from the portal only.", Some(portal));
        }
    }
    let source = source_address(request.headers(), peer);
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), 16 * 1024).await else {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.", None);
    };
    let Ok(form) = serde_urlencoded::from_bytes::<SessionForm>(&bytes) else {
        return refusal(StatusCode::BAD_REQUEST, "The form needs access_token.", portal);
    };
    let caller = match gw.verifier.verify(form.access_token.trim()).await {
        Ok(caller) => caller,
        Err(e) => return refusal(StatusCode::UNAUTHORIZED, &format!("The token was refused: {e}."), portal),
    };
    let sid = format!("s-{}", hex(&random_bytes()));
    let now = Timestamp::now();
    let exp = now.as_second() + SESSION_SECONDS;
    if let Err(e) = gw.authorize(&caller, &sid, &p.id, &p.app, Some(source), now, Some(exp)).await {
        return respond::domain(&e, portal);
    }
    let claims = SessionClaims {
        sid,
        sub: caller.sub,
        username: caller.username,
        groups: caller.groups,
        ws: p.id.clone(),
        app: p.app.clone(),
        iat: now.as_second(),
        exp,
    };
    let path = format!("/w/{}/{}/", p.id, p.app);
    let set = cookie::set_cookie(&gw.cookies.seal(&claims), &path, SESSION_SECONDS, gw.config.secure_cookies);
    (StatusCode::SEE_OTHER, [(header::LOCATION, path), (header::SET_COOKIE, set)]).into_response()
}

fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes
}

async fn sign_out(State(gw): State<Arc<Gateway>>, Path(p): Path<AppPath>, headers: HeaderMap) -> Response {
    if let Ok(identity) = gw.identify(&headers, &p.id, &p.app).await {
        gw.end(&identity.sid, "signed out").await;
    }
    let path = format!("/w/{}/{}/", p.id, p.app);
    let clear = cookie::set_cookie("", &path, 0, gw.config.secure_cookies);
    let mut response = refusal(StatusCode::OK, "Signed out of the app.", gw.config.portal_url.as_deref());
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn proxy(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(p): Path<AppPath>,
    mut request: Request,
) -> Response {
    let identity = match gw.identify(request.headers(), &p.id, &p.app).await {
        Ok(identity) => identity,
        Err(refused) => return refused,
    };
    let source = source_address(request.headers(), peer);
    let (target, close) = match gw.target(&identity, &p.id, &p.app, Some(source)).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let proto = proto(request.headers());
    prepare(request.headers_mut());
    let assertion =
        Assertion::new(&p.id, &p.app, &identity.caller.sub, &identity.caller.username, Timestamp::now().as_second());
    if let Ok(value) = HeaderValue::from_str(&gw.key.sign(&assertion)) {
        request.headers_mut().insert(IDENTITY_HEADER, value);
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let forwarded = gw.forwarder.forward(request, &target.upstream, Some(peer.ip()), &proto, close).await;
    tracing::info!(session = %identity.sid, username = %identity.caller.username, workspace = %p.id, app = %p.app, %method, path, status = forwarded.response.status().as_u16(), "proxied");
    if let Some(tunnel) = forwarded.tunnel {
        gw.sessions.tunnel(&identity.sid, true);
        let (gw, sid) = (gw.clone(), identity.sid.clone());
        tokio::spawn(async move {
            let end = tunnel.await;
            gw.sessions.tunnel(&sid, false);
            tracing::info!(session = %sid, end = ?end, "websocket closed");
        });
    }
    forwarded.response
}

/// Removes what the workspace must never see: the gateway's cookie, the bearer token, and
/// any `X-Atelier-*` header a client sent.
fn prepare(headers: &mut HeaderMap) {
    headers.remove(header::AUTHORIZATION);
    let cookies: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(cookie::without_ours)
        .collect();
    headers.remove(header::COOKIE);
    if !cookies.is_empty()
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(header::COOKIE, value);
    }
    let ours: Vec<_> = headers.keys().filter(|k| k.as_str().starts_with("x-atelier-")).cloned().collect();
    for name in ours {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_the_workspace_could_replay_is_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        headers.insert(header::COOKIE, HeaderValue::from_static("atelier_session=x; _xsrf=1"));
        headers.insert("x-atelier-identity", HeaderValue::from_static("forged"));
        headers.insert("x-atelier-user", HeaderValue::from_static("ada"));
        prepare(&mut headers);
        assert_eq!(headers.get(header::COOKIE).and_then(|v| v.to_str().ok()), Some("_xsrf=1"));
        assert!(headers.get(header::AUTHORIZATION).is_none());
        assert!(headers.keys().all(|k| !k.as_str().starts_with("x-atelier-")));
    }

    #[test]
    fn the_source_is_what_the_load_balancer_appended() {
        let peer: SocketAddr = "10.0.0.9:1234".parse().expect("an address");
        let mut headers = HeaderMap::new();
        assert_eq!(source_address(&headers, peer), "10.0.0.9");
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 192.0.2.7"));
        assert_eq!(source_address(&headers, peer), "192.0.2.7");
    }
}
