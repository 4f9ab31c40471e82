use std::{net::SocketAddr, time::Duration};

use axum::{Json, Router, body::Bytes, extract::Request, routing::get, routing::post};
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::testing::{spawn, spawn_echo};

/// An upstream that answers each request with what it received (method, URI, headers).
async fn spawn_mirror() -> SocketAddr {
    let mirror = |request: Request| async move {
        let headers: serde_json::Map<String, serde_json::Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().into()))
            .collect();
        Json(
            serde_json::json!({"method": request.method().as_str(), "uri": request.uri().to_string(), "headers": headers}),
        )
    };
    // Streams back what it is sent, chunk by chunk.
    let upload = |request: Request| async move { Body::new(request.into_body()) };
    spawn(Router::new().route("/upload", post(upload)).fallback(mirror)).await
}

/// A server that relays each request to `upstream` through a Forwarder, as the gateway does;
/// how each tunnel ended is sent to `ends`.
async fn spawn_relay(
    upstream: SocketAddr,
    close: CancellationToken,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<TunnelEnd>) {
    let (ends, ended) = tokio::sync::mpsc::unbounded_channel();
    let forwarder = Forwarder::new();
    let relay = move |request: Request| {
        let (forwarder, close, ends) = (forwarder.clone(), close.clone(), ends.clone());
        async move {
            let client = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            let forwarded = forwarder.forward(request, &upstream.to_string(), client, "https", close).await;
            if let Some(tunnel) = forwarded.tunnel {
                tokio::spawn(async move {
                    let _ = ends.send(tunnel.await.unwrap());
                });
            }
            forwarded.response
        }
    };
    (spawn(Router::new().fallback(relay)).await, ended)
}

fn request(uri: &str) -> Request<Body> {
    Request::get(uri).header(HOST, "gateway.example").body(Body::empty()).unwrap()
}

async fn body_text(response: Response<Body>) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn a_request_reaches_the_upstream_with_its_path_host_and_forwarding_headers() {
    let upstream = spawn_mirror().await;
    let mut request = request("/w/ws-1/jupyterlab/api/contents?type=notebook");
    let headers = request.headers_mut();
    headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
    headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.2"));
    headers.insert("connection", HeaderValue::from_static("keep-alive, x-hop"));
    headers.insert("x-hop", HeaderValue::from_static("one hop only"));
    headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    headers.insert("te", HeaderValue::from_static("trailers"));
    headers.insert("proxy-authorization", HeaderValue::from_static("Basic eA=="));
    headers.insert("x-end-to-end", HeaderValue::from_static("kept"));
    let client = Some("10.0.0.9".parse().unwrap());
    let forwarded =
        Forwarder::new().forward(request, &upstream.to_string(), client, "https", CancellationToken::new()).await;
    assert_eq!(forwarded.response.status(), StatusCode::OK);
    assert!(forwarded.tunnel.is_none());
    let seen: serde_json::Value = serde_json::from_str(&body_text(forwarded.response).await).unwrap();
    assert_eq!(seen["uri"], "/w/ws-1/jupyterlab/api/contents?type=notebook");
    let headers = &seen["headers"];
    assert_eq!(headers["host"], "gateway.example");
    assert_eq!(headers["x-forwarded-host"], "gateway.example");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 198.51.100.2, 10.0.0.9");
    assert_eq!(headers["x-end-to-end"], "kept");
    for gone in ["x-hop", "keep-alive", "te", "proxy-authorization", "upgrade"] {
        assert!(headers.get(gone).is_none(), "{gone} was forwarded: {headers}");
    }
    // The forwarder's own connection header, if any, is its pool's business, not the client's.
    assert_ne!(headers.get("connection"), Some(&serde_json::json!("keep-alive, x-hop")));
}

