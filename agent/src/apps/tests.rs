//! The apps reconciler with in-memory tags and a scripted probe, and the HTTP probe against
//! local servers.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Router, http::StatusCode, routing::get};

use super::*;
use crate::tags::memory::MemoryTags;

/// Answers by port from a table the test changes; records the paths asked.
#[derive(Clone, Default)]
struct ScriptedProbe {
    ready: Arc<Mutex<BTreeMap<u16, bool>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ScriptedProbe {
    fn set(&self, port: u16, ready: bool) {
        self.ready.lock().unwrap().insert(port, ready);
    }
    fn take_asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

#[async_trait]
impl AppProbe for ScriptedProbe {
    async fn ready(&self, port: u16, path: &str) -> bool {
        self.asked.lock().unwrap().push(format!("{port}{path}"));
        self.ready.lock().unwrap().get(&port).copied().unwrap_or(false)
    }
}

fn apps() -> Vec<GuardApp> {
    atelier_proxy::guard::parse_apps("jupyterlab=8888,rstudio=8787").unwrap()
}

fn reconciler(tags: &MemoryTags, probe: &ScriptedProbe, workspace_id: Option<&str>) -> AppsReconciler {
    AppsReconciler::new(apps(), workspace_id.map(str::to_owned), Box::new(tags.clone()), Box::new(tags.clone()))
        .with_probe(Box::new(probe.clone()))
}

fn kinds(outcome: &Outcome) -> Vec<(String, &'static str)> {
    outcome.actions.iter().map(|a| (a.app.clone().unwrap_or_default(), a.action.as_str())).collect()
}

#[tokio::test]
async fn reports_are_written_only_when_they_change() {
    let tags = MemoryTags::with(&[("atelier:workspace", "ws-1")]);
    let probe = ScriptedProbe::default();
    probe.set(8888, true);
    let mut apps = reconciler(&tags, &probe, None);

    let first = apps.reconcile().await.unwrap();
    assert_eq!(kinds(&first), [("jupyterlab".to_owned(), "ready"), ("rstudio".to_owned(), "down")]);
    assert_eq!(tags.take_writes(), ["put atelier:app:jupyterlab,atelier:app:rstudio"]);
    assert_eq!(
        tags.prefixed(APP_TAG_PREFIX),
        [
            ("atelier:app:jupyterlab".to_owned(), "ready".to_owned()),
            ("atelier:app:rstudio".to_owned(), "down".to_owned())
        ]
    );
    assert_eq!(probe.take_asked(), ["8888/w/ws-1/jupyterlab/api/status", "8787/"]);

    // Steady state: probes, no write.
    assert_eq!(apps.reconcile().await.unwrap(), Outcome::default());
    assert!(tags.take_writes().is_empty());

    probe.set(8787, true);
    probe.set(8888, false);
    let changed = apps.reconcile().await.unwrap();
    assert_eq!(kinds(&changed), [("jupyterlab".to_owned(), "down"), ("rstudio".to_owned(), "ready")]);
    assert_eq!(tags.take_writes(), ["put atelier:app:jupyterlab,atelier:app:rstudio"]);
}

#[tokio::test]
async fn the_configured_workspace_id_wins_over_the_tag() {
    let tags = MemoryTags::with(&[("atelier:workspace", "ws-from-tag")]);
    let probe = ScriptedProbe::default();
    reconciler(&tags, &probe, Some("ws-configured")).reconcile().await.unwrap();
    assert_eq!(probe.take_asked()[0], "8888/w/ws-configured/jupyterlab/api/status");
}

#[tokio::test]
async fn without_a_workspace_id_jupyterlab_is_skipped_and_the_others_reported() {
    let tags = MemoryTags::default();
    let probe = ScriptedProbe::default();
    probe.set(8787, true);
    let outcome = reconciler(&tags, &probe, None).reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), [("jupyterlab".to_owned(), "skip"), ("rstudio".to_owned(), "ready")]);
    assert!(outcome.actions[0].error.as_deref().unwrap().contains("atelier:workspace"));
    assert!(!outcome.failed());
    assert_eq!(probe.take_asked(), ["8787/"]);
    assert_eq!(tags.prefixed(APP_TAG_PREFIX), [("atelier:app:rstudio".to_owned(), "ready".to_owned())]);
}

