use std::time::Duration;

use axum::{Json, Router, extract::Request as AxumRequest};
use futures_util::{SinkExt, StreamExt};
use http::Request;
use http_body_util::BodyExt;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

use super::*;
use crate::{
    forward::TunnelEnd,
    identity::{Assertion, GatewayKey, keygen},
    testing::{GatewayHop, spawn, spawn_echo},
};

const WS: &str = "ws-0123";

/// An app that answers with the path and headers it received.
async fn spawn_mirror() -> SocketAddr {
    spawn(Router::new().fallback(|request: AxumRequest| async move {
        let headers: serde_json::Map<String, serde_json::Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().into()))
            .collect();
        Json(serde_json::json!({"uri": request.uri().to_string(), "headers": headers}))
    }))
    .await
}

fn config(public: &str, jupyter: u16, rstudio: u16) -> GuardConfig {
    GuardConfig {
        workspace_id: WS.to_owned(),
        key: GatewayPublicKey::from_pem(public).unwrap(),
        apps: vec![
            GuardApp { name: "jupyterlab".into(), port: jupyter, strip_prefix: false },
            GuardApp { name: "rstudio".into(), port: rstudio, strip_prefix: true },
        ],
        app_host: "127.0.0.1".into(),
    }
}

/// A guard in front of one mirror app (both apps on it); its key and the router.
async fn guard() -> (GatewayKey, Router) {
    let app = spawn_mirror().await;
    let (private, public) = keygen();
    (GatewayKey::from_pem(&private).unwrap(), router(config(&public, app.port(), app.port())))
}

fn signed(key: &GatewayKey, workspace: &str, app: &str, issued_at: i64) -> String {
    key.sign(&Assertion::new(workspace, app, "sub-1", "alice", issued_at))
}

