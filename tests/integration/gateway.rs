//! The gateway against the local stack: real Cognito tokens from moto, the workspace's
//! state and owner from the table, its readiness reported to moto's EC2 by the agent's
//! reconciler, the agent's guard in front of a stand-in app (an echo of what reached it).
//! Who gets in (owner, another scientist, an admin with and without break-glass, finance,
//! no token, an expired one), what the workspace sees, WebSockets, and the history.

use std::net::SocketAddr;

use atelier_tests::{TestApp, spawn_app};
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use tokio_util::sync::CancellationToken;

struct Running {
    app: TestApp,
    gateway: SocketAddr,
    workspace: String,
    http: reqwest::Client,
    _shutdown: tokio_util::sync::DropGuard,
}

/// Alice's RUNNING workspace, its local machine up, and a gateway in front.
async fn running() -> Running {
    let app = spawn_app().await;
    let workspace = app.running_workspace("alice", "small-t3-large").await;
    app.app.machines_once().await.expect("the local machines start");
    app.app.machines_once().await.expect("their readiness is reported");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let gateway = listener.local_addr().expect("an address");
    let shutdown = CancellationToken::new();
    tokio::spawn(app.app.gateway(None).serve(listener, shutdown.clone()));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    Running { app, gateway, workspace, http, _shutdown: shutdown.drop_guard() }
}

impl Running {
    fn url(&self, rest: &str) -> String {
        format!("http://{}/w/{}/jupyterlab/{rest}", self.gateway, self.workspace)
    }

