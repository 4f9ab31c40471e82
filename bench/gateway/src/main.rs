//! `gateway-bench [--requests N] [--messages N] [--seconds S]`: what the two forwarding hops
//! cost, in process on 127.0.0.1. An app (axum, a tiny JSON answer) and a WebSocket echo
//! app are reached directly, then through the gateway hop (a fresh signed assertion per
//! request, `atelier_proxy::testing::GatewayHop`) and the workspace guard (verifying it,
//! `atelier_proxy::guard::serve`); then through the real gateway (`atelier_gateway::Gateway`:
//! the session cookie's check, the authorisation cache, the session registry, the signed
//! assertion), its ports in memory (`atelier_domain::testing`), so that only the gateway's
//! own work is measured. Prints the figures; asserts nothing about time (only that every
//! answer is the app's).

use std::{
    net::SocketAddr,
    process::ExitCode,
    time::{Duration, Instant},
};

use atelier_proxy::{
    guard::{GuardApp, GuardConfig},
    identity::{Assertion, GatewayKey, GatewayPublicKey, keygen},
    testing::{GatewayHop, spawn, spawn_echo},
};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const WORKSPACE: &str = "ws-bench";

mod real;
const USAGE: &str = "usage: gateway-bench [--requests N (2000)] [--messages N (20000)] [--seconds S (10)]";

