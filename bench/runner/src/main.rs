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
    (
        "state-sync",
        true,
        &[
            ("ATELIER_TABLE", "atelier"),
            ("ATELIER_PROVISIONER", "service-catalog"),
            ("ATELIER_USER_POOL_ID", "eu-west-1_bench"),
        ],
    ),
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
    let hello_init = median(&init[0]);
    markdown.push_str(&format!(
        "### Binary size and init time\n\n{} runs per binary, interleaved; init = spawn until the first `GET /2018-06-01/runtime/invocation/next`.\n\n",
        o.runs
    ));
    markdown.push_str("| binary | stripped size | size target | size ratio to hello | init median | init p90 | init ratio to hello (target ≤ 2.00) |\n");
    markdown.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let mut rows = Vec::new();
    for (i, name) in binaries.iter().enumerate() {
        let size = std::fs::metadata(o.release_dir.join(name))?.len();
        let (target, ec2) = match FUNCTIONS.iter().find(|(n, ..)| n == name) {
            Some((_, true, _)) => (Some(16 * MB), true),
            Some((_, false, _)) => (Some(8 * MB), false),
            None => (None, false),
        };
        let med = median(&init[i]);
        let p90 = percentile(&init[i], 0.90);
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
            "initSamplesMs": init[i].iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        }));
    }

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

/// Init samples per binary, in `binaries` order.
fn measure_init(dir: &Path, binaries: &[&str], runs: usize) -> Result<Vec<Vec<Duration>>, Box<dyn std::error::Error>> {
    let stub = RuntimeStub::start()?;
    let home = std::env::temp_dir().join(format!("atelier-bench-home-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let mut samples = vec![Vec::with_capacity(runs); binaries.len()];
    // Two warm-up rounds (page cache, the stub), not recorded.
    for round in 0..runs + 2 {
        for (i, name) in binaries.iter().enumerate() {
            let extra = FUNCTIONS.iter().find(|(n, ..)| n == name).map_or(&[][..], |(_, _, env)| env);
            let elapsed = stub.time_to_first_poll(&dir.join(name), &home, name, extra)?;
            if round >= 2 {
                samples[i].push(elapsed);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(samples)
}

/// A Lambda Runtime API that only notices the first `next` poll, and never answers it.
struct RuntimeStub {
    address: String,
    polls: mpsc::Receiver<Instant>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl RuntimeStub {
    fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (tx, polls) = mpsc::channel();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (tx, keep) = (tx.clone(), keep.clone());
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let mut reader = BufReader::new(match stream.try_clone() {
                        Ok(s) => s,
                        Err(_) => return,
                    });
                    if reader.read_line(&mut line).is_ok()
                        && line.starts_with("GET /2018-06-01/runtime/invocation/next")
                    {
                        let _ = tx.send(Instant::now());
                    }
                    // Keep the connection open: the function waits for an event until killed.
                    keep.lock().expect("lock").push(stream);
                });
            }
        });
        Ok(Self { address, polls, held })
    }

    fn time_to_first_poll(
        &self,
        binary: &Path,
        home: &Path,
        name: &str,
        extra: &[(&str, &str)],
    ) -> Result<Duration, Box<dyn std::error::Error>> {
        while self.polls.try_recv().is_ok() {}
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
        let _ = child.kill();
        let status = child.wait()?;
        self.held.lock().expect("lock").clear();
        match polled {
            Ok(at) => Ok(at.duration_since(started)),
            Err(_) => Err(format!("{name} never polled the runtime API within 10 s (exit: {status})").into()),
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