    async fn get_as(&self, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url("api/status"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get_user(&self, user: &str) -> (StatusCode, Value) {
        let token = self.app.token(user).await;
        self.get_as(Some(&token)).await
    }

    async fn history(&self) -> Vec<Value> {
        let events = self.app.get("alice", &format!("/v1/workspaces/{}/events?limit=100", self.workspace)).await;
        events.body["items"].as_array().expect("items").clone()
    }
}

#[tokio::test]
async fn the_api_lists_the_app_ready_once_the_agent_reports_it() {
    let r = running().await;
    let apps = r.app.get("alice", &format!("/v1/workspaces/{}/apps", r.workspace)).await;
    assert_eq!(apps.status, StatusCode::OK, "{}", apps.body);
    let url = format!("http://127.0.0.1:8081/w/{}/jupyterlab/", r.workspace);
    assert_eq!(apps.body, json!({ "items": [{ "app": "jupyterlab", "url": url, "ready": true }] }));
}

#[tokio::test]
async fn the_owner_gets_in_and_the_workspace_sees_only_a_signed_identity() {
    let r = running().await;
    let (status, echoed) = r.get_user("alice").await;
    assert_eq!(status, StatusCode::OK, "{echoed}");
    assert_eq!(echoed["path"], json!(format!("/w/{}/jupyterlab/api/status", r.workspace)));
    let headers = &echoed["headers"];
    assert_eq!(headers["x-atelier-user"], json!("alice"), "the guard names the person: {headers}");
    for secret in ["authorization", "x-atelier-identity"] {
        assert!(headers.get(secret).is_none(), "{secret} reached the app: {headers}");
    }
    let connects: Vec<_> = r.history().await.into_iter().filter(|e| e["action"] == "connect").collect();
    assert_eq!(connects.len(), 1, "one session, one connect event");
    assert_eq!(connects[0]["actor"], json!("alice"));
    assert_eq!(connects[0]["connection"]["app"], json!("jupyterlab"));
    assert_eq!(connects[0]["connection"]["via"], json!("owner"));
    assert_eq!(connects[0]["connection"]["source"], json!("127.0.0.1"));
}

#[tokio::test]
async fn nobody_else_gets_in_and_learns_nothing() {
    let r = running().await;
    for user in ["bob", "fiona", "ada"] {
        let (status, body) = r.get_user(user).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{user}: {body}");
    }
    let (status, _) = r.get_as(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = r.get_as(Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let me = r.app.get("alice", "/v1/me").await;
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "iss": format!("https://cognito-idp.eu-west-3.amazonaws.com/{}", r.app.seeded.user_pool_id),
        "sub": me.str("sub"), "client_id": r.app.seeded.client_id, "token_use": "access",
        "username": "alice", "cognito:groups": ["scientists"], "iat": now - 7200, "exp": now - 120,
    });
    let expired = crate::tokens::mint(json!({ "alg": "RS256", "kid": "dummy", "typ": "JWT" }), claims, "rs256");
    let (status, body) = r.get_as(Some(&expired)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token: {body}");
    // A forged session cookie opens nothing either.
    let forged =
        r.http.get(r.url("api/status")).header("cookie", "atelier_session=e30.AAAA").send().await.expect("answer");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_gets_in_only_under_break_glass_and_the_owner_sees_it() {
    let r = running().await;
    let refused = r
        .app
        .post("bob", &format!("/v1/workspaces/{}/break-glass", r.workspace), Some(json!({ "reason": "curious" })))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let granted = r
        .app
        .post(
            "ada",
            &format!("/v1/workspaces/{}/break-glass", r.workspace),
            Some(json!({ "reason": "INC-7: kernel hangs" })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let (status, echoed) = r.get_user("ada").await;
    assert_eq!(status, StatusCode::OK, "{echoed}");
    assert_eq!(echoed["headers"]["x-atelier-user"], json!("ada"));
    let history = r.history().await;
    let glass = history.iter().find(|e| e["action"] == "break-glass").expect("a break-glass event");
    assert_eq!((&glass["actor"], &glass["reason"]), (&json!("ada"), &json!("INC-7: kernel hangs")));
    let connect = history.iter().find(|e| e["action"] == "connect" && e["actor"] == "ada").expect("ada's connection");
    assert_eq!(connect["connection"]["via"], json!("break-glass"));
}

#[tokio::test]
async fn a_browser_session_opens_from_the_portal_form_and_ends_on_sign_out() {
    let r = running().await;
    let token = r.app.token("alice").await;
    let opened = r
        .http
        .post(r.url("_atelier/session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let cookie = opened.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains(&format!("Path=/w/{}/jupyterlab/", r.workspace)),
        "{cookie}"
    );
    let value = cookie.split(';').next().expect("name=value").to_owned();
    let page = r.http.get(r.url("lab")).header("cookie", format!("{value}; _xsrf=x")).send().await.expect("answer");
    assert_eq!(page.status(), StatusCode::OK);
    let echoed: Value = page.json().await.expect("json");
    assert_eq!(echoed["headers"]["cookie"], json!("_xsrf=x"), "the gateway's cookie stays at the gateway");
    // The cookie opens alice's workspace only: another path refuses it.
    let elsewhere = format!("http://{}/w/ws-other/jupyterlab/", r.gateway);
    let refused = r.http.get(elsewhere).header("cookie", value.clone()).send().await.expect("answer");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // Bob's token does not open a session on alice's workspace.
    let bob = r.app.token("bob").await;
    let refused = r
        .http
        .post(r.url("_atelier/session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={bob}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let out = r.http.get(r.url("_atelier/signout")).header("cookie", value).send().await.expect("answer");
    assert_eq!(out.status(), StatusCode::OK);
    let ended = r.history().await.into_iter().find(|e| e["action"] == "disconnect").expect("a disconnect event");
    assert_eq!(ended["reason"], json!("signed out"));
    assert!(ended["connection"]["startedAt"].is_string(), "{ended}");
}

#[tokio::test]
async fn websockets_pass_and_close_when_the_workspace_stops() {
    let r = running().await;
    let token = r.app.token("alice").await;
    let url = format!("ws://{}/w/{}/jupyterlab/api/kernels/k/channels", r.gateway, r.workspace);
    let mut request = url.into_client_request().expect("a request");
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("a header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the upgrade passes both hops");
    socket.send(Message::text("1+1")).await.expect("sent");
    let echoed = socket.next().await.expect("an answer").expect("a message");
    assert_eq!(echoed.into_text().expect("text").as_str(), "1+1");

    let stopped = r.app.post("alice", &format!("/v1/workspaces/{}/stop", r.workspace), None).await;
    assert_eq!(stopped.status, StatusCode::ACCEPTED, "{}", stopped.body);
    r.app.sync().await;
    // A busy session (JupyterLab polls every few seconds) is checked again within the bound
    // too: requests served from the 30 s cache never renew it.
    let started = std::time::Instant::now();
    let refused = loop {
        let (status, _) = r.get_as(Some(&token)).await;
        if status == StatusCode::CONFLICT || started.elapsed() > std::time::Duration::from_secs(45) {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(refused, StatusCode::CONFLICT, "a busy session outlived the workspace");
    // Within the re-check bound (30 s) plus the watcher's tick, the tunnel closes.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(45), async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the WebSocket outlived the workspace");
    let (status, body) = r.get_user("alice").await;
    assert_eq!(status, StatusCode::CONFLICT, "a stopped workspace: {body}");
    let ended = r.history().await.into_iter().find(|e| e["action"] == "disconnect").expect("a disconnect event");
    assert!(ended["reason"].as_str().unwrap_or_default().contains("STOPP"), "{ended}");
}
