//! `make bench`: what a cold start and a request cost, measured, never asserted.
//!
//! 1. **Size** of each function's release binary (the release profile strips symbols).
//! 2. **Init time**: from spawning the binary until it first polls the Lambda Runtime API
//!    (`GET /2018-06-01/runtime/invocation/next`) of a local stub, with the environment a
//!    Lambda function gets (credentials in variables, no config file) and AWS endpoints
//!    pointing at a port nobody listens on (init must not call AWS). The runs of all the
//!    binaries are interleaved; the median is compared with `hello-lambda`'s, measured in
//!    the same run.
//! 3. **API latency**: p50/p99 of the main routes called in-process against the local moto
//!    server, under 1, 8 and 32 concurrent clients.
//!
//! Usage: `atelier-bench --release-dir DIR [--runs N] [--requests N] [--out DIR] [--skip-latency]
//! [--only catalog-api,state-sync]`.
//! Results go to `<out>/results.md` (the tables printed at the end) and `<out>/results.json`.

use std::{
    io::{BufRead, BufReader},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use serde_json::{Value, json};

/// A function's binary name, whether it links the EC2 crate, and its extra environment.
type Function = (&'static str, bool, &'static [(&'static str, &'static str)]);

/// The Lambda functions, whether they link the EC2 crate (their size limit depends on it),
/// and the environment each needs beyond the common one.
const FUNCTIONS: &[Function] = &[
    (
        "workspaces-api",
        true,
        &[
            ("ATELIER_TABLE", "atelier"),
            ("ATELIER_USER_POOL_ID", "eu-west-1_bench"),
            ("ATELIER_USER_POOL_CLIENT_ID", "bench-client"),
            ("ATELIER_PROVISIONER", "service-catalog"),
        ],
    ),
    (
        "catalog-api",
        false,
        &[
            ("ATELIER_TABLE", "atelier"),
            ("ATELIER_USER_POOL_ID", "eu-west-1_bench"),
            ("ATELIER_USER_POOL_CLIENT_ID", "bench-client"),
        ],
    ),
    ("state-sync", true, &[("ATELIER_TABLE", "atelier"), ("ATELIER_PROVISIONER", "service-catalog")]),
    ("data-access", true, &[("ATELIER_TABLE", "atelier"), ("ATELIER_USER_POOL_ID", "eu-west-1_bench")]),
    ("scheduler", true, &[("ATELIER_TABLE", "atelier")]),
    ("cost-actuals", false, &[("ATELIER_TABLE", "atelier")]),
];

const HELLO: &str = "hello-lambda";
const MB: u64 = 1_000_000;

struct Options {
    release_dir: PathBuf,
    runs: usize,
    requests: usize,
    out: PathBuf,
    skip_latency: bool,
    /// Functions to measure (default: all four).
    only: Option<Vec<String>>,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        release_dir: PathBuf::new(),
        runs: 21,
        requests: 200,
        out: PathBuf::from("bench-results"),
        skip_latency: false,
        only: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--release-dir" => o.release_dir = PathBuf::from(value("--release-dir")?),
            "--runs" => o.runs = value("--runs")?.parse().map_err(|_| "--runs takes a number")?,
            "--requests" => o.requests = value("--requests")?.parse().map_err(|_| "--requests takes a number")?,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--skip-latency" => o.skip_latency = true,
            "--only" => o.only = Some(value("--only")?.split(',').map(str::to_owned).collect()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.release_dir.as_os_str().is_empty() {
        return Err("--release-dir is required (the release target directory's `release`)".into());
    }
    if o.runs == 0 || o.requests == 0 {
        return Err("--runs and --requests must be at least 1".into());
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    std::fs::create_dir_all(&o.out)?;
    let mut markdown = String::new();

    let wanted = |name: &&str| o.only.as_ref().is_none_or(|only| only.iter().any(|n| n == name));
    let binaries: Vec<&str> =
        std::iter::once(HELLO).chain(FUNCTIONS.iter().map(|(name, ..)| *name).filter(wanted)).collect();
    for name in &binaries {
        let path = o.release_dir.join(name);
        if !path.exists() {
            return Err(
                format!("{} is missing: build it with `make bench` (cargo build --release)", path.display()).into()
            );
        }
    }

    eprintln!("init: {} runs of {} binaries, interleaved", o.runs, binaries.len());
    let init = measure_init(&o.release_dir, &binaries, o.runs)?;
    let hello_size = std::fs::metadata(o.release_dir.join(HELLO))?.len();
    let hello_init = median(&init[0].poll);
    markdown.push_str(&format!(
        "### Binary size and init time\n\n{} runs per binary, interleaved; init = spawn until the first `GET /2018-06-01/runtime/invocation/next`.\n\n",
        o.runs
    ));
    markdown.push_str("| binary | stripped size | size target | size ratio to hello | init median | init p90 | init ratio to hello (target ≤ 1.25) |\n");
    markdown.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let mut rows = Vec::new();
    for (i, name) in binaries.iter().enumerate() {
        let size = std::fs::metadata(o.release_dir.join(name))?.len();
        let (target, ec2) = match FUNCTIONS.iter().find(|(n, ..)| n == name) {
            Some((_, true, _)) => (Some(16 * MB), true),
            Some((_, false, _)) => (Some(8 * MB), false),
            None => (None, false),
        };
        let med = median(&init[i].poll);
        let p90 = percentile(&init[i].poll, 0.90);
        markdown.push_str(&format!(
            "| {name} | {} | {} | {:.2} | {} | {} | {:.2} |\n",
            format_bytes(size),
            target.map_or("—".to_owned(), |t| format!("≤ {} MB{}", t / MB, if ec2 { " (EC2)" } else { "" })),
            size as f64 / hello_size as f64,
            ms(med),
            ms(p90),
            med.as_secs_f64() / hello_init.as_secs_f64(),
        ));
        rows.push(json!({
            "binary": name,
            "bytes": size,
            "sizeTargetBytes": target,
            "initMedianMs": med.as_secs_f64() * 1e3,
            "initP90Ms": p90.as_secs_f64() * 1e3,
            "initRatioToHello": med.as_secs_f64() / hello_init.as_secs_f64(),
            "initSamplesMs": init[i].poll.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "firstAnswerSamplesMs": init[i].answer.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        }));
    }
    markdown.push_str(&first_answers(binaries.as_slice(), &init));

    let mut latency_rows = Vec::new();
    if !o.skip_latency {
        eprintln!("latency: {} requests per route and concurrency, against moto", o.requests);
        let (table, json_rows) = measure_latency(o.requests).await;
        markdown.push_str(&format!(
            "\n### API latency (in-process router, local moto server)\n\n{} requests per line after 10 warm-up requests.\n\n",
            o.requests
        ));
        markdown.push_str(&table);
        latency_rows = json_rows;
    }

    let results = json!({ "binaries": rows, "latency": latency_rows });
    std::fs::write(o.out.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    std::fs::write(o.out.join("results.md"), &markdown)?;
    println!("{markdown}");
    println!("(written to {})", o.out.join("results.md").display());
    Ok(())
}

/// The event path each HTTP binary answers at its first invocation without calling AWS:
/// hello's only route, and a list without a token (401 once the router has routed it and
/// the token check refused it, which needs no key download).
const FIRST_EVENTS: &[(&str, &str)] =
    &[(HELLO, "/hello"), ("workspaces-api", "/v1/workspaces"), ("catalog-api", "/v1/products")];

/// Samples of one binary: spawn → first poll in every round, and in the rounds with an
/// event, spawn → the answer to it.
#[derive(Default, Clone)]
struct InitSamples {
    poll: Vec<Duration>,
    answer: Vec<Duration>,
}

/// Init samples per binary, in `binaries` order. Rounds alternate: an init-only round (the
/// function is killed once it polls), then, for the HTTP binaries, a round where the poll
/// is answered with one event and the time to the function's response is kept too: a lazy
/// start is only a gain if the first request does not pay it back.
fn measure_init(dir: &Path, binaries: &[&str], runs: usize) -> Result<Vec<InitSamples>, Box<dyn std::error::Error>> {
    let stub = RuntimeStub::start()?;
    let home = std::env::temp_dir().join(format!("atelier-bench-home-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let mut samples = vec![InitSamples::default(); binaries.len()];
    // Two warm-up rounds (page cache, the stub), not recorded.
    for round in 0..2 * (runs + 2) {
        let with_event = round % 2 == 1;
        for (i, name) in binaries.iter().enumerate() {
            let extra = FUNCTIONS.iter().find(|(n, ..)| n == name).map_or(&[][..], |(_, _, env)| env);
            let event = FIRST_EVENTS.iter().find(|(n, _)| n == name).map(|(_, path)| *path).filter(|_| with_event);
            if with_event && event.is_none() {
                continue;
            }
            let (polled, answered) = stub.time_to_first_poll(&dir.join(name), &home, name, extra, event)?;
            if round >= 4 {
                match answered {
                    Some(answered) => samples[i].answer.push(answered),
                    None => samples[i].poll.push(polled),
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(samples)
}

/// A Lambda Runtime API that notices the first `next` poll and, when asked to, answers it
/// with one API Gateway event and notices the function's response to it.
struct RuntimeStub {
    address: String,
    polls: mpsc::Receiver<Instant>,
    answers: mpsc::Receiver<Instant>,
    /// The path of the event to hand out on the next poll, if any.
    event: Arc<Mutex<Option<String>>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

/// An API Gateway HTTP API (payload 2.0) event for `GET path`, without a token.
fn api_event(path: &str) -> String {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": { "host": "bench.execute-api.eu-west-1.amazonaws.com" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench", "domainPrefix": "bench",
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "bench" },
            "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "01/Dec/2026:10:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    })
    .to_string()
}

impl RuntimeStub {
    fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (poll_tx, polls) = mpsc::channel();
        let (answer_tx, answers) = mpsc::channel();
        let event: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (keep, handout) = (held.clone(), event.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (poll_tx, answer_tx, keep, handout) =
                    (poll_tx.clone(), answer_tx.clone(), keep.clone(), handout.clone());
                std::thread::spawn(move || serve_runtime(stream, &poll_tx, &answer_tx, &keep, &handout));
            }
        });
        Ok(Self { address, polls, answers, event, held })
    }

    /// Spawn → first `next` poll, and with `event` (a path), spawn → the function's
    /// response to that API Gateway event.
    fn time_to_first_poll(
        &self,
        binary: &Path,
        home: &Path,
        name: &str,
        extra: &[(&str, &str)],
        event: Option<&str>,
    ) -> Result<(Duration, Option<Duration>), Box<dyn std::error::Error>> {
        while self.polls.try_recv().is_ok() {}
        while self.answers.try_recv().is_ok() {}
        *self.event.lock().expect("lock") = event.map(api_event);
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("HOME", home)
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "AKIABENCHBENCHBENCH0")
            .env("AWS_SECRET_ACCESS_KEY", "bench-secret-bench-secret-bench-secret-00")
            .env("AWS_SESSION_TOKEN", "bench-session-token")
            // Nothing listens there: init must not need AWS.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn()?;
        let polled = self.polls.recv_timeout(Duration::from_secs(10));
        let answered = event.map(|_| self.answers.recv_timeout(Duration::from_secs(10)));
        let _ = child.kill();
        let status = child.wait()?;
        self.held.lock().expect("lock").clear();
        let polled = polled
            .map_err(|_| format!("{name} never polled the runtime API within 10 s (exit: {status})"))?
            .duration_since(started);
        let answered = match answered {
            None => None,
            Some(Ok(at)) => Some(at.duration_since(started)),
            Some(Err(_)) => return Err(format!("{name} never answered its first event within 10 s").into()),
        };
        Ok((polled, answered))
    }
}

/// One connection of the runtime stub: `next` polls are noted (and answered with the event
/// to hand out, once), responses are noted and acknowledged; a poll with nothing to hand
/// out is held open, as the real Runtime API does, until the function is killed.
fn serve_runtime(
    stream: TcpStream,
    polls: &mpsc::Sender<Instant>,
    answers: &mpsc::Sender<Instant>,
    keep: &Mutex<Vec<TcpStream>>,
    handout: &Mutex<Option<String>>,
) {
    use std::io::{Read, Write};
    let Ok(reader) = stream.try_clone() else { return };
    let mut reader = BufReader::new(reader);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            let _ = polls.send(Instant::now());
            let Some(event) = handout.lock().expect("lock").take() else {
                keep.lock().expect("lock").push(writer);
                return;
            };
            let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
                + Duration::from_secs(30);
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: bench\r\n\
                 lambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:eu-west-1:123456789012:function:bench\r\n\
                 content-length: {}\r\n\r\n{event}",
                deadline.as_millis(),
                event.len()
            );
        } else if line.starts_with("POST /2018-06-01/runtime/invocation/") {
            let _ = answers.send(Instant::now());
            let _ = write!(writer, "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        } else {
            let _ = write!(writer, "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        }
    }
}

/// p50/p99 per route and concurrency, as a markdown table and JSON rows.
async fn measure_latency(requests: usize) -> (String, Vec<Value>) {
    let app = Arc::new(atelier_tests::spawn_app().await);
    let mut ids = Vec::new();
    for name in ["Bench A", "Bench B", "Bench C"] {
        ids.push(app.create_workspace("alice", "small-t3-large", name).await);
    }
    app.sync().await;
    let token = app.token("alice").await;
    let id = &ids[0];
    let routes = [
        ("GET /v1/workspaces", "/v1/workspaces".to_owned()),
        ("GET /v1/workspaces/{id}", format!("/v1/workspaces/{id}")),
        ("GET /v1/workspaces/{id}/events", format!("/v1/workspaces/{id}/events")),
        ("GET /v1/products", "/v1/products".to_owned()),
        ("GET /v1/costs/me", format!("/v1/costs/me?month={}", jiff::Timestamp::now().strftime("%Y-%m"))),
    ];
    let mut table = String::from("| route | clients | p50 | p99 | requests/s |\n|---|---:|---:|---:|---:|\n");
    let mut rows = Vec::new();
    for (label, path) in &routes {
        for clients in [1usize, 8, 32] {
            for _ in 0..10 {
                let response = app.call(Method::GET, path, Some(&token), None).await;
                assert_eq!(response.status, StatusCode::OK, "{label}: {}", response.body);
            }
            let started = Instant::now();
            let mut tasks = Vec::new();
            for client in 0..clients {
                let (app, path, token) = (app.clone(), path.clone(), token.clone());
                let share = requests / clients + usize::from(client < requests % clients);
                tasks.push(tokio::spawn(async move {
                    let mut times = Vec::with_capacity(share);
                    for _ in 0..share {
                        let t = Instant::now();
                        let response = app.call(Method::GET, &path, Some(&token), None).await;
                        times.push(t.elapsed());
                        assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.body);
                    }
                    times
                }));
            }
            let mut times = Vec::with_capacity(requests);
            for task in tasks {
                times.extend(task.await.expect("a client task"));
            }
            let wall = started.elapsed();
            let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
            let rate = times.len() as f64 / wall.as_secs_f64();
            table.push_str(&format!("| {label} | {clients} | {} | {} | {rate:.0} |\n", ms(p50), ms(p99)));
            rows.push(json!({
                "route": label, "clients": clients, "requests": times.len(),
                "p50Ms": p50.as_secs_f64() * 1e3, "p99Ms": p99.as_secs_f64() * 1e3, "requestsPerSecond": rate,
            }));
            eprintln!("  {label} × {clients}: p50 {} p99 {}", ms(p50), ms(p99));
        }
    }
    (table, rows)
}

/// The table of spawn → answer to the first event, for the binaries that got one.
fn first_answers(binaries: &[&str], init: &[InitSamples]) -> String {
    let hello = median(&init[0].answer);
    let mut out = String::from(
        "\n#### Cold start to the first answer\n\nspawn until the function's response to its first API Gateway event \
         (one that needs no AWS call: GET /hello; GET /v1/workspaces and GET /v1/products without a token, 401): init plus \
         everything deferred to the first request.\n\n| binary | event | first answer median | p90 | ratio to hello |\n|---|---|---:|---:|---:|\n",
    );
    for (name, samples) in binaries.iter().zip(init) {
        let Some((_, path)) = FIRST_EVENTS.iter().find(|(n, _)| n == name) else { continue };
        if samples.answer.is_empty() {
            continue;
        }
        let med = median(&samples.answer);
        out.push_str(&format!(
            "| {name} | GET {path} | {} | {} | {:.2} |\n",
            ms(med),
            ms(percentile(&samples.answer, 0.90)),
            med.as_secs_f64() / hello.as_secs_f64()
        ));
    }
    out
}

fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 0.5)
}

/// The nearest-rank percentile `q` (0..=1) of `samples`.
fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn format_bytes(bytes: u64) -> String {
    format!("{:.2} MB ({bytes} B)", bytes as f64 / MB as f64)
}