async fn call(router: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path).header("host", "gw.example");
    if let Some(token) = token {
        request = request.header(IDENTITY_HEADER, token);
    }
    let response = router.clone().oneshot(request.body(axum::body::Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_verified_request_reaches_the_app_without_the_assertion() {
    let (key, router) = guard().await;
    let token = signed(&key, WS, "jupyterlab", now_unix());
    let (status, body) = call(&router, &format!("/w/{WS}/jupyterlab/lab?reset"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["uri"], format!("/w/{WS}/jupyterlab/lab?reset"));
    assert_eq!(seen["headers"][USER_HEADER], "alice");
    assert_eq!(seen["headers"]["host"], "gw.example");
    assert!(seen["headers"].get(IDENTITY_HEADER).is_none(), "the app saw the assertion: {seen}");
    assert!(seen["headers"].get(RSTUDIO_ROOT_PATH).is_none());
}

#[tokio::test]
async fn rstudio_gets_the_path_without_its_prefix_and_the_root_path_header() {
    let (key, router) = guard().await;
    let token = signed(&key, WS, "rstudio", now_unix());
    for (path, wanted) in [
        (format!("/w/{WS}/rstudio/rpc/client_init?x=1"), "/rpc/client_init?x=1"),
        (format!("/w/{WS}/rstudio/"), "/"),
        (format!("/w/{WS}/rstudio"), "/"),
    ] {
        let (status, body) = call(&router, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["uri"], wanted, "{path}");
        assert_eq!(seen["headers"][RSTUDIO_ROOT_PATH], format!("/w/{WS}/rstudio"));
    }
}

#[tokio::test]
async fn the_user_header_cannot_be_forged_by_the_caller() {
    let (key, router) = guard().await;
    let request = Request::get(format!("/w/{WS}/jupyterlab/"))
        .header(IDENTITY_HEADER, signed(&key, WS, "jupyterlab", now_unix()))
        .header(USER_HEADER, "mallory")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["headers"][USER_HEADER], "alice");
}

#[tokio::test]
async fn refusals_forward_nothing() {
    let (key, router) = guard().await;
    let (other_key, _) = guard().await;
    let now = now_unix();
    let jupyter = format!("/w/{WS}/jupyterlab/api/status");
    let cases = [
        ("no header", None, StatusCode::UNAUTHORIZED),
        ("expired", Some(signed(&key, WS, "jupyterlab", now - 120)), StatusCode::UNAUTHORIZED),
        ("other workspace", Some(signed(&key, "ws-other", "jupyterlab", now)), StatusCode::UNAUTHORIZED),
        ("other app", Some(signed(&key, WS, "rstudio", now)), StatusCode::UNAUTHORIZED),
        ("other key", Some(signed(&other_key, WS, "jupyterlab", now)), StatusCode::UNAUTHORIZED),
        ("garbage", Some("not.a.token".to_owned()), StatusCode::UNAUTHORIZED),
    ];
    for (case, token, wanted) in cases {
        let (status, body) = call(&router, &jupyter, token.as_deref()).await;
        assert_eq!(status, wanted, "{case}: {body}");
        assert!(!body.contains("headers"), "{case}: forwarded: {body}");
    }
    let (status, body) = call(&router, &jupyter, None).await;
    assert!(body.contains("missing"), "{status} {body}");
    let (_, body) = call(&router, &jupyter, Some(&signed(&key, WS, "jupyterlab", now - 120))).await;
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn paths_outside_this_workspaces_apps_are_not_found() {
    let (key, router) = guard().await;
    let now = now_unix();
    for (path, token) in [
        (format!("/w/{WS}/vscode/"), signed(&key, WS, "vscode", now)),
        ("/w/ws-other/jupyterlab/".to_owned(), signed(&key, "ws-other", "jupyterlab", now)),
        ("/".to_owned(), signed(&key, WS, "jupyterlab", now)),
        (format!("/w/{WS}/"), signed(&key, WS, "jupyterlab", now)),
        (format!("/w/{WS}/jupyterlabx/"), signed(&key, WS, "jupyterlabx", now)),
        ("/api/status".to_owned(), signed(&key, WS, "jupyterlab", now)),
    ] {
        let (status, body) = call(&router, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

#[tokio::test]
async fn the_health_check_needs_no_assertion() {
    let (_, router) = guard().await;
    assert_eq!(call(&router, HEALTH_PATH, None).await, (StatusCode::OK, "ok".to_owned()));
}

#[tokio::test]
async fn an_app_that_is_down_is_a_502_after_verification() {
    let (private, public) = keygen();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let router = router(config(&public, port, port));
    let key = GatewayKey::from_pem(&private).unwrap();
    let (status, _) =
        call(&router, &format!("/w/{WS}/jupyterlab/"), Some(&signed(&key, WS, "jupyterlab", now_unix()))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

/// Gateway hop → guard (served) → app: the deployed path, in process.
async fn two_hops(app: SocketAddr) -> (SocketAddr, CancellationToken, tokio::sync::mpsc::UnboundedReceiver<TunnelEnd>) {
    let (private, public) = keygen();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let guard_address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(listener, config(&public, app.port(), app.port()), shutdown.clone()));
    let (ends, ended) = tokio::sync::mpsc::unbounded_channel();
    let mut hop = GatewayHop::new(GatewayKey::from_pem(&private).unwrap(), guard_address);
    hop.ends = Some(ends);
    (spawn(hop.router()).await, shutdown, ended)
}

#[tokio::test]
async fn a_websocket_passes_the_gateway_hop_and_the_guard() {
    let echo = spawn_echo().await;
    let (gateway, _shutdown, mut ended) = two_hops(echo).await;
    let url = format!("ws://{gateway}/w/{WS}/jupyterlab/api/kernels/k1/channels");
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for i in 0..100 {
        let text = format!("message {i} {}", "x".repeat(i * 37));
        socket.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap().into_text().unwrap().as_str(), text);
    }
    socket.close(None).await.unwrap();
    // The tunnel ends when both sides have closed their connections.
    drop(socket);
    let end = tokio::time::timeout(Duration::from_secs(5), ended.recv()).await.unwrap().unwrap();
    assert_eq!(end, TunnelEnd::Closed);
}

#[tokio::test]
async fn the_guard_refuses_a_websocket_without_an_assertion() {
    let echo = spawn_echo().await;
    let (private, public) = keygen();
    drop(private);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let guard_address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, config(&public, echo.port(), echo.port()), CancellationToken::new()));
    let url = format!("ws://{guard_address}/w/{WS}/jupyterlab/api/kernels/k1/channels");
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("expected a 401, got {other:?}"),
    }
}

#[tokio::test]
async fn stopping_the_guard_closes_its_tunnels() {
    let echo = spawn_echo().await;
    let (gateway, shutdown, mut ended) = two_hops(echo).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{gateway}/w/{WS}/rstudio/websocket")).await.unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap().into_text().unwrap().as_str(), "ping");
    shutdown.cancel();
    // The guard's tunnel is cancelled; the gateway's passes the close on to the client...
    let after = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("the socket is closed");
    assert!(!matches!(after, Some(Ok(Message::Text(_)))), "{after:?}");
    // ...and ends when the client has closed its side too (not cancelled: the gateway did not ask).
    drop(socket);
    let end = tokio::time::timeout(Duration::from_secs(5), ended.recv()).await.unwrap().unwrap();
    assert!(matches!(end, TunnelEnd::Closed | TunnelEnd::Failed(_)), "{end:?}");
}

#[test]
fn apps_are_parsed_with_rstudio_stripping_its_prefix() {
    let apps = parse_apps(" jupyterlab=8888, rstudio = 8787 ,").unwrap();
    assert_eq!(
        apps,
        [
            GuardApp { name: "jupyterlab".into(), port: 8888, strip_prefix: false },
            GuardApp { name: "rstudio".into(), port: 8787, strip_prefix: true },
        ]
    );
    for (spec, bad) in [
        ("jupyterlab", "\"jupyterlab\""),
        ("jupyterlab=88888", "\"jupyterlab=88888\""),
        ("jupyterlab=0", "\"jupyterlab=0\""),
        ("Jupyter Lab=8888", "\"Jupyter Lab=8888\""),
        ("rstudio=8787,rstudio=8788", "\"rstudio=8788\""),
        ("=8888", "\"=8888\""),
        ("", "no app"),
    ] {
        let error = parse_apps(spec).unwrap_err();
        assert!(error.contains(bad), "{spec:?}: {error}");
    }
}