#[tokio::test]
async fn unreadable_tags_fail_the_pass_and_a_failed_write_is_retried() {
    let tags = MemoryTags::with(&[("atelier:workspace", "ws-1")]);
    let probe = ScriptedProbe::default();
    let mut apps = reconciler(&tags, &probe, None);
    *tags.unreadable.lock().unwrap() = true;
    assert!(apps.reconcile().await.is_err());
    assert!(probe.take_asked().is_empty(), "probed without knowing the current reports");
    *tags.unreadable.lock().unwrap() = false;

    *tags.unwritable.lock().unwrap() = true;
    let failed = apps.reconcile().await.unwrap();
    assert!(failed.failed());
    assert!(failed.actions.iter().all(|a| a.error.as_deref() == Some("ec2:CreateTags: UnauthorizedOperation")));
    *tags.unwritable.lock().unwrap() = false;
    tags.take_writes();
    let retried = apps.reconcile().await.unwrap();
    assert!(!retried.failed());
    assert_eq!(tags.take_writes(), ["put atelier:app:jupyterlab,atelier:app:rstudio"]);
}

#[test]
fn the_report_tag_and_probe_paths_are_the_designed_ones() {
    assert_eq!(report_tag("jupyterlab"), "atelier:app:jupyterlab");
    assert_eq!(probe_path("jupyterlab", "ws-9"), "/w/ws-9/jupyterlab/api/status");
    assert_eq!(probe_path("rstudio", "ws-9"), "/");
}

/// A server on 127.0.0.1 answering `status` on every path; its port.
async fn app_answering(status: StatusCode) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/w/ws-1/jupyterlab/api/status", get(move || async move { status }))
        .fallback(move || async move { if status.is_server_error() { status } else { StatusCode::NOT_FOUND } });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address.port()
}

#[tokio::test]
async fn the_http_probe_counts_any_answer_below_500() {
    let probe = HttpProbe::new("127.0.0.1");
    for (status, ready) in [
        (StatusCode::OK, true),
        (StatusCode::FORBIDDEN, true),
        (StatusCode::FOUND, true),
        (StatusCode::INTERNAL_SERVER_ERROR, false),
        (StatusCode::BAD_GATEWAY, false),
    ] {
        let port = app_answering(status).await;
        assert_eq!(probe.ready(port, "/w/ws-1/jupyterlab/api/status").await, ready, "{status}");
    }
    // A 404 is still an app that answers.
    assert!(probe.ready(app_answering(StatusCode::OK).await, "/elsewhere").await);
}

#[tokio::test]
async fn the_http_probe_gives_up_on_a_closed_port_and_a_silent_app() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut probe = HttpProbe::new("127.0.0.1");
    assert!(!probe.ready(closed, "/").await);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let (_connection, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    probe.timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    assert!(!probe.ready(port, "/").await);
    assert!(started.elapsed() < Duration::from_secs(2));
    held.abort();
}

#[tokio::test]
async fn a_pass_against_real_apps_reports_them() {
    let jupyter = app_answering(StatusCode::FORBIDDEN).await;
    let rstudio = app_answering(StatusCode::SERVICE_UNAVAILABLE).await;
    let apps = atelier_proxy::guard::parse_apps(&format!("jupyterlab={jupyter},rstudio={rstudio}")).unwrap();
    let tags = MemoryTags::default();
    let mut reconciler = AppsReconciler::new(apps, Some("ws-1".into()), Box::new(tags.clone()), Box::new(tags.clone()));
    reconciler.reconcile().await.unwrap();
    assert_eq!(
        tags.prefixed(APP_TAG_PREFIX),
        [
            ("atelier:app:jupyterlab".to_owned(), "ready".to_owned()),
            ("atelier:app:rstudio".to_owned(), "down".to_owned())
        ]
    );
}