#[tokio::test]
async fn bodies_stream_both_ways_without_waiting_for_the_end() {
    let upstream = spawn_mirror().await;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let stream = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|c| (c, r)) });
    let request = Request::post("/upload").header(HOST, "h").body(Body::from_stream(stream)).unwrap();
    sender.send(Ok(Bytes::from_static(b"first chunk"))).await.unwrap();
    let forwarded =
        Forwarder::new().forward(request, &upstream.to_string(), None, "http", CancellationToken::new()).await;
    let mut body = forwarded.response.into_body();
    // The first chunk comes back while the upload is still open: nothing waited for the whole body.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk streams")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"first chunk"));
    sender.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
    drop(sender);
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, Bytes::from_static(b"second"));
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_saying_so() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let forwarded = Forwarder::new()
        .forward(request("/"), &format!("127.0.0.1:{port}"), None, "http", CancellationToken::new())
        .await;
    assert_eq!(forwarded.response.status(), StatusCode::BAD_GATEWAY);
    let text = body_text(forwarded.response).await;
    assert!(text.starts_with("Bad Gateway: upstream unreachable"), "{text}");
    let forwarded =
        Forwarder::new().forward(request("/"), "not a host:port", None, "http", CancellationToken::new()).await;
    assert_eq!(forwarded.response.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_is_a_504() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (_connection, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let forwarder = Forwarder::with_timeouts(Duration::from_secs(5), Duration::from_millis(200));
    let forwarded = forwarder.forward(request("/"), &address.to_string(), None, "http", CancellationToken::new()).await;
    assert_eq!(forwarded.response.status(), StatusCode::GATEWAY_TIMEOUT);
    held.abort();
}

#[tokio::test]
async fn an_upstream_that_hangs_up_is_a_502() {
    let rude = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = rude.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((connection, _)) = rude.accept().await {
            drop(connection);
        }
    });
    let forwarded =
        Forwarder::new().forward(request("/"), &address.to_string(), None, "http", CancellationToken::new()).await;
    assert_eq!(forwarded.response.status(), StatusCode::BAD_GATEWAY);
    assert!(body_text(forwarded.response).await.starts_with("Bad Gateway: upstream failed"));
}

#[tokio::test]
async fn hop_by_hop_headers_of_the_answer_are_not_passed_back() {
    let upstream = spawn(
        Router::new()
            .route("/", get(|| async { ([("connection", "x-secret"), ("x-secret", "hop"), ("x-kept", "yes")], "ok") })),
    )
    .await;
    let forwarded =
        Forwarder::new().forward(request("/"), &upstream.to_string(), None, "http", CancellationToken::new()).await;
    let headers = forwarded.response.headers();
    assert_eq!(headers.get("x-kept").unwrap(), "yes");
    assert!(headers.get("x-secret").is_none());
    assert!(headers.get("connection").is_none());
}

async fn echo_round_trips(url: &str) {
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "ünïcode", &"x".repeat(70_000)] {
        socket.send(Message::text(text)).await.unwrap();
        let echoed = socket.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    socket.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap().into_data().as_ref(), [0u8, 1, 2, 255]);
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn a_websocket_is_tunnelled_to_an_echo_upstream() {
    let echo = spawn_echo().await;
    let (relay, _) = spawn_relay(echo, CancellationToken::new()).await;
    echo_round_trips(&format!("ws://{relay}/w/ws-1/jupyterlab/api/kernels/k1/channels")).await;
}

#[tokio::test]
async fn cancelling_close_ends_the_tunnel() {
    let echo = spawn_echo().await;
    let close = CancellationToken::new();
    let (relay, mut ended) = spawn_relay(echo, close.clone()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{relay}/")).await.unwrap();
    socket.send(Message::text("before")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap().into_text().unwrap().as_str(), "before");
    close.cancel();
    let end = tokio::time::timeout(Duration::from_secs(5), ended.recv()).await.unwrap().unwrap();
    assert_eq!(end, TunnelEnd::Cancelled);
    // The client's connection is closed with the tunnel: it reads the end, not a hang.
    let after = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("the socket is closed");
    assert!(!matches!(after, Some(Ok(Message::Text(_)))), "{after:?}");
}

#[tokio::test]
async fn a_tunnel_closed_by_the_client_ends_closed() {
    let echo = spawn_echo().await;
    let (relay, mut ended) = spawn_relay(echo, CancellationToken::new()).await;
    echo_round_trips(&format!("ws://{relay}/")).await;
    let end = tokio::time::timeout(Duration::from_secs(5), ended.recv()).await.unwrap().unwrap();
    assert_eq!(end, TunnelEnd::Closed);
}

#[tokio::test]
async fn an_upgrade_the_upstream_refuses_is_an_ordinary_answer() {
    let upstream = spawn_mirror().await;
    let mut request = request("/plain");
    request.headers_mut().insert(UPGRADE, HeaderValue::from_static("websocket"));
    request.headers_mut().insert(CONNECTION, HeaderValue::from_static("upgrade"));
    let forwarded =
        Forwarder::new().forward(request, &upstream.to_string(), None, "http", CancellationToken::new()).await;
    assert_eq!(forwarded.response.status(), StatusCode::OK);
    assert!(forwarded.tunnel.is_none());
    let seen: serde_json::Value = serde_json::from_str(&body_text(forwarded.response).await).unwrap();
    assert_eq!(seen["headers"]["upgrade"], "websocket");
    assert_eq!(seen["headers"]["connection"], "upgrade");
}