struct Options {
    requests: usize,
    messages: usize,
    seconds: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options { requests: 2000, messages: 20_000, seconds: 10 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |what: &str| value.parse::<u64>().map_err(|_| format!("{what}: not a number: {value:?}"));
        match flag.as_str() {
            "--requests" => options.requests = usize::try_from(number("--requests")?).map_err(|e| e.to_string())?,
            "--messages" => options.messages = usize::try_from(number("--messages")?).map_err(|e| e.to_string())?,
            "--seconds" => options.seconds = number("--seconds")?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("gateway-bench: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The app, the echo app, a guard in front of both (jupyterlab → app, rstudio → echo) and
/// a gateway hop in front of the guard.
struct Stack {
    app: SocketAddr,
    echo: SocketAddr,
    gateway: SocketAddr,
}

async fn stack() -> Result<Stack, String> {
    let app = spawn(Router::new().fallback(|| async { Json(serde_json::json!({"status": "ok"})) })).await;
    let echo = spawn_echo().await;
    let (private, public) = keygen();
    let guard = spawn_guard(WORKSPACE, &public, app, echo).await?;
    let key = GatewayKey::from_pem(&private).map_err(|e| e.to_string())?;
    let gateway = spawn(GatewayHop::new(key, guard).router()).await;
    Ok(Stack { app, echo, gateway })
}

/// A workspace guard for `workspace_id` trusting `public` (PEM), in front of `app`
/// (jupyterlab) and `echo` (rstudio, prefix stripped); its address.
pub(crate) async fn spawn_guard(
    workspace_id: &str,
    public: &str,
    app: SocketAddr,
    echo: SocketAddr,
) -> Result<SocketAddr, String> {
    let config = GuardConfig {
        workspace_id: workspace_id.to_owned(),
        key: GatewayPublicKey::from_pem(public).map_err(|e| e.to_string())?,
        apps: vec![
            GuardApp { name: "jupyterlab".into(), port: app.port(), strip_prefix: false },
            GuardApp { name: "rstudio".into(), port: echo.port(), strip_prefix: true },
        ],
        app_host: "127.0.0.1".into(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let guard = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(atelier_proxy::guard::serve(listener, config, CancellationToken::new()));
    Ok(guard)
}

async fn run(options: &Options) -> Result<(), String> {
    let stack = stack().await?;
    let path = format!("/w/{WORKSPACE}/jupyterlab/api/status");
    let direct = latencies(&format!("http://{}{path}", stack.app), options.requests, None).await?;
    let through = latencies(&format!("http://{}{path}", stack.gateway), options.requests, None).await?;
    let real = real::gateway(stack.app, stack.echo).await?;
    let real_path = format!("/w/{}/jupyterlab/api/status", real.workspace);
    let gated = latencies(&format!("http://{}{real_path}", real.address), options.requests, Some(&real.cookie)).await?;
    println!("## HTTP: {} sequential GETs, one keep-alive connection per hop", options.requests);
    println!();
    println!("| path | p50 | p99 | mean |");
    println!("|---|---|---|---|");
    for (name, figures) in [
        ("direct to the app", &direct),
        ("gateway hop → guard → app", &through),
        ("the gateway (session, authorisation) → guard → app", &gated),
    ] {
        println!("| {name} | {} | {} | {} |", us(figures.p50), us(figures.p99), us(figures.mean));
    }
    // Signed: at p99 the noise of one machine can exceed what the hops add.
    println!(
        "| added by the two hops | {} | {} | {} |",
        added(direct.p50, through.p50),
        added(direct.p99, through.p99),
        added(direct.mean, through.mean)
    );
    println!(
        "| added by the gateway and the guard | {} | {} | {} |",
        added(direct.p50, gated.p50),
        added(direct.p99, gated.p99),
        added(direct.mean, gated.mean)
    );
    let (sign, verify) = assertion_costs(options.requests)?;
    println!();
    println!("Of which the assertion: sign {}, verify {} (mean of {} each).", us(sign), us(verify), options.requests);
    println!();
    let limit = Duration::from_secs(options.seconds);
    let ws_direct = round_trips(&format!("ws://{}/", stack.echo), options.messages, limit, None).await?;
    let ws_through =
        round_trips(&format!("ws://{}/w/{WORKSPACE}/rstudio/ws", stack.gateway), options.messages, limit, None).await?;
    let ws_url = format!("ws://{}/w/{}/rstudio/ws", real.address, real.workspace);
    let ws_gated = round_trips(&ws_url, options.messages, limit, Some(&real.rstudio_cookie)).await?;
    println!(
        "## WebSocket: 1 KiB text messages, one at a time (send, await the echo), up to {} messages or {} s",
        options.messages, options.seconds
    );
    println!();
    println!("| path | messages | round trips/s | p50 round trip | p99 round trip |");
    println!("|---|---|---|---|---|");
    for (name, figures) in [
        ("direct to the echo app", &ws_direct),
        ("gateway hop → guard → echo app", &ws_through),
        ("the gateway → guard → echo app", &ws_gated),
    ] {
        println!(
            "| {name} | {} | {:.0} | {} | {} |",
            figures.count,
            figures.rate,
            us(figures.latency.p50),
            us(figures.latency.p99)
        );
    }
    Ok(())
}

/// Mean time to sign, then to verify, one assertion.
fn assertion_costs(count: usize) -> Result<(Duration, Duration), String> {
    let (private, public) = keygen();
    let key = GatewayKey::from_pem(&private).map_err(|e| e.to_string())?;
    let public = GatewayPublicKey::from_pem(&public).map_err(|e| e.to_string())?;
    let now = 1_800_000_000;
    let assertion = Assertion::new(WORKSPACE, "jupyterlab", "sub", "user", now);
    let started = Instant::now();
    let tokens: Vec<String> = (0..count).map(|_| key.sign(&assertion)).collect();
    let signing = started.elapsed();
    let started = Instant::now();
    for token in &tokens {
        public.verify(token, WORKSPACE, "jupyterlab", now).map_err(|e| e.to_string())?;
    }
    let verifying = started.elapsed();
    let n = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    Ok((signing / n, verifying / n))
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn summarise(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |q: f64| {
        // Nearest rank; the casts are of counts far below 2^52.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
        samples.get(index).copied().unwrap_or_default()
    };
    let total: Duration = samples.iter().sum();
    let mean = total / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX);
    Latency { p50: at(0.50), p99: at(0.99), mean }
}

fn us(duration: Duration) -> String {
    format!("{} µs", duration.as_micros())
}

fn added(direct: Duration, through: Duration) -> String {
    match through.checked_sub(direct) {
        Some(more) => format!("+{}", us(more)),
        None => format!("−{}", us(direct.saturating_sub(through))),
    }
}

/// `count` sequential GETs of `url` (after 100 unmeasured ones), each timed to the end of
/// its body. Every answer must be the app's 200.
async fn latencies(url: &str, count: usize, cookie: Option<&str>) -> Result<Latency, String> {
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count + 100 {
        let started = Instant::now();
        let mut request = http::Request::get(uri.clone());
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
        let response = client.request(request).await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("{url}: {e}"))?.to_bytes();
        let elapsed = started.elapsed();
        if status != http::StatusCode::OK || body.as_ref() != br#"{"status":"ok"}"# {
            return Err(format!("{url}: unexpected answer {status} {body:?}"));
        }
        if i >= 100 {
            samples.push(elapsed);
        }
    }
    Ok(summarise(samples))
}

struct Throughput {
    count: usize,
    rate: f64,
    latency: Latency,
}

/// Round trips of 1 KiB text messages on one WebSocket until `count` or `limit`.
async fn round_trips(url: &str, count: usize, limit: Duration, cookie: Option<&str>) -> Result<Throughput, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().map_err(|e| format!("{url}: {e}"))?;
    if let Some(cookie) = cookie {
        request.headers_mut().insert(http::header::COOKIE, cookie.parse().map_err(|_| "a cookie header".to_owned())?);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("{url}: {e}"))?;
    let text = "x".repeat(1024);
    let mut samples = Vec::with_capacity(count);
    let started = Instant::now();
    while samples.len() < count && started.elapsed() < limit {
        let sent = Instant::now();
        socket.send(Message::text(text.clone())).await.map_err(|e| format!("{url}: send: {e}"))?;
        match socket.next().await {
            Some(Ok(Message::Text(echoed))) if echoed.as_str() == text => samples.push(sent.elapsed()),
            other => return Err(format!("{url}: unexpected echo {other:?}")),
        }
    }
    let elapsed = started.elapsed();
    let _ = socket.close(None).await;
    #[allow(clippy::cast_precision_loss)]
    let rate = samples.len() as f64 / elapsed.as_secs_f64();
    Ok(Throughput { count: samples.len(), rate, latency: summarise(samples) })
}
